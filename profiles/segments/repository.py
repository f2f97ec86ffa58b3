"""The SQL of segments: membership evaluation, counts, members, changes (no business rules).

Every transaction that writes ``segment_changes`` first takes one advisory lock
(``lock_changes``), so change ids become visible in id order: ``changes?since=<id>`` and the
Kafka publisher never skip a change that commits late.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from kindred.db import driver_connection
from kindred.models import Profile, Segment

CHANGES_LOCK = 7_331_501  # pg advisory lock: one writer of segment_changes at a time

#: live people with their account and its rollup
PERSON_FROM = (
    "FROM profiles p LEFT JOIN accounts a ON a.id = p.account_id "
    "LEFT JOIN account_computed ac ON ac.account_id = p.account_id "
    "WHERE p.merged_into IS NULL AND NOT p.deleted"
)
# absorbed accounts (merged_into set) answer through their survivor: never members themselves
ACCOUNT_FROM = (
    "FROM accounts a LEFT JOIN account_computed ac ON ac.account_id = a.id "
    "WHERE a.merged_into IS NULL"
)

#: the one statement that moves a membership: who matches, who entered, who left, the log
_EVAL = """
WITH matched AS (
    SELECT {key} {from_} {scope} AND ({rule}) {consent}
), entered AS (
    INSERT INTO {members} (segment_id, {member})
    SELECT %(sid)s, id FROM matched ON CONFLICT DO NOTHING RETURNING {member}
), exited AS (
    DELETE FROM {members} m WHERE m.segment_id = %(sid)s {mscope}
    AND NOT EXISTS (SELECT 1 FROM matched x WHERE x.id = m.{member}) RETURNING m.{member}
), logged AS (
    INSERT INTO segment_changes (segment_id, profile_id, change, cause, member_kind)
    SELECT %(sid)s, {member}, 'entered', %(cause)s, '{kind}' FROM entered
    UNION ALL
    SELECT %(sid)s, {member}, 'exited', %(cause)s, '{kind}' FROM exited
    RETURNING change
)
SELECT count(*) FILTER (WHERE change = 'entered'), count(*) FILTER (WHERE change = 'exited')
FROM logged
"""
_REMOVE_GONE = """
WITH gone AS (
    DELETE FROM segment_memberships m USING unnest(CAST(%(ids)s AS uuid[]),
        CAST(%(causes)s AS text[])) AS g(id, cause)
    WHERE m.profile_id = g.id RETURNING m.segment_id, m.profile_id, g.cause
), logged AS (
    INSERT INTO segment_changes (segment_id, profile_id, change, cause, member_kind)
    SELECT segment_id, profile_id, 'exited', cause, 'profile' FROM gone RETURNING segment_id
), counts AS (
    UPDATE segments s SET member_count = GREATEST(0, s.member_count - c.n), incremental_at = now()
    FROM (SELECT segment_id, count(*) AS n FROM logged GROUP BY segment_id) c
    WHERE s.id = c.segment_id RETURNING c.n
)
SELECT COALESCE(sum(n), 0) FROM counts
"""
_PERSON_MEMBERS = (
    "FROM segment_memberships m JOIN profiles p ON p.id = m.profile_id "
    "LEFT JOIN accounts a ON a.id = p.account_id "
    "LEFT JOIN account_computed ac ON ac.account_id = p.account_id "
    "WHERE m.segment_id = %(sid)s"
)
_ACCOUNT_MEMBERS = (
    "FROM segment_account_members m JOIN accounts a ON a.id = m.account_id "
    "LEFT JOIN account_computed ac ON ac.account_id = a.id "
    "WHERE m.segment_id = %(sid)s"
)


def lock_changes(session: Session) -> None:
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHANGES_LOCK})


def consent_sql(channel: str | None, params: dict[str, Any], alias: str = "p") -> str:
    """The condition 'consents to ``channel``' (nothing without a channel)."""
    if channel is None:
        return ""
    params["consent_path"] = ["consent", channel, "granted"]
    return f"AND ({alias}.computed #>> CAST(%(consent_path)s AS text[])) = 'true'"


def evaluation_sql(*, level: str, rule: str, consent: str = "", scoped: bool = False) -> str:
    """The evaluation statement of a person or account segment (``scoped``: only the
    profiles in ``%(ids)s``); parameters ``sid``, ``cause``, the rule's and ``ids``."""
    if level == "account":
        return _EVAL.format(
            key="a.id",
            from_=ACCOUNT_FROM,
            scope="",
            mscope="",
            rule=rule,
            consent="",
            members="segment_account_members",
            member="account_id",
            kind="account",
        )
    return _EVAL.format(
        key="p.id",
        from_=PERSON_FROM,
        scope="AND p.id = ANY(CAST(%(ids)s AS uuid[]))" if scoped else "",
        mscope="AND m.profile_id = ANY(CAST(%(ids)s AS uuid[]))" if scoped else "",
        rule=rule,
        consent=consent,
        members="segment_memberships",
        member="profile_id",
        kind="profile",
    )


