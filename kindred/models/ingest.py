"""Tables owned by the `ingest` package: sources and their write keys, the events as
accepted, what each source knows about each person (source records) and what group calls say
about each account key (account records), the touchpoints of journeys, the dead letters, and
the consumer offsets stored with each batch."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
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
from kindred.models.base import JsonDict

__all__ = [
    "AccountRecord",
    "ConsumerOffset",
    "DeadLetter",
    "Event",
    "Source",
    "SourceRecord",
    "Touchpoint",
]


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
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


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
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AccountRecord(Base):
    """What group calls (web ``group``, CRM company rows) said about one account key, as
    seen: ingest writes it and marks it dirty; identity turns it into ``accounts`` and
    ``account_keys`` and clears the flag (compare-and-clear on ``updated_at``)."""

    __tablename__ = "account_records"
    __table_args__ = (Index("ix_account_records_dirty", "key", postgresql_where=text("dirty")),)

    #: the group id as sent (``crm:123``, ``acct_x``)
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str | None] = mapped_column(Text)
    domain: Mapped[str | None] = mapped_column(Text)
    traits: Mapped[JsonDict] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    dirty: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


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
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
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
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    replayed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ConsumerOffset(Base):
    """The next offset to read per consumer group and partition, written by the ingest worker
    in the same transaction as the batch it stored. On assignment the worker starts from here
    (never before), so a consumer group that had to be deleted and recreated, or a Kafka
    commit lost in a crash, costs no replay and skips nothing."""

    __tablename__ = "consumer_offsets"

    group_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    topic: Mapped[str] = mapped_column(String(300), primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, primary_key=True)
    next_offset: Mapped[int] = mapped_column(BigInteger)
    #: the broker log the offset belongs to (``kindred.infra.broker_epoch``)
    epoch: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
