"""Erasure of ingest's rows (the right to be forgotten): the events, touchpoints, source
records and dead letters of a person. ``profiles.privacy`` orchestrates the erasure and calls
these in its order (foreign keys: a record's events and touchpoints go first, the record
itself after identity has dropped its links); the caller owns the one transaction.

Every function returns ``(table, rows deleted)`` pairs or a count, for the request's audit."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.orm import Session

__all__ = ["delete_matching", "delete_record_rows", "delete_records", "record_values"]

#: (table, statement) deleting the rows of records ``:ids``
_RECORD_ROWS = (
    ("touchpoints", "DELETE FROM touchpoints WHERE record_id = ANY(:ids) RETURNING 1"),
    ("events", "DELETE FROM events WHERE record_id = ANY(:ids) RETURNING 1"),
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
)


def _deleted(session: Session, sql: str, params: dict[str, object]) -> int:
    return len(session.execute(text(sql), params).all())


def record_values(session: Session, *, records: Sequence[int]) -> list[str]:
    """The record keys and the external ids (array values) of ``records``."""
    return list(
        session.execute(
            text(
                "SELECT record_key FROM source_records WHERE id = ANY(:ids) "
                "UNION SELECT v FROM source_records r, jsonb_each(r.external_ids) e, "
                "jsonb_array_elements_text(e.value) v WHERE r.id = ANY(:ids) "
                "AND jsonb_typeof(e.value) = 'array'"
            ),
            {"ids": list(records)},
        ).scalars()
    )


def delete_record_rows(session: Session, *, records: Sequence[int]) -> list[tuple[str, int]]:
    """The touchpoints and events of ``records`` (the records themselves stay, for identity's
    links: :func:`delete_records` takes them last)."""
    params: dict[str, object] = {"ids": list(records)}
    return [(table, _deleted(session, sql, params)) for table, sql in _RECORD_ROWS]


def delete_records(session: Session, *, records: Sequence[int]) -> int:
    """The source records themselves."""
    return _deleted(
        session,
        "DELETE FROM source_records WHERE id = ANY(:ids) RETURNING 1",
        {"ids": list(records)},
    )


def delete_matching(session: Session, *, pattern: str) -> list[tuple[str, int]]:
    """Events without a record and dead letters whose text matches ``pattern`` (a
    case-insensitive PostgreSQL regular expression)."""
    params: dict[str, object] = {"p": pattern}
    return [(table, _deleted(session, sql, params)) for table, sql in _MATCHING_ROWS]
