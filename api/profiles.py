"""Profile reads: by id (a merged id answers with the survivor), identifier, identities, journey."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from api.deps import get_session, require
from api.errors import ERROR_RESPONSES
from api.schemas import (
    IdentitiesOut,
    IdentityOut,
    JourneyOut,
    ProfileList,
    ProfileOut,
    TouchpointOut,
)
from kindred.security import Principal
from profiles.service import (
    ProfileView,
    explain_profile,
    find_profiles,
    get_identities,
    get_journey,
    get_profile,
)

router = APIRouter(prefix="/v1/profiles", tags=["profiles"], responses=ERROR_RESPONSES)


def _out(view: ProfileView) -> ProfileOut:
    return ProfileOut(
        id=view.id,
        requested_id=view.requested_id,
        merged=view.merged,
        merged_into=view.id if view.merged else None,
        created_at=view.created_at,
        updated_at=view.updated_at,
        first_seen=view.first_seen,
        last_seen=view.last_seen,
        traits=view.traits,
        provenance=view.provenance,
        sources=view.sources,
        account=view.account,
    )


@router.get("", response_model=ProfileList, summary="Find profiles by any identifier")
def lookup(
    identifier: str = Query(..., description="TYPE:VALUE, e.g. email:ann@example.com"),
    session: Session = Depends(get_session),
    _: Principal = Depends(require("read")),
) -> ProfileList:
    ids = find_profiles(session, identifier=identifier)
    return ProfileList(
        identifier=identifier, profiles=[_out(get_profile(session, profile_id=i)) for i in ids]
    )


@router.get("/{profile_id}", response_model=ProfileOut, summary="One unified profile")
def read_profile(
    profile_id: uuid.UUID,
    session: Session = Depends(get_session),
    _: Principal = Depends(require("read")),
) -> ProfileOut:
    return _out(get_profile(session, profile_id=profile_id))


@router.get("/{profile_id}/identities", response_model=IdentitiesOut)
def read_identities(
    profile_id: uuid.UUID,
    session: Session = Depends(get_session),
    _: Principal = Depends(require("read")),
) -> IdentitiesOut:
    live, items = get_identities(session, profile_id=profile_id)
    return IdentitiesOut(profile_id=live, identities=[IdentityOut(**i) for i in items])


@router.get("/{profile_id}/journey", response_model=JourneyOut)
def read_journey(
    profile_id: uuid.UUID,
    limit: int = Query(50, ge=1, le=500),
    cursor: str | None = None,
    channel: str | None = None,
    session: Session = Depends(get_session),
    _: Principal = Depends(require("read")),
) -> JourneyOut:
    page = get_journey(session, profile_id=profile_id, limit=limit, cursor=cursor, channel=channel)
    return JourneyOut(
        profile_id=page.profile_id,
        items=[TouchpointOut(**i) for i in page.items],
        next_cursor=page.next_cursor,
    )


@router.get("/{profile_id}/explain", summary="Why these records are one person")
def read_explain(
    profile_id: uuid.UUID,
    session: Session = Depends(get_session),
    _: Principal = Depends(require("read")),
) -> dict[str, Any]:
    return explain_profile(session, profile_id=profile_id)
