"""Materialise golden records and computed traits, and the account rollups.

``recompute_profiles`` is the one path that writes ``profiles.traits``/``computed``: the worker
calls it for stale profiles (identity or new events changed them) and, on a schedule, for
profiles whose computed traits have aged (recency decays even when nothing happens).

The account a person belongs to is identity's decision (``identity.accounts.link_profiles``
writes ``profiles.account_id``); here it is only read, for the account traits the lead score
uses.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from profiles import repository as repo
from profiles.computed import TP, compute_all
from profiles.config import ProfilesConfig
from profiles.traits import (
    RecordTraits,
    canonical_trait,
    consent_signals_from_traits,
    golden_record,
)


def _account_traits(name: str | None, domain: str | None, traits: Any) -> dict[str, Any]:
    view = {canonical_trait(k): v for k, v in (traits or {}).items()}
    view.setdefault("name", name)
    view.setdefault("domain", domain)
    return view


def recompute_profiles(
    session: Session,
    *,
    profile_ids: Sequence[uuid.UUID],
    config: ProfilesConfig,
    now: datetime | None = None,
) -> int:
    """Golden record and computed traits of ``profile_ids`` (set-based reads, one write
    statement). Returns how many profiles were written."""
    if not profile_ids:
        return 0
    now = now or datetime.now(UTC)
    ids = list(profile_ids)
    records: dict[uuid.UUID, list[RecordTraits]] = defaultdict(list)
    for pid, source, key, channel, traits, meta, last_seen in repo.record_rows(session, ids=ids):
        records[pid].append(RecordTraits(source, key, channel, traits or {}, meta or {}, last_seen))
    touchpoints: dict[uuid.UUID, list[TP]] = defaultdict(list)
    for pid, tid, at, channel, kind, name, source, props, campaign in repo.touchpoint_rows(
        session, ids=ids
    ):
        touchpoints[pid].append(
            TP(tid, at, channel, kind, name, source, props or {}, campaign or {})
        )
    accounts = {
        pid: _account_traits(name, domain, traits)
        for pid, name, domain, traits in repo.account_rows(session, ids=ids)
    }
    out: dict[str, list[Any]] = {"id": [], "traits": [], "computed": []}
    for pid in ids:
        traits, provenance = golden_record(records.get(pid, []), survivorship=config.survivorship)
        stage_at = (provenance.get("lifecycle_stage") or {}).get("at")
        computed = compute_all(
            config,
            traits=traits,
            account=accounts.get(pid),
            touchpoints=touchpoints.get(pid, []),
            consent_signals=consent_signals_from_traits(records.get(pid, [])),
            lifecycle_stage_at=stage_at,
            now=now,
        )
        out["id"].append(pid)
        out["traits"].append(json.dumps(traits, default=str))
        out["computed"].append(json.dumps(computed, default=str))
    repo.write_profiles(session, columns=out, now=now)
    return len(ids)


def refresh_accounts(session: Session, *, config: ProfilesConfig) -> int:
    """Every account's rollup in one set-based statement (the key-account flag is global)."""
    return repo.rollup_accounts(
        session,
        engaged_days=config.accounts.engaged_days,
        share=config.accounts.key_account_revenue_share,
    )


def mark_all_stale(session: Session) -> int:
    """Every unmerged profile to be recomputed (traits and membership) by the worker."""
    return repo.mark_all_stale(session)
