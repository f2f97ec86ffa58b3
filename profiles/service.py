"""Profile reads: golden record with provenance, identities, account, journey.

Golden record (first cut): for each trait, the latest non-empty value across the profile's
source records, with the source, record and time it came from. Source priority comes with the
profiles issue; the provenance needed for it is already kept per trait.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from identity.service import (
    explain,
    identities_of,
    profiles_by_identifier,
    surviving_profile_id,
)
from kindred.errors import BadRequest, NotFound
from kindred.models import Profile, SourceRecord, Touchpoint
from profiles import cursor as cursors
from profiles import repository as repo
from profiles.computed import TP, stage_of
from profiles.config import STAGES, ProfilesConfig, load_config
from profiles.schemas import IdentitiesOut, JourneyFullOut, ProfileFullList, ProfileFullOut
from profiles.traits import RecordTraits
from profiles.traits import golden_record as traits_golden_record


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


def get_profile(session: Session, *, profile_id: uuid.UUID) -> ProfileFullOut:
    live_id = surviving_profile_id(session, profile_id)
    if live_id is None:
        raise NotFound(f"no profile {profile_id}")
    profile = session.get(Profile, live_id)
    if profile is None or profile.deleted:
        raise NotFound(f"no profile {profile_id}")
    records = repo.live_records(session, profile_id=live_id)
    traits, provenance = golden_record(records, config=load_config(session))
    merged = live_id != profile_id
    return ProfileFullOut(
        id=live_id,
        requested_id=profile_id,
        merged=merged,
        merged_into=live_id if merged else None,
        created_at=profile.created_at,
        updated_at=profile.updated_at,
        first_seen=min((r.first_seen for r in records), default=None),
        last_seen=max((r.last_seen for r in records), default=None),
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
        account=_account_of(session, profile, records),
        computed=profile.computed or {},
        computed_at=profile.computed_at,
        stale=profile.stale,
    )


def _account_of(
    session: Session, profile: Profile, records: list[SourceRecord]
) -> dict[str, Any] | None:
    """The account identity linked the profile to (``profiles.account_id``). ``via``: the
    latest record whose account key is the account's, else the link's rule and evidence."""
    if profile.account_id is None:
        return None
    found = repo.account_of(session, account_id=profile.account_id)
    if found is None:
        return None
    account, rollup = found
    keyed = sorted(
        (r for r in records if r.account_key),
        key=lambda r: str((r.trait_meta or {}).get("__account__", {}).get("at", "")),
        reverse=True,
    )
    own = repo.keys_of_account(
        session, account_id=account.id, keys=sorted({str(r.account_key) for r in keyed})
    )
    rec = next((r for r in keyed if r.account_key in own), None)
    if rec is not None:
        via: dict[str, Any] = {"source": rec.source, "key": rec.account_key}
    else:
        link = repo.account_link(session, profile_id=profile.id)
        via = {"rule": link.rule, "evidence": link.evidence} if link is not None else {}
    return {
        "id": str(account.id),
        "name": account.name,
        "domain": account.domain,
        "traits": account.traits,
        "via": via,
        "computed": rollup.computed if rollup is not None else None,
    }


def find_profiles(session: Session, *, identifier: str) -> list[uuid.UUID]:
    kind, sep, value = identifier.partition(":")
    if not sep or not kind or not value:
        raise BadRequest(
            "identifier must look like TYPE:VALUE, e.g. email:ann@example.com or user_id:42"
        )
    return profiles_by_identifier(session, kind=kind, value=value)


def lookup_profiles(session: Session, *, identifier: str) -> ProfileFullList:
    """Every profile holding ``identifier`` (TYPE:VALUE), each in full."""
    ids = find_profiles(session, identifier=identifier)
    return ProfileFullList(
        identifier=identifier, profiles=[get_profile(session, profile_id=i) for i in ids]
    )


def get_identities(session: Session, *, profile_id: uuid.UUID) -> IdentitiesOut:
    live_id = surviving_profile_id(session, profile_id)
    if live_id is None:
        raise NotFound(f"no profile {profile_id}")
    observed = repo.identifiers_first_observed(session, profile_id=live_id)
    identities = [
        {**item, "first_observed": observed.get((item["type"], item["value"]))}
        for item in identities_of(session, live_id)
    ]
    return IdentitiesOut.model_validate({"profile_id": live_id, "identities": identities})


# --------------------------------------------------------------------------- journey


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
    attributed = [
        t for t in repo.campaign_touchpoints(session, profile_id=live_id) if _attributed(t.campaign)
    ]
    if not attributed:
        return {"first_touch": None, "last_touch": None, "converted_at": None}
    conversion = repo.first_event_at(
        session, profile_id=live_id, events=config.lifecycle.purchase.event or []
    )
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
    order: str = "asc",
) -> JourneyPage:
    """Touchpoints of every record of the profile, oldest first (``order="desc"``: newest
    first), keyset-paginated in that order, each with its journey stage and first/last-touch
    marks; filters by channel, stage and time."""
    live_id = surviving_profile_id(session, profile_id)
    if live_id is None:
        raise NotFound(f"no profile {profile_id}")
    if stage is not None and stage not in STAGES:
        raise BadRequest(f"stage must be one of {list(STAGES)}")
    if order not in ("asc", "desc"):
        raise BadRequest("order must be asc (oldest first) or desc (newest first)")
    config = load_config(session)
    attribution = _attribution(session, live_id, config)
    first_id = (attribution["first_touch"] or {}).get("id")
    last_id = (attribution["last_touch"] or {}).get("id")
    items: list[dict[str, Any]] = []
    position = cursors.decode_position(cursor) if cursor else None
    more = False
    chunk = max(limit + 1, 200) if stage else limit + 1
    while True:
        rows = repo.touchpoints_after(
            session,
            profile_id=live_id,
            after=position,
            limit=chunk,
            channel=channel,
            since=since,
            until=until,
            newest_first=order == "desc",
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
        next_cursor = cursors.encode_position(items[-1]["occurred_at"], items[-1]["id"])
    return JourneyPage(
        profile_id=live_id, items=items, next_cursor=next_cursor, attribution=attribution
    )


def journey_out(session: Session, *, profile_id: uuid.UUID, **filters: Any) -> JourneyFullOut:
    """``get_journey`` as the API's response shape (the items validated as touchpoints)."""
    return JourneyFullOut.model_validate(
        asdict(get_journey(session, profile_id=profile_id, **filters))
    )


