"""The SQL of privacy requests: the person's cluster and records, their identifier values,
the erasure's deletes (table by table) and the sweep of every text and JSON column."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from kindred.models import PrivacyRequest

REDACTED = "[erased]"
#: tables that never hold personal data (nothing of the person to look for)
SWEEP_SKIP = frozenset(
    {"alembic_version", "privacy_requests", "suppressions", "suppression_counts"}
)

_CLUSTER = text(
    """
WITH RECURSIVE c(id) AS (
    SELECT unnest(CAST(:roots AS uuid[]))
    UNION
    SELECT p.id FROM profiles p JOIN c ON p.merged_into = c.id
)
SELECT id FROM c
"""
)
#: (table, statement) deleting the rows of records ``:ids`` (``:refs``: the ids as text)
_RECORD_ROWS = (
    ("touchpoints", "DELETE FROM touchpoints WHERE record_id = ANY(:ids) RETURNING 1"),
    ("events", "DELETE FROM events WHERE record_id = ANY(:ids) RETURNING 1"),
    ("identifiers", "DELETE FROM identifiers WHERE record_id = ANY(:ids) RETURNING 1"),
    (
        "identity_overrides",
        "DELETE FROM identity_overrides WHERE record_a = ANY(:ids) OR record_b = ANY(:ids) "
        "RETURNING 1",
    ),
    ("record_links", "DELETE FROM record_links WHERE record_id = ANY(:ids) RETURNING 1"),
    (
        "quarantine",
        "DELETE FROM quarantine WHERE kind = 'record' AND ref = ANY(:refs) RETURNING 1",
    ),
)
#: (table, statement) deleting what refers to profiles ``:ids`` before they leave segments
_PROFILE_REFS = (
    (
        "quarantine",
        "DELETE FROM quarantine WHERE kind = 'profile' AND ref = ANY(:refs) RETURNING 1",
    ),
    (
        "segment_changes",
        "DELETE FROM segment_changes WHERE member_kind = 'profile' AND profile_id = ANY(:ids) "
        "RETURNING 1",
    ),
)
#: ... and after: their account links, identity changes, the profiles themselves (profiles
#: merged into one of the cluster are in it: one statement keeps ``merged_into`` whole)
_PROFILE_ROWS = (
    ("account_links", "DELETE FROM account_links WHERE profile_id = ANY(:ids) RETURNING 1"),
    (
        "identity_changes",
        "DELETE FROM identity_changes WHERE profile_id = ANY(:ids) "
        "OR other_profile_id = ANY(:ids) RETURNING 1",
    ),
    ("profiles", "DELETE FROM profiles WHERE id = ANY(:ids) RETURNING 1"),
)
#: (table, statement) deleting rows of nobody in particular whose text matches ``:p``
_MATCHING_ROWS = (
    (
        "events",
        "DELETE FROM events WHERE record_id IS NULL AND payload::text ~* :p RETURNING 1",
    ),
    (
        "dead_letters",
        "DELETE FROM dead_letters WHERE payload ~* :p OR reason ~* :p RETURNING 1",
    ),
    ("generic_identifiers", "DELETE FROM generic_identifiers WHERE value ~* :p RETURNING 1"),
)


def latest_requests(session: Session, *, limit: int) -> list[PrivacyRequest]:
    return list(
        session.execute(
            select(PrivacyRequest).order_by(PrivacyRequest.created_at.desc()).limit(limit)
        ).scalars()
    )


def cluster(session: Session, roots: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """The live profiles and every profile merged into them (at any depth)."""
    if not roots:
        return []
    return list(session.execute(_CLUSTER, {"roots": list(roots)}).scalars())


def records_of(session: Session, profiles: Sequence[uuid.UUID]) -> list[int]:
    if not profiles:
        return []
    return list(
        session.execute(
            text("SELECT record_id FROM record_links WHERE profile_id = ANY(:ids)"),
            {"ids": list(profiles)},
        ).scalars()
    )


def identifiers_of(session: Session, records: Sequence[int]) -> list[tuple[str, str]]:
    """(type, value) of every identifier of ``records``, as identity stored it."""
    rows = session.execute(
        text("SELECT type, value FROM identifiers WHERE record_id = ANY(:ids)"),
        {"ids": list(records)},
    ).all()
    return [(kind, value) for kind, value in rows]


def values_of(session: Session, records: Sequence[int]) -> list[tuple[str, str | None]]:
    """(value, as received) of the identifiers, record keys and external ids of ``records``."""
    rows = session.execute(
        text(
            "SELECT value, raw_value FROM identifiers WHERE record_id = ANY(:ids) "
            "UNION SELECT record_key, NULL FROM source_records WHERE id = ANY(:ids) "
            "UNION SELECT v, NULL FROM source_records r, jsonb_each(r.external_ids) e, "
            "jsonb_array_elements_text(e.value) v WHERE r.id = ANY(:ids) "
            "AND jsonb_typeof(e.value) = 'array'"
        ),
        {"ids": list(records)},
    ).all()
    return [(value, raw) for value, raw in rows]


def held_by_others(session: Session, values: Sequence[str], records: Sequence[int]) -> set[str]:
    """Those of ``values`` (lowercased) that an identifier of another record holds too."""
    return set(
        session.execute(
            text(
                "SELECT DISTINCT lower(i.value) FROM identifiers i "
                "WHERE i.value = ANY(:vals) AND NOT (i.record_id = ANY(:ids))"
            ),
            {"vals": list(values), "ids": list(records)},
        ).scalars()
    )


def _run(
    session: Session, statements: Sequence[tuple[str, str]], params: dict[str, Any]
) -> list[tuple[str, int]]:
    return [(table, len(session.execute(text(sql), params).all())) for table, sql in statements]


def delete_record_rows(session: Session, records: Sequence[int]) -> list[tuple[str, int]]:
    """Every row of ``records`` but the records themselves: (table, rows deleted)."""
    return _run(session, _RECORD_ROWS, {"ids": list(records), "refs": [str(r) for r in records]})


def delete_profile_refs(session: Session, profiles: Sequence[uuid.UUID]) -> list[tuple[str, int]]:
    return _run(session, _PROFILE_REFS, {"ids": list(profiles), "refs": [str(p) for p in profiles]})


def delete_profile_rows(session: Session, profiles: Sequence[uuid.UUID]) -> list[tuple[str, int]]:
    return _run(session, _PROFILE_ROWS, {"ids": list(profiles)})


def delete_records(session: Session, records: Sequence[int]) -> int:
    return len(
        session.execute(
            text("DELETE FROM source_records WHERE id = ANY(:ids) RETURNING 1"),
            {"ids": list(records)},
        ).all()
    )


def delete_matching(session: Session, needles: Sequence[str]) -> list[tuple[str, int]]:
    """Events without a record, dead letters and generic identifiers holding a needle."""
    return _run(session, _MATCHING_ROWS, {"p": pattern(needles)})


def pattern(needles: Sequence[str]) -> str:
    """One case-insensitive PostgreSQL regular expression matching any needle literally."""
    return "|".join(re.sub(r"([!-/:-@\[-`{-~])", r"\\\1", n) for n in needles)


def _text_columns(session: Session) -> dict[str, list[tuple[str, str]]]:
    rows = session.execute(
        text(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() "
            "AND data_type IN ('text', 'character varying', 'json', 'jsonb') "
            "AND table_name IN (SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE') "
            "ORDER BY table_name, ordinal_position"
        )
    ).all()
    columns: dict[str, list[tuple[str, str]]] = {}
    for table, column, kind in rows:
        if table not in SWEEP_SKIP:
            columns.setdefault(table, []).append((column, kind))
    return columns


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sweep(session: Session, needles: Sequence[str]) -> dict[str, int]:
    """Replace every remaining occurrence of a needle in any text or JSON column (one
    statement, so one scan, per table). Needles holding a quote or a backslash, which JSON
    escapes, are matched in text columns only."""
    plain = [n for n in needles if '"' not in n and "\\" not in n]
    counts: dict[str, int] = {}
    for table, columns in _text_columns(session).items():
        sets: list[str] = []
        wheres: list[str] = []
        for column, kind in columns:
            col = _quote(column)
            if kind in ("json", "jsonb"):
                if not plain:
                    continue
                cast = f"{col}::text"
                pat = ":pj"
                new = f"regexp_replace({cast}, {pat}, :r, 'gi')::{kind}"
            else:
                cast, pat = col, ":pt"
                new = f"regexp_replace({col}, {pat}, :r, 'gi')"
            sets.append(f"{col} = CASE WHEN {cast} ~* {pat} THEN {new} ELSE {col} END")
            wheres.append(f"{cast} ~* {pat}")
        if not sets:
            continue
        sql = (
            f"UPDATE {_quote(table)} SET {', '.join(sets)} WHERE {' OR '.join(wheres)} RETURNING 1"
        )
        params = {"pt": pattern(needles), "pj": pattern(plain or needles), "r": REDACTED}
        n = len(session.execute(text(sql), params).all())
        if n:
            counts[table] = n
    return counts


def count_occurrences(session: Session, *, values: Sequence[str]) -> dict[str, int]:
    """Rows per table whose text or JSON columns still contain one of ``values`` (case
    insensitive): the check an operator runs after an erasure."""
    wanted = [v for v in values if v]
    counts: dict[str, int] = {}
    if not wanted:
        return counts
    for table, columns in _text_columns(session).items():
        cond = " OR ".join(f"{_quote(c)}::text ~* :p" for c, _ in columns)
        n = session.execute(
            text(f"SELECT count(*) FROM {_quote(table)} WHERE {cond}"), {"p": pattern(wanted)}
        ).scalar_one()
        counts[table] = int(n)
    return counts
