"""Segments: definitions, membership (full and incremental), members, exports and changes.

Membership is evaluated set-based: one statement per segment computes the matching set
(optionally restricted to some profiles), inserts who entered, deletes who left and logs both
in ``segment_changes`` with the cause. Every transaction that writes changes first takes one
advisory lock, so change ids become visible in id order: ``changes?since=<id>`` and the Kafka
publisher never skip a change that commits late.
"""

from __future__ import annotations

import base64
import csv
import io
import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from identity.service import surviving_profile_id
from kindred.errors import BadRequest, Conflict, NotFound, Unprocessable
from kindred.models import Profile, Segment
from profiles.rules import CHANNELS, Compiled, compile_rule

CHANGES_LOCK = 7_331_501  # pg advisory lock: one writer of segment_changes at a time
MAX_FIELDS = 50
_FIELD = re.compile(r"^[A-Za-z0-9_\-. ]{1,120}$")

_PERSON_FROM = (
    "FROM profiles p LEFT JOIN accounts a ON a.id = p.account_id "
    "LEFT JOIN account_computed ac ON ac.account_id = p.account_id "
    "WHERE p.merged_into IS NULL AND NOT p.deleted"
)
_ACCOUNT_FROM = "FROM accounts a LEFT JOIN account_computed ac ON ac.account_id = a.id WHERE TRUE"

_EVAL_PERSON = """
WITH matched AS (
    SELECT p.id {from_} {scope} AND ({rule}) {consent}
), entered AS (
    INSERT INTO segment_memberships (segment_id, profile_id)
    SELECT %(sid)s, id FROM matched ON CONFLICT DO NOTHING RETURNING profile_id
), exited AS (
    DELETE FROM segment_memberships m WHERE m.segment_id = %(sid)s {mscope}
    AND NOT EXISTS (SELECT 1 FROM matched x WHERE x.id = m.profile_id) RETURNING m.profile_id
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
_EVAL_ACCOUNT = """
WITH matched AS (
    SELECT a.id {from_} AND ({rule})
), entered AS (
    INSERT INTO segment_account_members (segment_id, account_id)
    SELECT %(sid)s, id FROM matched ON CONFLICT DO NOTHING RETURNING account_id
), exited AS (
    DELETE FROM segment_account_members m WHERE m.segment_id = %(sid)s
    AND NOT EXISTS (SELECT 1 FROM matched x WHERE x.id = m.account_id) RETURNING m.account_id
), logged AS (
    INSERT INTO segment_changes (segment_id, profile_id, change, cause, member_kind)
    SELECT %(sid)s, account_id, 'entered', %(cause)s, 'account' FROM entered
    UNION ALL
    SELECT %(sid)s, account_id, 'exited', %(cause)s, 'account' FROM exited
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


def lock_changes(session: Session) -> None:
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHANGES_LOCK})


@dataclass(frozen=True)
class SegmentView:
    id: uuid.UUID
    name: str
    description: str | None
    level: str
    rules: dict[str, Any]
    consent: str | None
    time_based: bool
    member_count: int
    computed_at: datetime | None
    incremental_at: datetime | None
    created_at: datetime
    updated_at: datetime
    pending_profiles: int
    lag_seconds: float | None
    freshness: dict[str, Any]
    estimated_size: int | None = None


def _compiled(segment: Segment) -> Compiled:
    return compile_rule(segment.rules, level=segment.level)


def _consent_sql(channel: str | None, params: dict[str, Any], alias: str = "p") -> str:
    if channel is None:
        return ""
    params["consent_path"] = ["consent", channel, "granted"]
    return f"AND ({alias}.computed #>> CAST(%(consent_path)s AS text[])) = 'true'"


def evaluate_segment(
    session: Session,
    *,
    segment: Segment,
    cause: str,
    profile_ids: Sequence[uuid.UUID] | None = None,
) -> tuple[int, int]:
    """Bring membership up to date (for everyone, or only ``profile_ids``): (entered, exited).
    The caller holds the changes lock (``lock_changes``)."""
    compiled = _compiled(segment)
    params: dict[str, Any] = dict(compiled.params)
    params.update({"sid": segment.id, "cause": cause[:300]})
    if segment.level == "account":
        if profile_ids is not None:
            return (0, 0)  # account segments are evaluated whole, on a schedule
        sql = _EVAL_ACCOUNT.format(from_=_ACCOUNT_FROM, rule=compiled.sql)
    else:
        scope = mscope = ""
        if profile_ids is not None:
            if not profile_ids:
                return (0, 0)
            params["ids"] = list(profile_ids)
            scope = "AND p.id = ANY(CAST(%(ids)s AS uuid[]))"
            mscope = "AND m.profile_id = ANY(CAST(%(ids)s AS uuid[]))"
        sql = _EVAL_PERSON.format(
            from_=_PERSON_FROM,
            scope=scope,
            mscope=mscope,
            rule=compiled.sql,
            consent=_consent_sql(segment.consent_channel, params),
        )
    row = session.connection().exec_driver_sql(sql, params).one()
    entered, exited = int(row[0]), int(row[1])
    if profile_ids is None:
        table = "segment_account_members" if segment.level == "account" else "segment_memberships"
        session.execute(
            text(
                f"UPDATE segments SET computed_at = now(), incremental_at = now(), "
                f"member_count = (SELECT count(*) FROM {table} WHERE segment_id = :sid) "
                "WHERE id = :sid"
            ),
            {"sid": segment.id},
        )
    elif entered or exited:
        session.execute(
            text(
                "UPDATE segments SET member_count = GREATEST(0, member_count + :d), "
                "incremental_at = now() WHERE id = :sid"
            ),
            {"d": entered - exited, "sid": segment.id},
        )
    return entered, exited


