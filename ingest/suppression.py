"""Suppression at ingest: keyed hashes of identifiers whose events are dropped, not stored.

A suppression entry holds only ``HMAC-SHA256(k, "<namespace>:<value>")`` where ``value`` is
the identifier normalised exactly as identity stores it (``kindred.identifiers``: ``Ann@X.com``
and ``ann@x.com`` hash the same) and ``k`` is derived from ``KINDRED_SECRET_KEY`` (see
``kindred.secrets``): without the key, a dump of the table cannot be checked against a list
of addresses. Namespaces follow identity's link types: ``email``, ``phone`` and
``segment_id`` (user ids, anonymous ids and aliases link in one namespace).

``persist_events`` calls :func:`drop_suppressed` once per batch: one lookup of the batch's
hashes (plus the sources' default phone regions when the batch carries phone numbers);
dropped events are counted per source in ``suppression_counts``.

Key rotation: hashes made under an older key still match while that key is listed in
``KINDRED_SECRET_KEY_PREVIOUS``; new entries always use the current key.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache

from sqlalchemy import ColumnElement, delete, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from connectors.events import Event
from ingest import repository
from kindred.identifiers import normalise_email, normalise_id, normalise_phone
from kindred.models import Source, Suppression, SuppressionCount
from kindred.secrets import previous_key_bytes, secret_key_bytes
from kindred.settings import Settings, get_settings

#: identifier type (as ``ingest.service.identifiers_of`` names it) -> hash namespace
NAMESPACES = {
    "email": "email",
    "phone": "phone",
    "user_id": "segment_id",
    "anonymous_id": "segment_id",
    "alias": "segment_id",
}
_PURPOSE = b"kindred:suppression:v1"

#: (namespace, hex hash)
HashKey = tuple[str, str]


def _derive(master: bytes) -> bytes:
    return hmac.new(master, _PURPOSE, hashlib.sha256).digest()


def suppression_keys(settings: Settings) -> list[bytes]:
    """The hashing keys: the current one first (new entries), then those of older master keys
    (``KINDRED_SECRET_KEY_PREVIOUS``), which still match at ingest."""
    keys = [_derive(secret_key_bytes(settings))]
    keys += [_derive(k) for k in previous_key_bytes(settings)]
    return list(dict.fromkeys(keys))


def default_suppression_keys() -> list[bytes]:
    """The keys of this process's settings (for callers that were given none)."""
    return suppression_keys(get_settings())


def identifier_hash(key: bytes, namespace: str, value: str) -> str:
    return hmac.new(key, f"{namespace}:{value}".encode(), hashlib.sha256).hexdigest()


@lru_cache(maxsize=100_000)
def normalised(kind: str, raw: str, region: str = "US") -> str | None:
    """``raw`` normalised as identity stores an identifier of type ``kind``."""
    if kind == "email":
        return normalise_email(raw)
    if kind == "phone":
        return normalise_phone(raw, default_region=region)
    return normalise_id(raw)


def hashes_of(
    keys: Sequence[bytes], kind: str, raw: str, *, regions: Iterable[str] = ("US",)
) -> list[HashKey]:
    """Every hash under which identifier ``kind:raw`` may be suppressed (one per key, and for
    a phone number one per region that reads it differently). Empty for types that are not
    suppressible and for values identity would not keep."""
    namespace = NAMESPACES.get(kind)
    if namespace is None:
        return []
    values = {v for region in regions if (v := normalised(kind, raw, region)) is not None}
    return [(namespace, identifier_hash(key, namespace, v)) for key in keys for v in values]


def event_hashes(
    identifiers: dict[str, list[str]], *, keys: Sequence[bytes], region: str
) -> set[HashKey]:
    """The hashes of an event's raw identifiers (by type) under every key."""
    found: set[HashKey] = set()
    for kind, values in identifiers.items():
        for raw in values:
            found.update(hashes_of(keys, kind, raw, regions=(region,)))
    return found


def drop_suppressed(
    session: Session,
    events: dict[tuple[str, str], Event],
    *,
    identifiers: dict[tuple[str, str], dict[str, list[str]]],
    keys: Sequence[bytes],
) -> int:
    """Remove from ``events`` (keyed by source and message id) those carrying a suppressed
    identifier, count them per source, and return how many were dropped. ``identifiers`` holds
    each event's raw identifiers by type (``ingest.service.identifiers_of``)."""
    if not events:
        return 0
    regions: dict[str, str] = {}
    sources = sorted({src for (src, _), ids in identifiers.items() if ids.get("phone")})
    if sources:
        rows = session.execute(select(Source.name, Source.config).where(Source.name.in_(sources)))
        regions = {n: str((c or {}).get("default_region", "US")) for n, c in rows}
    per_event: dict[tuple[str, str], set[HashKey]] = {}
    for key, ev in events.items():
        hashes = event_hashes(
            identifiers.get(key, {}), keys=keys, region=regions.get(ev.source, "US")
        )
        if hashes:
            per_event[key] = hashes
    wanted = sorted(set().union(*per_event.values())) if per_event else []
    if not wanted:
        return 0
    hit = repository.suppressed(session, wanted)
    if not hit:
        return 0
    dropped = [key for key, hashes in per_event.items() if hashes & hit]
    per_source = Counter(source for source, _ in dropped)
    for key in dropped:
        del events[key]
    repository.count_dropped(session, per_source)
    return len(dropped)


# -- the suppression list ---------------------------------------------------------------


def add_suppressions(
    session: Session, *, hashes: Iterable[HashKey], request_id: object | None = None
) -> int:
    """Add hashes (already present ones are kept as they are); returns how many were new."""
    rows = [{"kind": k, "hash": h, "request_id": request_id} for k, h in sorted(set(hashes))]
    if not rows:
        return 0
    result = session.execute(
        pg_insert(Suppression).on_conflict_do_nothing().returning(Suppression.hash), rows
    )
    added = len(result.all())
    session.flush()
    return added


def remove_suppressions(
    session: Session, *, hashes: Iterable[HashKey], whole_requests: bool = False
) -> int:
    """Remove hashes; with ``whole_requests``, also every other hash added by the requests
    that added one of them (unsuppressing an email lets the person's other ids in again)."""
    wanted = sorted(set(hashes))
    if not wanted:
        return 0
    match: ColumnElement[bool] = tuple_(Suppression.kind, Suppression.hash).in_(wanted)
    if whole_requests:
        requests = select(Suppression.request_id).where(match, Suppression.request_id.is_not(None))
        match = match | Suppression.request_id.in_(requests.scalar_subquery())
    result = session.execute(delete(Suppression).where(match).returning(Suppression.hash))
    removed = len(result.all())
    session.flush()
    return removed


def source_regions(session: Session) -> list[str]:
    """Every default phone region configured on a source (and ``US``, the default)."""
    rows = session.execute(select(Source.config)).scalars()
    return sorted({"US", *(str((c or {}).get("default_region", "US")) for c in rows)})


def dropped_counts(session: Session) -> dict[str, int]:
    """Events dropped at ingest per source."""
    rows = session.execute(select(SuppressionCount.source, SuppressionCount.dropped))
    return {source: int(dropped) for source, dropped in rows}
