"""The SQL of profiles: the reads that build golden records and computed traits, the one
write of them, account rollups, the worker's batches, and the profile page's queries.

Segments keep theirs in ``profiles.segments.repository``, privacy requests in
``profiles.privacy_repository``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from kindred.db import execute_arrays
from kindred.models import (
    Account,
    AccountComputed,
    AccountKey,
    AccountLink,
    Identifier,
    Profile,
    ProfilesCursor,
    RecordLink,
    SourceRecord,
    Touchpoint,
)
from kindred.quarantine import KIND_PROFILE, not_quarantined, not_quarantined_sql

# --------------------------------------------------------------------------- materialise

_RECORDS = (
    "SELECT rl.profile_id, r.source, r.record_key, r.channel, r.traits, r.trait_meta, "
    "r.last_seen FROM record_links rl JOIN source_records r ON r.id = rl.record_id "
    "WHERE rl.profile_id = ANY(%(ids)s) AND NOT r.deleted ORDER BY r.id"
)
_TOUCHPOINTS = (
    "SELECT rl.profile_id, t.id, t.occurred_at, t.channel, t.type, t.name, t.source, "
    "t.properties, t.campaign FROM record_links rl "
    "JOIN touchpoints t ON t.record_id = rl.record_id "
    "WHERE rl.profile_id = ANY(%(ids)s) ORDER BY t.occurred_at, t.id"
)
#: the account identity linked each profile to (``identity.accounts`` owns the link)
_ACCOUNTS = (
    "SELECT p.id, a.name, a.domain, a.traits FROM profiles p "
    "JOIN accounts a ON a.id = p.account_id WHERE p.id = ANY(%(ids)s)"
)
_WRITE = (
    "UPDATE profiles SET traits = v.traits, computed = v.computed, "
    "computed_at = %(now)s, stale = false, updated_at = now() "
    "FROM unnest(CAST(%(id)s AS uuid[]), CAST(%(traits)s AS jsonb[]), "
    "CAST(%(computed)s AS jsonb[])) AS v(id, traits, computed) WHERE profiles.id = v.id"
)
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


def _raw(session: Session, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    return list(session.connection().exec_driver_sql(sql, params).tuples())


def record_rows(session: Session, *, ids: list[uuid.UUID]) -> list[tuple[Any, ...]]:
    """(profile id, source, record key, channel, traits, trait_meta, last_seen) of the live
    records of ``ids``, in record order."""
    return _raw(session, _RECORDS, {"ids": ids})


def touchpoint_rows(session: Session, *, ids: list[uuid.UUID]) -> list[tuple[Any, ...]]:
    """(profile id, id, occurred_at, channel, type, name, source, properties, campaign) of
    the touchpoints of ``ids``, in time order."""
    return _raw(session, _TOUCHPOINTS, {"ids": ids})


def account_rows(session: Session, *, ids: list[uuid.UUID]) -> list[tuple[Any, ...]]:
    """(profile id, account name, domain, traits) of those of ``ids`` linked to an account."""
    return _raw(session, _ACCOUNTS, {"ids": ids})


def write_profiles(session: Session, *, columns: dict[str, list[Any]], now: datetime) -> None:
    """One statement: ``columns`` = id, traits and computed (JSON text), in step."""
    session.connection().exec_driver_sql(_WRITE, {**columns, "now": now})


def rollup_accounts(session: Session, *, engaged_days: int, share: float) -> int:
    result = session.connection().exec_driver_sql(
        _ROLLUP, {"engaged_days": engaged_days, "share": share}
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


def due_batch(session: Session, *, older_than_s: float, limit: int) -> list[uuid.UUID]:
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


def mark_all_stale(session: Session) -> int:
    """Every unmerged profile to be recomputed by the worker; how many."""
    result = session.execute(
        update(Profile).where(Profile.merged_into.is_(None)).values(stale=True)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def has_stale(session: Session) -> bool:
    """Is any profile not quarantined stale? (An unlocked peek.) Bare ``stale``: the
    predicate of the partial index ix_profiles_stale."""
    peek = select(Profile.id).where(Profile.stale, not_quarantined(KIND_PROFILE, Profile.id))
    return session.execute(peek.limit(1)).first() is not None


def stale_backlog(conn: Connection) -> int:
    """Stale profiles (counted up to 1,000,000 through the partial index)."""
    count = conn.execute(
        text("SELECT count(*) FROM (SELECT 1 FROM profiles WHERE stale LIMIT 1000000) s")
    ).scalar()
    return int(count or 0)


def cursor_position(session: Session, *, name: str) -> int:
    return (
        session.execute(
            select(ProfilesCursor.position).where(ProfilesCursor.name == name)
        ).scalar_one_or_none()
        or 0
    )


def store_cursor(session: Session, *, name: str, position: int) -> None:
    session.execute(
        pg_insert(ProfilesCursor)
        .values(name=name, position=position)
        .on_conflict_do_update(index_elements=[ProfilesCursor.name], set_={"position": position})
    )


# --------------------------------------------------------------------------- profile page


def live_records(session: Session, *, profile_id: uuid.UUID) -> list[SourceRecord]:
    return list(
        session.execute(
            select(SourceRecord)
            .join(RecordLink, RecordLink.record_id == SourceRecord.id)
            .where(RecordLink.profile_id == profile_id, SourceRecord.deleted.is_(False))
            .order_by(SourceRecord.id)
        ).scalars()
    )


def account_of(
    session: Session, *, account_id: uuid.UUID
) -> tuple[Account, AccountComputed | None] | None:
    account = session.get(Account, account_id)
    if account is None:
        return None
    return account, session.get(AccountComputed, account.id)


def account_link(session: Session, *, profile_id: uuid.UUID) -> AccountLink | None:
    return session.get(AccountLink, profile_id)


def keys_of_account(session: Session, *, account_id: uuid.UUID, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` are keys of the account."""
    if not keys:
        return set()
    return set(
        session.execute(
            select(AccountKey.key).where(
                AccountKey.account_id == account_id, AccountKey.key.in_(list(keys))
            )
        ).scalars()
    )


