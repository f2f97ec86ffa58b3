"""Persist canonical events idempotently: events, source records, touchpoints, account
records.

Everything is keyed so that a replay changes nothing: events by ``(source, message_id)``;
source records by ``(source, record_key)``, and only *new* events update records. The caller
owns the transaction (this module flushes, never commits).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sqlalchemy.orm import Session

from connectors.events import Event
from ingest import repository
from ingest.suppression import default_suppression_keys, drop_suppressed
from kindred.identifiers import domain_of_url

#: trait names (after lower-casing and removing separators) that carry an identifier
IDENTIFIER_TRAITS = {
    "email": "email",
    "emailaddress": "email",
    "mail": "email",
    "phone": "phone",
    "phonenumber": "phone",
    "mobile": "phone",
    "mobilephone": "phone",
    "mobilephonenumber": "phone",
}
UTM_FIELDS = {
    "utm_source": "source",
    "utm_medium": "medium",
    "utm_campaign": "name",
    "utm_term": "term",
    "utm_content": "content",
}
CLICK_IDS = ("gclid", "fbclid", "yclid", "msclkid", "gbraid", "wbraid", "ttclid", "li_fat_id")


@dataclass
class PersistResult:
    inserted: int = 0
    duplicates: int = 0
    records_touched: int = 0
    suppressed: int = 0
    inserted_ids: list[int] = field(default_factory=list)


def _trait_key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def identifiers_of(event: Event) -> dict[str, list[str]]:
    """Raw identifiers an event carries, by type (normalisation happens in ``identity``)."""
    found: dict[str, list[str]] = defaultdict(list)

    def add(kind: str, value: Any) -> None:
        if value is None or isinstance(value, dict | list | bool):
            return
        text = str(value).strip()
        if text and text not in found[kind]:
            found[kind].append(text)

    add("user_id", event.user_id)
    add("anonymous_id", event.anonymous_id)
    if event.type == "alias":
        add("alias", event.previous_id)
    for name, value in event.all_traits.items():
        kind = IDENTIFIER_TRAITS.get(_trait_key(name))
        if kind:
            add(kind, value)
    for ext in event.context.external_ids or []:
        add(ext.type, ext.id)
    campaign = campaign_of(event)
    for click_id, value in (campaign.get("click_ids") or {}).items():
        add(click_id, value)
    return dict(found)


def campaign_of(event: Event) -> dict[str, Any]:
    """Attribution: ``context.campaign`` plus UTM and click ids parsed from the page URL."""
    campaign: dict[str, Any] = {}
    if event.context.campaign is not None:
        campaign = {k: v for k, v in event.context.campaign.model_dump().items() if v is not None}
    url = event.context.page.url if event.context.page else None
    url = url or (
        event.properties.get("url") if isinstance(event.properties.get("url"), str) else None
    )
    if url:
        try:
            query = dict(parse_qsl(urlsplit(url).query))
        except ValueError:
            query = {}
        for param, key in UTM_FIELDS.items():
            if param in query and key not in campaign:
                campaign[key] = query[param]
        clicks = dict(campaign.get("click_ids") or {})
        for click_id in CLICK_IDS:
            if click_id in query and click_id not in clicks:
                clicks[click_id] = query[click_id]
        if clicks:
            campaign["click_ids"] = clicks
    if event.context.page and event.context.page.referrer:
        campaign.setdefault("referrer", event.context.page.referrer)
    return campaign


def _iso(ts: datetime) -> str:
    return ts.isoformat()


def _merge_record(current: dict[str, Any] | None, events: Sequence[Event]) -> dict[str, Any]:
    """Fold new events into a record: per-trait latest value wins (by event time)."""
    traits: dict[str, Any] = dict(current["traits"]) if current else {}
    meta: dict[str, Any] = dict(current["trait_meta"]) if current else {}
    ext: dict[str, list[str]] = {
        k: list(v) for k, v in (current["external_ids"] if current else {}).items()
    }
    first_seen: datetime | None = current["first_seen"] if current else None
    last_seen: datetime | None = current["last_seen"] if current else None
    account_key: str | None = current["account_key"] if current else None
    account_at: str = str(meta.get("__account__", {}).get("at", "")) if current else ""
    for ev in sorted(events, key=lambda e: e.occurred_at):
        at = ev.occurred_at
        stamp = _iso(at)
        first_seen = at if first_seen is None or at < first_seen else first_seen
        last_seen = at if last_seen is None or at > last_seen else last_seen
        if ev.type != "group":
            for name, value in ev.all_traits.items():
                if value is None or value == "" or value == {} or value == []:
                    continue
                seen = meta.get(name, {}).get("at", "")
                if stamp >= seen:
                    traits[name] = value
                    meta[name] = {"at": stamp, "event": ev.message_id}
        for kind, values in identifiers_of(ev).items():
            bucket = ext.setdefault(kind, [])
            for v in values:
                if v not in bucket:
                    bucket.append(v)
        group = ev.group_id if ev.type == "group" else ev.context.group_id
        if group and stamp >= account_at:
            account_key, account_at = group, stamp
            meta["__account__"] = {"at": stamp, "event": ev.message_id}
    return {
        "traits": traits,
        "trait_meta": meta,
        "external_ids": ext,
        "first_seen": first_seen,
        "last_seen": last_seen,
        "account_key": account_key,
    }


def persist_events(
    session: Session,
    events: Iterable[Event],
    *,
    raw: Sequence[bytes | str] | None = None,
    suppression_keys: Sequence[bytes] | None = None,
) -> PersistResult:
    """Write a batch of events idempotently (set-based: a handful of statements per batch).

    ``raw``, aligned with ``events``, is each event's JSON as received (the Kafka message):
    stored as the payload instead of serialising the event again. Events carrying a
    suppressed identifier are dropped and counted (``ingest.suppression``), hashed under
    ``suppression_keys`` (default: those of the process settings)."""
    unique: dict[tuple[str, str], Event] = {}
    payloads: dict[tuple[str, str], str] = {}
    for i, ev in enumerate(events):
        key = (ev.source, ev.message_id)
        if key not in unique:
            unique[key] = ev
            if raw is not None:
                body = raw[i]
                payloads[key] = body.decode() if isinstance(body, bytes) else body
    result = PersistResult()
    # 0. suppressed people: their events are dropped, counted per source, never stored.
    result.suppressed = drop_suppressed(
        session,
        unique,
        identifiers={key: identifiers_of(ev) for key, ev in unique.items()},
        keys=default_suppression_keys() if suppression_keys is None else suppression_keys,
    )
    if not unique:
        return result

    # 1. skip events already stored (the unique constraint still decides at insert time).
    known = repository.known_events(session, list(unique))
    candidates = [ev for key, ev in unique.items() if key not in known]
    if not candidates:
        result.duplicates = len(unique)
        return result

    # 2. account records from group calls (account traits live on the account, not the
    # person); identity turns them into accounts.
    _record_accounts(session, [ev for ev in candidates if ev.type == "group"])

    # 3. source records: lock the existing ones, merge in Python, upsert in one statement.
    by_record: dict[tuple[str, str], list[Event]] = defaultdict(list)
    for ev in candidates:
        person = ev.person_key
        if person is not None:
            by_record[(ev.source, person)].append(ev)
    record_ids: dict[tuple[str, str], int] = {}
    if by_record:
        existing = repository.lock_records(session, sorted(by_record))
        upserts = []
        for (source, record_key), evs in sorted(by_record.items()):
            merged = _merge_record(existing.get((source, record_key)), evs)
            upserts.append(
                {"source": source, "record_key": record_key, "channel": evs[0].channel, **merged}
            )
        record_ids = repository.upsert_records(session, upserts)
        result.records_touched = len(record_ids)

    # 4. the events themselves, already pointing at their record.
    def record_of(ev: Event) -> int | None:
        person = ev.person_key
        return record_ids[(ev.source, person)] if person is not None else None

    new_ids = repository.insert_events(
        session,
        [
            {
                "source": ev.source,
                "message_id": ev.message_id,
                "type": ev.type,
                "event": ev.event if ev.type == "track" else (ev.name or None),
                "channel": ev.channel,
                "record_id": record_of(ev),
                "occurred_at": ev.occurred_at,
                "payload": payloads.get((ev.source, ev.message_id))
                or ev.model_dump_json(by_alias=True, exclude_none=True),
            }
            for ev in candidates
        ],
    )
    result.inserted = len(new_ids)
    result.duplicates = len(unique) - len(new_ids)
    result.inserted_ids = list(new_ids.values())

    # 5. one touchpoint per new person event.
    touchpoints = []
    for key, ev in unique.items():
        if key not in new_ids or ev.person_key is None:
            continue
        touchpoints.append(
            {
                "event_id": new_ids[key],
                "record_id": record_ids[(ev.source, ev.person_key)],
                "occurred_at": ev.occurred_at,
                "channel": ev.channel,
                "type": ev.type,
                "name": ev.display_name[:300],
                "source": ev.source,
                "campaign": campaign_of(ev),
                "properties": ev.properties,
            }
        )
    if touchpoints:
        repository.insert_touchpoints(session, touchpoints)

    # 6. per-source counters, one statement per source.
    per_source: dict[str, int] = defaultdict(int)
    for source, _ in new_ids:
        per_source[source] += 1
    repository.count_accepted(session, per_source)
    session.flush()
    return result


def _record_accounts(session: Session, groups: Sequence[Event]) -> None:
    """Account records from group calls, keyed by group id (set-based): traits merged in
    event-time order, the name and domain they carry. Identity turns them into accounts."""
    if not groups:
        return
    traits_by_key: dict[str, dict[str, Any]] = defaultdict(dict)
    seen: dict[str, tuple[datetime, datetime]] = {}
    for ev in sorted(groups, key=lambda e: e.occurred_at):
        assert ev.group_id is not None
        traits_by_key[ev.group_id].update({k: v for k, v in ev.traits.items() if v is not None})
        first, _ = seen.get(ev.group_id, (ev.occurred_at, ev.occurred_at))
        seen[ev.group_id] = (first, ev.occurred_at)
    rows = []
    for key, traits in traits_by_key.items():
        name = traits.get("name")
        rows.append(
            {
                "key": key,
                "name": name if isinstance(name, str) else None,
                "domain": domain_of_url(traits.get("domain") or traits.get("website")),
                "traits": traits,
                "first_seen": seen[key][0],
                "last_seen": seen[key][1],
            }
        )
    repository.upsert_account_records(session, rows)


def pipeline_progress(session: Session) -> tuple[int, int]:
    """How far ingest has come: events stored, and source and account records still dirty
    (waiting for the identity step)."""
    return repository.pipeline_progress(session)
