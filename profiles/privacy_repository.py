"""The SQL of privacy requests on profiles' own tables (the audit rows, the erased
profiles' segment changes) and the sweep of every text and JSON column. The rows of other
owners are erased through them: ``ingest.erasure``, ``identity.erasure``,
``kindred.quarantine.erase_items``."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from kindred.models import PrivacyRequest

REDACTED = "[erased]"
#: tables that never hold personal data (nothing of the person to look for)
SWEEP_SKIP = frozenset(
    {"alembic_version", "privacy_requests", "suppressions", "suppression_counts"}
)

_SEGMENT_CHANGES = (
    "DELETE FROM segment_changes WHERE member_kind = 'profile' AND profile_id = ANY(:ids) "
    "RETURNING 1"
)


def latest_requests(session: Session, *, limit: int) -> list[PrivacyRequest]:
    return list(
        session.execute(
            select(PrivacyRequest).order_by(PrivacyRequest.created_at.desc()).limit(limit)
        ).scalars()
    )


def delete_segment_changes(session: Session, profiles: Sequence[uuid.UUID]) -> int:
    """The segment changes of ``profiles`` (before they leave their segments, which records
    one ``exited`` change each)."""
    return len(session.execute(text(_SEGMENT_CHANGES), {"ids": list(profiles)}).all())


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
