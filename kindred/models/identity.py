"""Tables owned by the `identity` package: the normalised identifiers of source records,
the profiles (a unified person; one merged into another keeps its row with ``merged_into``
set, so old ids still answer) and the links of records to them, the history of merges and
splits, accounts (companies, found through ``account_keys``: group id, CRM company id,
domain) and the links of profiles to them, the Splink models, generic identifiers and the
overrides set by ops (each has its Alembic migration)."""

from __future__ import annotations

import uuid
from datetime import datetime

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
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from kindred.db import Base
from kindred.models.base import JsonDict

__all__ = [
    "Account",
    "AccountKey",
    "AccountLink",
    "GenericIdentifier",
    "Identifier",
    "IdentityChange",
    "IdentityOverride",
    "Profile",
    "RecordLink",
    "SplinkModel",
]


class Identifier(Base):
    """A normalised identifier observed on a source record (email, phone, user_id, ...)."""

    __tablename__ = "identifiers"
    __table_args__ = (
        UniqueConstraint("record_id", "type", "value"),
        Index("ix_identifiers_link_type_value", "link_type", "value"),
        # the lookup by identifier (TYPE:VALUE); migration 0014
        Index("ix_identifiers_type_value", "type", "value"),
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
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Profile(Base):
    """A unified person. ``merged_into`` is set when the profile was merged into another."""

    __tablename__ = "profiles"
    __table_args__ = (
        Index("ix_profiles_stale", "stale_since", postgresql_where=text("stale")),
        Index("ix_profiles_computed_at", "computed_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
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
        DateTime(timezone=True), server_default=func.now()
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
    linked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class IdentityChange(Base):
    """History of merges and splits: who survived, who was absorbed, why."""

    __tablename__ = "identity_changes"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # merge | split | create | move
    profile_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    other_profile_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    cause: Mapped[str] = mapped_column(String(200))
    evidence: Mapped[JsonDict] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


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
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AccountKey(Base):
    """A key that identifies an account: ``group:<id>``, ``crm:<source>:<id>``, ``domain:<d>``."""

    __tablename__ = "account_keys"

    key: Mapped[str] = mapped_column(String(500), primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )


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
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class GenericIdentifier(Base):
    """An email or phone shared by several people (role address, household, switchboard):
    it no longer links records. Found automatically or set by ops."""

    __tablename__ = "generic_identifiers"

    link_type: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(String(500), primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    distinct_names: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    records: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class IdentityOverride(Base):
    """An ops decision the resolver must honour: two records are (must_link) or are not
    (cannot_link) the same person. Batch and streaming resolution both read these."""

    __tablename__ = "identity_overrides"
    __table_args__ = (
        Index("ix_identity_overrides_record_a", "record_a"),
        Index("ix_identity_overrides_record_b", "record_b"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # must_link | cannot_link
    record_a: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("source_records.id", ondelete="CASCADE")
    )
    record_b: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("source_records.id", ondelete="CASCADE")
    )
    reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AccountLink(Base):
    """Which account (company) a profile belongs to, how sure we are, and why."""

    __tablename__ = "account_links"

    profile_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("profiles.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    confidence: Mapped[float] = mapped_column(Float)
    rule: Mapped[str] = mapped_column(String(100))
    evidence: Mapped[str | None] = mapped_column(Text)
    linked_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()")
    )
