"""Profile reads: golden record with provenance, identities, account, journey.

Golden record (first cut): for each trait, the latest non-empty value across the profile's
source records, with the source, record and time it came from. Source priority comes with the
profiles issue; the provenance needed for it is already kept per trait.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.orm import Session

from identity.service import (
    explain,
    identities_of,
    profiles_by_identifier,
    surviving_profile_id,
)
from kindred.errors import BadRequest, NotFound
from kindred.models import (
    Account,
    AccountComputed,
    AccountKey,
    Profile,
    RecordLink,
    SourceRecord,
    Touchpoint,
)
from profiles.computed import TP, stage_of
from profiles.config import STAGES, ProfilesConfig, load_config
from profiles.traits import RecordTraits
from profiles.traits import golden_record as traits_golden_record


@dataclass(frozen=True)
class ProfileView:
    id: uuid.UUID
    requested_id: uuid.UUID
    merged: bool
    created_at: datetime
    updated_at: datetime
    traits: dict[str, Any]
    provenance: dict[str, dict[str, Any]]
    sources: list[dict[str, Any]]
    account: dict[str, Any] | None
    first_seen: datetime | None
    last_seen: datetime | None
    computed: dict[str, Any] = field(default_factory=dict)
    computed_at: datetime | None = None
    stale: bool = False


def golden_record(
    records: list[SourceRecord], *, config: ProfilesConfig | None = None
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Survivorship per trait: configured source priority, then recency (see ``traits``)."""
    return traits_golden_record(
        (
            RecordTraits(
                r.source, r.record_key, r.channel, r.traits or {}, r.trait_meta or {}, r.last_seen
            )
            for r in records
        ),
        survivorship=(config or ProfilesConfig()).survivorship,
    )


def get_profile(session: Session, *, profile_id: uuid.UUID) -> ProfileView:
    live_id = surviving_profile_id(session, profile_id)
    if live_id is None:
        raise NotFound(f"no profile {profile_id}")
    profile = session.get(Profile, live_id)
    if profile is None or profile.deleted:
        raise NotFound(f"no profile {profile_id}")
    records = list(
        session.execute(
            select(SourceRecord)
            .join(RecordLink, RecordLink.record_id == SourceRecord.id)
            .where(RecordLink.profile_id == live_id, SourceRecord.deleted.is_(False))
            .order_by(SourceRecord.id)
        ).scalars()
    )
    traits, provenance = golden_record(records, config=load_config(session))
    return ProfileView(
        id=live_id,
        requested_id=profile_id,
        merged=live_id != profile_id,
        created_at=profile.created_at,
        updated_at=profile.updated_at,
        traits=traits,
        provenance=provenance,
        sources=[
            {
                "source": r.source,
                "record_key": r.record_key,
                "channel": r.channel,
                "first_seen": r.first_seen,
                "last_seen": r.last_seen,
            }
            for r in records
        ],
        account=_account_of(session, records),
        first_seen=min((r.first_seen for r in records), default=None),
        last_seen=max((r.last_seen for r in records), default=None),
        computed=profile.computed or {},
        computed_at=profile.computed_at,
        stale=profile.stale,
    )


def _account_of(session: Session, records: list[SourceRecord]) -> dict[str, Any] | None:
    keyed = sorted(
        (r for r in records if r.account_key),
        key=lambda r: str((r.trait_meta or {}).get("__account__", {}).get("at", "")),
        reverse=True,
    )
    for rec in keyed:
        account = session.execute(
            select(Account)
            .join(AccountKey, AccountKey.account_id == Account.id)
            .where(AccountKey.key == rec.account_key)
        ).scalar_one_or_none()
        if account is not None:
            rollup = session.get(AccountComputed, account.id)
            return {
                "id": str(account.id),
                "name": account.name,
                "domain": account.domain,
                "traits": account.traits,
                "via": {"source": rec.source, "key": rec.account_key},
                "computed": rollup.computed if rollup is not None else None,
            }
    return None


