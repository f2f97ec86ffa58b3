"""Browser-facing HTTP: CORS and the security headers every response carries.

Collector and tracker paths (``api.errors.COLLECTOR_PATHS``: ``/v1/batch`` ... ``/v1/import``,
``/v1/pixel.gif``, ``/v1/kindred.js``) are meant to be called from other sites' pages:

- a preflight (``OPTIONS``) is answered ``204`` for ANY origin, with the methods, the request
  headers an SDK sends (``Content-Type``, ``Authorization``, ``Content-Encoding``) and
  ``Access-Control-Max-Age``. A preflight carries no credentials, so it cannot know the source;
- the actual request is checked against its source's ``allowed_origins`` (source config: a
  list or comma-separated origins, ``*`` = any; absent = any, since a write key is public by
  design) by :func:`check_source_origin`, which refuses another origin with a 403 JSON error;
- ``Access-Control-Allow-Credentials`` is never sent: cookies never authenticate here.

The read/admin API sends no CORS headers at all unless ``KINDRED_CORS_ORIGINS`` lists origins
(or ``*``); the console (``/ui/``) is same-origin and needs none.

Every response gets ``X-Content-Type-Options: nosniff``; JSON (and the NDJSON/CSV/text exports
and metrics) also ``Cache-Control: no-store`` unless the route set its own (the console's
pages, the snippet's ``public, max-age=300`` and the pixel's headers stay as they are).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.collector import basic_username, read_body, resolve_source
from api.deps import get_session
from api.errors import is_collector_path
from connectors.web import write_key_from_body
from kindred.errors import Forbidden

#: what a browser SDK sends on a cross-origin call (wildcards do not cover Authorization)
COLLECTOR_ALLOW_HEADERS = "Content-Type, Authorization, Content-Encoding"
API_ALLOW_HEADERS = "Authorization, Content-Type, Accept"
API_ALLOW_METHODS = "GET, POST, PUT, PATCH, DELETE"
#: seconds a browser may cache a preflight (Chromium caps it at 7200)
MAX_AGE = "7200"
#: paths the tracker loads with GET; every other collector path takes POST
_GET_PATHS = frozenset({"/v1/pixel.gif", "/v1/kindred.js"})
#: response types that get ``Cache-Control: no-store`` when the route set none
_NO_STORE_TYPES = ("application/json", "application/x-ndjson", "text/csv", "text/plain")


def normalise_origin(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


def origins(value: Any) -> frozenset[str] | None:
    """A list of allowed origins from config (list or comma-separated); None means any."""
    items: Iterable[Any]
    if value is None or value == "":
        return None
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple | set | frozenset):
        return None
    allowed = frozenset(normalise_origin(str(item)) for item in items if str(item).strip())
    return None if not allowed or "*" in allowed else allowed


def origin_allowed(origin: str, allowed: frozenset[str] | None) -> bool:
    return allowed is None or normalise_origin(origin) in allowed


async def check_source_origin(request: Request, session: Session = Depends(get_session)) -> None:
    """Refuse (403) a browser call whose ``Origin`` is not in its source's ``allowed_origins``.

    Runs before the collector's handler, on the same request and session: the body read here
    is cached for the handler. No ``Origin`` (a server-side SDK) or no key (the handler answers
    its own 401) is not this check's business."""
    origin = request.headers.get("origin")
    if not origin:
        return
    key = basic_username(request) or request.query_params.get("k")
    if not key and request.method == "POST":
        key = write_key_from_body(await read_body(request))
    if not key:
        return
    source = await run_in_threadpool(resolve_source, session, key)
    if not origin_allowed(origin, origins(source.config.get("allowed_origins"))):
        raise Forbidden(
            f"origin {origin!r} is not allowed for this source; add it to the source's "
            "`allowed_origins`"
        )


class BrowserHeaders:
    """ASGI middleware: CORS (preflights and response headers) and the security headers."""

    def __init__(self, app: ASGIApp, *, cors_origins: Iterable[str] = ()) -> None:
        self.app = app
        configured = {normalise_origin(o) for o in cors_origins if o.strip()}
        self.api_any = "*" in configured
        self.api_origins = frozenset(configured - {"*"})

    def _api_allows(self, origin: str | None) -> bool:
        return bool(origin) and (self.api_any or normalise_origin(origin or "") in self.api_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_headers = Headers(scope=scope)
        origin = request_headers.get("origin")
        path = str(scope["path"])
        collector = is_collector_path(path)
        api_cors = not collector and self._api_allows(origin)
        if scope["method"] == "OPTIONS" and (
            collector or (api_cors and "access-control-request-method" in request_headers)
        ):
            await self._preflight(send, path=path, origin=origin, collector=collector)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                _security_headers(headers)
                if collector:
                    headers.add_vary_header("Origin")
                    if origin:
                        headers["Access-Control-Allow-Origin"] = origin
                        headers["Access-Control-Expose-Headers"] = "Retry-After"
                elif api_cors:
                    headers.add_vary_header("Origin")
                    headers["Access-Control-Allow-Origin"] = "*" if self.api_any else str(origin)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _preflight(
        self, send: Send, *, path: str, origin: str | None, collector: bool
    ) -> None:
        if collector:
            methods = "GET, HEAD, OPTIONS" if path.rstrip("/") in _GET_PATHS else "POST, OPTIONS"
            allow_headers = COLLECTOR_ALLOW_HEADERS
            allow_origin = origin or "*"
        else:
            methods, allow_headers = API_ALLOW_METHODS, API_ALLOW_HEADERS
            allow_origin = "*" if self.api_any else str(origin)
        headers = MutableHeaders(
            {
                "Access-Control-Allow-Origin": allow_origin,
                "Access-Control-Allow-Methods": methods,
                "Access-Control-Allow-Headers": allow_headers,
                "Access-Control-Max-Age": MAX_AGE,
                "Allow": methods,
                "Vary": "Origin",
            }
        )
        _security_headers(headers)
        await send({"type": "http.response.start", "status": 204, "headers": headers.raw})
        await send({"type": "http.response.body", "body": b""})


def _security_headers(headers: MutableHeaders) -> None:
    headers.setdefault("X-Content-Type-Options", "nosniff")
    media_type = headers.get("content-type", "").partition(";")[0].strip().lower()
    if "cache-control" not in headers and (
        media_type in _NO_STORE_TYPES or media_type.endswith("+json") or not media_type
    ):
        headers["Cache-Control"] = "no-store"