def identifiers_first_observed(
    session: Session, *, profile_id: uuid.UUID
) -> dict[tuple[str, str], datetime]:
    """Per identifier (type, value) of the profile's records: the earliest time it was
    observed in the data — the ``first_seen`` of the records carrying it (the time of their
    earliest event or row, not when Kindred ingested it)."""
    rows = session.execute(
        select(Identifier.type, Identifier.value, func.min(SourceRecord.first_seen))
        .join(SourceRecord, SourceRecord.id == Identifier.record_id)
        .join(RecordLink, RecordLink.record_id == Identifier.record_id)
        .where(RecordLink.profile_id == profile_id)
        .group_by(Identifier.type, Identifier.value)
    ).all()
    return {(kind, value): at for kind, value, at in rows if at is not None}


def _touchpoints_of(profile_id: uuid.UUID) -> Any:
    return (
        select(Touchpoint)
        .join(RecordLink, RecordLink.record_id == Touchpoint.record_id)
        .where(RecordLink.profile_id == profile_id)
    )


def campaign_touchpoints(session: Session, *, profile_id: uuid.UUID) -> list[Touchpoint]:
    """Touchpoints with a campaign document, in time order."""
    query = _touchpoints_of(profile_id).where(Touchpoint.campaign != text("'{}'::jsonb"))
    return list(session.execute(query.order_by(Touchpoint.occurred_at, Touchpoint.id)).scalars())


def first_event_at(
    session: Session, *, profile_id: uuid.UUID, events: Sequence[str]
) -> datetime | None:
    """When the profile first did one of ``events`` (case-insensitive)."""
    return session.execute(
        select(func.min(Touchpoint.occurred_at))
        .join(RecordLink, RecordLink.record_id == Touchpoint.record_id)
        .where(
            RecordLink.profile_id == profile_id,
            func.lower(Touchpoint.name).in_([e.lower() for e in events]),
        )
    ).scalar_one_or_none()


def touchpoints_after(
    session: Session,
    *,
    profile_id: uuid.UUID,
    after: tuple[datetime, int] | None,
    limit: int,
    channel: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    newest_first: bool = False,
) -> list[Touchpoint]:
    """The next ``limit`` touchpoints after the keyset position ``after`` (time, id), in time
    order or (``newest_first``) the reverse."""
    query = _touchpoints_of(profile_id)
    if channel:
        query = query.where(Touchpoint.channel == channel)
    if since is not None:
        query = query.where(Touchpoint.occurred_at >= since)
    if until is not None:
        query = query.where(Touchpoint.occurred_at < until)
    if after is not None:
        at, tid = after
        if newest_first:
            query = query.where(
                or_(
                    Touchpoint.occurred_at < at,
                    and_(Touchpoint.occurred_at == at, Touchpoint.id < tid),
                )
            )
        else:
            query = query.where(
                or_(
                    Touchpoint.occurred_at > at,
                    and_(Touchpoint.occurred_at == at, Touchpoint.id > tid),
                )
            )
    order = (
        (Touchpoint.occurred_at.desc(), Touchpoint.id.desc())
        if newest_first
        else (Touchpoint.occurred_at, Touchpoint.id)
    )
    return list(session.execute(query.order_by(*order).limit(limit)).scalars())


# --------------------------------------------------------------------------- distribution

CUSTOMER_STAGES = ["active_customer", "re_acquired", "lapsing", "inactive"]


def _live() -> tuple[Any, Any]:
    return (Profile.merged_into.is_(None), Profile.deleted.is_(False))


def count_by(session: Session, *, section: str, key: str) -> list[tuple[Any, int]]:
    """(value of ``computed.section.key``, live profiles), most frequent first."""
    value = Profile.computed[section][key].astext
    rows = session.execute(
        select(value, func.count()).where(*_live()).group_by(value).order_by(func.count().desc())
    ).all()
    return [(v, int(n)) for v, n in rows]


def customer_activity(session: Session, *, days: int = 90) -> tuple[int, int]:
    """(live customers, those who interacted in the last ``days``)."""
    stage = Profile.computed["lifecycle"]["stage"].astext
    customers = session.execute(
        select(func.count()).where(*_live(), stage.in_(CUSTOMER_STAGES))
    ).scalar_one()
    active = session.execute(
        select(func.count()).where(
            *_live(),
            stage.in_(CUSTOMER_STAGES),
            func.kindred_ts(Profile.computed["lead_score"]["last_interaction_at"].astext)
            >= func.now() - text(f"interval '{int(days)} days'"),
        )
    ).scalar_one()
    return int(customers), int(active)