def find_profiles(session: Session, *, identifier: str) -> list[uuid.UUID]:
    kind, sep, value = identifier.partition(":")
    if not sep or not kind or not value:
        raise BadRequest(
            "identifier must look like TYPE:VALUE, e.g. email:ann@example.com or user_id:42"
        )
    return profiles_by_identifier(session, kind=kind, value=value)


def get_identities(
    session: Session, *, profile_id: uuid.UUID
) -> tuple[uuid.UUID, list[dict[str, Any]]]:
    live_id = surviving_profile_id(session, profile_id)
    if live_id is None:
        raise NotFound(f"no profile {profile_id}")
    return live_id, identities_of(session, live_id)


# --------------------------------------------------------------------------- journey


def _encode_cursor(at: datetime, tid: int) -> str:
    raw = json.dumps([at.isoformat(), tid]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        at, tid = json.loads(base64.urlsafe_b64decode(padded))
        return datetime.fromisoformat(at), int(tid)
    except (ValueError, TypeError) as err:
        raise BadRequest("cursor is not one this API issued; start again without it") from err


@dataclass(frozen=True)
class JourneyPage:
    profile_id: uuid.UUID
    items: list[dict[str, Any]]
    next_cursor: str | None
    attribution: dict[str, Any] = field(default_factory=dict)


def _attributed(campaign: dict[str, Any] | None) -> bool:
    c = campaign or {}
    return bool(c.get("name") or c.get("source") or c.get("medium") or c.get("click_ids"))


def _touch(t: Touchpoint) -> dict[str, Any]:
    return {
        "id": t.id,
        "occurred_at": t.occurred_at,
        "channel": t.channel,
        "event": t.name,
        "campaign": t.campaign or None,
    }


def _attribution(session: Session, live_id: uuid.UUID, config: ProfilesConfig) -> dict[str, Any]:
    """First touch = the earliest touchpoint with campaign/UTM/click attribution; last touch =
    the latest such touchpoint before the first conversion (or the latest, without one)."""
    base = (
        select(Touchpoint)
        .join(RecordLink, RecordLink.record_id == Touchpoint.record_id)
        .where(RecordLink.profile_id == live_id, Touchpoint.campaign != text("'{}'::jsonb"))
    )
    attributed = [
        t
        for t in session.execute(base.order_by(Touchpoint.occurred_at, Touchpoint.id)).scalars()
        if _attributed(t.campaign)
    ]
    if not attributed:
        return {"first_touch": None, "last_touch": None, "converted_at": None}
    conversion = session.execute(
        select(func.min(Touchpoint.occurred_at))
        .join(RecordLink, RecordLink.record_id == Touchpoint.record_id)
        .where(
            RecordLink.profile_id == live_id,
            func.lower(Touchpoint.name).in_(
                [e.lower() for e in (config.lifecycle.purchase.event or [])]
            ),
        )
    ).scalar_one_or_none()
    before = [t for t in attributed if conversion is None or t.occurred_at <= conversion]
    last = before[-1] if before else attributed[-1]
    return {
        "first_touch": _touch(attributed[0]),
        "last_touch": _touch(last),
        "converted_at": conversion,
    }


def _stage_for(config: ProfilesConfig, t: Touchpoint) -> str | None:
    return stage_of(
        config,
        TP(t.id, t.occurred_at, t.channel, t.type, t.name, t.source, t.properties or {}, {}),
    )


def get_journey(
    session: Session,
    *,
    profile_id: uuid.UUID,
    limit: int = 50,
    cursor: str | None = None,
    channel: str | None = None,
    stage: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> JourneyPage:
    """Touchpoints of every record of the profile, oldest first, keyset-paginated, each with
    its journey stage and first/last-touch marks; filters by channel, stage and time."""
    live_id = surviving_profile_id(session, profile_id)
    if live_id is None:
        raise NotFound(f"no profile {profile_id}")
    if stage is not None and stage not in STAGES:
        raise BadRequest(f"stage must be one of {list(STAGES)}")
    config = load_config(session)
    query = (
        select(Touchpoint)
        .join(RecordLink, RecordLink.record_id == Touchpoint.record_id)
        .where(RecordLink.profile_id == live_id)
    )
    if channel:
        query = query.where(Touchpoint.channel == channel)
    if since is not None:
        query = query.where(Touchpoint.occurred_at >= since)
    if until is not None:
        query = query.where(Touchpoint.occurred_at < until)
    attribution = _attribution(session, live_id, config)
    first_id = (attribution["first_touch"] or {}).get("id")
    last_id = (attribution["last_touch"] or {}).get("id")
    items: list[dict[str, Any]] = []
    position = _decode_cursor(cursor) if cursor else None
    more = False
    chunk = max(limit + 1, 200) if stage else limit + 1
    while True:
        page = query
        if position is not None:
            at, tid = position
            page = page.where(
                or_(
                    Touchpoint.occurred_at > at,
                    and_(Touchpoint.occurred_at == at, Touchpoint.id > tid),
                )
            )
        rows = list(
            session.execute(
                page.order_by(Touchpoint.occurred_at, Touchpoint.id).limit(chunk)
            ).scalars()
        )
        for t in rows:
            t_stage = _stage_for(config, t)
            position = (t.occurred_at, t.id)
            if stage is not None and t_stage != stage:
                continue
            if len(items) == limit:
                more = True
                break
            items.append(
                {
                    "id": t.id,
                    "occurred_at": t.occurred_at,
                    "channel": t.channel,
                    "type": t.type,
                    "event": t.name,
                    "source": t.source,
                    "campaign": t.campaign or None,
                    "properties": t.properties,
                    "stage": t_stage,
                    "first_touch": t.id == first_id,
                    "last_touch": t.id == last_id,
                }
            )
        if more or len(rows) < chunk:
            break
    next_cursor = None
    if more and items:
        next_cursor = _encode_cursor(items[-1]["occurred_at"], items[-1]["id"])
    return JourneyPage(
        profile_id=live_id, items=items, next_cursor=next_cursor, attribution=attribution
    )


def distribution(session: Session, *, by: str) -> dict[str, Any]:
    """Share of live profiles per temperature / lifecycle stage / journey stage, plus the
    activity KPI (share of customers active in the last 90 days)."""
    paths = {
        "temperature": ("temperature", "value"),
        "lifecycle": ("lifecycle", "stage"),
        "journey_stage": ("journey", "stage"),
        "churn_risk": ("churn_risk", "level"),
    }
    if by not in paths:
        raise BadRequest(f"by must be one of {sorted(paths)}")
    value = Profile.computed[paths[by][0]][paths[by][1]].astext
    live = (Profile.merged_into.is_(None), Profile.deleted.is_(False))
    rows = session.execute(
        select(value, func.count()).where(*live).group_by(value).order_by(func.count().desc())
    ).all()
    total = sum(int(n) for _, n in rows)
    customers_stages = ["active_customer", "re_acquired", "lapsing", "inactive"]
    stage = Profile.computed["lifecycle"]["stage"].astext
    customers = session.execute(
        select(func.count()).where(*live, stage.in_(customers_stages))
    ).scalar_one()
    active = session.execute(
        select(func.count()).where(
            *live,
            stage.in_(customers_stages),
            func.kindred_ts(Profile.computed["lead_score"]["last_interaction_at"].astext)
            >= func.now() - text("interval '90 days'"),
        )
    ).scalar_one()
    return {
        "by": by,
        "total": total,
        "groups": [
            {
                "value": v,
                "profiles": int(n),
                "share": round(int(n) / total, 4) if total else 0.0,
            }
            for v, n in rows
        ],
        "customer_activity": {
            "customers": int(customers),
            "active_90d": int(active),
            "share_active": round(int(active) / int(customers), 4) if customers else 0.0,
        },
    }


def explain_profile(session: Session, *, profile_id: uuid.UUID) -> dict[str, Any]:
    live_id = surviving_profile_id(session, profile_id)
    if live_id is None:
        raise NotFound(f"no profile {profile_id}")
    return explain(session, live_id)
