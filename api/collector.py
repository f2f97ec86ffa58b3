"""Segment-compatible HTTP Tracking API: /v1/batch, /v1/identify, /v1/track, ...

The write key comes as the HTTP Basic username (or ``writeKey`` in the body). The answer is
exactly HTTP 200 ``{"success": true}`` once the events are acknowledged by Kafka. Errors are
4xx JSON with Segment's top-level ``code``/``message`` next to Kindred's ``error`` object
(see ``api.errors``); SDKs retry only 429 and 5xx. Each source has a token bucket shared by
every API process (``RATE_LIMIT``, or the source config's ``rate_limit``; kindred.ratelimit):
when it is empty the answer is 429 with ``Retry-After``.
"""

from __future__ import annotations

import base64
import gzip
import time
import zlib
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.deps import AppState, get_session, state, take_token, write_key_scheme
from api.errors import COLLECTOR_RESPONSES, collector_error
from connectors.base import ConnectorError
from connectors.registry import get_connector
from connectors.web import write_key_from_body
from ingest.collect import accept_payload
from ingest.sources import SourceInfo, source_by_write_key
from kindred.errors import BadRequest, PayloadTooLarge, Unauthorized
from kindred.ratelimit import RateLimit, retry_after

router = APIRouter(prefix="/v1", tags=["collector"])

MAX_BODY = 500 * 1024  # Segment: 500 KB per batch
MAX_COMPRESSED = 2 * 1024 * 1024
_key_cache: dict[str, tuple[float, SourceInfo]] = {}
KEY_TTL = 1.0  # short: a rotated-out or removed write key stops within a second
#: default per-write-key budget: generous (a browser SDK sends a request every few seconds;
#: a server SDK batches 100-500 events per request)
RATE_LIMIT = RateLimit(rate=500.0, burst=1000.0)


async def take_source_token(request: Request, source: SourceInfo) -> float:
    """0 when the source's shared bucket gave a token, else the seconds to wait."""
    limit = RateLimit.from_config(source.config, RATE_LIMIT)
    return await take_token(request, f"source:{source.name}", limit)


async def read_body(request: Request) -> bytes:
    raw = await request.body()
    encoding = request.headers.get("content-encoding", "").lower().strip()
    if encoding in ("gzip", "x-gzip"):
        if len(raw) > MAX_COMPRESSED:
            raise PayloadTooLarge("compressed body exceeds 2 MB")
        try:
            decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
            body = decompressor.decompress(raw, MAX_BODY + 1)
        except (zlib.error, gzip.BadGzipFile) as err:
            raise BadRequest(f"body is not valid gzip: {err}") from err
    elif encoding in ("", "identity"):
        body = raw
    else:
        raise BadRequest(f"unsupported Content-Encoding {encoding!r}; send gzip or none")
    if len(body) > MAX_BODY:
        raise PayloadTooLarge("body exceeds 500 KB (Segment's batch limit); send smaller batches")
    return body


def basic_username(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip()).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    user = decoded.partition(":")[0]
    return user or None


def resolve_source(session: Session, write_key: str | None) -> SourceInfo:
    if not write_key:
        raise Unauthorized("missing write key: send it as the HTTP Basic username or `writeKey`")
    hit = _key_cache.get(write_key)
    now = time.monotonic()
    if hit and now - hit[0] < KEY_TTL:
        return hit[1]
    info = source_by_write_key(session, write_key=write_key)
    if info is None:
        raise Unauthorized("unknown write key")
    _key_cache[write_key] = (now, info)
    return info


async def _collect(
    request: Request, session: Session, app: AppState, call_type: str | None
) -> JSONResponse:
    body = await read_body(request)
    write_key = basic_username(request) or write_key_from_body(body)
    source = await run_in_threadpool(resolve_source, session, write_key)
    wait = await take_source_token(request, source)
    if wait > 0:
        return collector_error(
            429,
            "rate_limited",
            f"too many requests for this write key; retry in {wait:.1f} s",
            headers={"Retry-After": retry_after(wait)},
        )
    try:
        result = await run_in_threadpool(
            accept_payload,
            session,
            app.publisher,
            connector=get_connector("web"),
            source=source.name,
            body=body,
            content_type=request.headers.get("content-type"),
            config=source.config,
            call_type=call_type,
        )
    except ConnectorError:
        await run_in_threadpool(session.commit)  # keep the dead letter and the counter
        raise
    if call_type is not None and result.rejected and not result.accepted:
        await run_in_threadpool(session.commit)
        raise BadRequest(result.rejected[0].reason)
    content: dict[str, object] = {"success": True}
    if result.rejected:
        content["rejected"] = result.rejections_json()
    return JSONResponse(content, status_code=200)


