"""Materialise golden records and computed traits, and the account rollups.

``recompute_profiles`` is the one path that writes ``profiles.traits``/``computed``: the worker
calls it for stale profiles (identity or new events changed them) and, on a schedule, for
profiles whose computed traits have aged (recency decays even when nothing happens).
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from kindred.db import execute_arrays
from kindred.quarantine import KIND_PROFILE, not_quarantined_sql
from profiles.computed import TP, compute_all
from profiles.config import ProfilesConfig
from profiles.traits import (
    RecordTraits,
    canonical_trait,
    consent_signals_from_traits,
    golden_record,
)

#: free-mail domains never identify a company
FREE_MAIL = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "hotmail.com",
        "outlook.com",
        "live.com",
        "icloud.com",
        "aol.com",
        "mail.ru",
        "yandex.ru",
        "gmx.de",
        "web.de",
        "proton.me",
        "protonmail.com",
    }
)

_RECORDS = (
    "SELECT rl.profile_id, r.source, r.record_key, r.channel, r.traits, r.trait_meta, "
    "r.last_seen, r.account_key FROM record_links rl JOIN source_records r ON r.id = rl.record_id "
    "WHERE rl.profile_id = ANY(%(ids)s) AND NOT r.deleted ORDER BY r.id"
)
_TOUCHPOINTS = (
    "SELECT rl.profile_id, t.id, t.occurred_at, t.channel, t.type, t.name, t.source, "
    "t.properties, t.campaign FROM record_links rl "
    "JOIN touchpoints t ON t.record_id = rl.record_id "
    "WHERE rl.profile_id = ANY(%(ids)s) ORDER BY t.occurred_at, t.id"
)
_ACCOUNTS_BY_KEY = (
    "SELECT k.key, a.id, a.name, a.domain, a.traits FROM account_keys k "
    "JOIN accounts a ON a.id = k.account_id WHERE k.key = ANY(%(keys)s)"
)
_ACCOUNTS_BY_DOMAIN = (
    "SELECT DISTINCT ON (a.domain) a.domain, a.id, a.name, a.domain, a.traits FROM accounts a "
    "WHERE a.domain = ANY(%(domains)s) ORDER BY a.domain, a.created_at"
)
_WRITE = (
    "UPDATE profiles SET traits = v.traits, computed = v.computed, account_id = v.account_id, "
    "computed_at = %(now)s, stale = false, updated_at = now() "
    "FROM unnest(CAST(%(id)s AS uuid[]), CAST(%(traits)s AS jsonb[]), "
    "CAST(%(computed)s AS jsonb[]), CAST(%(account_id)s AS uuid[])) "
    "AS v(id, traits, computed, account_id) WHERE profiles.id = v.id"
)


def _raw(session: Session, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    return list(session.connection().exec_driver_sql(sql, params).tuples())


def _account_view(row: tuple[Any, ...]) -> dict[str, Any]:
    _, account_id, name, domain, traits = row
    view = {canonical_trait(k): v for k, v in (traits or {}).items()}
    view.setdefault("name", name)
    view.setdefault("domain", domain)
    return {"id": account_id, "traits": view}


def recompute_profiles(
    session: Session,
    *,
    profile_ids: Sequence[uuid.UUID],
    config: ProfilesConfig,
    now: datetime | None = None,
) -> int:
    """Golden record, account link and computed traits of ``profile_ids`` (set-based reads,
    one write statement). Returns how many profiles were written."""
    if not profile_ids:
        return 0
    now = now or datetime.now(UTC)
    ids = list(profile_ids)
    records: dict[uuid.UUID, list[RecordTraits]] = defaultdict(list)
    account_keys: dict[uuid.UUID, list[tuple[str, str]]] = defaultdict(list)
    for pid, source, key, channel, traits, meta, last_seen, account_key in _raw(
        session, _RECORDS, {"ids": ids}
    ):
        records[pid].append(RecordTraits(source, key, channel, traits or {}, meta or {}, last_seen))
        if account_key:
            at = str(((meta or {}).get("__account__") or {}).get("at", ""))
            account_keys[pid].append((at, account_key))
    touchpoints: dict[uuid.UUID, list[TP]] = defaultdict(list)
    for pid, tid, at, channel, kind, name, source, props, campaign in _raw(
        session, _TOUCHPOINTS, {"ids": ids}
    ):
        touchpoints[pid].append(
            TP(tid, at, channel, kind, name, source, props or {}, campaign or {})
        )
    goldens = {
        pid: golden_record(records.get(pid, []), survivorship=config.survivorship) for pid in ids
    }
    keys = sorted({k for pairs in account_keys.values() for _, k in pairs})
    by_key = {row[0]: _account_view(row) for row in _raw(session, _ACCOUNTS_BY_KEY, {"keys": keys})}
    domains = sorted(
        {
            str(g[0]["email"]).rsplit("@", 1)[-1].strip().lower()
            for g in goldens.values()
            if isinstance(g[0].get("email"), str) and "@" in g[0]["email"]
        }
        - FREE_MAIL
    )
    by_domain = {
        row[0]: _account_view(row)
        for row in _raw(session, _ACCOUNTS_BY_DOMAIN, {"domains": domains})
    }
    out: dict[str, list[Any]] = {"id": [], "traits": [], "computed": [], "account_id": []}
    for pid in ids:
        traits, provenance = goldens[pid]
        account = None
        for _, key in sorted(account_keys.get(pid, []), reverse=True):
            account = by_key.get(key)
            if account is not None:
                break
        email = traits.get("email")
        if account is None and isinstance(email, str) and "@" in email:
            account = by_domain.get(email.rsplit("@", 1)[-1].strip().lower())
        stage_at = (provenance.get("lifecycle_stage") or {}).get("at")
        computed = compute_all(
            config,
            traits=traits,
            account=account["traits"] if account else None,
            touchpoints=touchpoints.get(pid, []),
            consent_signals=consent_signals_from_traits(records.get(pid, [])),
            lifecycle_stage_at=stage_at,
            now=now,
        )
        out["id"].append(pid)
        out["traits"].append(json.dumps(traits, default=str))
        out["computed"].append(json.dumps(computed, default=str))
        out["account_id"].append(account["id"] if account else None)
    session.connection().exec_driver_sql(_WRITE, {**out, "now": now})
    return len(ids)


# --------------------------------------------------------------------------- accounts

_ROLLUP = """
WITH per AS (
    SELECT a.id AS account_id,
           count(p.id) AS contacts,
           count(p.id) FILTER (
               WHERE kindred_ts(p.computed #>> '{lead_score,last_interaction_at}')
                     >= now() - make_interval(days => %(engaged_days)s)) AS engaged,
           COALESCE(sum(kindred_num(p.computed #> '{counters,revenue_total}')), 0) AS revenue,
           COALESCE(max(kindred_num(p.computed #> '{lead_score,score}')), 0) AS best_score,
           COALESCE(avg(kindred_num(p.computed #> '{lead_score,score}')), 0) AS avg_score,
           count(p.id) FILTER (WHERE p.computed #>> '{temperature,value}' = 'hot') AS customers
    FROM accounts a
    LEFT JOIN profiles p ON p.account_id = a.id AND p.merged_into IS NULL AND NOT p.deleted
    GROUP BY a.id
), ranked AS (
    SELECT per.*,
           sum(revenue) OVER (ORDER BY revenue DESC, account_id
                              ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before,
           sum(revenue) OVER () AS total
    FROM per
)
INSERT INTO account_computed (account_id, computed, computed_at)
SELECT account_id, jsonb_build_object(
    'contacts', contacts,
    'engaged_contacts', engaged,
    'customers', customers,
    'revenue', round(revenue, 2),
    'revenue_share', CASE WHEN total > 0 THEN round(revenue / total, 4) ELSE 0 END,
    'key_account', revenue > 0 AND COALESCE(before, 0) < total * %(share)s,
    'account_score', LEAST(100, round(0.6 * best_score + 0.2 * avg_score + 8 * LEAST(engaged, 5))),
    'reasons', jsonb_build_object(
        'best_contact_score', round(best_score, 1),
        'average_contact_score', round(avg_score, 1),
        'engaged_contacts', engaged,
        'formula', '0.6 x best + 0.2 x average contact score + 8 per engaged contact (max 5)',
        'key_account_rule', 'top accounts by revenue making up '
            || round(%(share)s * 100) || '%% of all revenue')),
    now()
FROM ranked
ON CONFLICT (account_id) DO UPDATE SET computed = EXCLUDED.computed, computed_at = now()
"""


def refresh_accounts(session: Session, *, config: ProfilesConfig) -> int:
    """Every account's rollup in one set-based statement (the key-account flag is global)."""
    result = session.connection().exec_driver_sql(
        _ROLLUP,
        {
            "engaged_days": config.accounts.engaged_days,
            "share": config.accounts.key_account_revenue_share,
        },
    )
    return int(result.rowcount or 0)


def stale_batch(session: Session, *, limit: int) -> list[tuple[uuid.UUID, uuid.UUID | None, bool]]:
    """Lock up to ``limit`` stale profiles, oldest change first (others skip them).
    Quarantined profiles are skipped (they stay stale until released)."""
    rows = session.execute(
        text(
            "SELECT id, merged_into, deleted FROM profiles WHERE stale "
            f"AND {not_quarantined_sql(KIND_PROFILE, 'profiles.id')} "
            "ORDER BY stale_since NULLS FIRST LIMIT :limit FOR UPDATE OF profiles SKIP LOCKED"
        ),
        {"limit": limit},
    ).all()
    return [(r[0], r[1], bool(r[2])) for r in rows]


def due_batch(session: Session, *, older_than_s: int, limit: int) -> list[uuid.UUID]:
    """Live profiles whose computed traits are older than ``older_than_s`` (time decay),
    quarantined ones skipped."""
    return list(
        session.execute(
            text(
                "SELECT id FROM profiles WHERE NOT stale AND merged_into IS NULL AND NOT deleted "
                "AND (computed_at IS NULL OR computed_at < now() - make_interval(secs => :s)) "
                f"AND {not_quarantined_sql(KIND_PROFILE, 'profiles.id')} "
                "ORDER BY computed_at NULLS FIRST LIMIT :limit FOR UPDATE OF profiles SKIP LOCKED"
            ),
            {"s": older_than_s, "limit": limit},
        ).scalars()
    )


def clear_stale(session: Session, *, profile_ids: Sequence[uuid.UUID]) -> None:
    if profile_ids:
        execute_arrays(
            session,
            "UPDATE profiles SET stale = false WHERE id = ANY(%(ids)b)",
            {"ids": list(profile_ids)},
        )
