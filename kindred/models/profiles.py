"""Tables owned by the `profiles` package: segments (audience definitions; rules are JSON,
compiled to SQL by ``profiles``), their members and changes, account rollups, settings and
the worker's cursors (each has its Alembic migration)."""

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
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from kindred.db import Base
from kindred.models.base import JsonDict

__all__ = [
    "AccountComputed",
    "DashboardSnapshot",
    "ProfilesCursor",
    "ProfilesSetting",
    "Segment",
    "SegmentAccountMember",
    "SegmentChange",
    "SegmentMembership",
]


class Segment(Base):
    """A saved audience definition (rules are JSON; compiled to SQL by ``profiles``)."""

    __tablename__ = "segments"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    name: Mapped[str] = mapped_column(String(300), unique=True)
    level: Mapped[str] = mapped_column(String(20), server_default=text("'person'"))
    rules: Mapped[JsonDict] = mapped_column(JSONB)
    computed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    description: Mapped[str | None] = mapped_column(Text)
    # channel (email | sms | ads) whose consent every member must have
    consent_channel: Mapped[str | None] = mapped_column(String(20))
    # rules with time windows / relative dates / account rollups: re-evaluated on a schedule
    time_based: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    member_count: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    # last incremental (event-driven) evaluation of some of its members
    incremental_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


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
    entered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


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
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # the member is an account (account-level segment); ``profile_id`` then holds the account id
    member_kind: Mapped[str] = mapped_column(String(10), server_default=text("'profile'"))


class ProfilesSetting(Base):
    """Configuration of the profiles package (scoring rules, source priority, deadlines...),
    one JSON document per name; code defaults apply to whatever is not stored."""

    __tablename__ = "profiles_settings"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AccountComputed(Base):
    """Account rollups: engaged contacts, account score, revenue, key-account flag."""

    __tablename__ = "account_computed"

    account_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    computed: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    computed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class SegmentAccountMember(Base):
    """Current membership of an account-level segment."""

    __tablename__ = "segment_account_members"

    segment_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("segments.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    entered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ProfilesCursor(Base):
    """Named positions of the profiles worker (e.g. the last segment change published)."""

    __tablename__ = "profiles_cursors"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DashboardSnapshot(Base):
    """The dashboard's figures about the base (temperature, lifecycle, activity, journey,
    complaints) as last computed by the profiles worker, and what computing them took: the
    API serves them instead of scanning every profile per request once that scan is slow."""

    __tablename__ = "dashboard_snapshots"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    figures: Mapped[dict[str, Any]] = mapped_column(JSONB)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    took_ms: Mapped[float] = mapped_column(Float)
