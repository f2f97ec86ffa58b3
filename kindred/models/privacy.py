"""Tables of privacy requests (erasure and suppression). None of them holds personal data:

- ``privacy_requests``: the audit trail of every request: its type, who asked (the API key's
  id and name, or the CLI), when, what kind of subject it named (``email``, ``profile_id``...,
  never the value) and how many rows it removed per table;
- ``suppressions``: keyed hashes (HMAC-SHA256 under a key derived from ``KINDRED_SECRET_KEY``)
  of normalised identifiers whose events ingest drops;
- ``suppression_counts``: how many events ingest dropped per source.

Written by ``profiles.privacy`` (requests, erasure) and ``ingest.suppression`` (hashes, counts).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from kindred.db import Base

__all__ = ["PrivacyRequest", "Suppression", "SuppressionCount"]


class PrivacyRequest(Base):
    """One erasure/suppression request: an audit row without personal data."""

    __tablename__ = "privacy_requests"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    #: delete | suppress | suppress_with_delete | unsuppress
    type: Mapped[str] = mapped_column(String(30))
    #: what the request named: ``profile_id`` or an identifier type (``email``, ``phone``...)
    subject_kind: Mapped[str] = mapped_column(String(50))
    requested_by: Mapped[str] = mapped_column(String(250))
    api_key_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), server_default=text("'done'"))
    profiles: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    #: rows removed (or redacted) per table: {"events": 12, "source_records": 3, ...}
    counts: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    #: suppression hashes added (suppress types) or removed (unsuppress)
    hashes: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Suppression(Base):
    """A keyed hash of one normalised identifier: events carrying it are dropped at ingest."""

    __tablename__ = "suppressions"

    #: identifier namespace: ``email``, ``phone`` or ``segment_id`` (user/anonymous ids)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    #: hex HMAC-SHA256 of ``kind:value`` (value normalised as identity stores it)
    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("privacy_requests.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SuppressionCount(Base):
    """Events dropped at ingest because they carried a suppressed identifier, per source."""

    __tablename__ = "suppression_counts"

    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    dropped: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    last_dropped_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
