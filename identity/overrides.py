"""Ops overrides: force a merge (must-link) or a split (cannot-link).

Overrides are stored between source records, so they survive later merges, splits and batch
re-runs; both the streaming resolver and ``kindred resolve --full`` honour them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from identity.graph import ResolveResult
from identity.merge import absorb_profile, surviving_profile_id
from kindred.db import in_ids
from kindred.errors import BadRequest, Conflict, NotFound
from kindred.models import IdentityChange, Profile, RecordLink, SourceRecord
from kindred.models.identity import IdentityOverride

MAX_CANNOT_LINK_PAIRS = 20_000


@dataclass(frozen=True)
class RecordRef:
    """A source record named by id, or by source and record key."""

    id: int | None = None
    source: str | None = None
    record_key: str | None = None


def resolve_refs(session: Session, refs: Sequence[RecordRef]) -> list[int]:
    ids: list[int] = []
    for ref in refs:
        if ref.id is not None:
            found = session.execute(
                select(SourceRecord.id).where(SourceRecord.id == ref.id)
            ).scalar_one_or_none()
        elif ref.source and ref.record_key:
            found = session.execute(
                select(SourceRecord.id).where(
                    SourceRecord.source == ref.source, SourceRecord.record_key == ref.record_key
                )
            ).scalar_one_or_none()
        else:
            raise BadRequest("a record is named by `id`, or by `source` and `record_key`")
        if found is None:
            raise NotFound(f"no source record {ref}")
        ids.append(found)
    return ids


def _live(session: Session, profile_id: uuid.UUID) -> uuid.UUID:
    live = surviving_profile_id(session, profile_id)
    if live is None:
        raise NotFound(f"no profile {profile_id}")
    return live


def _records_of(session: Session, profile_id: uuid.UUID) -> list[int]:
    return list(
        session.execute(
            select(RecordLink.record_id)
            .where(RecordLink.profile_id == profile_id)
            .order_by(RecordLink.record_id)
        ).scalars()
    )


def merge_profiles(
    session: Session, *, profile_ids: Sequence[uuid.UUID], reason: str | None, actor: str
) -> dict[str, Any]:
    """Merge profiles (the oldest id survives); remembered as must-links between records."""
    live = sorted({_live(session, p) for p in profile_ids}, key=str)
    if len(live) < 2:
        raise BadRequest("name at least two different live profiles to merge")
    created = dict(
        session.execute(
            select(Profile.id, Profile.created_at).where(in_ids(Profile.id, live, uuid=True))
        )
        .tuples()
        .all()
    )
    live.sort(key=lambda p: (created[p], str(p)))
    survivor, others = live[0], live[1:]
    anchor = _records_of(session, survivor)
    if not anchor:
        raise Conflict(f"profile {survivor} has no records left")
    result = ResolveResult()
    for other in others:
        records = _records_of(session, other)
        if records:
            _forget(session, "cannot_link", anchor, records)
            session.add(
                IdentityOverride(
                    kind="must_link",
                    record_a=anchor[0],
                    record_b=records[0],
                    reason=reason,
                    created_by=actor,
                )
            )
        absorb_profile(
            session,
            survivor=survivor,
            absorbed=other,
            cause="manual_merge",
            evidence={"reason": reason, "by": actor},
            result=result,
        )
    session.execute(update(Profile).where(Profile.id == survivor).values(stale=True))
    session.flush()
    return {"survivor": survivor, "merged": others, "changes": result.changes}


def split_profile(
    session: Session,
    *,
    profile_id: uuid.UUID,
    records: Sequence[RecordRef],
    reason: str | None,
    actor: str,
) -> dict[str, Any]:
    """Move ``records`` to a new profile; remembered as cannot-links to the rest."""
    live = _live(session, profile_id)
    moving = resolve_refs(session, records)
    current = set(_records_of(session, live))
    strangers = [r for r in moving if r not in current]
    if strangers:
        raise BadRequest(f"records {strangers} do not belong to profile {live}")
    staying = sorted(current - set(moving))
    if not moving or not staying:
        raise BadRequest("a split must leave at least one record on each side")
    if len(moving) * len(staying) > MAX_CANNOT_LINK_PAIRS:
        raise BadRequest(
            f"splitting {len(moving)} from {len(staying)} records is too large for one request"
        )
    _forget(session, "must_link", moving, staying)
    session.execute(
        pg_insert(IdentityOverride),
        [
            {
                "kind": "cannot_link",
                "record_a": a,
                "record_b": b,
                "reason": reason,
                "created_by": actor,
            }
            for a in moving
            for b in staying
        ],
    )
    new_id = uuid.uuid4()
    session.execute(pg_insert(Profile).values(id=new_id))
    session.execute(
        update(RecordLink)
        .where(in_ids(RecordLink.record_id, moving))
        .values(
            profile_id=new_id,
            rule="manual_split",
            linked_at=func.now(),
            evidence={"reason": reason, "by": actor, "split_from": str(live)},
        )
    )
    session.add(
        IdentityChange(
            kind="split",
            profile_id=new_id,
            other_profile_id=live,
            cause="manual_split",
            evidence={"records": sorted(moving), "reason": reason, "by": actor},
        )
    )
    session.execute(
        update(Profile).where(in_ids(Profile.id, [live, new_id], uuid=True)).values(stale=True)
    )
    session.flush()
    return {"profile_id": live, "new_profile_id": new_id, "moved_records": sorted(moving)}


def _forget(session: Session, kind: str, side_a: Sequence[int], side_b: Sequence[int]) -> None:
    """Drop overrides of ``kind`` between the two sides (the newer decision wins)."""
    session.execute(
        delete(IdentityOverride).where(
            IdentityOverride.kind == kind,
            or_(
                and_(
                    in_ids(IdentityOverride.record_a, side_a),
                    in_ids(IdentityOverride.record_b, side_b),
                ),
                and_(
                    in_ids(IdentityOverride.record_a, side_b),
                    in_ids(IdentityOverride.record_b, side_a),
                ),
            ),
        )
    )
