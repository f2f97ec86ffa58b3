"""The one codec of opaque pagination cursors: URL-safe base64 without padding.

A cursor is only ever decoded by the API that issued it; anything else is a 400 asking the
client to start again (never a 500, never a silent restart)."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from kindred.errors import BadRequest

T = TypeVar("T")

NOT_OURS = "cursor is not one this API issued; start again without it"


def encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str, parse: Callable[[bytes], T]) -> T:
    """``parse`` turns the decoded bytes into the position; its ``ValueError``/``TypeError``
    (and a malformed cursor's) become a ``BadRequest``."""
    try:
        return parse(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError) as err:
        raise BadRequest(NOT_OURS) from err


def encode_id(member: uuid.UUID) -> str:
    """A keyset position by id (segment members)."""
    return encode(member.bytes)


def decode_id(cursor: str) -> uuid.UUID:
    return decode(cursor, lambda raw: uuid.UUID(bytes=raw))


def encode_position(at: datetime, tid: int) -> str:
    """A keyset position by time, then id (journeys)."""
    return encode(json.dumps([at.isoformat(), tid]).encode())


def _position(raw: bytes) -> tuple[datetime, int]:
    at, tid = json.loads(raw)
    return datetime.fromisoformat(at), int(tid)


def decode_position(cursor: str) -> tuple[datetime, int]:
    return decode(cursor, _position)
