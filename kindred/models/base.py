"""All ORM models, in one place that Alembic's env.py imports.

Vocabulary:
- *event*: one canonical event as received (unique per source + message id).
- *source record*: what one source knows about one person (unique per source + record key),
  with its latest traits and the identifiers that can link it to other records.
- *profile*: a unified person; ``record_links`` maps every source record to one profile.
  A profile merged into another keeps its row with ``merged_into`` set, so old ids still answer.
- *account*: a company (B2B), found through ``account_keys`` (group id, CRM company id, domain).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from kindred.db import Base

JsonDict = dict[str, Any]


def _now() -> Any:
    return func.now()


class Source(Base):
    """A configured source of events (one connector instance) and its write key."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    connector: Mapped[str] = mapped_column(String(100))
    write_key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # the write key replaced by the last rotation, valid until previous_key_expires_at
    previous_key_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    previous_key_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    key_rotated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    config: Mapped[JsonDict] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    accepted_count: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    rejected_count: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class ApiKey(Base):
    """A key for the read/admin API. Only a SHA-256 of the secret is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(50)))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # refreshed at most once a minute per key (kindred.security.LAST_USED_EVERY)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SourceRecord(Base):
    """What one source knows about one person."""

    __tablename__ = "source_records"
    __table_args__ = (
        UniqueConstraint("source", "record_key"),
        Index("ix_source_records_dirty", "id", postgresql_where=text("dirty")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source: Mapped[str] = mapped_column(String(200))
    record_key: Mapped[str] = mapped_column(String(500))
    channel: Mapped[str] = mapped_column(String(20))
    traits: Mapped[JsonDict] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    # per trait: {"at": iso time the value was observed, "event": message id}
    trait_meta: Mapped[JsonDict] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    # raw identifiers as received, by type: {"user_id": [...], "anonymous_id": [...], ...}
    external_ids: Mapped[JsonDict] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    account_key: Mapped[str | None] = mapped_column(String(500))
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    dirty: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    deleted: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class Identifier(Base):
    """A normalised identifier observed on a source record (email, phone, user_id, ...)."""

    __tablename__ = "identifiers"
    __table_args__ = (
        UniqueConstraint("record_id", "type", "value"),
        Index("ix_identifiers_link_type_value", "link_type", "value"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    record_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("source_records.id", ondelete="CASCADE")
    )
    type: Mapped[str] = mapped_column(String(50))
    # the namespace in which values link: user_id, anonymous_id and alias share "segment_id"
    link_type: Mapped[str] = mapped_column(String(50))
    value: Mapped[str] = mapped_column(String(500))
    linking: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    raw_value: Mapped[str | None] = mapped_column(String(500))
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class Profile(Base):
    """A unified person. ``merged_into`` is set when the profile was merged into another."""

    __tablename__ = "profiles"
    __table_args__ = (
        Index("ix_profiles_stale", "stale_since", postgresql_where=text("stale")),
        Index("ix_profiles_computed_at", "computed_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    merged_into: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("profiles.id"), index=True
    )
    merged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    account_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("accounts.id"), index=True
    )
    # materialised golden record (profiles worker); the API can also compute it on read
    traits: Mapped[JsonDict] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    computed: Mapped[JsonDict] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    stale: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    deleted: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    # set by a trigger whenever ``stale`` turns true (and on merge/deletion): the age of the
    # oldest unprocessed change is the lag of every segment
    stale_since: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), server_default=_now()
    )
    # when the profiles worker last computed ``traits``/``computed`` (time-based refresh)
    computed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RecordLink(Base):
    """Which profile a source record belongs to now, and the evidence that put it there."""

    __tablename__ = "record_links"

    record_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("source_records.id", ondelete="CASCADE"), primary_key=True
    )
    profile_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("profiles.id"), index=True
    )
    rule: Mapped[str] = mapped_column(String(100))
    evidence: Mapped[JsonDict] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    model_version: Mapped[str | None] = mapped_column(String(100))
    linked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class IdentityChange(Base):
    """History of merges and splits: who survived, who was absorbed, why."""

    __tablename__ = "identity_changes"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # merge | split | create | move
    profile_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    other_profile_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    cause: Mapped[str] = mapped_column(String(200))
    evidence: Mapped[JsonDict] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class Account(Base):
    """A company (B2B account)."""

    __tablename__ = "accounts"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(500))
    domain: Mapped[str | None] = mapped_column(String(255), index=True)
    traits: Mapped[JsonDict] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    merged_into: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("accounts.id"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class AccountKey(Base):
    """A key that identifies an account: ``group:<id>``, ``crm:<source>:<id>``, ``domain:<d>``."""

    __tablename__ = "account_keys"

    key: Mapped[str] = mapped_column(String(500), primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )


class Event(Base):
    """One canonical event as accepted (unique per source and message id)."""

    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("source", "message_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source: Mapped[str] = mapped_column(String(200))
    message_id: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(20))
    event: Mapped[str | None] = mapped_column(String(300))
    channel: Mapped[str] = mapped_column(String(20))
    record_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("source_records.id", ondelete="CASCADE"), index=True
    )
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    payload: Mapped[JsonDict] = mapped_column(JSONB)


class Touchpoint(Base):
    """A step of a journey: one event of a person, with its channel and attribution."""

    __tablename__ = "touchpoints"
    __table_args__ = (Index("ix_touchpoints_record_time", "record_id", "occurred_at", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    event_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("events.id", ondelete="CASCADE"), unique=True
    )
    record_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("source_records.id", ondelete="CASCADE")
    )
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    channel: Mapped[str] = mapped_column(String(20))
    type: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(String(200))
    campaign: Mapped[JsonDict] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    properties: Mapped[JsonDict] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))


class Segment(Base):
    """A saved audience definition (rules are JSON; compiled to SQL by ``profiles``)."""

    __tablename__ = "segments"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    name: Mapped[str] = mapped_column(String(300), unique=True)
    level: Mapped[str] = mapped_column(String(20), server_default=text("'person'"))
    rules: Mapped[JsonDict] = mapped_column(JSONB)
    computed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    description: Mapped[str | None] = mapped_column(Text)
    # channel (email | sms | ads) whose consent every member must have
    consent_channel: Mapped[str | None] = mapped_column(String(20))
    # rules with time windows / relative dates / account rollups: re-evaluated on a schedule
    time_based: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    member_count: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    # last incremental (event-driven) evaluation of some of its members
    incremental_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class SegmentMembership(Base):
    """Current membership of a person-level segment (account-level members: see
    ``kindred.models.profiles.SegmentAccountMember``)."""

    __tablename__ = "segment_memberships"
    __table_args__ = (Index("ix_segment_memberships_profile_id", "profile_id"),)

    segment_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("segments.id", ondelete="CASCADE"), primary_key=True
    )
    profile_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("profiles.id", ondelete="CASCADE"), primary_key=True
    )
    entered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class SegmentChange(Base):
    """Every entry into and exit from a segment, for incremental syncs."""

    __tablename__ = "segment_changes"
    __table_args__ = (Index("ix_segment_changes_segment_id_id", "segment_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    segment_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("segments.id", ondelete="CASCADE"), index=True
    )
    profile_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    change: Mapped[str] = mapped_column(String(10))  # entered | exited
    cause: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    # the member is an account (account-level segment); ``profile_id`` then holds the account id
    member_kind: Mapped[str] = mapped_column(String(10), server_default=text("'profile'"))


class DeadLetter(Base):
    """A copy of what went to the DLQ topic, so operators can list and replay it."""

    __tablename__ = "dead_letters"
    __table_args__ = (UniqueConstraint("topic", "partition", "offset"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    payload: Mapped[str] = mapped_column(Text)
    topic: Mapped[str | None] = mapped_column(String(200))
    partition: Mapped[int | None] = mapped_column(Integer)
    offset: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    replayed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SplinkModel(Base):
    """A trained probabilistic model: versioned settings JSON and its training report."""

    __tablename__ = "splink_models"

    version: Mapped[str] = mapped_column(String(100), primary_key=True)
    settings: Mapped[JsonDict] = mapped_column(JSONB)
    report: Mapped[JsonDict] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    # chart name -> self-contained HTML (match weights, m/u parameters)
    charts: Mapped[JsonDict] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    threshold: Mapped[float] = mapped_column(Float, server_default=text("0.9"))
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class GenericIdentifier(Base):
    """An email or phone shared by several people (role address, household, switchboard):
    it no longer links records. Found automatically or set by ops."""

    __tablename__ = "generic_identifiers"

    link_type: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(String(500), primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    distinct_names: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    records: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