DISTRIBUTIONS = {
    "temperature": ("temperature", "value"),
    "lifecycle": ("lifecycle", "stage"),
    "journey_stage": ("journey", "stage"),
    "churn_risk": ("churn_risk", "level"),
}


def distribution(session: Session, *, by: str) -> dict[str, Any]:
    """Share of live profiles per temperature / lifecycle stage / journey stage, plus the
    activity KPI (share of customers active in the last 90 days)."""
    if by not in DISTRIBUTIONS:
        raise BadRequest(f"by must be one of {sorted(DISTRIBUTIONS)}")
    section, key = DISTRIBUTIONS[by]
    rows = repo.count_by(session, section=section, key=key)
    total = sum(n for _, n in rows)
    customers, active = repo.customer_activity(session, days=90)
    return {
        "by": by,
        "total": total,
        "groups": [
            {
                "value": v,
                "profiles": n,
                "share": round(n / total, 4) if total else 0.0,
            }
            for v, n in rows
        ],
        "customer_activity": {
            "customers": customers,
            "active_90d": active,
            "share_active": round(active / customers, 4) if customers else 0.0,
        },
    }


def explain_profile(session: Session, *, profile_id: uuid.UUID) -> dict[str, Any]:
    live_id = surviving_profile_id(session, profile_id)
    if live_id is None:
        raise NotFound(f"no profile {profile_id}")
    return explain(session, live_id)
