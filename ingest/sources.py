"""Sources (connector instances) and their write keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kindred.errors import Conflict, NotFound
from kindred.models import Source
from kindred.security import hash_secret, new_secret


@dataclass(frozen=True)
class SourceInfo:
    name: str
    connector: str
    config: dict[str, Any]


def create_source(
    session: Session,
    *,
    name: str,
    connector: str,
    config: dict[str, Any] | None = None,
    write_key: str | None = None,
) -> tuple[Source, str]:
    """Create a source and return it with its write key (shown once; only a hash is kept)."""
    key = write_key or new_secret("wk")
    source = Source(
        name=name, connector=connector, write_key_hash=hash_secret(key), config=config or {}
    )
    try:
        with session.begin_nested():
            session.add(source)
            session.flush()
    except IntegrityError as err:
        raise Conflict(f"a source named {name!r} (or with that write key) already exists") from err
    return source, key


def source_by_write_key(session: Session, *, write_key: str) -> SourceInfo | None:
    row = session.execute(
        select(Source).where(Source.write_key_hash == hash_secret(write_key))
    ).scalar_one_or_none()
    return SourceInfo(row.name, row.connector, dict(row.config or {})) if row else None


def source_by_name(session: Session, *, name: str) -> Source:
    row = session.execute(select(Source).where(Source.name == name)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no source named {name!r}; create it with `kindred sources create`")
    return row


def list_sources(session: Session) -> list[Source]:
    return list(session.execute(select(Source).order_by(Source.name)).scalars())
