"""Accepting payloads from the collector and webhooks: parse, publish durably, keep rejects.

Valid events of a payload are published even when siblings are invalid; every rejected item
is kept as a dead letter with its reason (nothing is dropped silently).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from connectors.base import Connector, Rejection
from ingest.producer import EventPublisher
from kindred.models import DeadLetter, Source


@dataclass
class AcceptResult:
    accepted: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    def rejections_json(self) -> list[dict[str, Any]]:
        return [{"index": r.index, "reason": r.reason} for r in self.rejected]


def record_rejections(session: Session, *, source: str, rejected: list[Rejection]) -> None:
    if not rejected:
        return
    for r in rejected:
        payload = r.raw if isinstance(r.raw, str) else json.dumps(r.raw, default=str)
        session.add(
            DeadLetter(
                source=source,
                reason=f"item {r.index}: {r.reason}".replace("\x00", "\\x00"),
                payload=payload[:100_000].replace("\x00", "\\x00"),
            )
        )
    session.execute(
        update(Source)
        .where(Source.name == source)
        .values(rejected_count=Source.rejected_count + len(rejected))
    )
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
    """Parse with the connector, publish the valid events (acknowledged), keep the rejects."""
    kwargs: dict[str, Any] = {}
    if call_type is not None:
        kwargs["call_type"] = call_type
        kwargs["received_at"] = datetime.now(UTC)
    parsed = connector.parse_payload(
        body, source=source, content_type=content_type, config=config or {}, **kwargs
    )
    publisher.publish(parsed.events)
    record_rejections(session, source=source, rejected=parsed.rejected)
    return AcceptResult(accepted=len(parsed.events), rejected=parsed.rejected)