class CollectOut(BaseModel):
    success: bool
    rejected: list[dict[str, Any]] | None = None


# What the web connector really accepts (as lenient as Segment's own collector): every field
# may be null or absent, ids may be numbers (SDKs send numeric user ids), a timestamp may be
# epoch seconds, unknown fields are kept; what a call type needs is required per type.
_NULL = {"type": "null"}
_ID = {"anyOf": [{"type": "string", "minLength": 1, "maxLength": 200}, {"type": "number"}]}
#: an optional id: an empty one counts as absent
_ANY_ID = {"anyOf": [{"type": "string", "maxLength": 200}, {"type": "number"}]}
_OBJECT = {"type": "object", "additionalProperties": True}
_TIME = {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "number"}]}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, _NULL]}


#: what every call may carry (Segment's common fields)
_COMMON: dict[str, Any] = {
    "messageId": {**_nullable({"type": "string"}), "description": "duplicates are ignored"},
    "userId": _nullable(_ANY_ID),
    "anonymousId": _nullable(_ANY_ID),
    "timestamp": _nullable(_TIME),
    "sentAt": _nullable(_TIME),
    "context": _nullable(_OBJECT),
    "traits": _nullable(_OBJECT),
    "properties": _nullable(_OBJECT),
    "name": _nullable({"type": "string"}),
    "event": _nullable({"type": "string"}),
    "groupId": _nullable(_ANY_ID),
    "previousId": _nullable(_ANY_ID),
    "category": {"description": "page/screen category"},
    "integrations": {"description": "ignored"},
    "writeKey": {"description": "the write key, instead of HTTP Basic auth"},
}
#: a call needs a userId or an anonymousId (a non-empty one)
_WHO = [
    {"required": ["userId"], "properties": {"userId": _ID}},
    {"required": ["anonymousId"], "properties": {"anonymousId": _ID}},
]
#: per call type: the fields it needs, and whether userId/anonymousId is needed
_CALLS: dict[str, tuple[dict[str, Any], bool]] = {
    "identify": ({}, True),
    "track": ({"event": {"type": "string", "minLength": 1}}, True),
    "page": ({}, True),
    "screen": ({}, True),
    "group": ({"groupId": _ID}, True),
    "alias": ({"previousId": _ID, "userId": _ID}, False),
}


def message_schema(call_type: str) -> dict[str, Any]:
    """JSON schema of one Segment call."""
    needs, who = _CALLS[call_type]
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {**_COMMON, **needs},
        "required": list(needs),
        "additionalProperties": True,
    }
    if who:
        schema["anyOf"] = _WHO
    return schema


def batch_schema() -> dict[str, Any]:
    """A batch is answered 200 with the messages it could not take listed in ``rejected``
    (Segment's semantics: one bad message does not fail the others), so its items are any
    objects here; the single-call endpoints document each call's fields."""
    return {
        "type": "object",
        "properties": {
            "batch": {
                "type": "array",
                "maxItems": 100,
                "items": {
                    "type": "object",
                    "description": "one call: "
                    + ", ".join(f"{t} (`type: {t}`)" for t in _CALLS)
                    + "; see the single-call endpoints for each one's fields",
                },
            },
            "context": _OBJECT,
            "writeKey": {"description": "the write key, instead of HTTP Basic auth"},
        },
        "required": ["batch"],
        "additionalProperties": True,
    }


def request_body(call_type: str | None) -> dict[str, Any]:
    """The OpenAPI ``requestBody``: handlers read the raw body (gzip, Segment's quirks), so
    FastAPI cannot infer it."""
    schema = batch_schema() if call_type is None else message_schema(call_type)
    return {
        "requestBody": {
            "required": True,
            "description": "JSON; `Content-Encoding: gzip` accepted; 32 KB a message, 500 KB "
            "a request",
            "content": {"application/json": {"schema": schema}},
        }
    }


def _endpoint(call_type: str | None):  # type: ignore[no-untyped-def]
    async def handler(
        request: Request,
        session: Session = Depends(get_session),
        app: AppState = Depends(state),
    ) -> JSONResponse:
        return await _collect(request, session, app, call_type)

    return handler


for _path, _type in (
    ("batch", None),
    ("identify", "identify"),
    ("track", "track"),
    ("page", "page"),
    ("screen", "screen"),
    ("group", "group"),
    ("alias", "alias"),
):
    router.add_api_route(
        f"/{_path}",
        _endpoint(_type),
        methods=["POST"],
        name=f"collect_{_path}",
        summary=f"Segment-compatible {_path} call",
        dependencies=[Depends(write_key_scheme)],
        response_model=None,
        responses={
            **COLLECTOR_RESPONSES,
            200: {"model": CollectOut, "description": "Acknowledged by Kafka"},
        },
        openapi_extra=request_body(_type),
    )
