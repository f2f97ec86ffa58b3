"""Vendor-native webhooks: ``POST /v1/webhooks/{connector}/{source}?key=WRITE_KEY``.

``GET`` on the same URL answers the vendor's subscription check (Facebook's
``hub.challenge``, Mailchimp's validation ping). The source's write key authenticates the
caller; a vendor signature is checked as well when the source is configured for one. A
payload refused as a whole (bad JSON, bad signature) is kept as a dead letter and counted
against the source before the error is answered.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.collector import read_body
from api.deps import AppState, get_session, state
from api.errors import WEBHOOK_RESPONSES
from connectors.base import Connector, ConnectorError, connects_to, get_connector
from ingest.collect import accept_payload, record_payload_failure
from ingest.sources import connector_config, source_by_name, write_key_matches
from kindred.errors import NotFound, Unauthorized
from kindred.models import Source

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"], responses=WEBHOOK_RESPONSES)


class WebhookOut(BaseModel):
    success: bool
    accepted: int
    rejected: list[dict[str, Any]] | None = None
    notes: list[Any] | None = None


#: vendor-native payloads: JSON of the vendor's own shape, or a form post (Mailchimp)
WEBHOOK_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "the vendor's payload, as the vendor sends it",
        "content": {
            "application/json": {"schema": {}},
            "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
        },
    }
}


def _authorise(
    session: Session, *, connector: str, source: str, key: str | None
) -> tuple[Source, Connector]:
    row = source_by_name(session, name=source)
    impl = get_connector(connector)
    if not connects_to(impl, row.connector):
        raise NotFound(f"source {source!r} is a {row.connector!r} source, not {connector!r}")
    if not write_key_matches(row, key):
        raise Unauthorized("missing or wrong source key: append ?key=<write key> to the URL")
    return row, impl


@router.post(
    "/{connector}/{source}",
    summary="Receive a vendor's native webhook payload",
    response_model=None,
    responses={200: {"model": WebhookOut, "description": "Payload taken"}},
    openapi_extra=WEBHOOK_BODY,
)
async def receive_webhook(
    connector: str,
    source: str,
    request: Request,
    key: str | None = Query(default=None, description="the source's write key"),
    session: Session = Depends(get_session),
    app: AppState = Depends(state),
) -> JSONResponse:
    body = await read_body(request)
    row, impl = await run_in_threadpool(
        _authorise, session, connector=connector, source=source, key=key
    )
    config = connector_config(row.config, settings=request.app.state.settings)
    content_type = request.headers.get("content-type")
    try:
        impl.verify_request(
            method=request.method,
            url=str(request.url),
            headers=dict(request.headers),
            body=body,
            config=config,
        )
    except ConnectorError as err:
        await run_in_threadpool(
            record_payload_failure,
            session,
            source=row.name,
            connector=impl.name,
            reason=err.message,
            body=body,
            content_type=content_type,
        )
        await run_in_threadpool(session.commit)
        raise
    try:
        result = await run_in_threadpool(
            accept_payload,
            session,
            app.publisher,
            connector=impl,
            source=row.name,
            body=body,
            content_type=content_type,
            config=config,
        )
    except ConnectorError:
        await run_in_threadpool(session.commit)  # keep the dead letter and the counter
        raise
    content: dict[str, object] = {"success": True, "accepted": result.accepted}
    if result.rejected:
        content["rejected"] = result.rejections_json()
    if result.notes:
        content["notes"] = result.notes
    return JSONResponse(content, status_code=200)


@router.get(
    "/{connector}/{source}",
    summary="Answer a vendor's webhook verification (Facebook hub.challenge, Mailchimp ping)",
    response_class=Response,
)
async def verify_webhook(
    connector: str,
    source: str,
    request: Request,
    key: str | None = Query(default=None, description="the source's write key"),
    session: Session = Depends(get_session),
) -> Response:
    row, impl = await run_in_threadpool(
        _authorise, session, connector=connector, source=source, key=key
    )
    config = connector_config(row.config, settings=request.app.state.settings)
    reply = impl.handshake(params=dict(request.query_params), config=config)
    return Response(reply.body, status_code=reply.status_code, media_type=reply.media_type)
