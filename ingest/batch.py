"""One poll batch of the ingest worker, on the database side: decode and validate every
message, persist the valid events in the caller's transaction (isolating what the database
refuses), keep the rest as dead letters, and publish those to the DLQ topic once committed."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from connectors.events import Event, InvalidEvent, event_from_bytes
from ingest import repository
from ingest.service import persist_events
from kindred.dberrors import describe, is_transient, storable_text
from kindred.kafka import Producer, send_all

# the worker's own log: these lines are about the batches it consumes
log = logging.getLogger("ingest.worker")


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


def _source_hint(raw: bytes) -> str | None:
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
        repository.insert_dead_letters(
            session,
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


def publish_dead_letters(producer: Producer, dlq_topic: str, dead: Sequence[Letter]) -> None:
    for d in dead:
        headers = [
            ("reason", d.reason.encode()),
            ("source", (d.source or "").encode()),
            ("original_topic", d.topic.encode()),
            ("original_partition", str(d.partition).encode()),
            ("original_offset", str(d.offset).encode()),
        ]
        send_all(producer, dlq_topic, [(None, d.raw)], headers=headers)
