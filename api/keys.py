"""API keys (admin): list, create, revoke, rotate. Secrets are shown once, at creation."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy.orm import Session

from api.deps import get_session, require
from api.errors import ERROR_RESPONSES
from kindred.errors import BadRequest
from kindred.models import ApiKey
from kindred.security import (
    Principal,
    create_api_key,
    key_state,
    list_api_keys,
    revoke_api_key,
    rotate_api_key,
)

router = APIRouter(prefix="/v1/keys", tags=["keys"], responses=ERROR_RESPONSES)

Scope = Literal["read", "write", "admin"]
KeyId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the key's id (see GET /v1/keys)")]


class KeyOut(BaseModel):
    """A key as listed: its prefix identifies it; the secret and its hash are never shown."""

    id: int
    name: str
    prefix: str
    scopes: list[str]
    state: Literal["active", "revoked", "expired"]
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class KeyCreated(KeyOut):
    api_key: str = Field(description="the secret, shown only in this response")


class KeyIn(BaseModel):
    name: str = Field(default="api", min_length=1, max_length=200)
    scopes: list[Scope] = Field(min_length=1, max_length=3)
    # strict: an RFC 3339 date-time, not a number read as a Unix time
    expires_at: AwareDatetime | None = Field(default=None, strict=True)


class RotateIn(BaseModel):
    overlap_seconds: int = Field(
        default=0, ge=0, le=30 * 86400, description="how long the old key keeps working"
    )
    expires_at: AwareDatetime | None = Field(
        default=None, strict=True, description="expiry of the new key"
    )


def _out(key: ApiKey) -> KeyOut:
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


def _created(key: ApiKey, secret: str) -> KeyCreated:
    return KeyCreated(**_out(key).model_dump(), api_key=secret)


@router.get("", response_model=list[KeyOut], summary="Every API key (prefix, scopes, state)")
def read_keys(
    session: Session = Depends(get_session), _: Principal = Depends(require("admin"))
) -> list[KeyOut]:
    return [_out(k) for k in list_api_keys(session)]


@router.post("", response_model=KeyCreated, status_code=201, summary="Create an API key")
def post_key(
    body: KeyIn, session: Session = Depends(get_session), _: Principal = Depends(require("admin"))
) -> KeyCreated:
    try:
        key, secret = create_api_key(
            session, name=body.name, scopes=list(body.scopes), expires_at=body.expires_at
        )
    except ValueError as err:
        raise BadRequest(str(err)) from err
    session.refresh(key)  # created_at from the server
    return _created(key, secret)


@router.post("/{key_id}/revoke", response_model=KeyOut, summary="Revoke an API key now")
def post_revoke(
    key_id: KeyId, session: Session = Depends(get_session), _: Principal = Depends(require("admin"))
) -> KeyOut:
    return _out(revoke_api_key(session, key_id=key_id))


@router.delete("/{key_id}", response_model=KeyOut, summary="Revoke an API key now (same as POST)")
def delete_key(
    key_id: KeyId, session: Session = Depends(get_session), _: Principal = Depends(require("admin"))
) -> KeyOut:
    return _out(revoke_api_key(session, key_id=key_id))


@router.post(
    "/{key_id}/rotate",
    response_model=KeyCreated,
    status_code=201,
    summary="Replace an API key; the old one stops now or after overlap_seconds",
)
def post_rotate(
    key_id: KeyId,
    body: RotateIn | None = None,
    session: Session = Depends(get_session),
    _: Principal = Depends(require("admin")),
) -> KeyCreated:
    body = body or RotateIn()
    key, secret = rotate_api_key(
        session,
        key_id=key_id,
        overlap=timedelta(seconds=body.overlap_seconds),
        expires_at=body.expires_at,
    )
    session.refresh(key)
    return _created(key, secret)
