"""Operational tables: worker heartbeats (written by every worker through ``kindred.health``)
and the quarantine of records and profiles that fail again and again (written by the identity
and profiles workers; released by ops through ``kindred dlq``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kindred.db import Base

__all__ = ["Quarantine", "WorkerHeartbeat"]


class WorkerHeartbeat(Base):
    """One row per running worker process/thread, upserted every few seconds.

    ``status`` holds what the worker knows of itself: assigned partitions, consumer lag per
    partition, backlog it saw, counters (batches, deadlock retries, errors), the last error.
    ``/readyz`` and ``/metrics`` read it; a row whose ``beat_at`` is old is a dead worker."""

    __tablename__ = "worker_heartbeats"

    worker_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # ingest | identity | profiles
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    beat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    #: the end of the last unit of work that succeeded (a batch, a pass, a tick)
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))


class Quarantine(Base):
    """A record (``kind='record'``, ``ref`` = source record id) or a profile
    (``kind='profile'``, ``ref`` = profile id) whose processing failed. ``attempts`` counts
    the failures; once ``quarantined_at`` is set the worker skips it until it is released
    (the row deleted) by ops."""

    __tablename__ = "quarantine"
    __table_args__ = (UniqueConstraint("kind", "ref"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))
    ref: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    first_failed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    last_failed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    quarantined_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
