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
from sqlalchemy.orm import Session

from ingest.events import Event, InvalidEvent, event_from_bytes
from ingest.service import persist_events
from kindred.db import unit_of_work
from kindred.dberrors import describe, is_transient, storable_text
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
    """Validate and persist one poll batch inside the caller's transaction.

    Whatever the database (or our own code) refuses in a write isolates the events that cause
    it by bisection, each attempt in its own savepoint: exactly those are dead-lettered with
    the reason and the rest is written in the same pass. Outages (a lost connection, a
    deadlock) are not the events' fault: they propagate so that the whole batch is retried."""
    outcome = BatchOutcome()
    good: list[tuple[Any, Event]] = []
    for msg in messages:
        try:
            good.append((msg, event_from_bytes(msg.value)))
        except InvalidEvent as err:
            outcome.dead.append(_letter(msg, err.reason))
    _persist_isolating(session, good, outcome)
    if outcome.dead:
        session.execute(
            pg_insert(DeadLetter).on_conflict_do_nothing(),
            [
                {
                    "source": d.source,
                    "reason": d.reason,
                    "payload": storable_text(d.raw.decode("utf-8", errors="backslashreplace")),
                    "topic": d.topic,
                    "partition": d.partition,
                    "offset": d.offset,
                }
                for d in outcome.dead
            ],
        )
    return outcome


def _persist_isolating(
    session: Session, items: Sequence[tuple[Any, Event]], outcome: BatchOutcome
) -> None:
    if not items:
        return
    try:
        with session.begin_nested():
            res = persist_events(session, [ev for _, ev in items], raw=[m.value for m, _ in items])
    except Exception as err:
        if is_transient(err):
            raise
        if len(items) == 1:
            msg = items[0][0]
            log.warning("event at %s:%s:%s refused: %s", msg.topic, msg.partition, msg.offset, err)
            outcome.dead.append(_letter(msg, f"database rejected the event: {describe(err)}"))
            return
        log.warning("batch write of %d events failed (%s); isolating", len(items), describe(err))
        half = len(items) // 2
        _persist_isolating(session, items[:half], outcome)
        _persist_isolating(session, items[half:], outcome)
        return
    outcome.persisted += res.inserted
    outcome.duplicates += res.duplicates


def _letter(msg: Any, reason: str) -> Letter:
    raw = msg.value if isinstance(msg.value, bytes) else bytes(msg.value or b"")
    source = _source_hint(raw)
    return Letter(
        raw,
        storable_text(reason),
        msg.topic,
        msg.partition,
        msg.offset,
        storable_text(source)[:200] if source else None,
    )


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