def person_segments(session: Session) -> list[Segment]:
    return list(
        session.execute(select(Segment).where(Segment.level == "person").order_by(Segment.name))
        .scalars()
        .all()
    )


def evaluate_for_profiles(
    session: Session, *, profile_ids: Sequence[uuid.UUID], cause: str
) -> dict[str, int]:
    """Re-evaluate every person segment for these (just recomputed) profiles."""
    totals = {"entered": 0, "exited": 0}
    if not profile_ids:
        return totals
    for segment in person_segments(session):
        entered, exited = evaluate_segment(
            session, segment=segment, cause=cause, profile_ids=profile_ids
        )
        totals["entered"] += entered
        totals["exited"] += exited
    session.execute(text("UPDATE segments SET incremental_at = now() WHERE level = 'person'"))
    return totals


def remove_profiles(session: Session, *, gone: Sequence[tuple[uuid.UUID, str]]) -> int:
    """Merged-away or deleted profiles leave every segment (no ghost members)."""
    if not gone:
        return 0
    row = (
        session.connection()
        .exec_driver_sql(
            _REMOVE_GONE, {"ids": [g[0] for g in gone], "causes": [g[1][:300] for g in gone]}
        )
        .one()
    )
    return int(row[0])


# --------------------------------------------------------------------------- definitions


def _estimate(session: Session, compiled: Compiled, consent: str | None) -> int:
    params = dict(compiled.params)
    if compiled.level == "account":
        sql = f"SELECT count(*) {_ACCOUNT_FROM} AND ({compiled.sql})"
    else:
        sql = f"SELECT count(*) {_PERSON_FROM} AND ({compiled.sql}) {_consent_sql(consent, params)}"
    return int(session.connection().exec_driver_sql(sql, params).scalar_one())


def _lag(session: Session) -> tuple[int, datetime | None]:
    row = session.execute(text("SELECT count(*), min(stale_since) FROM profiles WHERE stale")).one()
    return int(row[0]), row[1]


