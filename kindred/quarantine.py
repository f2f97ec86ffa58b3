"""Quarantine of items that fail again and again, and the isolation that finds them.

A worker pass (identity: a batch of dirty source records; profiles: a batch of stale
profiles) that raises is retried by the worker loop. When the cause is one bad item (a value
PostgreSQL refuses, a shape that hits a bug), retrying the whole batch stalls everyone. So:

- ``run_isolated`` runs a batch in a SAVEPOINT; on a failure that is not transient it bisects
  the batch (each half in its own savepoint, down to single items), keeps the work of the
  good parts and returns the failing items with their exception;
- ``record_failure`` counts a failure of one item (``kind`` + ``ref``); once an item failed
  ``max_attempts`` times it is quarantined and the domain's selection query skips it
  (``not_quarantined`` / ``not_quarantined_sql``: a ``NOT EXISTS`` probe of the
  ``(kind, ref)`` unique index);
- ``release_quarantine`` deletes the row: the item is taken again by the next pass.

Invariant that makes release simple: quarantine never touches the domain's own work flag. A
failing record's pass is rolled back, so the record stays ``dirty``; a failing profile stays
``stale`` (or due). Released, it is simply picked up again, and ``dirty``/``stale`` backlogs
keep counting quarantined items (they are not resolved: that is the truth).

Transient errors (lost connection, deadlock, serialization failure, lock timeout, pool
timeout: ``is_transient``) are never an item's fault: they propagate and the worker retries
the whole pass.

This module is core plumbing: it knows the ``quarantine`` table and nothing of the domains.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, String, and_, cast, exists, select, text
from sqlalchemy.orm import Session

from kindred.dberrors import describe, is_transient, storable_text
from kindred.models.ops import Quarantine

__all__ = [
    "DEFAULT_MAX_ATTEMPTS",
    "KIND_PROFILE",
    "KIND_RECORD",
    "Isolated",
    "clear_failures",
    "describe",
    "erase_items",
    "has_pending_failures",
    "is_transient",
    "list_quarantine",
    "not_quarantined",
    "not_quarantined_sql",
    "quarantine_counts",
    "quarantine_failures",
    "record_failure",
    "release_quarantine",
    "run_isolated",
]

log = logging.getLogger(__name__)

KIND_RECORD = "record"  # ref = source_records.id
KIND_PROFILE = "profile"  # ref = profiles.id
DEFAULT_MAX_ATTEMPTS = 3
REASON_MAX = 2000
_KIND_RE = re.compile(r"^[a-z_]{1,20}$")

T = TypeVar("T")
R = TypeVar("R")

# ------------------------------------------------------------------------------- the table

_RECORD_FAILURE = text(
    """
    INSERT INTO quarantine AS q
        (kind, ref, reason, attempts, first_failed_at, last_failed_at, quarantined_at)
    VALUES (:kind, :ref, :reason, 1, now(), now(), CASE WHEN 1 >= :max THEN now() END)
    ON CONFLICT (kind, ref) DO UPDATE SET
        attempts = q.attempts + 1,
        reason = EXCLUDED.reason,
        last_failed_at = now(),
        quarantined_at = coalesce(
            q.quarantined_at, CASE WHEN q.attempts + 1 >= :max THEN now() END)
    RETURNING quarantined_at IS NOT NULL
    """
)


def _check_kind(kind: str) -> str:
    if not _KIND_RE.match(kind):
        raise ValueError(f"bad quarantine kind {kind!r}")
    return kind


def record_failure(
    session: Session, *, kind: str, ref: str, reason: str, max_attempts: int
) -> bool:
    """Count one failure of ``(kind, ref)``; returns whether it is now quarantined (at
    ``max_attempts`` failures or more). Flushes nothing else; the caller commits."""
    row = session.execute(
        _RECORD_FAILURE,
        {
            "kind": _check_kind(kind),
            "ref": storable_text(ref)[:100],
            "reason": storable_text(reason)[:REASON_MAX],
            "max": max(1, max_attempts),
        },
    ).scalar_one()
    return bool(row)


def clear_failures(session: Session, *, kind: str, refs: Sequence[str]) -> int:
    """Forget failures (not yet quarantined) of items that have now succeeded: ``attempts``
    counts failures in a row. Nearly free when nothing is failing (the table is tiny)."""
    if not refs:
        return 0
    result = session.execute(
        text(
            "DELETE FROM quarantine WHERE kind = :kind AND quarantined_at IS NULL "
            "AND ref = ANY(CAST(:refs AS text[]))"
        ),
        {"kind": _check_kind(kind), "refs": list(refs)},
    )
    return int(getattr(result, "rowcount", 0) or 0)


def has_pending_failures(session: Session, *, kind: str) -> bool:
    """Whether some item of ``kind`` failed and is not (yet) quarantined."""
    return (
        session.execute(
            text("SELECT 1 FROM quarantine WHERE kind = :kind AND quarantined_at IS NULL LIMIT 1"),
            {"kind": _check_kind(kind)},
        ).first()
        is not None
    )


def list_quarantine(
    session: Session, *, kind: str | None = None, limit: int = 100, only_quarantined: bool = False
) -> list[dict[str, Any]]:
    """Failing and quarantined items, most recent failure first. ``quarantined_at`` is None
    for an item that failed fewer than ``max_attempts`` times (it is still retried)."""
    query = select(
        Quarantine.kind,
        Quarantine.ref,
        Quarantine.reason,
        Quarantine.attempts,
        Quarantine.first_failed_at,
        Quarantine.last_failed_at,
        Quarantine.quarantined_at,
    )
    if kind is not None:
        query = query.where(Quarantine.kind == kind)
    if only_quarantined:
        query = query.where(Quarantine.quarantined_at.is_not(None))
    query = query.order_by(Quarantine.last_failed_at.desc(), Quarantine.id.desc()).limit(limit)
    return [dict(row._mapping) for row in session.execute(query)]


def release_quarantine(session: Session, *, kind: str, ref: str) -> bool:
    """Delete the row of ``(kind, ref)``; returns whether there was one. The item is still
    dirty/stale (quarantine never clears the domain's flag), so the next pass takes it; if it
    fails again it starts from zero attempts."""
    deleted = session.execute(
        text("DELETE FROM quarantine WHERE kind = :kind AND ref = :ref RETURNING id"),
        {"kind": kind, "ref": ref},
    ).first()
    return deleted is not None


def erase_items(session: Session, *, kind: str, refs: Sequence[str]) -> int:
    """Delete every row of ``kind`` for ``refs``, failing or quarantined (an erasure: the
    items themselves are gone); returns how many."""
    return len(
        session.execute(
            text("DELETE FROM quarantine WHERE kind = :kind AND ref = ANY(:refs) RETURNING 1"),
            {"kind": _check_kind(kind), "refs": list(refs)},
        ).all()
    )


def quarantine_counts(session: Session) -> dict[str, int]:
    """kind -> number of quarantined items (``record`` and ``profile`` always present)."""
    counts = {KIND_RECORD: 0, KIND_PROFILE: 0}
    for kind, n in session.execute(
        text("SELECT kind, count(*) FROM quarantine WHERE quarantined_at IS NOT NULL GROUP BY kind")
    ).all():
        counts[str(kind)] = int(n)
    return counts


def not_quarantined(kind: str, column: Any) -> ColumnElement[bool]:
    """Core/ORM filter: ``column`` (the item id) is not quarantined as ``kind``."""
    return ~exists().where(
        and_(
            Quarantine.kind == _check_kind(kind),
            Quarantine.ref == cast(column, String),
            Quarantine.quarantined_at.is_not(None),
        )
    )


def not_quarantined_sql(kind: str, column: str) -> str:
    """The same filter as SQL text, for hand-written queries; ``column`` is an SQL column
    reference such as ``profiles.id`` (a constant of the caller, never user input)."""
    if not re.match(r"^[a-z_][a-z0-9_.]*$", column):
        raise ValueError(f"bad column reference {column!r}")
    return (
        "NOT EXISTS (SELECT 1 FROM quarantine q WHERE q.kind = "
        f"'{_check_kind(kind)}' AND q.ref = {column}::text AND q.quarantined_at IS NOT NULL)"
    )


# ------------------------------------------------------------------------------- isolation


@dataclass
class Isolated(Generic[T, R]):
    """What ``run_isolated`` did: results of the parts that succeeded, the items that failed
    (with their exception), and how many savepoint attempts it took."""

    results: list[R] = field(default_factory=list)
    done: list[T] = field(default_factory=list)
    failed: list[tuple[T, BaseException]] = field(default_factory=list)
    attempts: int = 0


def run_isolated(
    session: Session,
    items: Sequence[T],
    attempt: Callable[[list[T]], R],
    *,
    first_error: BaseException | None = None,
    systemic_after: int | None = 10,
) -> Isolated[T, R]:
    """Run ``attempt(items)`` in a savepoint; when it raises a non-transient error, bisect:
    each half in its own savepoint, down to single items. Transient errors propagate (the
    caller's transaction is then lost: retry the pass). The caller holds any lock the work
    needs *outside* the savepoints (a lock taken inside is released by a rollback to it).

    ``first_error``: the whole batch already failed outside (e.g. on the hot path without a
    savepoint) with this error: start by splitting.

    ``systemic_after``: once that many single items failed and not one part succeeded, the
    fault is the pass's (a bug or an outage on every item), not the items': the first error is
    raised and nothing is blamed, rather than quarantining a whole backlog. Fewer bad items
    alone in a pass are isolated all the same."""
    out: Isolated[T, R] = Isolated()

    def run(chunk: list[T], known: BaseException | None) -> None:
        if not chunk:
            return
        error = known
        if error is None:
            out.attempts += 1
            try:
                with session.begin_nested():
                    result = attempt(chunk)
                    session.flush()
            except Exception as exc:
                if is_transient(exc):
                    raise
                error = exc
            else:
                out.results.append(result)
                out.done.extend(chunk)
                return
        if len(chunk) == 1:
            out.failed.append((chunk[0], error))
            if systemic_after is not None and not out.done and len(out.failed) > systemic_after:
                raise out.failed[0][1]
            return
        middle = len(chunk) // 2
        run(chunk[:middle], None)
        run(chunk[middle:], None)

    run(list(items), first_error)
    return out


def quarantine_failures(
    session: Session,
    failed: Sequence[tuple[T, BaseException]],
    *,
    kind: str,
    ref: Callable[[T], str],
    max_attempts: int,
) -> list[str]:
    """``record_failure`` for each failed item (logged); returns the refs now quarantined."""
    quarantined: list[str] = []
    for item, exc in failed:
        key = ref(item)
        reason = describe(exc)
        if record_failure(session, kind=kind, ref=key, reason=reason, max_attempts=max_attempts):
            quarantined.append(key)
            log.error("%s %s quarantined after %d failures: %s", kind, key, max_attempts, reason)
        else:
            log.warning("%s %s failed (will retry): %s", kind, key, reason)
    return quarantined
