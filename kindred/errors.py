"""The one error root. The API renders these as ``{"error": {"code", "message"}}``."""

from __future__ import annotations

from typing import Any


class KindredError(Exception):
    status_code = 500
    code = "internal_error"

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class BadRequest(KindredError):
    status_code = 400
    code = "bad_request"


class Unauthorized(KindredError):
    status_code = 401
    code = "unauthorized"


class Forbidden(KindredError):
    status_code = 403
    code = "forbidden"


class NotFound(KindredError):
    status_code = 404
    code = "not_found"


class Conflict(KindredError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(KindredError):
    status_code = 413
    code = "payload_too_large"


class Unprocessable(KindredError):
    status_code = 422
    code = "validation_error"


class ServiceUnavailable(KindredError):
    status_code = 503
    code = "unavailable"


class InvalidValue(Unprocessable):
    """A value the database cannot store (NUL byte, lone surrogate, number out of range)."""

    code = "invalid_value"


class DatabaseUnavailable(ServiceUnavailable):
    """PostgreSQL cannot be reached (down, restarting, out of connections): retry later."""

    code = "database_unavailable"


class DatabaseBusy(ServiceUnavailable):
    """A lock or serialization conflict, a deadlock or a statement timeout: retry."""

    code = "database_busy"
