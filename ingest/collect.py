"""Accepting payloads from the collector and webhooks: parse, publish durably, keep rejects.

Valid events of a payload are published even when siblings are invalid; every rejected item
is kept as a dead letter with its reason (nothing is dropped silently), and so is a payload
rejected as a whole (bad JSON, failed signature, too large) when its source is known. Both
count in the source's ``rejected`` counter; ``accepted`` is counted when the ingest worker
stores the events.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from connectors.base import Connector, ConnectorError, Rejection
from connectors.events import Event
from ingest.producer import EventPublisher
from kindred.dberrors import storable_text
from kindred.models import ConnectorDeadLetter, DeadLetter, Source

MAX_STORED_PAYLOAD = 100_000


@dataclass
class AcceptResult:
    accepted: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def rejections_json(self) -> list[dict[str, Any]]:
        return [{"index": r.index, "reason": r.reason} for r in self.rejected]


def _bump_rejected(session: Session, *, source: str, count: int) -> None:
    session.execute(
        update(Source)
        .where(Source.name == source)
        .values(rejected_count=Source.rejected_count + count)
    )


def record_rejections(
    session: Session,
    *,
    source: str,
    rejected: Sequence[Rejection],
    connector: str | None = None,
    call_type: str | None = None,
) -> None:
    """Keep each rejected item as a dead letter (with the connector, so it can be replayed)
    and count them against the source."""
    if not rejected:
        return
    letters = []
    for r in rejected:
        payload = r.raw if isinstance(r.raw, str) else json.dumps(r.raw, default=str)
        letter = DeadLetter(
            source=source,
            reason=storable_text(f"item {r.index}: {r.reason}"),
            payload=storable_text(payload[:MAX_STORED_PAYLOAD]),
        )
        session.add(letter)
        letters.append(letter)
    if connector is not None:
        session.flush()
        session.add_all(
            ConnectorDeadLetter(
                dead_letter_id=letter.id, connector=connector, origin="item", call_type=call_type
            )
            for letter in letters
        )
    _bump_rejected(session, source=source, count=len(rejected))
    session.flush()


def record_payload_failure(
    session: Session,
    *,
    source: str,
    connector: str,
    reason: str,
    body: bytes,
    content_type: str | None = None,
    call_type: str | None = None,
) -> None:
    """A payload rejected as a whole (bad JSON, failed signature...): one dead letter with the
    original body, counted against the source."""
    letter = DeadLetter(
        source=source,
        reason=storable_text(f"payload: {reason}"),
        payload=storable_text(body[:MAX_STORED_PAYLOAD].decode("utf-8", errors="backslashreplace")),
    )
    session.add(letter)
    session.flush()
    session.add(
        ConnectorDeadLetter(
            dead_letter_id=letter.id,
            connector=connector,
            origin="payload",
            call_type=call_type,
            content_type=(content_type or "")[:200] or None,
        )
    )
    _bump_rejected(session, source=source, count=1)
    session.flush()


def accept_payload(
    session: Session,
    publisher: EventPublisher,
    *,
    connector: Connector,
    source: str,
    body: bytes,
    content_type: str | None = None,
    config: Mapping[str, Any] | None = None,
    call_type: str | None = None,
) -> AcceptResult:
    """Parse with the connector, publish the valid events (acknowledged), keep the rejects.

    A :class:`ConnectorError` (the payload as a whole is unreadable) is recorded as a dead
    letter and re-raised: the caller commits the session before answering the error."""
    kwargs: dict[str, Any] = {}
    if call_type is not None:
        kwargs["call_type"] = call_type
        kwargs["received_at"] = datetime.now(UTC)
    try:
        parsed = connector.parse_payload(
            body, source=source, content_type=content_type, config=config or {}, **kwargs
        )
    except ConnectorError as err:
        if err.status_code < 500:
            record_payload_failure(
                session,
                source=source,
                connector=connector.name,
                reason=err.message,
                body=body,
                content_type=content_type,
                call_type=call_type,
            )
        raise
    publisher.publish(parsed.events)
    record_rejections(
        session,
        source=source,
        rejected=parsed.rejected,
        connector=connector.name,
        call_type=call_type,
    )
    return AcceptResult(accepted=len(parsed.events), rejected=parsed.rejected, notes=parsed.notes)


def accept_events(publisher: EventPublisher, *, events: Sequence[Event]) -> int:
    """Publish events a route built itself (the open pixel); returns how many."""
    return publisher.publish(events)
