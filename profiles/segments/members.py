"""A segment's members: keyset-paginated JSON pages, or the whole list streamed (CSV, NDJSON),
with chosen fields of the person, their account and its rollup."""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from kindred.errors import BadRequest
from kindred.models import Segment
from profiles import cursor as cursors
from profiles.rules import CHANNELS
from profiles.schemas import MembersOut
from profiles.segments import repository as repo
from profiles.segments.definitions import segment_or_404, segment_out

MAX_FIELDS = 50
_FIELD = re.compile(r"^[A-Za-z0-9_\-. ]{1,120}$")


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
    from_, key = repo.members_from(segment.level)
    if segment.level == "account":
        return "m.account_id AS member_id, m.entered_at", from_, key
    wanted = channel or segment.consent_channel
    if wanted is not None and wanted not in CHANNELS:
        raise BadRequest(f"channel must be one of {list(CHANNELS)}")
    return (
        "m.profile_id AS member_id, m.entered_at",
        f"{from_} {repo.consent_sql(wanted, params)}",
        key,
    )


def _search_sql(level: str, q: str | None, params: dict[str, Any]) -> str:
    """The condition 'name or email (domain) contains ``q``', case-insensitive."""
    text = (q or "").strip()
    if not text:
        return ""
    if len(text) > 200:
        raise BadRequest("q: at most 200 characters")
    params["q"] = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    if level == "account":
        cols = ["a.name", "a.domain"]
    else:
        cols = [
            "p.traits ->> 'name'",
            "concat_ws(' ', p.traits ->> 'first_name', p.traits ->> 'last_name')",
            "p.traits ->> 'email'",
            "p.traits ->> 'company'",
        ]
    return " AND (" + " OR ".join(f"{c} ILIKE %(q)s" for c in cols) + ")"


def members_page(
    session: Session,
    *,
    segment_id: uuid.UUID,
    limit: int = 100,
    cursor: str | None = None,
    fields: str | None = None,
    channel: str | None = None,
    q: str | None = None,
) -> MembersOut:
    """Keyset pagination by member id: members who enter or leave meanwhile never shift the
    others, so a client walking the pages sees every stable member exactly once. ``q``: only
    members whose name, email (a person) or name, domain (an account) contains it, any case."""
    segment = segment_or_404(session, segment_id)
    specs = parse_fields(fields, level=segment.level)
    params: dict[str, Any] = {"sid": segment.id, "limit": limit + 1}
    head, from_, key = _members_sql(segment, specs, channel, params)
    from_ += _search_sql(segment.level, q, params)
    after = ""
    if cursor:
        params["after"] = cursors.decode_id(cursor)
        after = f"AND {key} > %(after)s"
    cols = "".join(f", {f.sql_json}" for f in specs)
    sql = f"SELECT {head}{cols} {from_} {after} ORDER BY {key} LIMIT %(limit)s"
    rows = repo.member_rows(session, sql, params)
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
    pending, oldest = repo.pending_profiles(session)
    view = segment_out(segment, pending, oldest)
    return MembersOut(
        segment_id=view.id,
        member_kind=kind,
        computed_at=view.computed_at,
        lag_seconds=view.lag_seconds,
        items=items,
        next_cursor=cursors.encode_id(rows[-1][0]) if more and rows else None,
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
    segment = segment_or_404(session, segment_id)
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
    return repo.copy_out(session, copy, params, header=header)
