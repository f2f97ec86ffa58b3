"""Sources (connector instances), their write keys and their config.

Write keys are stored hashed. A rotation keeps the replaced key valid until
``previous_key_expires_at`` (the overlap window), so senders can switch without loss.

Secrets in ``config`` (``client_secret``, ``app_secret``, ``verify_token``, keys...) are
stored encrypted (``kindred.secrets``); :func:`connector_config` is the one accessor that
decrypts them, for the connector that verifies a request. Nothing else sees them in clear.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kindred.errors import BadRequest, Conflict, NotFound, Unauthorized
from kindred.models import Source
from kindred.secrets import keyring, redact
from kindred.security import hash_secret, new_secret
from kindred.settings import Settings


@dataclass(frozen=True)
class SourceInfo:
    name: str
    connector: str
    config: dict[str, Any]


# a source as listed (the API's shape): its connector and its accepted/rejected counters
class SourceOut(BaseModel):
    name: str
    connector: str
    accepted: int
    rejected: int
    created_at: datetime


def _info(row: Source) -> SourceInfo:
    return SourceInfo(row.name, row.connector, dict(row.config or {}))


def _out(row: Source) -> SourceOut:
    return SourceOut(
        name=row.name,
        connector=row.connector,
        accepted=row.accepted_count,
        rejected=row.rejected_count,
        created_at=row.created_at,
    )


def create_source(
    session: Session,
    *,
    name: str,
    connector: str,
    config: dict[str, Any] | None = None,
    write_key: str | None = None,
    settings: Settings | None = None,
) -> tuple[Source, str]:
    """Create a source and return it with its write key (shown once; only a hash is kept)."""
    key = write_key or new_secret("wk")
    source = Source(
        name=name,
        connector=connector,
        write_key_hash=hash_secret(key),
        config=keyring(settings).seal(config or {}),
    )
    try:
        with session.begin_nested():
            session.add(source)
            session.flush()
    except IntegrityError as err:
        raise Conflict(f"a source named {name!r} (or with that write key) already exists") from err
    return source, key


def source_by_write_key(session: Session, *, write_key: str) -> SourceInfo | None:
    """The source of a write key: its current one, or the previous one within the overlap.
    ``config`` keeps its secrets encrypted (see :func:`connector_config`)."""
    digest = hash_secret(write_key)
    row = session.execute(
        select(Source).where(
            or_(
                Source.write_key_hash == digest,
                and_(
                    Source.previous_key_hash == digest,
                    Source.previous_key_expires_at > datetime.now(UTC),
                ),
            )
        )
    ).scalar_one_or_none()
    return _info(row) if row else None


def write_key_matches(row: Source, key: str | None) -> bool:
    """Is ``key`` the source's write key, or its previous one within the overlap window?"""
    if not key:
        return False
    digest = hash_secret(key)
    if hmac.compare_digest(digest, row.write_key_hash):
        return True
    return bool(
        row.previous_key_hash
        and row.previous_key_expires_at is not None
        and row.previous_key_expires_at > datetime.now(UTC)
        and hmac.compare_digest(digest, row.previous_key_hash)
    )


def rotate_write_key(
    session: Session,
    *,
    name: str,
    overlap: timedelta = timedelta(hours=24),
    write_key: str | None = None,
) -> tuple[Source, str]:
    """Give the source a new write key and return it (shown once). The old key keeps working
    until ``now + overlap`` (none: it stops at once); a key replaced earlier stops now."""
    if overlap < timedelta(0):
        raise BadRequest("overlap must not be negative")
    row = session.execute(
        select(Source).where(Source.name == name).with_for_update()
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no source named {name!r}; create it with `kindred sources create`")
    key = write_key or new_secret("wk")
    now = datetime.now(UTC)
    row.previous_key_hash = row.write_key_hash if overlap else None
    row.previous_key_expires_at = now + overlap if overlap else None
    row.write_key_hash = hash_secret(key)
    row.key_rotated_at = now
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as err:
        raise Conflict("that write key is already in use") from err
    return row, key


def connector_config(
    config: dict[str, Any] | None, *, settings: Settings | None = None
) -> dict[str, Any]:
    """The source config with its secrets decrypted: the one accessor for connectors."""
    return keyring(settings).open(config or {})


def shown_config(config: dict[str, Any] | None) -> dict[str, Any]:
    """The source config fit for output: every secret replaced by ``"***"``."""
    return redact(config or {})


def update_source_config(
    session: Session, *, name: str, values: dict[str, Any], settings: Settings | None = None
) -> Source:
    """Set config entries (``None`` removes one); every secret is (re-)encrypted on write,
    legacy plaintext ones included."""
    row = source_by_name(session, name=name)
    config = {**(row.config or {}), **values}
    config = {k: v for k, v in config.items() if v is not None}
    row.config = keyring(settings).reseal(config)
    session.flush()
    return row


def reencrypt_sources(session: Session, *, settings: Settings | None = None) -> int:
    """Encrypt every source secret under the current key (legacy plaintext, or a value still
    under a previous key). Returns the number of sources rewritten."""
    ring = keyring(settings)
    changed = 0
    for row in session.execute(select(Source).order_by(Source.id).with_for_update()).scalars():
        config = dict(row.config or {})
        resealed = ring.reseal(config)
        if resealed != config:
            row.config = resealed
            changed += 1
    session.flush()
    return changed


#: one answer for an unknown source and a wrong key: it says neither which, nor the connector
SOURCE_KEY_REFUSED = (
    "missing or wrong source key: send the source's write key as `Authorization: Bearer "
    "<key>`, as the HTTP Basic username, in `X-Kindred-Key`, or (for vendors that allow "
    "nothing else) as `?key=<key>`"
)


def authenticated_source(session: Session, *, name: str, write_key: str | None) -> SourceInfo:
    """The source ``name`` when ``write_key`` is its (current or overlapping previous) key.
    Otherwise :class:`Unauthorized` with the same message whether the source exists or not,
    after the same work (the key is hashed either way), so a caller without the key learns
    nothing about which sources exist."""
    row = session.execute(select(Source).where(Source.name == name)).scalar_one_or_none()
    if row is None:
        hash_secret(write_key or "")  # same cost as a wrong key
        raise Unauthorized(SOURCE_KEY_REFUSED)
    if not write_key_matches(row, write_key):
        raise Unauthorized(SOURCE_KEY_REFUSED)
    return _info(row)


def source_by_name(session: Session, *, name: str) -> Source:
    row = session.execute(select(Source).where(Source.name == name)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no source named {name!r}; create it with `kindred sources create`")
    return row


def source_info(session: Session, *, name: str) -> SourceInfo:
    """Name, connector and (still encrypted) config of the source ``name``, or NotFound."""
    return _info(source_by_name(session, name=name))


def source_summary(session: Session, *, name: str) -> SourceOut:
    return _out(source_by_name(session, name=name))


def list_sources(session: Session) -> list[SourceOut]:
    return [_out(r) for r in session.execute(select(Source).order_by(Source.name)).scalars()]
