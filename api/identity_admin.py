"""Identity admin: force merges and splits, follow the merge/split change feed."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, BeforeValidator, Field
from sqlalchemy.orm import Session

from api.deps import get_session, require
from api.errors import ERROR_RESPONSES
from api.validation import JSON_INT_MAX, JsonInt, StorableModel, StorableStr
from identity.batch import list_models, model_chart
from identity.overrides import RecordRef, merge_profiles, split_profile
from identity.schemas import ChangeFeed
from identity.service import change_feed, list_generic_identifiers, why_not_merged
from kindred.errors import NotFound
from kindred.security import Principal

router = APIRouter(prefix="/v1/identity", tags=["identity"], responses=ERROR_RESPONSES)


class RecordIn(StorableModel):
    id: JsonInt | None = None
    source: StorableStr | None = None
    record_key: StorableStr | None = None

    def ref(self) -> RecordRef:
        return RecordRef(id=self.id, source=self.source, record_key=self.record_key)


class MergeIn(StorableModel):
    profile_ids: list[uuid.UUID] = Field(min_length=2, max_length=50)
    reason: StorableStr | None = None


class SplitIn(StorableModel):
    profile_id: uuid.UUID
    records: list[RecordIn] = Field(min_length=1, max_length=1000)
    reason: StorableStr | None = None


class MergeOut(BaseModel):
    survivor: uuid.UUID
    merged: list[uuid.UUID]


class SplitOut(BaseModel):
    profile_id: uuid.UUID
    new_profile_id: uuid.UUID
    moved_records: list[int]


# the feed page (``ChangeFeed``) under the name the OpenAPI document has always used
class ChangesOut(ChangeFeed):
    pass


@router.post("/merge", response_model=MergeOut, summary="Force profiles together (must-link)")
def merge(
    body: MergeIn,
    session: Session = Depends(get_session),
    who: Principal = Depends(require("admin")),
) -> MergeOut:
    out = merge_profiles(session, profile_ids=body.profile_ids, reason=body.reason, actor=who.name)
    return MergeOut(survivor=out["survivor"], merged=out["merged"])


@router.post("/split", response_model=SplitOut, summary="Split records off a profile (cannot-link)")
def split(
    body: SplitIn,
    session: Session = Depends(get_session),
    who: Principal = Depends(require("admin")),
) -> SplitOut:
    out = split_profile(
        session,
        profile_id=body.profile_id,
        records=[r.ref() for r in body.records],
        reason=body.reason,
        actor=who.name,
    )
    return SplitOut(**out)


def _iso_only(value: Any) -> Any:
    """A time in a query is an ISO 8601 string (pydantic would also read ``0.5`` as a Unix
    time, which no one means)."""
    if isinstance(value, str) and not re.match(r"^\d{4}-\d{2}-\d{2}", value):
        raise ValueError("expected an ISO 8601 time such as 2026-01-31T12:00:00Z")
    return value


IsoMoment = Annotated[datetime, BeforeValidator(_iso_only)]


def _aware(moment: datetime | None) -> datetime | None:
    """A naive time is UTC (the console's date inputs have no offset)."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


@router.get(
    "/changes",
    response_model=ChangesOut,
    summary="Merges and splits with their cause and a summary in words, keyset-paged",
)
def changes(
    after: int = Query(
        0, ge=0, le=JSON_INT_MAX, description="the `next_after` of the previous page"
    ),
    before: int | None = Query(
        None,
        ge=1,
        le=JSON_INT_MAX,
        description="newest first: the `next_before` of the previous page",
    ),
    order: Literal["asc", "desc"] = Query(
        "asc", description="`asc` oldest first (a feed to follow), `desc` newest first"
    ),
    profile_id: uuid.UUID | None = Query(
        None, description="only changes touching this profile (or profiles merged into it)"
    ),
    since: IsoMoment | None = Query(
        None, description="created at or after (ISO 8601; without an offset: UTC)"
    ),
    until: IsoMoment | None = Query(
        None, description="created before (ISO 8601; without an offset: UTC)"
    ),
    limit: int = Query(100, ge=1, le=1000),
    session: Session = Depends(get_session),
    _: Principal = Depends(require("read")),
) -> ChangesOut:
    # (an empty window, ``until`` <= ``since``, is an empty page, not an error)
    since, until = _aware(since), _aware(until)
    feed = change_feed(
        session,
        after=after,
        before=before,
        limit=limit,
        profile_id=profile_id,
        since=since,
        until=until,
        newest_first=order == "desc",
    )
    return ChangesOut.model_validate(feed, from_attributes=True)


@router.get("/generic-identifiers", summary="Emails/phones found to be shared (non-linking)")
def generic_identifiers(
    session: Session = Depends(get_session),
    _: Principal = Depends(require("read")),
) -> list[dict[str, Any]]:
    return list_generic_identifiers(session, limit=1000)


@router.get("/why-not", summary="Why two profiles were not merged (reasons and a summary in words)")
def why_not(
    a: uuid.UUID,
    b: uuid.UUID,
    session: Session = Depends(get_session),
    _: Principal = Depends(require("read")),
) -> dict[str, Any]:
    try:
        return why_not_merged(session, a, b)
    except LookupError as err:
        raise NotFound(str(err)) from err


@router.get("/models", summary="Trained models: version, training report, charts")
def models(
    session: Session = Depends(get_session),
    _: Principal = Depends(require("read")),
) -> list[dict[str, Any]]:
    return list_models(session)


@router.get(
    "/models/{version}/charts/{name}",
    response_class=HTMLResponse,
    summary="A model chart (match_weights, m_u_parameters) as HTML",
)
def model_chart_page(
    version: str,
    name: str,
    session: Session = Depends(get_session),
    _: Principal = Depends(require("read")),
) -> HTMLResponse:
    html = model_chart(session, version=version, name=name)
    if html is None:
        raise NotFound(f"no chart {name!r} for model {version!r}")
    return HTMLResponse(html)
