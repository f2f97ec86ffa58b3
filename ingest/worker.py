"""The ingest worker: Kafka -> validate -> one Postgres transaction -> commit -> offsets.

Order per poll batch (never the other way round):
1. decode and validate every message; invalid ones become dead letters (with the reason);
2. one database transaction of idempotent writes (events, records, touchpoints, dead letters);
3. database commit;
4. dead letters published to the DLQ topic (acknowledged);
5. Kafka offsets committed.
A crash anywhere before 5 replays the batch, which changes nothing. SIGTERM finishes the
current batch and exits.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, OffsetAndMetadata, TopicPartition
from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.orm import Session

from ingest.events import Event, InvalidEvent, event_from_bytes
from ingest.service import persist_events
from kindred.db import unit_of_work
from kindred.kafka import ensure_topics, make_consumer, make_producer, send_all
from kindred.models import DeadLetter
from kindred.signals import stop_on_signals

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestConfig:
    bootstrap: str
    topic: str
    dlq_topic: str
    group_id: str = "kindred-ingest"
    max_records: int = 2000
    poll_timeout_ms: int = 500


@dataclass
class Letter:
    """A message that could not be processed, with why."""

    raw: bytes
    reason: str
    topic: str
    partition: int
    offset: int
    source: str | None = None


@dataclass
class BatchOutcome:
    persisted: int = 0
    duplicates: int = 0
    dead: list[Letter] = field(default_factory=list)


@dataclass
class Stats:
    batches: int = 0
    messages: int = 0
    persisted: int = 0
    duplicates: int = 0
    dead_letters: int = 0


def _source_hint(raw: bytes) -> str | None:
    import json

    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    value = data.get("source") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def process_batch(session: Session, messages: Sequence[Any]) -> BatchOutcome:
    """Validate and persist one poll batch inside the caller's transaction."""
    outcome = BatchOutcome()
    good: list[tuple[Any, Event]] = []
    for msg in messages:
        try:
            good.append((msg, event_from_bytes(msg.value)))
        except InvalidEvent as err:
            outcome.dead.append(_letter(msg, err.reason))
    try:
        with session.begin_nested():
            res = persist_events(
                session, [ev for _, ev in good], raw=[msg.value for msg, _ in good]
            )
        outcome.persisted, outcome.duplicates = res.inserted, res.duplicates
    except (DBAPIError, StatementError):
        # One bad event (e.g. a NUL byte Postgres refuses) must not block its siblings:
        # retry one by one, each in its own savepoint, and dead-letter the failures.
        log.warning("batch write failed; retrying %d events one by one", len(good))
        for msg, ev in good:
            try:
                with session.begin_nested():
                    res = persist_events(session, [ev], raw=[msg.value])
                outcome.persisted += res.inserted
                outcome.duplicates += res.duplicates
            except (DBAPIError, StatementError) as err:
                detail = str(getattr(err, "orig", None) or err)[:300]
                reason = f"database rejected the event: {detail}"
                outcome.dead.append(_letter(msg, reason))
    if outcome.dead:
        session.execute(
            pg_insert(DeadLetter).on_conflict_do_nothing(),
            [
                {
                    "source": d.source,
                    "reason": d.reason.replace("\x00", "\\x00"),
                    "payload": d.raw.decode("utf-8", errors="backslashreplace").replace(
                        "\x00", "\\x00"
                    ),
                    "topic": d.topic,
                    "partition": d.partition,
                    "offset": d.offset,
                }
                for d in outcome.dead
            ],
        )
    return outcome


def _letter(msg: Any, reason: str) -> Letter:
    raw = msg.value if isinstance(msg.value, bytes) else bytes(msg.value or b"")
    return Letter(raw, reason, msg.topic, msg.partition, msg.offset, _source_hint(raw))


def publish_dead_letters(producer: KafkaProducer, dlq_topic: str, dead: Sequence[Letter]) -> None:
    for d in dead:
        headers = [
            ("reason", d.reason.encode()),
            ("source", (d.source or "").encode()),
            ("original_topic", d.topic.encode()),
            ("original_partition", str(d.partition).encode()),
            ("original_offset", str(d.offset).encode()),
        ]
        send_all(producer, dlq_topic, [(None, d.raw)], headers=headers)


def offsets_after(messages: Sequence[Any]) -> dict[TopicPartition, OffsetAndMetadata]:
    last: dict[TopicPartition, int] = {}
    for m in messages:
        tp = TopicPartition(m.topic, m.partition)
        last[tp] = max(last.get(tp, -1), m.offset)
    return {tp: OffsetAndMetadata(off + 1, None, -1) for tp, off in last.items()}


class IngestWorker:
    """A consumer-group member. ``run()`` loops until ``stop()`` (or SIGTERM)."""

    def __init__(
        self,
        config: IngestConfig,
        engine: Engine,
        *,
        on_batch: Callable[[BatchOutcome], None] | None = None,
    ) -> None:
        self.config = config
        self.engine = engine
        self.on_batch = on_batch
        self.stats = Stats()
        self._stop = threading.Event()
        self._consumer: KafkaConsumer | None = None
        self._producer: KafkaProducer | None = None

    def stop(self) -> None:
        self._stop.set()

    def install_signal_handlers(self) -> None:
        stop_on_signals(self.stop, name="ingest worker")

    def run(self) -> Stats:
        cfg = self.config
        ensure_topics(cfg.bootstrap, [cfg.topic, cfg.dlq_topic])
        self._consumer = make_consumer(cfg.bootstrap, group_id=cfg.group_id, topics=[cfg.topic])
        self._producer = make_producer(cfg.bootstrap)
        failures = 0
        try:
            while not self._stop.is_set():
                polled = self._consumer.poll(
                    timeout_ms=cfg.poll_timeout_ms, max_records=cfg.max_records
                )
                messages = [m for batch in polled.values() for m in batch]
                if not messages:
                    continue
                try:
                    self.handle(messages)
                    failures = 0
                except Exception:
                    # Nothing was committed: rewind to the batch start and try again later.
                    failures += 1
                    log.exception("ingest batch failed (attempt %d); will retry", failures)
                    self._rewind(messages)
                    self._stop.wait(min(30.0, 0.5 * 2**failures))
        finally:
            self._consumer.close(autocommit=False)
            self._producer.close(timeout=5)
        return self.stats

    def _rewind(self, messages: Sequence[Any]) -> None:
        assert self._consumer is not None
        first: dict[TopicPartition, int] = {}
        for m in messages:
            tp = TopicPartition(m.topic, m.partition)
            first[tp] = min(first.get(tp, m.offset), m.offset)
        for tp, offset in first.items():
            self._consumer.seek(tp, offset)

    def handle(self, messages: Sequence[Any]) -> None:
        assert self._consumer is not None and self._producer is not None
        with unit_of_work(self.engine) as session:
            outcome = process_batch(session, messages)
        # DB committed: now the DLQ, then the offsets.
        if outcome.dead:
            publish_dead_letters(self._producer, self.config.dlq_topic, outcome.dead)
        self._consumer.commit(offsets_after(messages))
        self.stats.batches += 1
        self.stats.messages += len(messages)
        self.stats.persisted += outcome.persisted
        self.stats.duplicates += outcome.duplicates
        self.stats.dead_letters += len(outcome.dead)
        if self.on_batch:
            self.on_batch(outcome)
