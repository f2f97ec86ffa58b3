"""Segment membership, evaluated set-based: for everyone, or only some (just recomputed)
profiles; merged-away and erased profiles leave every segment.

One statement per segment computes the matching set, inserts who entered, deletes who left
and logs both in ``segment_changes`` with the cause (``repository.evaluation_sql``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from kindred.models import Segment
from profiles.rules import compile_rule
from profiles.segments import repository as repo


def evaluate_segment(
    session: Session,
    *,
    segment: Segment,
    cause: str,
    profile_ids: Sequence[uuid.UUID] | None = None,
) -> tuple[int, int]:
    """Bring membership up to date (for everyone, or only ``profile_ids``): (entered, exited).
    The caller holds the changes lock (``lock_changes``)."""
    compiled = compile_rule(segment.rules, level=segment.level)
    params: dict[str, Any] = dict(compiled.params)
    params.update({"sid": segment.id, "cause": cause[:300]})
    if segment.level == "account":
        if profile_ids is not None:
            return (0, 0)  # account segments are evaluated whole, on a schedule
        sql = repo.evaluation_sql(level="account", rule=compiled.sql)
    else:
        if profile_ids is not None:
            if not profile_ids:
                return (0, 0)
            params["ids"] = list(profile_ids)
        sql = repo.evaluation_sql(
            level="person",
            rule=compiled.sql,
            consent=repo.consent_sql(segment.consent_channel, params),
            scoped=profile_ids is not None,
        )
    entered, exited = repo.run_counts(session, sql, params)
    if profile_ids is None:
        repo.set_full_count(session, segment=segment)
    elif entered or exited:
        repo.add_to_count(session, segment_id=segment.id, delta=entered - exited)
    return entered, exited


def evaluate_for_profiles(
    session: Session, *, profile_ids: Sequence[uuid.UUID], cause: str
) -> dict[str, int]:
    """Re-evaluate every person segment for these (just recomputed) profiles."""
    totals = {"entered": 0, "exited": 0}
    if not profile_ids:
        return totals
    for segment in repo.person_segments(session):
        entered, exited = evaluate_segment(
            session, segment=segment, cause=cause, profile_ids=profile_ids
        )
        totals["entered"] += entered
        totals["exited"] += exited
    repo.touch_person_segments(session)
    return totals


def remove_profiles(session: Session, *, gone: Sequence[tuple[uuid.UUID, str]]) -> int:
    """Merged-away or deleted profiles leave every segment (no ghost members)."""
    if not gone:
        return 0
    return repo.remove_members(session, ids=[g[0] for g in gone], causes=[g[1][:300] for g in gone])
