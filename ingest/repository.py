"""The queries of ingest: the set-based writes of a batch (events, source records,
touchpoints, account records), suppression lookups and counts, dead letters, and the consumer
offsets stored with each batch.

Bulk writes pass one array per column and unnest them server-side: a constant number of
parameters per statement, however large the batch. Nothing here commits; the caller owns the
transaction.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from kindred.db import execute_arrays
from kindred.models import ConsumerOffset, DeadLetter, Source

#: (source, message id) of an event; (source, record key) of a source record
Key = tuple[str, str]

SELECT_KNOWN_EVENTS = (
    "SELECT e.source, e.message_id FROM events e JOIN unnest(CAST(%(source)b AS text[]), "
    "CAST(%(message_id)b AS text[])) AS k(source, message_id) "
    "ON e.source = k.source AND e.message_id = k.message_id"
)
LOCK_RECORDS = (
    "SELECT r.source, r.record_key, r.traits, r.trait_meta, r.external_ids, r.first_seen, "
    "r.last_seen, r.account_key FROM source_records r JOIN unnest(CAST(%(source)b AS text[]), "
    "CAST(%(record_key)b AS text[])) AS k(source, record_key) "
    "ON r.source = k.source AND r.record_key = k.record_key "
    "ORDER BY r.source, r.record_key FOR UPDATE OF r"
)
INSERT_EVENTS = (
    "INSERT INTO events (source, message_id, type, event, channel, record_id, occurred_at, "
    "payload) "
    "SELECT * FROM unnest(CAST(%(source)b AS text[]), CAST(%(message_id)b AS text[]), "
    "CAST(%(type)b AS text[]), CAST(%(event)b AS text[]), CAST(%(channel)b AS text[]), "
    "CAST(%(record_id)b AS bigint[]), "
    "CAST(%(occurred_at)b AS timestamptz[]), CAST(%(payload)b AS jsonb[])) "
    "ON CONFLICT (source, message_id) DO NOTHING RETURNING id, source, message_id"
)
UPSERT_RECORDS = (
    "INSERT INTO source_records (source, record_key, channel, traits, trait_meta, external_ids, "
    "first_seen, last_seen, account_key) "
    "SELECT * FROM unnest(CAST(%(source)b AS text[]), CAST(%(record_key)b AS text[]), "
    "CAST(%(channel)b AS text[]), CAST(%(traits)b AS jsonb[]), CAST(%(trait_meta)b AS jsonb[]), "
    "CAST(%(external_ids)b AS jsonb[]), CAST(%(first_seen)b AS timestamptz[]), "
    "CAST(%(last_seen)b AS timestamptz[]), CAST(%(account_key)b AS text[])) "
    "ON CONFLICT (source, record_key) DO UPDATE SET traits = EXCLUDED.traits, "
    "trait_meta = EXCLUDED.trait_meta, external_ids = EXCLUDED.external_ids, "
    "first_seen = EXCLUDED.first_seen, last_seen = EXCLUDED.last_seen, "
    "account_key = EXCLUDED.account_key, dirty = true, updated_at = now() "
    "RETURNING id, source, record_key"
)
INSERT_TOUCHPOINTS = (
    "INSERT INTO touchpoints (event_id, record_id, occurred_at, channel, type, name, source, "
    "campaign, properties) "
    "SELECT * FROM unnest(CAST(%(event_id)b AS bigint[]), CAST(%(record_id)b AS bigint[]), "
    "CAST(%(occurred_at)b AS timestamptz[]), CAST(%(channel)b AS text[]), "
    "CAST(%(type)b AS text[]), CAST(%(name)b AS text[]), CAST(%(source)b AS text[]), "
    "CAST(%(campaign)b AS jsonb[]), "
    "CAST(%(properties)b AS jsonb[])) ON CONFLICT DO NOTHING"
)
UPSERT_ACCOUNT_RECORDS = (
    "INSERT INTO account_records (key, name, domain, traits, first_seen, last_seen) "
    "SELECT * FROM unnest(CAST(%(key)b AS text[]), CAST(%(name)b AS text[]), "
    "CAST(%(domain)b AS text[]), CAST(%(traits)b AS jsonb[]), "
    "CAST(%(first_seen)b AS timestamptz[]), CAST(%(last_seen)b AS timestamptz[])) "
    "ON CONFLICT (key) DO UPDATE SET traits = account_records.traits || EXCLUDED.traits, "
    "name = coalesce(EXCLUDED.name, account_records.name), "
    "domain = coalesce(EXCLUDED.domain, account_records.domain), "
    "first_seen = least(account_records.first_seen, EXCLUDED.first_seen), "
    "last_seen = greatest(account_records.last_seen, EXCLUDED.last_seen), "
    "dirty = true, updated_at = now()"
)
SELECT_SUPPRESSED = (
    "SELECT s.kind, s.hash FROM suppressions s JOIN unnest(CAST(%(kind)b AS text[]), "
    "CAST(%(hash)b AS text[])) AS k(kind, hash) ON s.kind = k.kind AND s.hash = k.hash"
)
COUNT_DROPPED = (
    "INSERT INTO suppression_counts (source, dropped) "
    "SELECT * FROM unnest(CAST(%(source)b AS text[]), CAST(%(dropped)b AS bigint[])) "
    "ON CONFLICT (source) DO UPDATE SET dropped = suppression_counts.dropped + EXCLUDED.dropped, "
    "last_dropped_at = now()"
)
STORE_OFFSETS = """
INSERT INTO consumer_offsets (group_id, topic, partition, next_offset, epoch, updated_at)
SELECT %(group_id)s, t, p, o, %(epoch)s, now()
FROM unnest(%(topic)s::text[], %(partition)s::int[], %(offset)s::bigint[]) AS u(t, p, o)
ON CONFLICT (group_id, topic, partition) DO UPDATE
SET next_offset = EXCLUDED.next_offset, epoch = EXCLUDED.epoch, updated_at = now()
"""


def _json(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


def _columns(
    rows: Sequence[Mapping[str, Any]], names: Sequence[str], *, as_json: Sequence[str] = ()
) -> dict[str, list[Any]]:
    """One array per column (``as_json`` ones serialised), for :func:`execute_arrays`."""
    return {name: [_json(r[name]) if name in as_json else r[name] for r in rows] for name in names}


# -- events, source records, touchpoints ---------------------------------------------------


def known_events(session: Session, keys: Sequence[Key]) -> set[Key]:
    """Which of ``keys`` (source, message id) are stored already."""
    rows = execute_arrays(
        session,
        SELECT_KNOWN_EVENTS,
        {"source": [k[0] for k in keys], "message_id": [k[1] for k in keys]},
        returning=True,
    )
    return {(row[0], row[1]) for row in rows}


def lock_records(session: Session, keys: Sequence[Key]) -> dict[Key, dict[str, Any]]:
    """The stored source records among ``keys`` (source, record key), locked for update."""
    return {
        (row[0], row[1]): {
            "traits": row[2],
            "trait_meta": row[3],
            "external_ids": row[4],
            "first_seen": row[5],
            "last_seen": row[6],
            "account_key": row[7],
        }
        for row in execute_arrays(
            session,
            LOCK_RECORDS,
            {"source": [k[0] for k in keys], "record_key": [k[1] for k in keys]},
            returning=True,
        )
    }


def upsert_records(session: Session, records: Sequence[Mapping[str, Any]]) -> dict[Key, int]:
    """Insert or replace source records (marking them dirty); their ids by key."""
    params = _columns(
        records,
        ("source", "record_key", "channel", "traits", "trait_meta", "external_ids",
         "first_seen", "last_seen", "account_key"),
        as_json=("traits", "trait_meta", "external_ids"),
    )  # fmt: skip
    rows = execute_arrays(session, UPSERT_RECORDS, params, returning=True)
    return {(source, record_key): rid for rid, source, record_key in rows}


def insert_events(session: Session, events: Sequence[Mapping[str, Any]]) -> dict[Key, int]:
    """Insert events (``payload`` already JSON); the ids of those that were new, by key."""
    params = _columns(
        events,
        ("source", "message_id", "type", "event", "channel", "record_id", "occurred_at",
         "payload"),
    )  # fmt: skip
    rows = execute_arrays(session, INSERT_EVENTS, params, returning=True)
    return {(src, mid): eid for eid, src, mid in rows}


def insert_touchpoints(session: Session, touchpoints: Sequence[Mapping[str, Any]]) -> None:
    params = _columns(
        touchpoints,
        ("event_id", "record_id", "occurred_at", "channel", "type", "name", "source",
         "campaign", "properties"),
        as_json=("campaign", "properties"),
    )  # fmt: skip
    execute_arrays(session, INSERT_TOUCHPOINTS, params)


def count_accepted(session: Session, per_source: Mapping[str, int]) -> None:
    """Add to each source's accepted counter (one statement per source)."""
    for source, count in per_source.items():
        session.execute(
            update(Source)
            .where(Source.name == source)
            .values(accepted_count=Source.accepted_count + count)
        )