def run_counts(session: Session, sql: str, params: dict[str, Any]) -> tuple[int, int]:
    """Run an evaluation statement: (entered, exited)."""
    row = session.connection().exec_driver_sql(sql, params).one()
    return int(row[0]), int(row[1])


def count_matching(
    session: Session, *, level: str, rule: str, consent: str, params: dict[str, Any]
) -> int:
    """How many would be members now (a new segment's estimate)."""
    if level == "account":
        sql = f"SELECT count(*) {ACCOUNT_FROM} AND ({rule})"
    else:
        sql = f"SELECT count(*) {PERSON_FROM} AND ({rule}) {consent}"
    return int(session.connection().exec_driver_sql(sql, params).scalar_one())


def set_full_count(session: Session, *, segment: Segment) -> None:
    """After a full evaluation: the member count from the members, both times now."""
    table = "segment_account_members" if segment.level == "account" else "segment_memberships"
    session.execute(
        text(
            f"UPDATE segments SET computed_at = now(), incremental_at = now(), "
            f"member_count = (SELECT count(*) FROM {table} WHERE segment_id = :sid) "
            "WHERE id = :sid"
        ),
        {"sid": segment.id},
    )


def add_to_count(session: Session, *, segment_id: uuid.UUID, delta: int) -> None:
    session.execute(
        text(
            "UPDATE segments SET member_count = GREATEST(0, member_count + :d), "
            "incremental_at = now() WHERE id = :sid"
        ),
        {"d": delta, "sid": segment_id},
    )


def touch_person_segments(session: Session) -> None:
    session.execute(text("UPDATE segments SET incremental_at = now() WHERE level = 'person'"))


def remove_members(session: Session, *, ids: list[uuid.UUID], causes: list[str]) -> int:
    """``ids`` leave every person segment, each change logged with its cause."""
    row = session.connection().exec_driver_sql(_REMOVE_GONE, {"ids": ids, "causes": causes}).one()
    return int(row[0])


def person_segments(session: Session) -> list[Segment]:
    return list(
        session.execute(select(Segment).where(Segment.level == "person").order_by(Segment.name))
        .scalars()
        .all()
    )


def all_segments(session: Session) -> list[Segment]:
    return list(
        session.execute(select(Segment).order_by(Segment.created_at, Segment.name)).scalars()
    )


def due_segments(session: Session, *, time_based_every_s: int, all_every_s: int) -> list[Segment]:
    """Segments whose scheduled full evaluation is due (never computed ones first)."""
    return list(
        session.execute(
            select(Segment)
            .where(
                (Segment.computed_at.is_(None))
                | (
                    (Segment.time_based | (Segment.level == "account"))
                    & (
                        Segment.computed_at
                        < func.now() - func.make_interval(0, 0, 0, 0, 0, 0, time_based_every_s)
                    )
                )
                | (
                    Segment.computed_at
                    < func.now() - func.make_interval(0, 0, 0, 0, 0, 0, all_every_s)
                )
            )
            .order_by(Segment.computed_at.asc().nulls_first())
        ).scalars()
    )


def pending_profiles(session: Session) -> tuple[int, datetime | None]:
    """How many profiles wait for the worker, and since when the oldest."""
    row = session.execute(text("SELECT count(*), min(stale_since) FROM profiles WHERE stale")).one()
    return int(row[0]), row[1]


def members_from(level: str) -> tuple[str, str]:
    """(FROM/WHERE, key column) of a segment's members; parameter ``sid``."""
    if level == "account":
        return _ACCOUNT_MEMBERS, "m.account_id"
    return _PERSON_MEMBERS, "m.profile_id"


