"""Profile reads: by id (a merged id answers with the survivor), identifier, identities, journey."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.deps import get_session, require
from api.errors import ERROR_RESPONSES
from api.validation import StorableJsonObject
from kindred.errors import InvalidValue
from kindred.security import Principal
from profiles.config import load_config, save_config
from profiles.privacy import erase_profile
from profiles.schemas import (
    IdentitiesOut,
    JourneyFullOut,
    PrivacyRequestOut,
    ProfileFullList,
    ProfileFullOut,
    ProfileSegmentsOut,
)
from profiles.search import MAX_LIMIT, MAX_QUERY, SearchResults, search_profiles
from profiles.segments import profile_segments
from profiles.service import (
    distribution,
    explain_profile,
    get_identities,
    get_profile,
    journey_out,
    lookup_profiles,
)

router = APIRouter(prefix="/v1/profiles", tags=["profiles"], responses=ERROR_RESPONSES)


@router.get("/distribution", summary="Share of the base per temperature / lifecycle / stage")
def read_distribution(
    by: str = Query("temperature", description="temperature | lifecycle | journey_stage"),
    session: Session = Depends(get_session),
    _: Principal = Depends(require("read")),
) -> dict[str, Any]:
    return distribution(session, by=by)


@router.get("/config", summary="Scoring rules, source priority, deadlines and other settings")
def read_config(
    session: Session = Depends(get_session), _: Principal = Depends(require("read"))
) -> dict[str, Any]:
    return load_config(session).model_dump(mode="json")


@router.put("/config", summary="Replace whole configuration sections (validated)")
def write_config(
    # Annotated[..., Body()]: FastAPI drops the type's validators with a ``= Body()`` default
    sections: Annotated[
        StorableJsonObject, Body(description="section name -> its whole new value")
    ],
    session: Session = Depends(get_session),
    _: Principal = Depends(require("admin")),
) -> dict[str, Any]:
    return save_config(session, sections=sections).model_dump(mode="json")


@router.get(
    "/search",
    response_model=SearchResults,
    summary="Search profiles by name, email or its prefix, phone, company or any identifier",
)
def search(
    q: str = Query(
        ...,
        min_length=1,
        max_length=MAX_QUERY,
        description="free text: a (partial) name, email or prefix, phone in any format, "
        "company, or any identifier value",
    ),
    limit: int = Query(25, ge=1, le=MAX_LIMIT),
    session: Session = Depends(get_session),
    _: Principal = Depends(require("read")),
) -> SearchResults:
    return search_profiles(session, query=q, limit=limit)


@router.get("", response_model=ProfileFullList, summary="Find profiles by any identifier")
def lookup(
    identifier: str = Query(
        ...,
        description="TYPE:VALUE, e.g. email:ann@example.com",
        pattern=r"^[A-Za-z_]+:[^\u0000]+$",
    ),
    session: Session = Depends(get_session),
    _: Principal = Depends(require("read")),
) -> ProfileFullList:
    return lookup_profiles(session, identifier=identifier)


@router.get("/{profile_id:uuid}", response_model=ProfileFullOut, summary="One unified profile")
def read_profile(
    profile_id: uuid.UUID,
    session: Session = Depends(get_session),
    _: Principal = Depends(require("read")),
) -> ProfileFullOut:
    return get_profile(session, profile_id=profile_id)


@router.delete(
    # ``:uuid``: other ids fall through to ``malformed_profile_id`` (a 422)
    "/{profile_id:uuid}",
    response_model=PrivacyRequestOut,
    summary="Erase the person everywhere (the whole cluster); returns the audit row",
)
def delete_profile(
    profile_id: uuid.UUID,
    session: Session = Depends(get_session),
    principal: Principal = Depends(require("admin")),
) -> PrivacyRequestOut:
    return erase_profile(
        session,
        profile_id=profile_id,
        requested_by=f"api-key:{principal.key_id}:{principal.name}",
        api_key_id=principal.key_id,
    )


@router.get("/{profile_id:uuid}/identities", response_model=IdentitiesOut)
def read_identities(
    profile_id: uuid.UUID,
    session: Session = Depends(get_session),
    _: Principal = Depends(require("read")),
) -> IdentitiesOut:
    return get_identities(session, profile_id=profile_id)


@router.get("/{profile_id:uuid}/journey", response_model=JourneyFullOut)
def read_journey(
    profile_id: uuid.UUID,
    limit: int = Query(50, ge=1, le=500),
    cursor: str | None = None,
    channel: str | None = None,
    stage: str | None = Query(
        None, description="awareness | consideration | conversion | service | advocacy"
    ),
    since: datetime | None = Query(None, description="touchpoints at or after this time"),
    until: datetime | None = Query(None, description="touchpoints before this time"),
    order: Literal["asc", "desc"] = Query(
        "asc", description="asc: oldest first; desc: newest first (the cursor follows it)"
    ),
    session: Session = Depends(get_session),
    _: Principal = Depends(require("read")),
) -> JourneyFullOut:
    return journey_out(
        session,
        profile_id=profile_id,
        limit=limit,
        cursor=cursor,
        channel=channel,
        stage=stage,
        since=since,
        until=until,
        order=order,
    )


@router.get("/{profile_id:uuid}/segments", response_model=ProfileSegmentsOut)
def read_segments(
    profile_id: uuid.UUID,
    session: Session = Depends(get_session),
    _: Principal = Depends(require("read")),
) -> ProfileSegmentsOut:
    return profile_segments(session, profile_id=profile_id)


@router.get("/{profile_id:uuid}/explain", summary="Why these records are one person")
def read_explain(
    profile_id: uuid.UUID,
    session: Session = Depends(get_session),
    _: Principal = Depends(require("read")),
) -> dict[str, Any]:
    return explain_profile(session, profile_id=profile_id)


@router.api_route("/{profile_id}", methods=["GET", "DELETE"], include_in_schema=False)
@router.get("/{profile_id}/{part}", include_in_schema=False)
def malformed_profile_id(request: Request, profile_id: str) -> dict[str, Any]:
    """Profile ids are UUIDs (the routes above match only those, so that ``/config`` and
    ``/distribution`` keep their own methods): anything else is a 422 naming the parameter,
    and a method the literal sibling does not have is its 405. Neither says anything about
    the data, so neither needs a key."""
    if profile_id in _SIBLINGS:
        raise StarletteHTTPException(405, f"{request.method} is not allowed here")
    raise InvalidValue(f"path.profile_id: {profile_id[:60]!r} is not a profile id (a UUID)")


#: literal paths beside ``/{profile_id}``
_SIBLINGS = frozenset({"config", "distribution", "search"})
