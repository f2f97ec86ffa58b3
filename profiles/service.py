"""Profile reads: golden record with provenance, identities, account, journey.

Golden record (first cut): for each trait, the latest non-empty value across the profile's
source records, with the source, record and time it came from. Source priority comes with the
profiles issue; the provenance needed for it is already kept per trait.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from identity.service import (
    explain,
    identities_of,
    profiles_by_identifier,
    surviving_profile_id,
)
from kindred.errors import BadRequest, NotFound
from kindred.models import Account, AccountKey, Profile, RecordLink, SourceRecord, Touchpoint

#: source-specific trait names folded into one canonical name
CANONICAL_TRAITS = {
    "e-mail": "email",
    "email_address": "email",
    "emailaddress": "email",
    "mail": "email",
    "firstname": "first_name",
    "first name": "first_name",
    "lastname": "last_name",
    "last name": "last_name",
    "phone_number": "phone",
    "phonenumber": "phone",
    "mobile": "phone",
    "title": "job_title",
    "jobtitle": "job_title",
    "company_name": "company",
    "companyname": "company",
}


def canonical_trait(name: str) -> str:
    key = name.strip().lower()
    squashed = "".join(ch for ch in key if ch.isalnum())
    if key in CANONICAL_TRAITS:
        return CANONICAL_TRAITS[key]
    if squashed in CANONICAL_TRAITS:
        return CANONICAL_TRAITS[squashed]
    return "_".join(key.replace("-", " ").split())


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


def golden_record(records: list[SourceRecord]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    traits: dict[str, Any] = {}
    provenance: dict[str, dict[str, Any]] = {}
    for rec in records:
        for name, value in (rec.traits or {}).items():
            if value is None or value == "":
                continue
            canonical = canonical_trait(name)
            at = str((rec.trait_meta or {}).get(name, {}).get("at", rec.last_seen.isoformat()))
            current = provenance.get(canonical)
            if current is None or at > current["at"]:
                traits[canonical] = value
                provenance[canonical] = {
                    "source": rec.source,
                    "record_key": rec.record_key,
                    "at": at,
                    "original_name": name,
                }
    return traits, provenance


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
    traits, provenance = golden_record(records)
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
            return {
                "id": str(account.id),
                "name": account.name,
                "domain": account.domain,
                "traits": account.traits,
                "via": {"source": rec.source, "key": rec.account_key},
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


def get_journey(
    session: Session,
    *,
    profile_id: uuid.UUID,
    limit: int = 50,
    cursor: str | None = None,
    channel: str | None = None,
) -> JourneyPage:
    """Touchpoints of every record of the profile, oldest first, keyset-paginated."""
    live_id = surviving_profile_id(session, profile_id)
    if live_id is None:
        raise NotFound(f"no profile {profile_id}")
    query = (
        select(Touchpoint)
        .join(RecordLink, RecordLink.record_id == Touchpoint.record_id)
        .where(RecordLink.profile_id == live_id)
    )
    if channel:
        query = query.where(Touchpoint.channel == channel)
    if cursor:
        at, tid = _decode_cursor(cursor)
        query = query.where(
            or_(
                Touchpoint.occurred_at > at, and_(Touchpoint.occurred_at == at, Touchpoint.id > tid)
            )
        )
    rows = list(
        session.execute(
            query.order_by(Touchpoint.occurred_at, Touchpoint.id).limit(limit + 1)
        ).scalars()
    )
    more = len(rows) > limit
    rows = rows[:limit]
    items = [
        {
            "id": t.id,
            "occurred_at": t.occurred_at,
            "channel": t.channel,
            "type": t.type,
            "event": t.name,
            "source": t.source,
            "campaign": t.campaign or None,
            "properties": t.properties,
        }
        for t in rows
    ]
    next_cursor = _encode_cursor(rows[-1].occurred_at, rows[-1].id) if more and rows else None
    return JourneyPage(profile_id=live_id, items=items, next_cursor=next_cursor)


def explain_profile(session: Session, *, profile_id: uuid.UUID) -> dict[str, Any]:
    live_id = surviving_profile_id(session, profile_id)
    if live_id is None:
        raise NotFound(f"no profile {profile_id}")
    return explain(session, live_id)
