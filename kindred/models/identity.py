"""Tables owned by the `identity` package (each has its Alembic migration)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Float, ForeignKey, Index, String, Text, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from kindred.db import Base

__all__ = ["AccountLink", "IdentityOverride"]


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
