"""First-party tracking: the browser snippet (``/v1/kindred.js``) and the email-open pixel.

``GET /v1/pixel.gif?k=<write key>&e=<email>&c=<campaign>`` records an "Email Opened" track
(channel email, ``recordKey = "email:<address>"``, as the SendGrid connector keys it) and
answers a 1x1 transparent GIF that no cache keeps. Bad input answers a JSON 4xx with the
collector error shape (a mail client shows nothing either way; the sender's logs do).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.collector import resolve_source, take_source_token
from api.deps import AppState, get_session, state
from api.errors import COLLECTOR_RESPONSES, collector_error, responses
from connectors.email import pixel_open_event
from ingest.collect import accept_events
from kindred.ratelimit import retry_after

router = APIRouter(prefix="/v1", tags=["tracking"])

GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_CACHE = {"Cache-Control": "no-store, no-cache, must-revalidate, max-age=0", "Pragma": "no-cache"}
SNIPPET = Path(__file__).parent / "static" / "kindred.js"


@lru_cache(maxsize=1)
def _snippet() -> bytes:
    return SNIPPET.read_bytes()


@router.get(
    "/kindred.js",
    summary="First-party browser snippet: page/identify/track to /v1/batch",
    response_class=Response,
    responses={
        200: {"content": {"application/javascript": {}}, "description": "The snippet"},
        **responses(422),
    },
)
def kindred_js() -> Response:
    return Response(
        _snippet(),
        media_type="application/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=300"},
    )


@router.get(
    "/pixel.gif",
    summary="Email-open pixel: records an 'Email Opened' event, answers a 1x1 GIF",
    response_class=Response,
    responses={
        200: {"content": {"image/gif": {}}, "description": "A 1x1 transparent GIF"},
        **COLLECTOR_RESPONSES,
    },
)
async def open_pixel(
    request: Request,
    k: str = Query(..., description="the source's write key"),
    e: str = Query(..., description="the recipient's email address"),
    c: str | None = Query(default=None, description="the campaign (name or id)"),
    session: Session = Depends(get_session),
    app: AppState = Depends(state),
) -> Response:
    source = await run_in_threadpool(resolve_source, session, k)
    wait = await take_source_token(request, source)
    if wait > 0:
        return collector_error(
            429,
            "rate_limited",
            "too many requests for this write key",
            headers={"Retry-After": retry_after(wait)},
        )
    event = pixel_open_event(
        source=source.name,
        email=e,
        campaign=c,
        received_at=datetime.now(UTC),
        user_agent=request.headers.get("user-agent"),
        ip=request.client.host if request.client else None,
    )
    await run_in_threadpool(accept_events, app.publisher, events=[event])
    return Response(GIF, media_type="image/gif", headers=NO_CACHE)
