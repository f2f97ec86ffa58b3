"""Vendor-native webhooks: ``POST /v1/webhooks/{connector}/{source}?key=WRITE_KEY``."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.collector import read_body
from api.deps import AppState, get_session, state
from connectors.base import get_connector
from ingest.collect import accept_payload
from ingest.sources import source_by_name
from kindred.errors import NotFound, Unauthorized
from kindred.security import hash_secret

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


@router.post("/{connector}/{source}", summary="Receive a vendor's native webhook payload")
async def receive_webhook(
    connector: str,
    source: str,
    request: Request,
    key: str | None = Query(default=None, description="the source's write key"),
    session: Session = Depends(get_session),
    app: AppState = Depends(state),
) -> JSONResponse:
    body = await read_body(request)
    row = await run_in_threadpool(source_by_name, session, name=source)
    impl = get_connector(connector)
    if get_connector(row.connector).name != impl.name:
        raise NotFound(f"source {source!r} is a {row.connector!r} source, not {connector!r}")
    if not key or not hmac.compare_digest(hash_secret(key), row.write_key_hash):
        raise Unauthorized("missing or wrong source key: append ?key=<write key> to the URL")
    impl.verify(headers=dict(request.headers), body=body, config=row.config or {})
    result = await run_in_threadpool(
        accept_payload,
        session,
        app.publisher,
        connector=impl,
        source=row.name,
        body=body,
        content_type=request.headers.get("content-type"),
        config=row.config or {},
    )
    content: dict[str, object] = {"success": True, "accepted": result.accepted}
    if result.rejected:
        content["rejected"] = result.rejections_json()
    return JSONResponse(content, status_code=200)
