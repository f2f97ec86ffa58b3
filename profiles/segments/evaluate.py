"""Segment membership, evaluated set-based: for everyone, or only some (just recomputed)
profiles; merged-away and erased profiles leave every segment.

One statement per segment computes the matching set, inserts who entered, deletes who left
and logs both in ``segment_changes`` with the cause (``repository.evaluation_sql``).

A scheduled full evaluation of a person segment (``prepare_full_evaluation`` then
``apply_full_evaluation``) computes the matching set *before* the changes lock, into a
temporary table: the expensive scan over every profile never holds up the profiles worker.
Under the lock only the difference with the members is written, leaving out the profiles
recomputed since the scan began (the worker evaluated those on their newer state, under the
same lock).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
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


# --------------------------------------------------------------------------- full, scan first

_APPLY = """
WITH entered AS (
    INSERT INTO segment_memberships (segment_id, profile_id)
    SELECT %(sid)s, x.id FROM {tmp} x JOIN profiles p ON p.id = x.id
    WHERE p.merged_into IS NULL AND NOT p.deleted
      AND NOT COALESCE(p.computed_at > %(snap)s, false)
    ON CONFLICT DO NOTHING RETURNING profile_id
), exited AS (
    DELETE FROM segment_memberships m WHERE m.segment_id = %(sid)s
    AND NOT EXISTS (SELECT 1 FROM {tmp} x WHERE x.id = m.profile_id)
    AND NOT EXISTS (SELECT 1 FROM profiles p WHERE p.id = m.profile_id
                    AND p.computed_at > %(snap)s AND p.merged_into IS NULL AND NOT p.deleted)
    RETURNING m.profile_id
), logged AS (
    INSERT INTO segment_changes (segment_id, profile_id, change, cause, member_kind)
    SELECT %(sid)s, profile_id, 'entered', %(cause)s, 'profile' FROM entered
    UNION ALL
    SELECT %(sid)s, profile_id, 'exited', %(cause)s, 'profile' FROM exited
    RETURNING change
)
SELECT count(*) FILTER (WHERE change = 'entered'), count(*) FILTER (WHERE change = 'exited')
FROM logged
"""


@dataclass(frozen=True)
class PreparedEvaluation:
    """A person segment's matching set as of ``snapshot``, in the temporary table ``table``
    (dropped at commit)."""

    segment: Segment
    table: str
    snapshot: datetime
    matched: int


def prepare_full_evaluation(session: Session, *, segment: Segment) -> PreparedEvaluation | None:
    """Compute a person segment's matching set without the changes lock (None for an
    account segment: those are evaluated whole, by ``evaluate_segment``)."""
    if segment.level != "person":
        return None
    compiled = compile_rule(segment.rules, level=segment.level)
    params: dict[str, Any] = dict(compiled.params)
    consent = repo.consent_sql(segment.consent_channel, params)
    table = f"kd_matched_{segment.id.hex}"
    snapshot = session.execute(text("SELECT clock_timestamp()")).scalar_one()
    conn = session.connection()
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
    conn.exec_driver_sql(
        f"CREATE TEMP TABLE {table} ON COMMIT DROP AS "
        f"SELECT p.id {repo.PERSON_FROM} AND ({compiled.sql}) {consent}",
        params,
    )
    matched = int(conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one())
    conn.exec_driver_sql(f"ANALYZE {table}")
    return PreparedEvaluation(segment=segment, table=table, snapshot=snapshot, matched=matched)


def apply_full_evaluation(
    session: Session, *, prepared: PreparedEvaluation, cause: str
) -> tuple[int, int]:
    """Write the difference between the prepared matching set and the members: (entered,
    exited). The caller holds the changes lock (``lock_changes``)."""
    params = {"sid": prepared.segment.id, "cause": cause[:300], "snap": prepared.snapshot}
    entered, exited = repo.run_counts(session, _APPLY.format(tmp=prepared.table), params)
    repo.set_full_count(session, segment=prepared.segment)
    return entered, exited
