"""Dead letters: list them, and replay them once the cause is fixed.

A dead letter is one of:
- an item a connector rejected (``connector_dead_letters.origin = "item"``): its raw vendor
  item is re-parsed by the same connector (:meth:`Connector.replay_item`);
- a whole payload rejected before parsing (``origin = "payload"``: bad JSON, bad signature):
  the stored body is parsed again (signatures are not re-checked: the operator vouches);
- a canonical event the ingest worker could not store (no connector row): re-validated.

Replay publishes what is now valid to the events topic and marks the letter
``replayed_at``; what is still invalid stays unreplayed with the new reason reported. Message
ids are deterministic, so replaying twice (or replaying something that got in another way)
creates no duplicates downstream.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from connectors.base import ConnectorError, ParseResult
from connectors.events import Event, InvalidEvent, event_from_bytes
from connectors.registry import get_connector
from ingest.producer import EventPublisher
from kindred.errors import NotFound
from kindred.models import ConnectorDeadLetter, DeadLetter, Source


@dataclass(frozen=True)
class LetterView:
    id: int
    source: str | None
    connector: str | None
    origin: str
    reason: str
    payload: str
    created_at: datetime
    replayed_at: datetime | None

    def as_json(self, *, payload_chars: int = 500) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "connector": self.connector,
            "origin": self.origin,
            "reason": self.reason,
            "payload": self.payload[:payload_chars],
            "created_at": self.created_at.isoformat(),
            "replayed_at": self.replayed_at.isoformat() if self.replayed_at else None,
        }


@dataclass
class ReplayOutcome:
    letters: int = 0
    replayed: int = 0
    events: int = 0
    still_invalid: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "letters": self.letters,
            "replayed": self.replayed,
            "events_published": self.events,
            "still_invalid": self.still_invalid,
        }


def list_dead_letters(
    session: Session,
    *,
    source: str | None = None,
    limit: int = 50,
    include_replayed: bool = False,
) -> list[LetterView]:
    """Newest first."""
    query = (
        select(DeadLetter, ConnectorDeadLetter)
        .outerjoin(ConnectorDeadLetter, ConnectorDeadLetter.dead_letter_id == DeadLetter.id)
        .order_by(DeadLetter.id.desc())
        .limit(limit)
    )
    if source is not None:
        query = query.where(DeadLetter.source == source)
    if not include_replayed:
        query = query.where(DeadLetter.replayed_at.is_(None))
    return [_view(letter, meta) for letter, meta in session.execute(query).tuples()]


def _view(letter: DeadLetter, meta: ConnectorDeadLetter | None) -> LetterView:
    return LetterView(
        id=letter.id,
        source=letter.source,
        connector=meta.connector if meta else None,
        origin=meta.origin if meta else "event",
        reason=letter.reason,
        payload=letter.payload,
        created_at=letter.created_at,
        replayed_at=letter.replayed_at,
    )


def replay_dead_letters(
    session: Session,
    publisher: EventPublisher,
    *,
    letter_id: int | None = None,
    source: str | None = None,
    limit: int = 1000,
) -> ReplayOutcome:
    """Re-parse and republish dead letters (one by id, or a source's unreplayed ones)."""
    if (letter_id is None) == (source is None):
        raise ValueError("give exactly one of letter_id or source")
    query = select(DeadLetter, ConnectorDeadLetter).outerjoin(
        ConnectorDeadLetter, ConnectorDeadLetter.dead_letter_id == DeadLetter.id
    )
    if letter_id is not None:
        query = query.where(DeadLetter.id == letter_id)
    else:
        query = (
            query.where(DeadLetter.source == source, DeadLetter.replayed_at.is_(None))
            .order_by(DeadLetter.id)
            .limit(limit)
        )
    rows = list(session.execute(query).tuples())
    if letter_id is not None and not rows:
        raise NotFound(f"no dead letter with id {letter_id}")
    configs = _configs(session, {letter.source for letter, _ in rows if letter.source})
    outcome = ReplayOutcome(letters=len(rows))
    done: list[int] = []
    for letter, meta in rows:
        events, problem = _reparse(letter, meta, configs.get(letter.source or ""))
        if problem:
            outcome.still_invalid.append({"id": letter.id, "reason": problem})
            continue
        publisher.publish(events)
        outcome.events += len(events)
        outcome.replayed += 1
        done.append(letter.id)
    if done:
        session.execute(
            update(DeadLetter).where(DeadLetter.id.in_(done)).values(replayed_at=datetime.now(UTC))
        )
        session.flush()
    return outcome


def _configs(session: Session, names: set[str]) -> dict[str, dict[str, Any]]:
    if not names:
        return {}
    rows = session.execute(select(Source.name, Source.config).where(Source.name.in_(names)))
    return {name: dict(config or {}) for name, config in rows.tuples()}


def _reparse(
    letter: DeadLetter, meta: ConnectorDeadLetter | None, config: dict[str, Any] | None
) -> tuple[Sequence[Event], str]:
    """(events, "") or ([], why it is still invalid)."""
    if meta is None:
        try:
            return [event_from_bytes(letter.payload.encode())], ""
        except InvalidEvent as err:
            return [], err.reason
    source = letter.source
    if not source:
        return [], "the dead letter names no source"
    if config is None:
        return [], f"source {source!r} no longer exists"
    try:
        connector = get_connector(meta.connector)
        if meta.origin == "payload":
            kwargs: dict[str, Any] = {}
            if meta.call_type:
                kwargs = {"call_type": meta.call_type, "received_at": datetime.now(UTC)}
            parsed: ParseResult = connector.parse_payload(
                letter.payload.encode(),
                source=source,
                content_type=meta.content_type,
                config=config,
                **kwargs,
            )
        else:
            try:
                raw = json.loads(letter.payload)
            except ValueError:
                raw = letter.payload
            if meta.call_type is not None and isinstance(raw, dict):
                raw = {"type": meta.call_type, **raw} if "type" not in raw else raw
            parsed = connector.replay_item(raw, source=source, config=config)
    except ConnectorError as err:
        return [], err.message
    if parsed.rejected:
        return [], "; ".join(r.reason for r in parsed.rejected)
    if not parsed.events:
        return [], "re-parsing produced no event"
    return parsed.events, ""
