"""Response shapes of the read API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel


class ProfileOut(BaseModel):
    id: uuid.UUID
    requested_id: uuid.UUID
    merged: bool
    merged_into: uuid.UUID | None = None
    created_at: datetime
    updated_at: datetime
    first_seen: datetime | None
    last_seen: datetime | None
    traits: dict[str, Any]
    provenance: dict[str, dict[str, Any]]
    sources: list[dict[str, Any]]
    account: dict[str, Any] | None


class ProfileList(BaseModel):
    identifier: str
    profiles: list[ProfileOut]


class IdentityOut(BaseModel):
    type: str
    value: str
    linking: bool
    first_seen: datetime
    sources: list[dict[str, Any]]


class IdentitiesOut(BaseModel):
    profile_id: uuid.UUID
    identities: list[IdentityOut]


class TouchpointOut(BaseModel):
    id: int
    occurred_at: datetime
    channel: str
    type: str
    event: str
    source: str
    campaign: dict[str, Any] | None
    properties: dict[str, Any]


class JourneyOut(BaseModel):
    profile_id: uuid.UUID
    items: list[TouchpointOut]
    next_cursor: str | None
