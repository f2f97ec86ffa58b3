"""One handler renders every error as ``{"error": {"code", "message"}}``; never a trace.

Collector endpoints (the Segment HTTP Tracking API paths, ``/v1/batch`` ... ``/v1/alias``,
plus ``/v1/pixel.gif`` and ``/v1/kindred.js``) also carry Segment's shape, top-level
``"code"`` and ``"message"``, so Segment/RudderStack SDKs log the reason; both shapes are in
one body: ``{"code": ..., "message": ..., "error": {"code": ..., "message": ...}}``.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from connectors.base import ConnectorError
from kindred.errors import KindredError
from kindred.kafka import BrokerUnavailable

log = logging.getLogger(__name__)


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    err: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        err["details"] = details
    return {"error": err}


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


#: paths that speak Segment's error shape as well as Kindred's
COLLECTOR_PATHS = frozenset(
    f"/v1/{name}"
    for name in (
        "batch",
        "identify",
        "track",
        "page",
        "screen",
        "group",
        "alias",
        "import",
        "pixel.gif",
        "kindred.js",
    )
)


def is_collector_path(path: str) -> bool:
    return path.rstrip("/") in COLLECTOR_PATHS


def collector_error(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """Kindred's error object plus Segment's top-level ``code``/``message``."""
    body = {"code": code, "message": message, **error_body(code, message, details)}
    return JSONResponse(body, status_code=status, headers=headers)


def _respond(
    request: Request,
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    render = collector_error if is_collector_path(request.url.path) else error_response
    return render(status, code, message, details, headers)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {
        "description": desc,
        "content": {
            "application/json": {
                "example": {"error": {"code": code, "message": "what went wrong and how to fix it"}}
            }
        },
    }
    for status, code, desc in (
        (400, "bad_request", "Malformed request"),
        (401, "unauthorized", "Missing or unknown key"),
        (403, "forbidden", "Key lacks the scope"),
        (404, "not_found", "No such resource"),
        (422, "validation_error", "Invalid parameters"),
    )
}


def install(app: FastAPI) -> None:
    @app.exception_handler(KindredError)
    async def _kindred(request: Request, exc: KindredError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return _respond(request, exc.status_code, exc.code, exc.message, exc.details, headers)

    @app.exception_handler(ConnectorError)
    async def _connector(request: Request, exc: ConnectorError) -> JSONResponse:
        return _respond(request, exc.status_code, exc.code, exc.message)

    @app.exception_handler(BrokerUnavailable)
    async def _broker(request: Request, exc: BrokerUnavailable) -> JSONResponse:
        log.warning("broker unavailable: %s", exc)
        return _respond(
            request,
            503,
            "broker_unavailable",
            "events could not be stored durably; retry later",
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"loc": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
            for e in exc.errors()
        ]
        message = "; ".join(f"{p['loc']}: {p['message']}" for p in problems) or "invalid request"
        return _respond(request, 422, "validation_error", message, problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _respond(request, exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _respond(
            request, 500, "internal_error", "unexpected server error; it has been logged"
        )
