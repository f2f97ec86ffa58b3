"""HTTP routes: segments, their members (paged or streamed), and their changes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import Field
from sqlalchemy.orm import Session

from api.deps import get_session, require, state
from api.errors import ERROR_RESPONSES
from api.validation import StorableJson, StorableModel, StorableStr
from kindred.security import Principal
from profiles.schemas import MembersOut, SegmentChangesOut, SegmentList, SegmentOut
from profiles.segments import (
    changes_since,
    create_segment,
    delete_segment,
    export_members,
    get_segment,
    list_segments,
    members_page,
    recent_changes,
    size_history,
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


class ChangesOut(SegmentChangesOut):
    # the OpenAPI name stays ``api__segments__ChangesOut`` (``api.identity_admin`` has a
    # ChangesOut too): the shape is ``profiles.schemas.SegmentChangesOut``
    pass


@router.post("", response_model=SegmentOut, status_code=201, summary="Create a segment")
def create(
    body: SegmentIn,
    compute: bool = Query(
        True, description="compute the membership now (else: estimate, the worker computes it)"
    ),
    session: Session = Depends(get_session),
    _: Principal = Depends(require("write")),
) -> SegmentOut:
    return create_segment(
        session,
        name=body.name,
        rules=body.rules,
        level=body.level,
        description=body.description,
        consent=body.consent,
        compute=compute,
    )


@router.get("", response_model=SegmentList, summary="All segments, with freshness")
def index(
    session: Session = Depends(get_session), _: Principal = Depends(require("read"))
) -> SegmentList:
    return SegmentList(segments=list_segments(session))


@router.get("/{segment_id}", response_model=SegmentOut, summary="One segment")
def read(
    segment_id: uuid.UUID,
    session: Session = Depends(get_session),
    _: Principal = Depends(require("read")),
) -> SegmentOut:
    return get_segment(session, segment_id=segment_id)


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
    q: str | None = Query(
        None, max_length=200, description="JSON pages only: name or email contains (any case)"
    ),
    session: Session = Depends(get_session),
    _: Principal = Depends(require("read")),
) -> Any:
    accept = request.headers.get("accept", "")
    fmt = format or next((f for t, f in STREAM_TYPES.items() if t in accept), None)
    if fmt is None:
        return members_page(
            session,
            segment_id=segment_id,
            limit=limit,
            cursor=cursor,
            fields=fields,
            channel=channel,
            q=q,
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
) -> SegmentChangesOut:
    return changes_since(session, segment_id=segment_id, since=since, limit=limit)


@router.get(
    "/{segment_id}/recent-changes",
    summary="Entries and exits newest first, each naming its member (paged by `before`)",
)
def recent(
    segment_id: uuid.UUID,
    before: str | None = Query(None, description="`next_before` of the previous page"),
    limit: int = Query(50, ge=1, le=500),
    session: Session = Depends(get_session),
    _: Principal = Depends(require("read")),
) -> dict[str, Any]:
    return recent_changes(session, segment_id=segment_id, before=before, limit=limit)


@router.get(
    "/{segment_id}/history",
    summary="Size over time, replayed from the change log (one point per bucket with changes)",
)
def history(
    segment_id: uuid.UUID,
    bucket: str = Query("auto", description="auto | minute | hour | day | week"),
    session: Session = Depends(get_session),
    _: Principal = Depends(require("read")),
) -> dict[str, Any]:
    return size_history(session, segment_id=segment_id, bucket=bucket)
