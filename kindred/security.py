"""API keys and write keys: random secrets, stored only as SHA-256 hashes.

API key lifecycle: create (optional expiry), list, revoke, rotate (optionally with an overlap
during which the old key keeps working). :func:`authenticate` reads the key row on every
request (no cache), so a revocation or an expiry takes effect on the next request; the
401 says which ("unknown", "revoked", "expired"). ``last_used_at`` is written at most once a
minute per key and process, in its own short transaction.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import Engine, or_, select, update
from sqlalchemy.orm import Session

from kindred.errors import BadRequest, Forbidden, NotFound, Unauthorized
from kindred.models import ApiKey

SCOPES = ("read", "write", "admin")


def new_secret(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(24)}"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    key_id: int
    name: str
    scopes: frozenset[str]

    def require(self, scope: str) -> None:
        if scope not in self.scopes and "admin" not in self.scopes:
            raise Forbidden(f"this API key lacks the {scope!r} scope")


KeyState = Literal["active", "revoked", "expired"]


class KeyOut(BaseModel):
    """A key as listed: its prefix identifies it; the secret and its hash are never shown."""

    id: int
    name: str
    prefix: str
    scopes: list[str]
    state: KeyState
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class KeyCreated(KeyOut):
    api_key: str = Field(description="the secret, shown only in this response")


def key_view(key: ApiKey) -> KeyOut:
    return KeyOut(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        scopes=list(key.scopes),
        state=key_state(key),
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        expires_at=key.expires_at,
        revoked_at=key.revoked_at,
    )


def _issued(session: Session, key: ApiKey, secret: str) -> KeyCreated:
    session.refresh(key)  # created_at from the server
    return KeyCreated(**key_view(key).model_dump(), api_key=secret)


#: ``last_used_at`` is refreshed at most this often per key
LAST_USED_EVERY = timedelta(minutes=1)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime | None) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else "?"


def create_api_key(
    session: Session,
    *,
    name: str,
    scopes: list[str],
    secret: str | None = None,
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise ValueError(f"scopes must be among {', '.join(SCOPES)}; got {scopes}")
    if expires_at is not None and expires_at.tzinfo is None:
        raise ValueError("expires_at must carry a time zone")
    secret = secret or new_secret("kd")
    existing = session.execute(
        select(ApiKey).where(ApiKey.key_hash == hash_secret(secret))
    ).scalar_one_or_none()
    if existing is not None:
        return existing, secret
    key = ApiKey(
        name=name,
        key_hash=hash_secret(secret),
        prefix=secret[:8],
        scopes=sorted(scopes),
        expires_at=expires_at,
    )
    session.add(key)
    session.flush()
    return key, secret


def issue_api_key(
    session: Session, *, name: str, scopes: list[str], expires_at: datetime | None = None
) -> KeyCreated:
    """Create a key and show it once: its listing plus the secret."""
    try:
        key, secret = create_api_key(session, name=name, scopes=scopes, expires_at=expires_at)
    except ValueError as err:
        raise BadRequest(str(err)) from err
    return _issued(session, key, secret)


def list_api_keys(session: Session, *, include_revoked: bool = True) -> list[KeyOut]:
    query = select(ApiKey).order_by(ApiKey.id)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    return [key_view(k) for k in session.execute(query).scalars()]


def get_api_key(session: Session, *, key_id: int) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"no API key with id {key_id}")
    return key


def revoke_api_key(session: Session, *, key_id: int) -> KeyOut:
    """Revoke a key now (a key already revoked keeps its first revocation time)."""
    key = session.execute(
        select(ApiKey).where(ApiKey.id == key_id).with_for_update()
    ).scalar_one_or_none()
    if key is None:
        raise NotFound(f"no API key with id {key_id}")
    if key.revoked_at is None:
        key.revoked_at = _utcnow()
        session.flush()
    return key_view(key)


def rotate_api_key(
    session: Session,
    *,
    key_id: int,
    overlap: timedelta = timedelta(0),
    expires_at: datetime | None = None,
) -> KeyCreated:
    """Replace a key by a new one with the same name and scopes (and ``expires_at``, if
    given). The old key is revoked now, or with ``overlap`` keeps working until then."""
    if overlap < timedelta(0):
        raise BadRequest("overlap must not be negative")
    old = session.execute(
        select(ApiKey).where(ApiKey.id == key_id).with_for_update()
    ).scalar_one_or_none()
    if old is None:
        raise NotFound(f"no API key with id {key_id}")
    state = key_state(old)
    if state != "active":
        raise BadRequest(f"API key {key_id} is {state}: create a new key instead")
    now = _utcnow()
    if overlap:
        until = now + overlap
        old.expires_at = until if old.expires_at is None else min(old.expires_at, until)
    else:
        old.revoked_at = now
    return issue_api_key(session, name=old.name, scopes=list(old.scopes), expires_at=expires_at)


def key_state(key: ApiKey, *, now: datetime | None = None) -> KeyState:
    """``active``, ``revoked`` or ``expired``."""
    now = now or _utcnow()
    if key.revoked_at is not None and key.revoked_at <= now:
        return "revoked"
    if key.expires_at is not None and key.expires_at <= now:
        return "expired"
    return "active"


def authenticate(session: Session, *, token: str | None) -> Principal:
    if not token:
        raise Unauthorized("missing API key: send `Authorization: Bearer <key>`")
    key = session.execute(
        select(ApiKey).where(ApiKey.key_hash == hash_secret(token))
    ).scalar_one_or_none()
    if key is None:
        raise Unauthorized("unknown API key")
    now = _utcnow()
    state = key_state(key, now=now)
    if state == "revoked":
        raise Unauthorized(
            f"API key {key.prefix}… was revoked at {key.revoked_at:%Y-%m-%d %H:%M:%S}Z"
        )
    if state == "expired":
        raise Unauthorized(f"API key {key.prefix}… expired at {key.expires_at:%Y-%m-%d %H:%M:%S}Z")
    _touch(session, key, now)
    return Principal(key_id=key.id, name=key.name, scopes=frozenset(key.scopes))


_touched: dict[str, float] = {}  # by key hash: ids repeat across databases
_touched_lock = threading.Lock()


def _touch(session: Session, key: ApiKey, now: datetime) -> None:
    """Record the use of ``key``, at most once a minute: a memo per process skips the
    statement, the ``WHERE`` skips a write another process made in the last minute. Its own
    short transaction (not the request's): no row lock held for a whole request, and a use
    is a use even when the request then fails."""
    every = LAST_USED_EVERY.total_seconds()
    tick = time.monotonic()
    with _touched_lock:
        if tick - _touched.get(key.key_hash, -every) < every:
            return
        _touched[key.key_hash] = tick
    if key.last_used_at is not None and now - key.last_used_at < LAST_USED_EVERY:
        return
    stmt = (
        update(ApiKey)
        .where(
            ApiKey.id == key.id,
            or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - LAST_USED_EVERY),
        )
        .values(last_used_at=now)
    )
    bind = session.get_bind()
    if isinstance(bind, Engine):
        with bind.begin() as conn:
            conn.execute(stmt)
    else:  # a session bound to one connection (tests): the owner's transaction it is
        session.execute(stmt)
