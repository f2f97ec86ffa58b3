"""API keys and write keys: random secrets, stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from kindred.errors import Forbidden, Unauthorized
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


def create_api_key(
    session: Session, *, name: str, scopes: list[str], secret: str | None = None
) -> tuple[ApiKey, str]:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise ValueError(f"scopes must be among {', '.join(SCOPES)}; got {scopes}")
    secret = secret or new_secret("kd")
    existing = session.execute(
        select(ApiKey).where(ApiKey.key_hash == hash_secret(secret))
    ).scalar_one_or_none()
    if existing is not None:
        return existing, secret
    key = ApiKey(name=name, key_hash=hash_secret(secret), prefix=secret[:8], scopes=sorted(scopes))
    session.add(key)
    session.flush()
    return key, secret


def authenticate(session: Session, *, token: str | None) -> Principal:
    if not token:
        raise Unauthorized("missing API key: send `Authorization: Bearer <key>`")
    key = session.execute(
        select(ApiKey).where(ApiKey.key_hash == hash_secret(token), ApiKey.revoked_at.is_(None))
    ).scalar_one_or_none()
    if key is None:
        raise Unauthorized("unknown or revoked API key")
    return Principal(key_id=key.id, name=key.name, scopes=frozenset(key.scopes))