def _view(
    segment: Segment, pending: int, oldest: datetime | None, estimated: int | None = None
) -> SegmentView:
    now = datetime.now(UTC)
    event_lag = (now - oldest).total_seconds() if pending and oldest else 0.0
    schedule_lag = (now - segment.computed_at).total_seconds() if segment.computed_at else None
    if segment.computed_at is None:
        lag: float | None = None
    elif segment.time_based or segment.level == "account":
        lag = max(event_lag, schedule_lag or 0.0)
    else:
        lag = event_lag
    return SegmentView(
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


def create_segment(
    session: Session,
    *,
    name: str,
    rules: dict[str, Any],
    level: str = "person",
    description: str | None = None,
    consent: str | None = None,
    compute: bool = True,
) -> SegmentView:
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
        lock_changes(session)
        evaluate_segment(session, segment=segment, cause="segment created")
        session.flush()
        session.refresh(segment)
        estimated = segment.member_count
    else:
        estimated = _estimate(session, compiled, consent)
        session.refresh(segment)
    pending, oldest = _lag(session)
    return _view(segment, pending, oldest, estimated)


def _segment(session: Session, segment_id: uuid.UUID) -> Segment:
    segment = session.get(Segment, segment_id)
    if segment is None:
        raise NotFound(f"no segment {segment_id}")
    return segment


def get_segment(session: Session, *, segment_id: uuid.UUID) -> SegmentView:
    segment = _segment(session, segment_id)
    pending, oldest = _lag(session)
    return _view(segment, pending, oldest)


def list_segments(session: Session) -> list[SegmentView]:
    pending, oldest = _lag(session)
    rows = session.execute(select(Segment).order_by(Segment.created_at, Segment.name)).scalars()
    return [_view(s, pending, oldest) for s in rows]


def delete_segment(session: Session, *, segment_id: uuid.UUID) -> None:
    segment = _segment(session, segment_id)
    session.delete(segment)
    session.flush()


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


# --------------------------------------------------------------------------- members


@dataclass(frozen=True)
class FieldSpec:
    name: str
    sql_json: str  # jsonb expression
    params: dict[str, Any]


def parse_fields(raw: str | None, *, level: str) -> list[FieldSpec]:
    """``email,first_name,computed.lead_score.score,account.name,account_computed.key_account``
    -> SQL expressions with the names as bind parameters."""
    if not raw:
        return []
    names = [f.strip() for f in raw.split(",") if f.strip()]
    if len(names) > MAX_FIELDS:
        raise BadRequest(f"at most {MAX_FIELDS} fields")
    specs: list[FieldSpec] = []
    for i, name in enumerate(names):
        if not _FIELD.match(name):
            raise BadRequest(f"field {name!r}: use letters, digits, _ - . and spaces")
        head, _, rest = name.partition(".")
        key = f"f{i}"
        if head == "computed" and rest and level == "person":
            expr, path = "p.computed", rest.split(".")
        elif head == "account" and rest in ("name", "domain"):
            specs.append(FieldSpec(name, f"to_jsonb(a.{rest})", {}))
            continue
        elif head == "account" and rest:
            expr, path = "a.traits", rest.split(".")
        elif head == "account_computed" and rest:
            expr, path = "ac.computed", rest.split(".")
        elif level == "person":
            expr, path = "p.traits", name.split(".")
        else:
            expr, path = "a.traits", name.split(".")
        specs.append(FieldSpec(name, f"({expr} #> CAST(%({key})s AS text[]))", {key: path}))
    return specs


def _members_sql(
    segment: Segment, fields: list[FieldSpec], channel: str | None, params: dict[str, Any]
) -> tuple[str, str, str]:
    """(select list prefix, FROM/WHERE, key column) of a segment's members."""
    for f in fields:
        params.update(f.params)
    if segment.level == "account":
        return (
            "m.account_id AS member_id, m.entered_at",
            "FROM segment_account_members m JOIN accounts a ON a.id = m.account_id "
            "LEFT JOIN account_computed ac ON ac.account_id = a.id "
            "WHERE m.segment_id = %(sid)s",
            "m.account_id",
        )
    wanted = channel or segment.consent_channel
    if wanted is not None and wanted not in CHANNELS:
        raise BadRequest(f"channel must be one of {list(CHANNELS)}")
    return (
        "m.profile_id AS member_id, m.entered_at",
        "FROM segment_memberships m JOIN profiles p ON p.id = m.profile_id "
        "LEFT JOIN accounts a ON a.id = p.account_id "
        "LEFT JOIN account_computed ac ON ac.account_id = p.account_id "
        f"WHERE m.segment_id = %(sid)s {_consent_sql(wanted, params)}",
        "m.profile_id",
    )


def _encode(member: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(member.bytes).decode().rstrip("=")


def _decode(cursor: str) -> uuid.UUID:
    try:
        return uuid.UUID(bytes=base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError) as err:
        raise BadRequest("cursor is not one this API issued; start again without it") from err


@dataclass(frozen=True)
class MembersPage:
    segment: SegmentView
    member_kind: str
    items: list[dict[str, Any]]
    next_cursor: str | None


def members_page(
    session: Session,
    *,
    segment_id: uuid.UUID,
    limit: int = 100,
    cursor: str | None = None,
    fields: str | None = None,
    channel: str | None = None,
) -> MembersPage:
    """Keyset pagination by member id: members who enter or leave meanwhile never shift the
    others, so a client walking the pages sees every stable member exactly once."""
    segment = _segment(session, segment_id)
    specs = parse_fields(fields, level=segment.level)
    params: dict[str, Any] = {"sid": segment.id, "limit": limit + 1}
    head, from_, key = _members_sql(segment, specs, channel, params)
    after = ""
    if cursor:
        params["after"] = _decode(cursor)
        after = f"AND {key} > %(after)s"
    cols = "".join(f", {f.sql_json}" for f in specs)
    sql = f"SELECT {head}{cols} {from_} {after} ORDER BY {key} LIMIT %(limit)s"
    rows = list(session.connection().exec_driver_sql(sql, params).tuples())
    more = len(rows) > limit
    rows = rows[:limit]
    kind = "account" if segment.level == "account" else "profile"
    items = [
        {
            f"{kind}_id": str(r[0]),
            "entered_at": r[1].isoformat(),
            "fields": {f.name: r[2 + i] for i, f in enumerate(specs)},
        }
        for r in rows
    ]
    pending, oldest = _lag(session)
    return MembersPage(
        segment=_view(segment, pending, oldest),
        member_kind=kind,
        items=items,
        next_cursor=_encode(rows[-1][0]) if more and rows else None,
    )


def export_members(
    session: Session,
    *,
    segment_id: uuid.UUID,
    fmt: str,
    fields: str | None = None,
    channel: str | None = None,
) -> Iterator[bytes]:
    """The whole membership in one snapshot, streamed by PostgreSQL's COPY (csv or ndjson).
    ``channel`` (or the segment's own consent) excludes people without that consent."""
    segment = _segment(session, segment_id)
    specs = parse_fields(fields, level=segment.level)
    params: dict[str, Any] = {"sid": segment.id}
    _, from_, key = _members_sql(segment, specs, channel, params)
    kind = "account_id" if segment.level == "account" else "profile_id"
    if fmt == "csv":
        cols = "".join(f", ({f.sql_json} #>> '{{}}')" for f in specs)
        # no ORDER BY: a snapshot in any order lets PostgreSQL hash-join instead of sorting
        query = f"SELECT {key}, m.entered_at{cols} {from_}"
        copy = f"COPY ({query}) TO STDOUT WITH (FORMAT csv)"
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(
            [kind, "entered_at", *[f.name for f in specs]]
        )
        header = buf.getvalue().encode()
    elif fmt == "ndjson":
        for i, f in enumerate(specs):
            params[f"k{i}"] = f.name
        pairs = "".join(f", CAST(%(k{i})s AS text), {f.sql_json}" for i, f in enumerate(specs))
        obj = (
            f"json_build_object('{kind}', {key}, 'entered_at', m.entered_at, "
            f"'fields', json_build_object({pairs[2:]}))"
            if specs
            else f"json_build_object('{kind}', {key}, 'entered_at', m.entered_at)"
        )
        query = f"SELECT {obj}::text {from_}"
        # CSV with a quote/delimiter that JSON text never contains: no escaping at all
        copy = f"COPY ({query}) TO STDOUT WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')"
        header = b""
    else:
        raise BadRequest("format must be csv or ndjson")
    raw = session.connection().connection.driver_connection
    assert raw is not None

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


# --------------------------------------------------------------------------- changes


@dataclass(frozen=True)
class ChangesPage:
    segment_id: uuid.UUID
    items: list[dict[str, Any]]
    next_cursor: str
    has_more: bool


def changes_since(
    session: Session, *, segment_id: uuid.UUID, since: str | None, limit: int = 1000
) -> ChangesPage:
    """Entries and exits after ``since`` (the ``next_cursor`` of the previous call; omit it to
    start from the beginning). Change ids are visible in order (see ``CHANGES_LOCK``)."""
    _segment(session, segment_id)
    after = 0
    if since:
        try:
            after = int(since)
        except ValueError as err:
            raise BadRequest("since must be a cursor this API issued (next_cursor)") from err
    rows = session.execute(
        text(
            "SELECT id, profile_id, change, cause, created_at, member_kind FROM segment_changes "
            "WHERE segment_id = :sid AND id > :after ORDER BY id LIMIT :limit"
        ),
        {"sid": segment_id, "after": after, "limit": limit + 1},
    ).all()
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
    return ChangesPage(
        segment_id=segment_id,
        items=items,
        next_cursor=str(rows[-1][0]) if rows else str(after),
        has_more=more,
    )


def changes_after(session: Session, *, after_id: int, limit: int = 1000) -> list[dict[str, Any]]:
    """All segments' changes after ``after_id`` (the Kafka publisher's outbox read)."""
    rows = session.execute(
        text(
            "SELECT c.id, c.segment_id, s.name, c.profile_id, c.change, c.cause, c.created_at, "
            "c.member_kind FROM segment_changes c JOIN segments s ON s.id = c.segment_id "
            "WHERE c.id > :after ORDER BY c.id LIMIT :limit"
        ),
        {"after": after_id, "limit": limit},
    ).all()
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
        for r in rows
    ]


def profile_segments(
    session: Session, *, profile_id: uuid.UUID
) -> tuple[uuid.UUID, list[dict[str, Any]]]:
    live = surviving_profile_id(session, profile_id)
    if live is None:
        raise NotFound(f"no profile {profile_id}")
    profile = session.get(Profile, live)
    if profile is None or profile.deleted:
        raise NotFound(f"no profile {profile_id}")
    rows = session.execute(
        text(
            "SELECT s.id, s.name, s.level, m.entered_at FROM segment_memberships m "
            "JOIN segments s ON s.id = m.segment_id WHERE m.profile_id = :pid "
            "UNION ALL "
            "SELECT s.id, s.name, s.level, m.entered_at FROM segment_account_members m "
            "JOIN segments s ON s.id = m.segment_id WHERE m.account_id = :aid "
            "ORDER BY 2"
        ),
        {"pid": live, "aid": profile.account_id},
    ).all()
    return live, [
        {"segment_id": str(r[0]), "name": r[1], "level": r[2], "entered_at": r[3].isoformat()}
        for r in rows
    ]
