"""Everything heals after a restart, and a consumer cannot stay stuck.

Restart tests run their OWN embedded infra in a temporary data dir (the session's shared
services are never stopped)."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from kafka import KafkaConsumer
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import OperationalError

from cli.runtime import Workers, ingest_config
from connectors.events import Event, parse_event
from ingest.producer import EventPublisher
from ingest.worker import IngestWorker
from kindred import infra
from kindred.db import make_engine
from kindred.dberrors import is_deadlock
from kindred.kafka import GROUP_TIMEOUTS, BrokerUnavailable, ensure_topics, make_producer
from kindred.models import Event as EventRow
from kindred.models.ops import WorkerHeartbeat
from kindred.settings import Settings, read_infra_state
from tests.helpers import wait_for

pytestmark = pytest.mark.integration

SYSTEM_PG = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
def own_infra(own_data_dir: Path) -> Iterator[Settings]:
    settings = Settings(data_dir=own_data_dir)
    infra.up(settings)
    yield settings
    infra.down(settings)


def _kill_postgres(settings: Settings) -> None:
    pid = infra._pg_running_pid((settings.data_dir / "pgdata").resolve())
    assert pid
    os.kill(pid, signal.SIGKILL)


def _kill_broker(settings: Settings) -> None:
    pid = read_infra_state(settings)["kafka_pid"]
    assert isinstance(pid, int)
    os.kill(pid, signal.SIGKILL)


def _event() -> Event:
    return parse_event(
        {
            "type": "track",
            "messageId": uuid.uuid4().hex,
            "source": "web",
            "channel": "web",
            "userId": "u1",
            "event": "Clicked",
        }
    )


class TestPortsAfterACrash:
    def test_up_after_kill_9_reuses_both_ports(self, own_infra: Settings) -> None:
        before = infra.status(own_infra)
        _kill_postgres(own_infra)
        _kill_broker(own_infra)
        wait_for(lambda: not infra.status(own_infra).kafka_running, timeout=10)
        after = infra.up(own_infra)
        assert after.database_running and after.kafka_running
        assert after.database_url == before.database_url
        assert after.kafka_bootstrap == before.kafka_bootstrap
        assert after.notes == ()

    def test_a_taken_port_moves_the_service_and_says_so(self, own_infra: Settings) -> None:
        old = read_infra_state(own_infra)["kafka_port"]
        infra.stop_kafka(own_infra)
        squatter = socket.socket()
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", int(str(old))))
        squatter.listen()
        try:
            after = infra.up(own_infra)
        finally:
            squatter.close()
        assert after.kafka_running
        assert after.kafka_bootstrap != f"127.0.0.1:{old}"
        assert any("Kafka broker" in note and str(old) in note for note in after.notes)


class TestEngineHeals:
    def test_engine_reconnects_after_postgres_restarts(self, own_infra: Settings) -> None:
        engine = make_engine(own_infra.resolved_database_url(), pool_size=2)
        try:
            with engine.connect() as conn:
                assert conn.execute(text("SELECT 1")).scalar() == 1
            _kill_postgres(own_infra)
            infra.up(own_infra)

            def works() -> bool:
                try:
                    with engine.connect() as conn:
                        return conn.execute(text("SELECT 2")).scalar() == 2
                except OperationalError as err:
                    errors.append(str(err.orig))
                    return False

            errors: list[str] = []
            try:
                wait_for(works, timeout=30, every=0.5)
            except AssertionError as err:
                raise AssertionError(f"{err}; last errors: {errors[-2:]}") from None
        finally:
            engine.dispose()

    def test_engine_follows_the_server_to_a_new_port(self, own_infra: Settings) -> None:
        engine = make_engine(own_infra.resolved_database_url(), pool_size=2, follow=own_infra)
        old = read_infra_state(own_infra)["pg_port"]
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            infra.stop_postgres(own_infra)
            squatter = socket.socket()
            squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            squatter.bind(("127.0.0.1", int(str(old))))
            squatter.listen()
            try:
                moved = infra.up(own_infra)
                assert moved.notes and moved.database_url
                assert f":{old}/" not in moved.database_url
                with engine.connect() as conn:  # no restart, no new engine
                    port = conn.execute(text("SELECT inet_server_port()")).scalar()
                assert moved.database_url.endswith(f":{port}/kindred")
            finally:
                squatter.close()
        finally:
            engine.dispose()


class TestPublisherHeals:
    def test_publisher_recovers_after_the_broker_restarts(self, own_infra: Settings) -> None:
        publisher = EventPublisher(own_infra.resolved_kafka_bootstrap, "heal.events")
        try:
            assert publisher.publish([_event()]) == 1
            _kill_broker(own_infra)
            wait_for(lambda: not infra.status(own_infra).kafka_running, timeout=10)
            with pytest.raises(BrokerUnavailable):
                publisher.publish([_event()], timeout=2)
            infra.up(own_infra)
            started = time.monotonic()

            def sent() -> bool:
                try:
                    return publisher.publish([_event()], timeout=3) == 1
                except BrokerUnavailable:
                    return False

            wait_for(sent, timeout=30, every=0.5)
            assert time.monotonic() - started < 30
        finally:
            publisher.close()


class TestDeadlocks:
    def test_deadlocks_are_recognised_wrapped_or_not(self) -> None:
        raw = psycopg.errors.DeadlockDetected("deadlock detected")
        assert is_deadlock(raw)
        assert is_deadlock(OperationalError("UPDATE ...", {}, raw))
        assert is_deadlock(psycopg.errors.SerializationFailure("could not serialize"))
        try:
            try:
                raise raw
            except psycopg.Error as inner:
                raise RuntimeError("batch failed") from inner
        except RuntimeError as outer:
            assert is_deadlock(outer)
        assert not is_deadlock(psycopg.errors.UniqueViolation("dup"))


def _heartbeats(engine: Engine) -> list[WorkerHeartbeat]:
    with engine.connect() as conn:
        return [
            WorkerHeartbeat(**dict(row._mapping))
            for row in conn.execute(select(WorkerHeartbeat.__table__))
        ]


STATUS_KEYS = {
    "partitions",
    "lag",
    "batches",
    "errors",
    "deadlock_retries",
    "last_error",
    "stuck",
    "stuck_reason",
    "backlog",
}


class TestHeartbeats:
    def test_every_worker_beats_with_its_status_and_clears_its_row(
        self, engine: Engine, workers: Workers
    ) -> None:
        def all_three() -> list[WorkerHeartbeat] | None:
            hb = _heartbeats(engine)
            return hb if len({r.kind for r in hb}) == 3 else None

        rows = wait_for(all_three, timeout=20)
        by_kind = {r.kind: r for r in rows}
        assert set(by_kind) == {"ingest", "identity", "profiles"}
        for row in rows:
            assert set(row.status) >= STATUS_KEYS
            assert row.worker_id.startswith(f"{row.kind}:")
            assert row.pid == os.getpid()
            assert row.status["stuck"] is False
        ingest = wait_for(
            lambda: next(
                (r for r in _heartbeats(engine) if r.kind == "ingest" and r.status["partitions"]),
                None,
            ),
            timeout=20,
        )
        assert ingest.status["backlog"] == 0
        assert all(":" in p for p in ingest.status["partitions"])
        assert wait_for(
            lambda: next(
                (r for r in _heartbeats(engine) if r.kind == "identity" and r.last_success_at),
                None,
            ),
            timeout=10,
        )
        workers.stop()
        assert _heartbeats(engine) == []


class TestStuckConsumer:
    def test_a_member_that_never_gets_partitions_says_so_and_heals(
        self, settings: Settings, engine: Engine
    ) -> None:
        """A zombie member holds every partition and never polls again (its heartbeat thread
        keeps it in the group), so a new member waits in a rebalance that does not end. The
        ingest worker must report itself stuck and get the events stored anyway."""
        bootstrap = settings.resolved_kafka_bootstrap()
        group = f"g-{uuid.uuid4().hex[:6]}"
        ensure_topics(bootstrap, [settings.events_topic, settings.dlq_topic], partitions=2)
        zombie = KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=group,
            enable_auto_commit=False,
            max_poll_interval_ms=300000,
            **GROUP_TIMEOUTS,
        )
        zombie.subscribe([settings.events_topic])
        wait_for(
            lambda: zombie.poll(timeout_ms=200) is not None and zombie.assignment(), timeout=20
        )
        producer = make_producer(bootstrap)
        ids = [uuid.uuid4().hex for _ in range(50)]
        for mid in ids:
            body = {
                "type": "track",
                "messageId": mid,
                "source": "web",
                "channel": "web",
                "userId": f"u-{mid[:4]}",
                "event": "Stuck",
            }
            producer.send(
                settings.events_topic, key=mid.encode(), value=parse_event(body).to_bytes()
            )
        producer.flush()
        producer.close()

        worker = IngestWorker(
            ingest_config(settings, group_id=group), engine, stuck_after=4, heartbeat_every=1
        )
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        try:
            stuck = wait_for(
                lambda: next(
                    (r for r in _heartbeats(engine) if r.kind == "ingest" and r.status["stuck"]),
                    None,
                ),
                timeout=30,
            )
            assert "no partitions" in stuck.status["stuck_reason"]
            # the embedded broker's end offsets count batches, not records: only "behind" holds
            assert stuck.status["backlog"] > 0

            def stored() -> int:
                with engine.connect() as conn:
                    n = conn.execute(
                        select(EventRow.message_id).where(EventRow.message_id.in_(ids))
                    ).all()
                return len(n) == len(ids) and len(n)

            assert wait_for(stored, timeout=40) == 50
            assert worker.recoveries >= 1
            healthy = wait_for(
                lambda: next(
                    (
                        r
                        for r in _heartbeats(engine)
                        if r.kind == "ingest" and not r.status["stuck"] and r.status["partitions"]
                    ),
                    None,
                ),
                timeout=15,
            )
            assert healthy.status["recoveries"] >= 1
        finally:
            worker.stop()
            thread.join(20)
            zombie.close(autocommit=False)
