"""Tables owned by the `connectors` package (each has its Alembic migration)."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from kindred.db import Base

__all__ = ["ConnectorDeadLetter"]


class ConnectorDeadLetter(Base):
    """Where a dead letter rejected *before* Kafka came from, so a replay can re-parse it:
    the connector, and whether the stored payload is one item of a payload or a whole body
    (bad JSON, failed signature...). Dead letters of the ingest worker (canonical events that
    failed later) have no row here."""

    __tablename__ = "connector_dead_letters"

    dead_letter_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("dead_letters.id", ondelete="CASCADE"), primary_key=True
    )
    connector: Mapped[str] = mapped_column(String(100))
    origin: Mapped[str] = mapped_column(String(20))  # item | payload
    call_type: Mapped[str | None] = mapped_column(String(20))
    content_type: Mapped[str | None] = mapped_column(String(200))