# -- account records ---------------------------------------------------------------------


def upsert_account_records(session: Session, records: Sequence[Mapping[str, Any]]) -> None:
    """Insert or merge account records (``key``, ``name``, ``domain``, ``traits``,
    ``first_seen``, ``last_seen``), marking them dirty: traits merged in (the new ones win), a
    name or domain given replaces the stored one."""
    params = _columns(
        sorted(records, key=lambda r: r["key"]),  # one lock order for concurrent batches
        ("key", "name", "domain", "traits", "first_seen", "last_seen"),
        as_json=("traits",),
    )
    execute_arrays(session, UPSERT_ACCOUNT_RECORDS, params)


# -- suppression ---------------------------------------------------------------------------


def suppressed(session: Session, hashes: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of ``hashes`` (namespace, hex hash) are on the suppression list."""
    rows = execute_arrays(
        session,
        SELECT_SUPPRESSED,
        {"kind": [h[0] for h in hashes], "hash": [h[1] for h in hashes]},
        returning=True,
    )
    return {(kind, value) for kind, value in rows}


def count_dropped(session: Session, per_source: Mapping[str, int]) -> None:
    """Add to the per-source counts of events dropped as suppressed."""
    names = sorted(per_source)
    execute_arrays(
        session, COUNT_DROPPED, {"source": names, "dropped": [per_source[n] for n in names]}
    )


# -- the ingest worker: dead letters, offsets, the group-reset lock ------------------------


def insert_dead_letters(session: Session, letters: Sequence[Mapping[str, Any]]) -> None:
    """Dead letters of the worker, keyed by where they were read (a replay adds none)."""
    session.execute(pg_insert(DeadLetter).on_conflict_do_nothing(), list(letters))


def store_offsets(
    session: Session, *, group_id: str, epoch: str, offsets: Sequence[tuple[str, int, int]]
) -> None:
    """Upsert the next offset per (topic, partition) of ``group_id``, for broker log
    ``epoch``."""
    session.connection().exec_driver_sql(
        STORE_OFFSETS,
        {
            "group_id": group_id,
            "epoch": epoch,
            "topic": [topic for topic, _, _ in offsets],
            "partition": [partition for _, partition, _ in offsets],
            "offset": [offset for _, _, offset in offsets],
        },
    )


def stored_offsets(engine: Engine, *, group_id: str, topic: str, epoch: str) -> dict[int, int]:
    """Partition -> next offset to read, for offsets of this broker log (``epoch``)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(ConsumerOffset.partition, ConsumerOffset.next_offset).where(
                ConsumerOffset.group_id == group_id,
                ConsumerOffset.topic == topic,
                ConsumerOffset.epoch == epoch,
            )
        ).all()
    return {int(p): int(o) for p, o in rows}


def try_session_lock(conn: Connection, key: str) -> bool:
    """Take the session-level advisory lock named ``key`` if it is free (it is held until
    ``conn`` closes)."""
    return bool(
        conn.execute(text("SELECT pg_try_advisory_lock(hashtext(:k))"), {"k": key}).scalar()
    )


def pipeline_progress(session: Session) -> tuple[int, int]:
    """Events stored, and source and account records still waiting for identity (exact
    counts)."""
    row = session.execute(
        text(
            "SELECT (SELECT count(*) FROM events), "
            "(SELECT count(*) FROM source_records WHERE dirty) "
            "+ (SELECT count(*) FROM account_records WHERE dirty)"
        )
    ).one()
    return int(row[0]), int(row[1])
