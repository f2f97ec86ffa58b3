"""The database, not the broker, records how far ingest got: a consumer group that was
deleted and recreated (how a wedged group is healed) resumes where it stood, replaying
nothing, and offsets of an earlier broker log are never applied to a new one."""

from __future__ import annotations

import json
import threading
import uuid

import pytest
from kafka import KafkaAdminClient
from sqlalchemy import Engine, func, select

from ingest.worker import IngestConfig, IngestWorker
from kindred.kafka import ensure_topics, make_producer, send_all
from kindred.models import ConsumerOffset, Event
from kindred.settings import Settings
from tests.helpers import message, wait_for

pytestmark = pytest.mark.integration


def _events(n: int) -> list[tuple[bytes, bytes]]:
    out = []
    for _ in range(n):
        msg = {"source": "web", "channel": "web", **message("track", userId="u1", event="E")}
        out.append((b"u1", json.dumps(msg).encode()))
    return out


def _stored(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(Event)).scalar_one())


def _run(worker: IngestWorker) -> threading.Thread:
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    return thread


class TestOffsetsStoredWithTheBatch:
    def _worker(self, settings: Settings, engine: Engine, group: str, epoch: str) -> IngestWorker:
        config = IngestConfig(
            bootstrap=settings.resolved_kafka_bootstrap(),
            topic=settings.events_topic,
            dlq_topic=settings.dlq_topic,
            group_id=group,
        )
        return IngestWorker(config, engine, heartbeat=False, epoch=lambda: epoch)

    def test_a_recreated_group_resumes_from_the_database(
        self, settings: Settings, engine: Engine
    ) -> None:
        bootstrap = settings.resolved_kafka_bootstrap()
        ensure_topics(bootstrap, [settings.events_topic, settings.dlq_topic], partitions=2)
        group = f"g-{uuid.uuid4().hex[:6]}"
        producer = make_producer(bootstrap)
        try:
            send_all(producer, settings.events_topic, _events(30))
            first = self._worker(settings, engine, group, "log-1")
            thread = _run(first)
            wait_for(lambda: _stored(engine) == 30, timeout=30)
            first.stop()
            thread.join(15)
            with engine.connect() as conn:
                rows = conn.execute(select(ConsumerOffset.next_offset)).scalars().all()
            assert rows and all(o > 0 for o in rows)

            # the group disappears from the broker (deleted to heal a wedged rebalance)
            admin = KafkaAdminClient(bootstrap_servers=bootstrap)
            try:
                admin.delete_groups([group])
            finally:
                admin.close()

            send_all(producer, settings.events_topic, _events(5))
            second = self._worker(settings, engine, group, "log-1")
            thread = _run(second)
            wait_for(lambda: _stored(engine) == 35, timeout=30)
            wait_for(lambda: second.stats.messages >= 5, timeout=10)
            second.stop()
            thread.join(15)
        finally:
            producer.close()
        # only the 5 new messages were read: no replay of the 30 already stored
        assert second.stats.messages == 5

    def test_offsets_of_another_broker_log_are_ignored(
        self, settings: Settings, engine: Engine
    ) -> None:
        bootstrap = settings.resolved_kafka_bootstrap()
        ensure_topics(bootstrap, [settings.events_topic, settings.dlq_topic], partitions=2)
        group = f"g-{uuid.uuid4().hex[:6]}"
        # offsets remembered from an earlier (in-memory) broker log, far ahead of this one
        with engine.begin() as conn:
            for partition in (0, 1):
                conn.execute(
                    ConsumerOffset.__table__.insert().values(
                        group_id=group,
                        topic=settings.events_topic,
                        partition=partition,
                        next_offset=10_000,
                        epoch="an-earlier-log",
                    )
                )
        producer = make_producer(bootstrap)
        try:
            send_all(producer, settings.events_topic, _events(8))
        finally:
            producer.close()
        worker = self._worker(settings, engine, group, "this-log")
        thread = _run(worker)
        try:
            wait_for(lambda: _stored(engine) == 8, timeout=30)
        finally:
            worker.stop()
            thread.join(15)
        with engine.connect() as conn:
            epochs = set(conn.execute(select(ConsumerOffset.epoch)).scalars().all())
        assert "this-log" in epochs
