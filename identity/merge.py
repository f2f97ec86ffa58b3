"""Merging and splitting profiles, and the lock that lets one resolver write the graph.

Profiles merge into the oldest; the absorbed id keeps answering through ``merged_into``
(``surviving_profile_id``), so ids are never renumbered.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from identity.graph import LINK_PRIORITY, ConstrainedUnion, ResolveResult, exclusive_key
from identity.repository import (
    link_evidence,
    linking_identifiers,
    overrides_touching,
    record_ids_of,
)
from kindred.models import IdentityChange, Profile, RecordLink

#: pg advisory lock id of the whole graph: identity workers hold it *shared* (many resolve at
#: once, each locking only the identifier values and profiles its pass touches); a batch run,
#: an erasure or the model's second stage hold it *exclusive* (nothing else writes meanwhile)
RESOLVER_LOCK = 7_331_001
#: advisory lock namespaces (two-key form): claimed dirty records, identifier values
CLAIM_SPACE = 7_331_003
VALUE_SPACE = 7_331_004


class ConcurrentChange(Exception):
    """A profile this pass read was merged or changed by another resolver before its locks
    were granted: the pass is rolled back and retried (a transient error)."""

    transient = True


def lock_resolver(session: Session) -> None:
    """Take the whole graph for this transaction (no identity worker writes meanwhile).
    Re-entrant: taking it again in the same transaction is free."""
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": RESOLVER_LOCK})


def share_resolver(session: Session) -> None:
    """Take the graph lock shared, for this transaction: other identity workers run at the
    same time; a batch run or an erasure waits for them (and they for it)."""
    session.execute(text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": RESOLVER_LOCK})


#: advisory lock of the accounts: one writer of accounts and their keys at a time
ACCOUNTS_LOCK = 7_331_005


def lock_accounts(session: Session, *, wait: bool = True) -> bool:
    """Take the graph shared and the accounts exclusive, for this transaction (accounts are
    few and their merges touch many keys: one writer at a time). ``wait=False``: return
    False at once when another worker holds them."""
    share_resolver(session)
    if wait:
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ACCOUNTS_LOCK})
        return True
    got = session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": ACCOUNTS_LOCK})
    return bool(got.scalar())


class LockTableFull(Exception):
    """PostgreSQL's shared lock table cannot hold this pass's identifier-value locks."""


def holds_resolver_exclusively(session: Session) -> bool:
    """Whether this transaction holds the graph lock exclusive (``lock_resolver``)."""
    return bool(
        session.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' "
                "AND pid = pg_backend_pid() AND classid = 0 AND objid = :k AND objsubid = 1 "
                "AND mode = 'ExclusiveLock' AND granted)"
            ),
            {"k": RESOLVER_LOCK},
        ).scalar()
    )


def lock_values(session: Session, record_ids: Collection[int]) -> None:
    """Lock every identifier value (link type and value) of these records, in one fixed
    order, until the transaction ends: two passes holding records of one person (the same
    email arriving at two workers at once) are serialised here, and the second one sees the
    first one's links. Nothing to do under the exclusive graph lock (no other pass runs).

    Each value is one entry of PostgreSQL's shared lock table, which holds
    ``max_locks_per_transaction x max_connections`` entries for every transaction together
    (6,400 on a stock server): ``LockTableFull`` names the settings when a pass would
    overflow it."""
    if not record_ids or holds_resolver_exclusively(session):
        return
    try:
        with session.begin_nested():
            session.execute(
                text(
                    "SELECT pg_advisory_xact_lock(:space, k) FROM ("
                    " SELECT DISTINCT hashtext(link_type || ':' || value) AS k FROM identifiers"
                    " WHERE record_id = ANY(:ids) ORDER BY 1) v"
                ),
                {"space": VALUE_SPACE, "ids": sorted(record_ids)},
            )
    except OperationalError as err:
        if getattr(err.orig, "sqlstate", None) != "53200":  # out_of_memory (shared memory)
            raise
        raise LockTableFull(
            f"PostgreSQL's lock table is full while locking the identifier values of "
            f"{len(record_ids)} records: raise max_locks_per_transaction on the server "
            "(docs/limits.md: 256 or more for several identity workers) or lower the "
            "identity batch size (KINDRED_IDENTITY_BATCH_SIZE)"
        ) from err


def lock_profiles(session: Session, profile_ids: Collection[uuid.UUID]) -> None:
    """Lock the rows of these profiles in id order (``FOR UPDATE``) until the transaction
    ends; raise ``ConcurrentChange`` when one was merged away before the lock was granted."""
    if not profile_ids:
        return
    rows = session.execute(
        select(Profile.id, Profile.merged_into)
        .where(Profile.id.in_(sorted(profile_ids)))
        .order_by(Profile.id)
        .with_for_update()
    ).all()
    moved = [str(r.id) for r in rows if r.merged_into is not None]
    if moved:
        raise ConcurrentChange(f"profiles merged meanwhile: {', '.join(moved[:5])}")


def surviving_profile_id(session: Session, profile_id: uuid.UUID) -> uuid.UUID | None:
    """Follow ``merged_into`` to the live profile (None if the id was never issued)."""
    row = session.execute(
        select(Profile.id, Profile.merged_into).where(Profile.id == profile_id)
    ).first()
    if row is None:
        return None
    return row.merged_into or row.id


def absorb_profile(
    session: Session,
    *,
    survivor: uuid.UUID,
    absorbed: uuid.UUID,
    cause: str,
    evidence: dict[str, Any],
    result: ResolveResult,
) -> None:
    """Fold ``absorbed`` into ``survivor``; the absorbed id keeps answering via merged_into."""
    session.execute(
        update(RecordLink).where(RecordLink.profile_id == absorbed).values(profile_id=survivor)
    )
    session.execute(
        update(Profile)
        .where((Profile.id == absorbed) | (Profile.merged_into == absorbed))
        .values(merged_into=survivor, merged_at=func.now())
    )
    session.add(
        IdentityChange(
            kind="merge",
            profile_id=survivor,
            other_profile_id=absorbed,
            cause=cause,
            evidence=evidence,
        )
    )
    result.merges += 1
    result.changes.append(
        {"kind": "merge", "survivor": str(survivor), "merged": str(absorbed), "cause": cause}
    )


def _connected_groups(session: Session, record_ids: list[int]) -> list[list[int]]:
    """The records of one profile grouped by what still connects them: linking identifiers
    (respecting exclusive ids and cannot-links), must-links and accepted model edges."""
    uf = ConstrainedUnion()
    by_value: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
    for rid, kind, link_type, value in linking_identifiers(session, record_ids):
        key = exclusive_key(kind, value)
        if key:
            uf.add_ids(rid, {key[0]: key[1]})
        by_value[(link_type, value)].append((rid, kind))
    for rid in record_ids:
        uf.find(rid)
    inside = set(record_ids)
    must: list[tuple[int, int]] = []
    for oid, kind, rec_a, rec_b in overrides_touching(session, inside):
        if kind == "cannot_link":
            for rid, side in ((rec_a, "a"), (rec_b, "b")):
                if rid in inside:
                    uf.add_ids(rid, {f"override:{oid}": side})
        elif rec_a in inside and rec_b in inside:
            must.append((rec_a, rec_b))
    for rec_a, rec_b in must:
        uf.union(rec_a, rec_b)
    for rid, evidence in link_evidence(session, record_ids):
        for edge in (evidence or {}).get("splink", []):
            partner = edge.get("record_id")
            if partner in inside and uf.conflict(rid, partner) is None:
                uf.union(rid, partner)
    for members in sorted(
        by_value.values(), key=lambda m: min(LINK_PRIORITY.get(k, 5) for _, k in m)
    ):
        first, first_kind = members[0]
        for rid, kind in members[1:]:
            explicit = "alias" in (kind, first_kind)
            if explicit or uf.conflict(first, rid) is None:
                uf.union(first, rid)
    groups: dict[int, list[int]] = defaultdict(list)
    for rid in record_ids:
        groups[uf.find(rid)].append(rid)
    return list(groups.values())


def split_disconnected(
    session: Session, profile_ids: set[uuid.UUID], *, cause: str
) -> list[dict[str, Any]]:
    """Re-check profiles after evidence changed: records no longer connected by a linking
    identifier (respecting cannot-links) move to profiles of their own. The largest group (then
    the oldest record) keeps the profile id."""
    changes: list[dict[str, Any]] = []
    for pid in sorted(profile_ids, key=str):
        record_ids = record_ids_of(session, pid)
        if len(record_ids) < 2:
            continue
        groups = _connected_groups(session, record_ids)
        if len(groups) < 2:
            continue
        ordered = sorted(groups, key=lambda g: (-len(g), min(g)))
        for group in ordered[1:]:
            new_id = uuid.uuid4()
            session.execute(pg_insert(Profile).values(id=new_id))
            session.execute(
                update(RecordLink)
                .where(RecordLink.record_id.in_(group))
                .values(profile_id=new_id, rule="split", linked_at=func.now())
            )
            session.add(
                IdentityChange(
                    kind="split",
                    profile_id=new_id,
                    other_profile_id=pid,
                    cause=cause,
                    evidence={"records": group[:50]},
                )
            )
            session.execute(update(Profile).where(Profile.id.in_([pid, new_id])).values(stale=True))
            changes.append(
                {
                    "kind": "split",
                    "survivor": str(pid),
                    "split_off": str(new_id),
                    "cause": cause,
                    "records": group[:50],
                }
            )
    return changes
