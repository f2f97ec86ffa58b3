"""Killing the ingest worker with SIGKILL mid-stream loses nothing and duplicates nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import Engine, func, select

from kindred.kafka import ensure_topics, make_producer, send_all
from kindred.models import Event, Touchpoint
from kindred.settings import Settings
from tests.helpers import wait_for

pytestmark = pytest.mark.integration

TOTAL = 20_000


def _count(engine: Engine, model: type) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model)).scalar_one())


def _start_worker(settings: Settings) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "KINDRED_DATABASE_URL": settings.resolved_database_url(),
        "KINDRED_KAFKA_BOOTSTRAP": settings.resolved_kafka_bootstrap(),
        "KINDRED_EVENTS_TOPIC": settings.events_topic,
        "KINDRED_DLQ_TOPIC": settings.dlq_topic,
        "KINDRED_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-c", "from cli import main; main()", "worker", "ingest"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


class TestSigkillMidBatch:
    def test_restarted_worker_catches_up_exactly_once(
        self, settings: Settings, engine: Engine
    ) -> None:
        bootstrap = settings.resolved_kafka_bootstrap()
        ensure_topics(bootstrap, [settings.events_topic, settings.dlq_topic], partitions=2)
        producer = make_producer(bootstrap)
        messages = []
        for i in range(TOTAL):
            event = {
                "type": "track",
                "messageId": f"crash-{i}",
                "userId": f"user-{i % 500}",
                "event": "Page Scrolled",
                "properties": {"i": i},
                "source": "crash-test",
                "channel": "web",
                "timestamp": "2026-11-01T10:00:00Z",
            }
            messages.append((f"user-{i % 500}".encode(), json.dumps(event).encode()))
        send_all(producer, settings.events_topic, messages, timeout=60)
        producer.close()

        worker = _start_worker(settings)
        try:
            wait_for(lambda: _count(engine, Event) > 0, timeout=60, every=0.02)
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
        killed_at = _count(engine, Event)
        assert 0 < killed_at < TOTAL, f"kill should land mid-stream, saw {killed_at}"

        time.sleep(0.5)
        worker = _start_worker(settings)
        try:
            wait_for(lambda: _count(engine, Event) >= TOTAL, timeout=120, every=0.2)
            time.sleep(2)  # anything still in flight would show up as a duplicate now
        finally:
            worker.send_signal(signal.SIGTERM)
            _, stderr = worker.communicate(timeout=30)
        assert worker.returncode == 0, stderr.decode()[-2000:]
        assert _count(engine, Event) == TOTAL
        assert _count(engine, Touchpoint) == TOTAL
        with engine.connect() as conn:
            distinct = conn.execute(
                select(func.count(func.distinct(Event.message_id)))
            ).scalar_one()
        assert distinct == TOTAL
