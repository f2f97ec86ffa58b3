"""Segment definitions: validate, create (and compute or estimate), read, list, delete; each
answered with its freshness."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kindred.errors import Conflict, NotFound, Unprocessable
from kindred.models import Segment
from profiles.rules import CHANNELS, Compiled, compile_rule
from profiles.schemas import SegmentOut
from profiles.segments import repository as repo
from profiles.segments.evaluate import evaluate_segment


def segment_or_404(session: Session, segment_id: uuid.UUID) -> Segment:
    segment = session.get(Segment, segment_id)
    if segment is None:
        raise NotFound(f"no segment {segment_id}")
    return segment


def segment_out(
    segment: Segment, pending: int, oldest: datetime | None, estimated: int | None = None
) -> SegmentOut:
    """The segment with its lag: ``pending`` profiles wait since ``oldest`` (see
    ``repository.pending_profiles``)."""
    now = datetime.now(UTC)
    event_lag = (now - oldest).total_seconds() if pending and oldest else 0.0
    schedule_lag = (now - segment.computed_at).total_seconds() if segment.computed_at else None
    if segment.computed_at is None:
        lag: float | None = None
    elif segment.time_based or segment.level == "account":
        lag = max(event_lag, schedule_lag or 0.0)
    else:
        lag = event_lag
    return SegmentOut(
        id=segment.id,
        name=segment.name,
        description=segment.description,
        level=segment.level,
        rules=segment.rules,
        consent=segment.consent_channel,
        time_based=segment.time_based,
        member_count=segment.member_count,
        computed_at=segment.computed_at,
        incremental_at=segment.incremental_at,
        created_at=segment.created_at,
        updated_at=segment.updated_at,
        pending_profiles=pending,
        lag_seconds=round(lag, 3) if lag is not None else None,
        freshness={
            "event_driven_lag_seconds": round(event_lag, 3),
            "last_full_evaluation_seconds_ago": round(schedule_lag, 3)
            if schedule_lag is not None
            else None,
            "refreshed_on_schedule": segment.time_based or segment.level == "account",
            "explanation": "lag = age of the oldest profile change not yet applied"
            + (
                ", or the time since the last scheduled evaluation (time windows), if larger"
                if segment.time_based or segment.level == "account"
                else ""
            ),
        },
        estimated_size=estimated,
    )


def validate_definition(*, name: Any, rules: Any, level: str, consent: str | None) -> Compiled:
    problems: list[dict[str, str]] = []
    if not isinstance(name, str) or not name.strip() or len(name) > 300:
        problems.append({"path": "name", "message": "must be a non-empty string (<= 300 chars)"})
    if consent is not None and consent not in CHANNELS:
        problems.append({"path": "consent", "message": f"must be one of {list(CHANNELS)}"})
    if consent is not None and level == "account":
        problems.append({"path": "consent", "message": "consent applies to person segments"})
    try:
        compiled = compile_rule(rules, level=level)
    except Unprocessable as err:
        problems.extend(err.details or [])
        compiled = None
    if problems or compiled is None:
        raise Unprocessable(
            "invalid segment: " + "; ".join(f"{p['path']}: {p['message']}" for p in problems),
            details=problems,
        )
    return compiled


def _estimate(session: Session, compiled: Compiled, consent: str | None) -> int:
    params = dict(compiled.params)
    return repo.count_matching(
        session,
        level=compiled.level,
        rule=compiled.sql,
        consent=repo.consent_sql(consent, params) if compiled.level != "account" else "",
        params=params,
    )


def create_segment(
    session: Session,
    *,
    name: str,
    rules: dict[str, Any],
    level: str = "person",
    description: str | None = None,
    consent: str | None = None,
    compute: bool = True,
) -> SegmentOut:
    """Validate, store and (by default) compute the membership right away. With
    ``compute=False`` the answer carries a size estimate and the worker computes it."""
    compiled = validate_definition(name=name, rules=rules, level=level, consent=consent)
    segment = Segment(
        id=uuid.uuid4(),
        name=name.strip(),
        level=level,
        rules=rules,
        description=description,
        consent_channel=consent,
        time_based=compiled.time_based,
    )
    session.add(segment)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as err:
        raise Conflict(f"a segment named {name!r} exists already") from err
    estimated: int | None = None
    if compute:
        repo.lock_changes(session)
        evaluate_segment(session, segment=segment, cause="segment created")
        session.flush()
        session.refresh(segment)
        estimated = segment.member_count
    else:
        estimated = _estimate(session, compiled, consent)
        session.refresh(segment)
    pending, oldest = repo.pending_profiles(session)
    return segment_out(segment, pending, oldest, estimated)


def get_segment(session: Session, *, segment_id: uuid.UUID) -> SegmentOut:
    segment = segment_or_404(session, segment_id)
    pending, oldest = repo.pending_profiles(session)
    return segment_out(segment, pending, oldest)


def list_segments(session: Session) -> list[SegmentOut]:
    pending, oldest = repo.pending_profiles(session)
    return [segment_out(s, pending, oldest) for s in repo.all_segments(session)]


def delete_segment(session: Session, *, segment_id: uuid.UUID) -> None:
    segment = segment_or_404(session, segment_id)
    session.delete(segment)
    session.flush()
