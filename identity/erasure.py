"""Erasure of identity's rows (the right to be forgotten), and the reads that find the
person: their cluster of profiles, its records, their identifiers.

The public face of identity for ``profiles.privacy``, which orchestrates the erasure and
calls these in its order (foreign keys: a record's identifiers, overrides and links go
before the record; account links and identity changes before the profiles); the caller owns
the one transaction and holds the resolver lock.

The delete functions return ``(table, rows deleted)`` pairs, for the request's audit."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.orm import Session

__all__ = [
    "cluster_of",
    "delete_matching",
    "delete_profile_rows",
    "delete_record_rows",
    "held_by_others",
    "identifier_values",
    "identifiers_of",
    "records_of",
]

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
#: (table, statement) deleting identity's rows of records ``:ids``
_RECORD_ROWS = (
    ("identifiers", "DELETE FROM identifiers WHERE record_id = ANY(:ids) RETURNING 1"),
    (
        "identity_overrides",
        "DELETE FROM identity_overrides WHERE record_a = ANY(:ids) OR record_b = ANY(:ids) "
        "RETURNING 1",
    ),
    ("record_links", "DELETE FROM record_links WHERE record_id = ANY(:ids) RETURNING 1"),
)
#: their account links, identity changes, the profiles themselves (profiles merged into one
#: of the cluster are in it: one statement keeps ``merged_into`` whole)
_PROFILE_ROWS = (
    ("account_links", "DELETE FROM account_links WHERE profile_id = ANY(:ids) RETURNING 1"),
    (
        "identity_changes",
        "DELETE FROM identity_changes WHERE profile_id = ANY(:ids) "
        "OR other_profile_id = ANY(:ids) RETURNING 1",
    ),
    ("profiles", "DELETE FROM profiles WHERE id = ANY(:ids) RETURNING 1"),
)
_MATCHING_ROWS = (
    ("generic_identifiers", "DELETE FROM generic_identifiers WHERE value ~* :p RETURNING 1"),
)


def _run(
    session: Session, statements: Sequence[tuple[str, str]], params: dict[str, object]
) -> list[tuple[str, int]]:
    return [(table, len(session.execute(text(sql), params).all())) for table, sql in statements]


# -- finding the person ------------------------------------------------------------------


def cluster_of(session: Session, *, roots: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """The live profiles and every profile merged into them (at any depth)."""
    if not roots:
        return []
    return list(session.execute(_CLUSTER, {"roots": list(roots)}).scalars())


def records_of(session: Session, *, profiles: Sequence[uuid.UUID]) -> list[int]:
    if not profiles:
        return []
    return list(
        session.execute(
            text("SELECT record_id FROM record_links WHERE profile_id = ANY(:ids)"),
            {"ids": list(profiles)},
        ).scalars()
    )


def identifiers_of(session: Session, *, records: Sequence[int]) -> list[tuple[str, str]]:
    """(type, value) of every identifier of ``records``, as identity stored it."""
    rows = session.execute(
        text("SELECT type, value FROM identifiers WHERE record_id = ANY(:ids)"),
        {"ids": list(records)},
    ).all()
    return [(kind, value) for kind, value in rows]


def identifier_values(session: Session, *, records: Sequence[int]) -> list[tuple[str, str | None]]:
    """(value, as received) of the identifiers of ``records``."""
    rows = session.execute(
        text("SELECT value, raw_value FROM identifiers WHERE record_id = ANY(:ids)"),
        {"ids": list(records)},
    ).all()
    return [(value, raw) for value, raw in rows]


def held_by_others(session: Session, *, values: Sequence[str], records: Sequence[int]) -> set[str]:
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


# -- erasing -----------------------------------------------------------------------------


def delete_record_rows(session: Session, *, records: Sequence[int]) -> list[tuple[str, int]]:
    """The identifiers, overrides and links of ``records``."""
    return _run(session, _RECORD_ROWS, {"ids": list(records)})


def delete_profile_rows(
    session: Session, *, profiles: Sequence[uuid.UUID]
) -> list[tuple[str, int]]:
    """The account links and identity changes of ``profiles``, then the profiles."""
    return _run(session, _PROFILE_ROWS, {"ids": list(profiles)})


def delete_matching(session: Session, *, pattern: str) -> list[tuple[str, int]]:
    """Generic-identifier entries whose value matches ``pattern`` (case-insensitive
    PostgreSQL regular expression)."""
    return _run(session, _MATCHING_ROWS, {"p": pattern})
