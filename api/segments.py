"""HTTP routes: segments, their members (paged or streamed), and their changes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from api.deps import get_session, require, state
from api.errors import ERROR_RESPONSES
from api.validation import StorableJson, StorableModel, StorableStr
from kindred.security import Principal
from profiles.segments import (
    SegmentView,
    changes_since,
    create_segment,
    delete_segment,
    export_members,
    get_segment,
    list_segments,
    members_page,
)

router = APIRouter(prefix="/v1/segments", tags=["segments"], responses=ERROR_RESPONSES)

STREAM_TYPES = {"text/csv": "csv", "application/x-ndjson": "ndjson"}


class SegmentIn(StorableModel):
    name: StorableStr = Field(..., min_length=1, max_length=300, description="unique name")
    rules: StorableJson = Field(
        ..., description="a rule of the JSON rule language (docs/segments.md)"
    )
    level: StorableStr = Field("person", description="person | account")
    description: StorableStr | None = None
    consent: StorableStr | None = Field(
        None, description="email | sms | ads: members must consent to this channel"
    )


class SegmentOut(BaseModel):
    id: uuid.UUID
    name: str
    description: str | None
    level: str
    rules: dict[str, Any]
    consent: str | None
    time_based: bool
    member_count: int
    estimated_size: int | None = None
    computed_at: datetime | None
    incremental_at: datetime | None
    created_at: datetime
    updated_at: datetime
    pending_profiles: int
    lag_seconds: float | None
    freshness: dict[str, Any]


class SegmentList(BaseModel):
    segments: list[SegmentOut]


class MembersOut(BaseModel):
    segment_id: uuid.UUID
    member_kind: str
    computed_at: datetime | None
    lag_seconds: float | None
    items: list[dict[str, Any]]
    next_cursor: str | None


class ChangesOut(BaseModel):
    segment_id: uuid.UUID
    items: list[dict[str, Any]]
    next_cursor: str
    has_more: bool


def _out(view: SegmentView) -> SegmentOut:
    return SegmentOut(
        id=view.id,
        name=view.name,
        description=view.description,
        level=view.level,
        rules=view.rules,
        consent=view.consent,
        time_based=view.time_based,
        member_count=view.member_count,
        estimated_size=view.estimated_size,
        computed_at=view.computed_at,
        incremental_at=view.incremental_at,
        created_at=view.created_at,
        updated_at=view.updated_at,
        pending_profiles=view.pending_profiles,
        lag_seconds=view.lag_seconds,
        freshness=view.freshness,
    )


@router.post("", response_model=SegmentOut, status_code=201, summary="Create a segment")
def create(
    body: SegmentIn,
    compute: bool = Query(
        True, description="compute the membership now (else: estimate, the worker computes it)"
    ),
    session: Session = Depends(get_session),
    _: Principal = Depends(require("write")),
) -> SegmentOut:
    return _out(
        create_segment(
            session,
            name=body.name,
            rules=body.rules,
            level=body.level,
            description=body.description,
            consent=body.consent,
            compute=compute,
        )
    )


@router.get("", response_model=SegmentList, summary="All segments, with freshness")
def index(
    session: Session = Depends(get_session), _: Principal = Depends(require("read"))
) -> SegmentList:
    return SegmentList(segments=[_out(v) for v in list_segments(session)])


@router.get("/{segment_id}", response_model=SegmentOut, summary="One segment")
def read(
    segment_id: uuid.UUID,
    session: Session = Depends(get_session),
    _: Principal = Depends(require("read")),
) -> SegmentOut:
    return _out(get_segment(session, segment_id=segment_id))


@router.delete("/{segment_id}", status_code=204, summary="Delete a segment")
def delete(
    segment_id: uuid.UUID,
    session: Session = Depends(get_session),
    _: Principal = Depends(require("write")),
) -> Response:
    delete_segment(session, segment_id=segment_id)
    return Response(status_code=204)


@router.get(
    "/{segment_id}/members",
    response_model=MembersOut,
    summary="Members: JSON pages (cursor), or the whole list as text/csv or application/x-ndjson",
    responses={
        200: {
            "content": {
                "text/csv": {},
                "application/x-ndjson": {},
            }
        }
    },
)
def members(
    request: Request,
    segment_id: uuid.UUID,
    limit: int = Query(100, ge=1, le=1000),
    cursor: str | None = None,
    fields: str | None = Query(
        None, description="comma-separated: email, computed.lead_score.score, account.name, ..."
    ),
    channel: str | None = Query(
        None, description="email | sms | ads: only members who consent to this channel"
    ),
    format: str | None = Query(None, description="csv | ndjson (instead of the Accept header)"),
    session: Session = Depends(get_session),
    _: Principal = Depends(require("read")),
) -> Any:
    accept = request.headers.get("accept", "")
    fmt = format or next((f for t, f in STREAM_TYPES.items() if t in accept), None)
    if fmt is None:
        page = members_page(
            session,
            segment_id=segment_id,
            limit=limit,
            cursor=cursor,
            fields=fields,
            channel=channel,
        )
        return MembersOut(
            segment_id=page.segment.id,
            member_kind=page.member_kind,
            computed_at=page.segment.computed_at,
            lag_seconds=page.segment.lag_seconds,
            items=page.items,
            next_cursor=page.next_cursor,
        )
    # the stream outlives the request's session: it reads in a session of its own, in one
    # snapshot (COPY), validated before the first byte is sent
    own = state(request).sessions()
    try:
        chunks = export_members(own, segment_id=segment_id, fmt=fmt, fields=fields, channel=channel)
    except BaseException:
        own.close()
        raise

    def body() -> Iterator[bytes]:
        try:
            yield from chunks
            own.commit()
        finally:
            own.close()

    media = "text/csv" if fmt == "csv" else "application/x-ndjson"
    return StreamingResponse(
        body(),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="segment-{segment_id}.{fmt}"'},
    )


@router.get(
    "/{segment_id}/changes",
    response_model=ChangesOut,
    summary="Entries and exits since a cursor (incremental syncs)",
)
def changes(
    segment_id: uuid.UUID,
    since: str | None = Query(None, description="next_cursor of the previous call"),
    limit: int = Query(1000, ge=1, le=10000),
    session: Session = Depends(get_session),
    _: Principal = Depends(require("read")),
) -> ChangesOut:
    page = changes_since(session, segment_id=segment_id, since=since, limit=limit)
    return ChangesOut(
        segment_id=page.segment_id,
        items=page.items,
        next_cursor=page.next_cursor,
        has_more=page.has_more,
    )
