"""Vendor-native webhooks: ``POST /v1/webhooks/{connector}/{source}``.

``GET`` on the same URL answers the vendor's subscription check (Facebook's
``hub.challenge``, Mailchimp's validation ping). The source's write key authenticates the
caller, sent in a header where the vendor lets one be set: ``Authorization: Bearer <key>``,
HTTP Basic with the key as the username (a ``https://<key>@host/...`` URL does that), or
``X-Kindred-Key: <key>``; ``?key=<key>`` in the URL stays for vendors that allow nothing else
(it ends up in access logs: prefer a header). An unknown source and a wrong key get the same
401. A vendor signature is checked as well when the source is configured for one. A payload
refused as a whole (bad JSON, bad signature) is kept as a dead letter and counted against the
source before the error is answered.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader, HTTPBearer
from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.collector import basic_username, read_body
from api.deps import AppState, bearer_token, get_session, state, write_key_scheme
from api.errors import WEBHOOK_RESPONSES
from connectors.base import Connector, ConnectorError
from connectors.registry import connects_to, get_connector
from ingest.collect import accept_payload, record_payload_failure
from ingest.sources import SourceInfo, authenticated_source, connector_config
from kindred.errors import NotFound

KEY_HEADER = "X-Kindred-Key"

#: the ways a source key may travel, as declared in OpenAPI (``auto_error=False``: a missing or
#: wrong key is answered by :func:`ingest.sources.authenticated_source`'s one 401)
_bearer_scheme = HTTPBearer(
    scheme_name="sourceKey",
    description="The source's write key: `Authorization: Bearer <key>`",
    auto_error=False,
)
_header_scheme = APIKeyHeader(
    name=KEY_HEADER,
    scheme_name="sourceKeyHeader",
    description="The source's write key in `X-Kindred-Key`",
    auto_error=False,
)

router = APIRouter(
    prefix="/v1/webhooks",
    tags=["webhooks"],
    responses=WEBHOOK_RESPONSES,
    dependencies=[Depends(_bearer_scheme), Depends(write_key_scheme), Depends(_header_scheme)],
)


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


def source_key(request: Request, query_key: str | None) -> str | None:
    """The source key from the first place that has one: Bearer, Basic username,
    ``X-Kindred-Key``, then ``?key=``."""
    return (
        bearer_token(request)
        or basic_username(request)
        or (request.headers.get(KEY_HEADER) or "").strip()
        or query_key
    )


#: the write key in the URL, for vendors that cannot send a header
KeyQuery = Annotated[
    str | None,
    Query(
        description="the source's write key, for vendors that cannot send a header "
        "(prefer `Authorization` or `X-Kindred-Key`: URLs end up in logs)",
    ),
]


def _authorise(
    session: Session, *, connector: str, source: str, key: str | None
) -> tuple[SourceInfo, Connector]:
    impl = get_connector(connector)  # 404 for an unknown connector: the list is public
    row = authenticated_source(session, name=source, write_key=key)  # one 401 for all else
    if not connects_to(impl, row.connector):  # the caller holds the key: it may know
        raise NotFound(f"source {source!r} is a {row.connector!r} source, not {connector!r}")
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
    key: KeyQuery = None,
    session: Session = Depends(get_session),
    app: AppState = Depends(state),
) -> JSONResponse:
    body = await read_body(request)
    row, impl = await run_in_threadpool(
        _authorise, session, connector=connector, source=source, key=source_key(request, key)
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
    key: KeyQuery = None,
    session: Session = Depends(get_session),
) -> Response:
    row, impl = await run_in_threadpool(
        _authorise, session, connector=connector, source=source, key=source_key(request, key)
    )
    config = connector_config(row.config, settings=request.app.state.settings)
    reply = impl.handshake(params=dict(request.query_params), config=config)
    return Response(reply.body, status_code=reply.status_code, media_type=reply.media_type)
