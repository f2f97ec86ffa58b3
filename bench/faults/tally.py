"""Reading the database from the outside (a fresh connection per query) and counting what
one scenario cost: acknowledged, stored, lost, duplicated, unresolved, stale."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import psycopg

from bench.faults.load import Batch
from bench.faults.plan import BROKER_SCENARIOS, SOURCE, TARGETS, Outcome, now, rounded


def query_rows(url: str, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]] | None:
    """One query on a fresh connection; None while the database does not answer."""
    try:
        with psycopg.connect(url, connect_timeout=3, autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()
    except psycopg.Error:
        return None


#: the record keys among ``user:<id>`` whose profile is fresh and holds the user's traits
REACHED = (
    "SELECT r.record_key FROM source_records r "
    "JOIN record_links l ON l.record_id = r.id JOIN profiles p ON p.id = l.profile_id "
    "WHERE r.source = %s AND r.record_key = ANY(%s) AND NOT r.dirty AND NOT p.stale "
    "AND position(substr(r.record_key, 6) in p.traits::text) > 0"
)
STORED = "SELECT count(*) FROM events WHERE source = %s AND message_id = ANY(%s)"
UNRESOLVED = (
    "SELECT count(*) FROM source_records r LEFT JOIN record_links l "
    "ON l.record_id = r.id WHERE r.source = %s AND r.record_key = ANY(%s) "
    "AND (r.dirty OR l.record_id IS NULL)"
)


def required(name: str, batches: list[Batch], out: Outcome) -> list[Batch]:
    """Batches whose events must be stored (for the broker: acknowledged after the kill)."""
    acked = [b for b in batches if b.acked_at is not None]
    if name in BROKER_SCENARIOS:
        kill = out.marks.get("kill", 0.0)
        return [b for b in acked if (b.ack_attempt_started or 0.0) >= kill]
    return acked


def missing(url: str, batches: list[Batch]) -> dict[str, int] | None:
    """What is not stored, resolved and fresh yet of ``batches``; None if the database does
    not answer."""
    ids = [m for b in batches for m in b.acked_ids()]
    users = sorted({u for b in batches if b.acked_at is not None for u in b.users})
    keys = [f"user:{u}" for u in users]
    stored = query_rows(url, STORED, (SOURCE, ids))
    unresolved = query_rows(url, UNRESOLVED, (SOURCE, keys))
    stale = query_rows(
        url,
        "SELECT count(DISTINCT p.id) FROM source_records r "
        "JOIN record_links l ON l.record_id = r.id JOIN profiles p ON p.id = l.profile_id "
        "WHERE r.source = %s AND r.record_key = ANY(%s) AND p.stale",
        (SOURCE, keys),
    )
    records = query_rows(
        url,
        "SELECT count(DISTINCT record_key) FROM source_records "
        "WHERE source = %s AND record_key = ANY(%s)",
        (SOURCE, keys),
    )
    if stored is None or unresolved is None or stale is None or records is None:
        return None
    return {
        "unstored": len(ids) - int(stored[0][0]),
        "unresolved": int(unresolved[0][0]),
        "no_record": len(keys) - int(records[0][0]),
        "stale": int(stale[0][0]),
    }


def count(
    db_url: Callable[[], str], name: str, batches: list[Batch], out: Outcome
) -> dict[str, Any]:
    """The counts of a drained scenario; ``db_url`` says where the database is now."""
    url = db_url()
    prefix = f"{name}-"
    acked = [b for b in batches if b.acked_at is not None]
    ids = [m for b in acked for m in b.acked_ids()]
    users = sorted({u for b in acked for u in b.users})
    keys = [f"user:{u}" for u in users]

    def one(sql: str, params: Sequence[Any]) -> tuple[Any, ...]:
        deadline = now() + 30
        while (rows := query_rows(db_url(), sql, params)) is None:
            if now() > deadline:
                raise RuntimeError(f"the database did not answer for 30 s: {sql[:60]}")
            time.sleep(1)
        return rows[0]

    stored_acked = int(one(STORED, (SOURCE, ids))[0])
    ev_total, ev_distinct, tp_total, tp_distinct, no_tp = one(
        "SELECT count(DISTINCT e.id), count(DISTINCT e.message_id), count(t.id), "
        "count(DISTINCT t.event_id), count(*) FILTER (WHERE t.id IS NULL) "
        "FROM events e LEFT JOIN touchpoints t ON t.event_id = e.id "
        "WHERE e.source = %s AND starts_with(e.message_id, %s)",
        (SOURCE, prefix),
    )
    rec_total, rec_distinct = one(
        "SELECT count(*), count(DISTINCT record_key) FROM source_records "
        "WHERE source = %s AND record_key = ANY(%s)",
        (SOURCE, keys),
    )
    (unresolved,) = one(UNRESOLVED, (SOURCE, keys))
    stale, shared = one(
        "SELECT count(DISTINCT p.id) FILTER (WHERE p.stale), "
        "(SELECT count(*) FROM (SELECT l2.profile_id FROM source_records r2 "
        "  JOIN record_links l2 ON l2.record_id = r2.id "
        "  WHERE r2.source = %s AND r2.record_key = ANY(%s) "
        "  GROUP BY l2.profile_id HAVING count(*) > 1) s) "
        "FROM source_records r JOIN record_links l ON l.record_id = r.id "
        "JOIN profiles p ON p.id = l.profile_id "
        "WHERE r.source = %s AND r.record_key = ANY(%s)",
        (SOURCE, keys, SOURCE, keys),
    )
    dup = {
        "events": int(ev_total) - int(ev_distinct),
        "touchpoints": int(tp_total) - int(tp_distinct),
        "source_records": int(rec_total) - int(rec_distinct),
    }
    result: dict[str, Any] = {
        "stored": int(ev_total),
        "stored_of_acknowledged": stored_acked,
        "stored_not_acknowledged": int(ev_total) - stored_acked,
        "lost": len(ids) - stored_acked,
        "duplicated": sum(dup.values()),
        "duplicates": dup,
        "events_without_touchpoint": int(no_tp),
        "users_without_record": len(keys) - int(rec_distinct),
        "profiles_holding_several_test_users": int(shared),
        "records_left_unresolved": int(unresolved),
        "profiles_left_stale": int(stale),
    }
    if name in BROKER_SCENARIOS:
        result.update(broker_counts(url, acked, out))
    return result


def broker_counts(url: str, acked: list[Batch], out: Outcome) -> dict[str, Any]:
    kill, up = out.marks["kill"], out.marks["up"]
    before = [b for b in acked if (b.ack_attempt_started or 0.0) < kill]
    during = [
        b for b in acked if (b.ack_attempt_started or 0.0) >= kill and (b.acked_at or 0.0) < up
    ]
    ids_before = [m for b in before for m in b.acked_ids()]
    rows = query_rows(url, STORED, (SOURCE, ids_before))
    stored_before = int(rows[0][0]) if rows else 0
    lost_memory = len(ids_before) - stored_before
    return {
        "acknowledged_before_kill": len(ids_before),
        "lost_in_memory_broker": lost_memory,
        "acknowledged_while_broker_down": sum(len(b.acked_ids()) for b in during),
        "seconds_broker_down": rounded(up - kill),
    }


def report(
    name: str,
    batches: list[Batch],
    out: Outcome,
    counts: dict[str, Any],
    by_itself: float | None,
    after_person: float | None,
    *,
    http: Counter[str],
) -> dict[str, Any]:
    """The scenario's JSON document, with its verdict against :data:`TARGETS`."""
    acked = [b for b in batches if b.acked_at is not None]
    sent = sum(len(b.message_ids) for b in batches)
    acknowledged = sum(len(b.acked_ids()) for b in acked)
    person = bool(out.interventions)
    doc: dict[str, Any] = {
        "name": name,
        "sent": sent,
        "acknowledged": acknowledged,
        "not_acknowledged": sent - acknowledged,
        "refused_4xx": sum(len(b.message_ids) for b in batches if b.failed_status),
        "http_attempts": dict(sorted(http.items())),
        **counts,
        "seconds_to_recover": rounded(by_itself),
        "recovered_by_itself": by_itself is not None,
        "person_acted": person,
        "seconds_to_recover_after_person_acted": rounded(after_person),
        "faults": out.actions,
        "interventions": out.interventions,
    }
    if name in BROKER_SCENARIOS:
        # events the in-memory broker took with it are reported, not counted as lost
        doc["lost"] = doc["lost"] - doc["lost_in_memory_broker"]
    failed = []
    if doc["lost"] != 0:
        failed.append(f"{doc['lost']} acknowledged events not stored")
    if doc["duplicated"] != 0:
        failed.append(f"{doc['duplicated']} stored more than once")
    if doc["records_left_unresolved"]:
        failed.append(f"{doc['records_left_unresolved']} records left unresolved")
    if doc["profiles_left_stale"]:
        failed.append(f"{doc['profiles_left_stale']} profiles left stale")
    if by_itself is None:
        failed.append("did not recover by itself")
    elif by_itself > TARGETS["seconds_to_recover_max"]:
        failed.append(f"recovered in {by_itself:.1f} s (> 30 s)")
    if person:
        failed.append("a person had to act")
    if doc.get("acknowledged_while_broker_down"):
        failed.append("2xx for events while no broker ran")
    doc["pass"] = not failed
    doc["failed"] = failed
    return doc
