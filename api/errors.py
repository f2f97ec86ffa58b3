"""One handler renders every error as ``{"error": {"code", "message"}}``; never a trace.

Collector endpoints (the Segment HTTP Tracking API paths, ``/v1/batch`` ... ``/v1/alias``,
plus ``/v1/pixel.gif`` and ``/v1/kindred.js``) also carry Segment's shape, top-level
``"code"`` and ``"message"``, so Segment/RudderStack SDKs log the reason; both shapes are in
one body: ``{"code": ..., "message": ..., "error": {"code": ..., "message": ...}}``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from connectors.base import ConnectorError
from kindred.dberrors import classify
from kindred.errors import (
    Conflict,
    DatabaseBusy,
    DatabaseUnavailable,
    InvalidValue,
    KindredError,
)
from kindred.kafka import BrokerUnavailable
from kindred.ratelimit import RateLimited

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


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorOut(BaseModel):
    """Every error answer. Collector paths also carry top-level ``code`` and ``message``."""

    error: ErrorDetail


_RETRY_AFTER = {
    "Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "string"}}
}

#: status -> (code, description) of every error an operation can answer
_STATUSES: dict[int, tuple[str, str]] = {
    400: ("bad_request", "Malformed request"),
    401: ("unauthorized", "Missing or unknown key"),
    403: ("forbidden", "Key lacks the scope"),
    404: ("not_found", "No such resource"),
    405: ("method_not_allowed", "The resource does not support this method"),
    409: ("conflict", "Conflicts with the current state (a constraint)"),
    413: ("payload_too_large", "Body too large"),
    422: ("validation_error", "Invalid parameters or a value the database cannot store"),
    429: ("rate_limited", "Too many requests for this key; see Retry-After"),
    503: ("database_unavailable", "Database or broker unavailable; retry after Retry-After"),
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses, each with the error body's schema."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        code, desc = _STATUSES[status]
        entry: dict[str, Any] = {
            "model": ErrorOut,
            "description": desc,
            "content": {
                "application/json": {
                    "example": {"error": {"code": code, "message": "what went wrong and why"}}
                }
            },
        }
        if status in (429, 503):
            entry["headers"] = _RETRY_AFTER
        out[status] = entry
    return out


#: the read/admin API (Bearer key): every error it can answer
ERROR_RESPONSES = responses(400, 401, 403, 404, 409, 422, 429, 503)
#: the Segment-compatible collector (write key)
COLLECTOR_RESPONSES = responses(400, 401, 413, 422, 429, 503)
#: vendor webhooks (write key in the query; vendor signatures)
WEBHOOK_RESPONSES = responses(400, 401, 403, 404, 405, 409, 413, 422, 503)

RETRY_AFTER_DB = "2"


def _first_line(exc: BaseException) -> str:
    orig = exc.orig if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None else exc
    return (str(orig).strip().splitlines() or [type(orig).__name__])[0]


def classify_database_error(exc: Exception) -> KindredError | None:
    """Map a database error to the answer it deserves, or None for a real bug (500).

    Outages (no connection, server shutting down, out of connections, pool timeout) are 503
    ``database_unavailable``; lock/serialization conflicts are 503 ``database_busy`` (retry);
    a value PostgreSQL refuses (SQLSTATE class 22, or 54: e.g. a key too long for an index)
    is 422 ``invalid_value``; a constraint (class 23) is 409 ``conflict``.
    """
    kind = classify(exc)
    if kind == "invalid":
        return InvalidValue(f"a value cannot be stored: {_first_line(exc)}")
    if kind == "conflict":
        return Conflict(f"conflicts with existing data: {_first_line(exc)}")
    if kind == "busy":
        return DatabaseBusy("the database is busy; retry the request")
    if kind == "unavailable":
        return DatabaseUnavailable("the database is unavailable; retry later")
    return None


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(request: Request) -> list[str]:
    """The methods the OpenAPI documents for this request's path (what ``Allow`` must list:
    the spec is the contract). A literal path (``/v1/profiles/config``) wins over a
    template that would also match it (``/v1/profiles/{profile_id}``)."""
    table: list[tuple[bool, re.Pattern[str], list[str]]] | None = getattr(
        request.app.state, "allow_table", None
    )
    if table is None:
        table = []
        for template, ops in request.app.openapi().get("paths", {}).items():
            pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")
            methods = [m.upper() for m in ops if m.upper() in _METHODS]
            table.append(("{" not in template, pattern, methods))
        request.app.state.allow_table = table
    path = request.url.path
    matches = [(literal, methods) for literal, pattern, methods in table if pattern.match(path)]
    chosen = [m for literal, m in matches if literal] or [m for _, m in matches]
    return [m for m in _METHODS if any(m in methods for methods in chosen)]


def install(app: FastAPI) -> None:
    def _render(request: Request, exc: KindredError) -> JSONResponse:
        headers: dict[str, str] = {}
        if exc.status_code == 401:
            headers["WWW-Authenticate"] = (
                "Basic" if is_collector_path(request.url.path) else "Bearer"
            )
        if exc.status_code == 503:
            headers["Retry-After"] = RETRY_AFTER_DB
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = exc.retry_after
        return _respond(request, exc.status_code, exc.code, exc.message, exc.details, headers)

    @app.exception_handler(KindredError)
    async def _kindred(request: Request, exc: KindredError) -> JSONResponse:
        return _render(request, exc)

    async def _database(request: Request, exc: Exception) -> JSONResponse:
        mapped = classify_database_error(exc)
        if mapped is None:
            return await _unexpected(request, exc)
        log.warning("%s on %s %s: %s", mapped.code, request.method, request.url.path, exc)
        return _render(request, mapped)

    # one place for every database failure, whichever layer raised it (SQLAlchemy wraps
    # most; raw psycopg calls such as COPY raise psycopg's own)
    app.add_exception_handler(sa_exc.SQLAlchemyError, _database)
    app.add_exception_handler(psycopg.Error, _database)

    @app.exception_handler(UnicodeEncodeError)
    async def _unencodable(request: Request, exc: UnicodeEncodeError) -> JSONResponse:
        # a lone surrogate that got past validation reached the database driver
        return _render(request, InvalidValue(f"text cannot be stored: {exc.reason}"))

    @app.exception_handler(ConnectorError)
    async def _connector(request: Request, exc: ConnectorError) -> JSONResponse:
        # connectors answer 405 only for a GET on a webhook URL they have no handshake for
        headers = {"Allow": "POST"} if exc.status_code == 405 else None
        return _respond(request, exc.status_code, exc.code, exc.message, headers=headers)

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
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette lists only the methods of the first route whose path matched; a path
            # served by several routes (GET and POST /v1/segments) needs them all (RFC 9110)
            headers["Allow"] = ", ".join(allowed_methods(request)) or headers.get("Allow", "")
        return _respond(request, exc.status_code, code, str(exc.detail), headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _respond(
            request, 500, "internal_error", "unexpected server error; it has been logged"
        )
