"""Shared rate-limit buckets (written only by ``kindred.ratelimit``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from kindred.db import Base

__all__ = ["RateLimitBucket"]


class RateLimitBucket(Base):
    """One token bucket shared by every API process: ``key`` names what is limited
    (``source:<name>`` for a collector write key, ``api_key:<id>`` for a read key).

    ``tokens`` is the level at ``updated_at`` (the database's clock, so API hosts need not
    agree on the time); the refill since then is computed by the statement that takes a
    token. ``taken``: how many tokens that last statement handed out (its ``RETURNING``)."""

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    taken: Mapped[float] = mapped_column(Float, server_default=text("0"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