def member_rows(session: Session, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    return list(session.connection().exec_driver_sql(sql, params).tuples())


def changes_of(
    session: Session, *, segment_id: uuid.UUID, after: int, limit: int
) -> list[tuple[Any, ...]]:
    """(id, member id, change, cause, created_at, member kind) after ``after``, in id order."""
    result = session.execute(
        text(
            "SELECT id, profile_id, change, cause, created_at, member_kind FROM segment_changes "
            "WHERE segment_id = :sid AND id > :after ORDER BY id LIMIT :limit"
        ),
        {"sid": segment_id, "after": after, "limit": limit},
    )
    return list(result.tuples())


def all_changes_after(session: Session, *, after_id: int, limit: int) -> list[tuple[Any, ...]]:
    """(id, segment id, segment name, member id, change, cause, created_at, member kind)."""
    result = session.execute(
        text(
            "SELECT c.id, c.segment_id, s.name, c.profile_id, c.change, c.cause, c.created_at, "
            "c.member_kind FROM segment_changes c JOIN segments s ON s.id = c.segment_id "
            "WHERE c.id > :after ORDER BY c.id LIMIT :limit"
        ),
        {"after": after_id, "limit": limit},
    )
    return list(result.tuples())


def segments_of(session: Session, *, profile: Profile) -> list[tuple[Any, ...]]:
    """(segment id, name, level, entered_at) of the person's and their account's segments."""
    result = session.execute(
        text(
            "SELECT s.id, s.name, s.level, m.entered_at FROM segment_memberships m "
            "JOIN segments s ON s.id = m.segment_id WHERE m.profile_id = :pid "
            "UNION ALL "
            "SELECT s.id, s.name, s.level, m.entered_at FROM segment_account_members m "
            "JOIN segments s ON s.id = m.segment_id WHERE m.account_id = :aid "
            "ORDER BY 2"
        ),
        {"pid": profile.id, "aid": profile.account_id},
    )
    return list(result.tuples())


def copy_out(
    session: Session, copy: str, params: dict[str, Any], *, header: bytes = b""
) -> Iterator[bytes]:
    """Stream a ``COPY ... TO STDOUT`` in chunks of about 256 KiB (``header`` first). The
    statement runs when the first chunk is asked for, on this session's connection."""
    raw = driver_connection(session)

    def stream() -> Iterator[bytes]:
        if header:
            yield header
        with raw.cursor() as cur, cur.copy(copy, params) as out:
            pending: list[bytes] = []
            size = 0
            for chunk in out:
                pending.append(bytes(chunk))
                size += len(chunk)
                if size >= 256 * 1024:
                    yield b"".join(pending)
                    pending, size = [], 0
            if pending:
                yield b"".join(pending)

    return stream()


_HISTORY = """
WITH b AS (
    SELECT to_timestamp(floor(extract(epoch FROM created_at) / %(step)s) * %(step)s) AS at,
           count(*) FILTER (WHERE change = 'entered') AS entered,
           count(*) FILTER (WHERE change = 'exited') AS exited
    FROM segment_changes WHERE segment_id = %(sid)s GROUP BY 1
)
SELECT at, entered, exited, sum(entered - exited) OVER (ORDER BY at) AS size
FROM b ORDER BY at
"""


def change_span(session: Session, *, segment_id: uuid.UUID) -> datetime | None:
    """When the segment's first logged change happened (None: no change yet)."""
    result = session.execute(
        text("SELECT min(created_at) FROM segment_changes WHERE segment_id = :sid"),
        {"sid": segment_id},
    )
    first: datetime | None = result.scalar_one()
    return first


def history_rows(
    session: Session, *, segment_id: uuid.UUID, step_seconds: int
) -> list[tuple[Any, ...]]:
    """(bucket start, entered, exited, size at the bucket's end) per bucket of
    ``step_seconds`` that has changes, oldest first: the size replays the change log."""
    params = {"sid": segment_id, "step": step_seconds}
    return list(session.connection().exec_driver_sql(_HISTORY, params).tuples())


def recent_changes_of(
    session: Session, *, segment_id: uuid.UUID, before: int | None, limit: int
) -> list[tuple[Any, ...]]:
    """(id, member id, change, cause, created_at, member kind, member name, member email),
    newest first, ids below ``before``; the member named from the profile or account."""
    result = session.execute(
        text(
            "SELECT c.id, c.profile_id, c.change, c.cause, c.created_at, c.member_kind, "
            "COALESCE(p.traits ->> 'name', NULLIF(concat_ws(' ', p.traits ->> 'first_name', "
            "p.traits ->> 'last_name'), ''), a.name), COALESCE(p.traits ->> 'email', a.domain) "
            "FROM segment_changes c "
            "LEFT JOIN profiles p ON c.member_kind = 'profile' AND p.id = c.profile_id "
            "LEFT JOIN accounts a ON c.member_kind = 'account' AND a.id = c.profile_id "
            "WHERE c.segment_id = :sid AND (CAST(:before AS bigint) IS NULL OR c.id < :before) "
            "ORDER BY c.id DESC LIMIT :limit"
        ),
        {"sid": segment_id, "before": before, "limit": limit},
    )
    return list(result.tuples())
