"""API keys (admin): list, create, revoke, rotate. Secrets are shown once, at creation."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy.orm import Session

from api.deps import get_session, require
from api.errors import ERROR_RESPONSES
from kindred.security import (
    KeyCreated,
    KeyOut,
    Principal,
    issue_api_key,
    list_api_keys,
    revoke_api_key,
    rotate_api_key,
)

router = APIRouter(prefix="/v1/keys", tags=["keys"], responses=ERROR_RESPONSES)

Scope = Literal["read", "write", "admin"]
KeyId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the key's id (see GET /v1/keys)")]


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


@router.get("", response_model=list[KeyOut], summary="Every API key (prefix, scopes, state)")
def read_keys(
    session: Session = Depends(get_session), _: Principal = Depends(require("admin"))
) -> list[KeyOut]:
    return list_api_keys(session)


@router.post("", response_model=KeyCreated, status_code=201, summary="Create an API key")
def post_key(
    body: KeyIn, session: Session = Depends(get_session), _: Principal = Depends(require("admin"))
) -> KeyCreated:
    return issue_api_key(
        session, name=body.name, scopes=list(body.scopes), expires_at=body.expires_at
    )


@router.post("/{key_id}/revoke", response_model=KeyOut, summary="Revoke an API key now")
def post_revoke(
    key_id: KeyId, session: Session = Depends(get_session), _: Principal = Depends(require("admin"))
) -> KeyOut:
    return revoke_api_key(session, key_id=key_id)


@router.delete("/{key_id}", response_model=KeyOut, summary="Revoke an API key now (same as POST)")
def delete_key(
    key_id: KeyId, session: Session = Depends(get_session), _: Principal = Depends(require("admin"))
) -> KeyOut:
    return revoke_api_key(session, key_id=key_id)


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
    return rotate_api_key(
        session,
        key_id=key_id,
        overlap=timedelta(seconds=body.overlap_seconds),
        expires_at=body.expires_at,
    )
