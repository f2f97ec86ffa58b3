"""Tables owned by the `profiles` package (each has its Alembic migration)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, String, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from kindred.db import Base

__all__ = ["AccountComputed", "ProfilesCursor", "ProfilesSetting", "SegmentAccountMember"]


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
