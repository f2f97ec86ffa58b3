"""Who entered and who left: one segment's change feed (``changes?since=``), every segment's
(the Kafka publisher's outbox read), and the segments one person is in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from identity.service import surviving_profile_id
from kindred.errors import BadRequest, NotFound
from kindred.models import Profile
from profiles.schemas import ProfileSegmentsOut, SegmentChangesOut
from profiles.segments import repository as repo
from profiles.segments.definitions import segment_or_404


def changes_since(
    session: Session, *, segment_id: uuid.UUID, since: str | None, limit: int = 1000
) -> SegmentChangesOut:
    """Entries and exits after ``since`` (the ``next_cursor`` of the previous call; omit it to
    start from the beginning). Change ids are visible in order (see ``CHANGES_LOCK``)."""
    segment_or_404(session, segment_id)
    after = 0
    if since:
        try:
            after = int(since)
        except ValueError as err:
            raise BadRequest("since must be a cursor this API issued (next_cursor)") from err
    rows = repo.changes_of(session, segment_id=segment_id, after=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    items = [
        {
            "id": r[0],
            f"{r[5]}_id": str(r[1]),
            "change": r[2],
            "cause": r[3],
            "at": r[4].isoformat(),
        }
        for r in rows
    ]
    return SegmentChangesOut(
        segment_id=segment_id,
        items=items,
        next_cursor=str(rows[-1][0]) if rows else str(after),
        has_more=more,
    )


def changes_after(session: Session, *, after_id: int, limit: int = 1000) -> list[dict[str, Any]]:
    """All segments' changes after ``after_id`` (the Kafka publisher's outbox read)."""
    return [
        {
            "change_id": r[0],
            "segment_id": str(r[1]),
            "segment": r[2],
            "member_kind": r[7],
            "member_id": str(r[3]),
            "change": r[4],
            "cause": r[5],
            "at": r[6].isoformat(),
        }
        for r in repo.all_changes_after(session, after_id=after_id, limit=limit)
    ]


def profile_segments(session: Session, *, profile_id: uuid.UUID) -> ProfileSegmentsOut:
    """The segments the person (a merged-away id: the survivor) and their account are in."""
    live = surviving_profile_id(session, profile_id)
    if live is None:
        raise NotFound(f"no profile {profile_id}")
    profile = session.get(Profile, live)
    if profile is None or profile.deleted:
        raise NotFound(f"no profile {profile_id}")
    return ProfileSegmentsOut(
        profile_id=live,
        segments=[
            {"segment_id": str(r[0]), "name": r[1], "level": r[2], "entered_at": r[3].isoformat()}
            for r in repo.segments_of(session, profile=profile)
        ],
    )


#: bucket widths the size history picks from (auto: the smallest giving <= MAX_POINTS)
STEPS = {"minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400}
AUTO_STEPS = (60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400, 30 * 86400)
MAX_POINTS = 90


def size_history(
    session: Session, *, segment_id: uuid.UUID, bucket: str = "auto"
) -> dict[str, Any]:
    """The segment's size over time, replayed from its change log (entries minus exits up to
    each bucket's end), one point per bucket that has changes, then now's member count.
    ``bucket``: minute | hour | day | week | auto (the smallest width giving at most
    MAX_POINTS buckets between the first change and now)."""
    segment = segment_or_404(session, segment_id)
    now = datetime.now(UTC)
    if bucket == "auto":
        first = repo.change_span(session, segment_id=segment.id)
        span = (now - first).total_seconds() if first else 0.0
        step = next((s for s in AUTO_STEPS if span / s <= MAX_POINTS), AUTO_STEPS[-1])
    elif bucket in STEPS:
        step = STEPS[bucket]
    else:
        raise BadRequest(f"bucket must be auto or one of {list(STEPS)}")
    rows = repo.history_rows(session, segment_id=segment.id, step_seconds=step)
    points = [
        {"at": at.isoformat(), "entered": int(e), "exited": int(x), "size": int(size)}
        for at, e, x, size in rows
    ][-500:]
    return {
        "segment_id": segment.id,
        "bucket_seconds": step,
        "member_count": segment.member_count,
        "now": now.isoformat(),
        "points": points,
    }


def recent_changes(
    session: Session, *, segment_id: uuid.UUID, before: str | None = None, limit: int = 50
) -> dict[str, Any]:
    """Entries and exits newest first, each naming its member (for people reading the
    console; syncs use ``changes_since``). ``before``: ``next_before`` of the previous page."""
    segment_or_404(session, segment_id)
    below: int | None = None
    if before:
        try:
            below = int(before)
        except ValueError as err:
            raise BadRequest("before must be a cursor this API issued (next_before)") from err
    rows = repo.recent_changes_of(session, segment_id=segment_id, before=below, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    items = [
        {
            "id": r[0],
            "member_kind": r[5],
            "member_id": str(r[1]),
            "change": r[2],
            "cause": r[3],
            "at": r[4].isoformat(),
            "name": r[6],
            "email": r[7],
        }
        for r in rows
    ]
    return {
        "segment_id": segment_id,
        "items": items,
        "next_before": str(rows[-1][0]) if more and rows else None,
    }
