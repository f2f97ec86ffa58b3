"""The response shapes of profiles, segments and privacy requests: defined once, returned by
the services and served as they are by the API (``api`` adds no field of its own).

The class names and docstrings are the OpenAPI schema names and descriptions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

# --------------------------------------------------------------------------- profiles


class ProfileFullOut(BaseModel):
    """The profile plus its computed traits (each with the reasons/inputs behind it)."""

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
    computed: dict[str, Any] = {}
    computed_at: datetime | None = None
    stale: bool = False


class ProfileFullList(BaseModel):
    identifier: str
    profiles: list[ProfileFullOut]


class IdentityOut(BaseModel):
    type: str
    value: str
    linking: bool
    first_seen: datetime = Field(description="when Kindred first stored the identifier")
    first_observed: datetime | None = Field(
        None,
        description="when the identifier was first observed in the data: the earliest event "
        "or row time of the records carrying it",
    )
    sources: list[dict[str, Any]]


class IdentitiesOut(BaseModel):
    profile_id: uuid.UUID
    identities: list[IdentityOut]


class JourneyTouchpointOut(BaseModel):
    id: int
    occurred_at: datetime
    channel: str
    type: str
    event: str
    source: str
    campaign: dict[str, Any] | None
    properties: dict[str, Any]
    stage: str | None = None
    first_touch: bool = False
    last_touch: bool = False


class JourneyFullOut(BaseModel):
    profile_id: uuid.UUID
    items: list[JourneyTouchpointOut]
    next_cursor: str | None
    attribution: dict[str, Any] = {}


class ProfileSegmentsOut(BaseModel):
    profile_id: uuid.UUID
    segments: list[dict[str, Any]]


# --------------------------------------------------------------------------- segments


class SegmentOut(BaseModel):
    id: uuid.UUID
    name: str
    description: str | None
    level: str
    rules: dict[str, Any]
    consent: str | None
    time_based: bool
    member_count: int
    estimated_size: int | None = None
    computed_at: datetime | None
    incremental_at: datetime | None
    created_at: datetime
    updated_at: datetime
    pending_profiles: int
    lag_seconds: float | None
    freshness: dict[str, Any]


class SegmentList(BaseModel):
    segments: list[SegmentOut]


class MembersOut(BaseModel):
    segment_id: uuid.UUID
    member_kind: str
    computed_at: datetime | None
    lag_seconds: float | None
    items: list[dict[str, Any]]
    next_cursor: str | None


class SegmentChangesOut(BaseModel):
    segment_id: uuid.UUID
    items: list[dict[str, Any]]
    next_cursor: str
    has_more: bool


# --------------------------------------------------------------------------- privacy


class PrivacyRequestOut(BaseModel):
    """An audit row: no personal data (the subject's kind only, never its value)."""

    id: uuid.UUID
    type: str
    subject_kind: str
    requested_by: str
    api_key_id: int | None
    status: str
    profiles: int
    counts: dict[str, int]
    hashes: int
    created_at: datetime
    completed_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        """The row for the CLI (times in ``isoformat``, as the audit log prints them)."""
        return {
            "id": str(self.id),
            "type": self.type,
            "subject_kind": self.subject_kind,
            "requested_by": self.requested_by,
            "api_key_id": self.api_key_id,
            "status": self.status,
            "profiles": self.profiles,
            "counts": self.counts,
            "hashes": self.hashes,
            "created_at": self.created_at.isoformat(),
            "completed_at": self.completed_at.isoformat() if self.completed_at else None,
        }


class PrivacyRequestList(BaseModel):
    requests: list[PrivacyRequestOut]
    #: events dropped at ingest per source because they carried a suppressed identifier
    suppressed_events: dict[str, int]
