"""`kindred bench segments`: segment creation, event -> membership latency, export rate and
members-page latency over generated profiles and events.

The data is generated set-based inside PostgreSQL (``generate_series``) in a fresh database:
accounts, profiles with materialised traits/computed traits, one source record (with its
``user_id`` identifier and record link) per profile, and events with their touchpoints. Then
the real processes run as in production — the API (`kindred serve`) and the ingest, identity
and profiles workers — and the load comes from this process over HTTP.
"""

from __future__ import annotations

import random
import statistics
import time
import uuid
from typing import Any

import httpx
import psycopg

from bench.ingest import bench_environment
from bench.processes import running_pipeline
from kindred.db import make_engine, unit_of_work
from kindred.security import create_api_key
from profiles.config import save_config
from profiles.segments import create_segment

TARGETS = {
    "event_to_membership_p95_s": 5.0,
    "export_members_per_s": 100_000,
    "members_page_p95_ms": 50.0,
}
EVENT_NAMES = [
    "Email Opened",
    "Email Link Clicked",
    "Whitepaper Downloaded",
    "Webinar Registered",
    "Webinar Attended",
    "Signed Up",
    "Trial Started",
    "Order Completed",
    "Viewed Pricing",
    "Viewed Blog",
]

GENERATE = [
    # accounts: one per 20 profiles
    """
    CREATE TABLE bench_accounts AS
    SELECT i, gen_random_uuid() AS id FROM generate_series(1, GREATEST(1, %(profiles)s / 20)) i
    """,
    """
    INSERT INTO accounts (id, name, domain, traits)
    SELECT id, 'Company ' || i, 'c' || i || '.example',
           jsonb_build_object(
               'industry',
               (ARRAY['manufacturing','retail','software','logistics','health'])[1 + i %% 5],
               'employees', 10 + (i * 37) %% 2000)
    FROM bench_accounts
    """,
    # profiles, with what the profiles worker would have materialised
    "CREATE UNIQUE INDEX ON bench_accounts (i)",
    """
    CREATE TABLE bench_profiles AS
    SELECT g.i, gen_random_uuid() AS id, a.id AS account_id
    FROM generate_series(1, %(profiles)s) g(i)
    JOIN bench_accounts a ON a.i = 1 + (g.i %% GREATEST(1, %(profiles)s / 20))
    """,
    "CREATE UNIQUE INDEX ON bench_profiles (i)",
    """
    INSERT INTO profiles (id, account_id, traits, computed, stale, computed_at, stale_since)
    SELECT id, account_id,
           jsonb_build_object('email', 'u' || i || '@example.com',
                              'plan', CASE WHEN i %% 2 = 0 THEN 'pro' ELSE 'free' END,
                              'job_title',
                              (ARRAY['CEO','Engineer','Head of Sales','Analyst'])[1 + i %% 4]),
           jsonb_build_object(
               'lead_score', jsonb_build_object('score', i %% 100),
               'temperature', jsonb_build_object(
                   'value', (ARRAY['cold','warm','hot'])[1 + i %% 3]),
               'consent', jsonb_build_object(
                   'email', jsonb_build_object('granted', i %% 10 <> 0),
                   'sms', jsonb_build_object('granted', true),
                   'ads', jsonb_build_object('granted', true))),
           false, now(), NULL
    FROM bench_profiles
    """,
    """
    INSERT INTO source_records (id, source, record_key, channel, traits, trait_meta,
                                external_ids, first_seen, last_seen, dirty)
    SELECT i, %(source)s, 'user:u' || i, 'web',
           jsonb_build_object('email', 'u' || i || '@example.com',
                              'plan', CASE WHEN i %% 2 = 0 THEN 'pro' ELSE 'free' END),
           '{}'::jsonb, jsonb_build_object('user_id', jsonb_build_array('u' || i)),
           now() - interval '400 days', now() - interval '1 day', false
    FROM bench_profiles
    """,
    "SELECT setval(pg_get_serial_sequence('source_records', 'id'), %(profiles)s + 1)",
    """
    INSERT INTO identifiers (record_id, type, link_type, value, raw_value)
    SELECT i, 'user_id', 'segment_id', 'u' || i, 'u' || i FROM bench_profiles
    """,
    """
    INSERT INTO record_links (record_id, profile_id, rule)
    SELECT i, id, 'bench' FROM bench_profiles
    """,
    # events and their touchpoints (record = profile index), older than one day
    """
    INSERT INTO events (id, source, message_id, type, event, channel, record_id, occurred_at,
                        payload)
    SELECT g, %(source)s, 'bench-' || g, 'track',
           (CAST(%(names)s AS text[]))[1 + (hashint4(g) & 1023) %% 10], 'web',
           1 + (hashint4(g * 7) & 2147483647) %% %(profiles)s,
           now() - interval '1 day'
               - make_interval(secs => (hashint4(g * 13) & 2147483647) %% 31536000),
           '{}'::jsonb
    FROM generate_series(1, %(events)s) g
    """,
    "SELECT setval(pg_get_serial_sequence('events', 'id'), %(events)s + 1)",
    """
    INSERT INTO touchpoints (event_id, record_id, occurred_at, channel, type, name, source,
                             campaign, properties)
    SELECT id, record_id, occurred_at, channel, type, event, source, '{}'::jsonb, '{}'::jsonb
    FROM events
    """,
    "DROP TABLE bench_profiles",
    "DROP TABLE bench_accounts",
    "ANALYZE",
]


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def generate(url: str, *, profiles: int, events: int, source: str) -> dict[str, float]:
    timings: dict[str, float] = {}
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '256MB'")
        conn.execute("SET work_mem = '64MB'")
        params = {"profiles": profiles, "events": events, "source": source, "names": EVENT_NAMES}
        for sql in GENERATE:
            start = time.perf_counter()
            conn.execute(sql, params)
            label = " ".join(sql.split()[:3])
            timings[label] = timings.get(label, 0.0) + time.perf_counter() - start
    return {k: round(v, 2) for k, v in timings.items()}


def _latency(
    base: str, key: str, write_key: str, segment_id: str, *, samples: int, profiles: int
) -> dict[str, Any]:
    """Send an event that makes a person enter the segment; time until the entry is visible
    through the API's changes feed (polled every 20 ms)."""
    rng = random.Random(11)
    latencies: list[float] = []
    misses = 0
    with httpx.Client(base_url=base, timeout=30) as client:
        cursor = client.get(
            f"/v1/segments/{segment_id}/changes",
            headers={"Authorization": f"Bearer {key}"},
            params={"since": "0", "limit": 1},
        ).json()["next_cursor"]
        # start after the existing changes
        while True:
            page = client.get(
                f"/v1/segments/{segment_id}/changes",
                headers={"Authorization": f"Bearer {key}"},
                params={"since": cursor, "limit": 10000},
            ).json()
            cursor = page["next_cursor"]
            if not page["has_more"]:
                break
        used: set[int] = set()
        for _ in range(samples):
            i = 2 * rng.randrange(1, max(2, profiles // 2))  # even = plan pro
            while i in used:
                i = 2 * rng.randrange(1, max(2, profiles // 2))
            used.add(i)
            user = f"u{i}"
            sent = time.perf_counter()
            r = client.post(
                "/v1/track",
                auth=(write_key, ""),
                json={
                    "userId": user,
                    "event": "Demo Requested",
                    "messageId": uuid.uuid4().hex,
                    "properties": {"bench": True},
                },
            )
            r.raise_for_status()
            deadline = sent + 30
            seen = False
            while time.perf_counter() < deadline:
                page = client.get(
                    f"/v1/segments/{segment_id}/changes",
                    headers={"Authorization": f"Bearer {key}"},
                    params={"since": cursor, "limit": 1000},
                ).json()
                if page["items"]:
                    cursor = page["next_cursor"]
                    seen = True
                    break
                time.sleep(0.02)
            if seen:
                latencies.append(time.perf_counter() - sent)
            else:
                misses += 1
            time.sleep(0.1)
    return {
        "samples": len(latencies),
        "missed_within_30s": misses,
        "p50_s": round(_pct(latencies, 0.5), 3),
        "p95_s": round(_pct(latencies, 0.95), 3),
        "max_s": round(max(latencies), 3) if latencies else None,
    }


def _export(base: str, key: str, segment_id: str, fmt: str, fields: str) -> dict[str, Any]:
    accept = {"csv": "text/csv", "ndjson": "application/x-ndjson"}[fmt]
    rows = 0
    size = 0
    start = time.perf_counter()
    with httpx.stream(
        "GET",
        f"{base}/v1/segments/{segment_id}/members",
        headers={"Authorization": f"Bearer {key}", "Accept": accept},
        params={"fields": fields},
        timeout=600,
    ) as r:
        r.raise_for_status()
        for chunk in r.iter_bytes():
            rows += chunk.count(b"\n")
            size += len(chunk)
    elapsed = time.perf_counter() - start
    if fmt == "csv":
        rows -= 1  # header
    return {
        "rows": rows,
        "seconds": round(elapsed, 2),
        "rows_per_s": round(rows / elapsed),
        "mb": round(size / 1e6, 1),
    }


def _pages(base: str, key: str, segment_id: str, *, requests: int) -> dict[str, Any]:
    latencies: list[float] = []
    cursor: str | None = None
    with httpx.Client(base_url=base, timeout=30) as client:
        for _ in range(requests):
            params: dict[str, Any] = {"limit": 100, "fields": "email,plan"}
            if cursor:
                params["cursor"] = cursor
            start = time.perf_counter()
            r = client.get(
                f"/v1/segments/{segment_id}/members",
                headers={"Authorization": f"Bearer {key}"},
                params=params,
            )
            latencies.append((time.perf_counter() - start) * 1000)
            r.raise_for_status()
            cursor = r.json()["next_cursor"]
    return {
        "requests": len(latencies),
        "page_size": 100,
        "p50_ms": round(_pct(latencies, 0.5), 2),
        "p95_ms": round(_pct(latencies, 0.95), 2),
        "mean_ms": round(statistics.fmean(latencies), 2),
    }


def quiet_schedule(session: Any) -> None:
    """Keep the scheduled full refreshes (segments, accounts, aged profiles) out of a
    benchmark's measurement window."""
    save_config(
        session,
        sections={
            "schedule": {
                "segment_refresh_seconds": 3600,
                "full_refresh_seconds": 3600,
                "accounts_refresh_seconds": 3600,
                "recompute_after_seconds": 86400,
            }
        },
    )


def run(*, profiles: int, events: int) -> dict[str, Any]:
    with bench_environment() as env:
        url = env.database_url
        started = time.perf_counter()
        gen = generate(url, profiles=profiles, events=events, source=env.source)
        generation_s = time.perf_counter() - started
        engine = make_engine(url, pool_size=2)
        with unit_of_work(engine) as session:
            _, api_key = create_api_key(session, name="bench", scopes=["read", "write"])
            quiet_schedule(session)  # see the report
        creation: dict[str, Any] = {}
        specs: dict[str, dict[str, Any]] = {
            "pro_webinar_90d": {
                "all": [
                    {"trait": "plan", "op": "eq", "value": "pro"},
                    {"event": "Webinar Attended", "within_days": 90},
                ]
            },
            "hot_leads_manufacturing_50_500": {
                "all": [
                    {"computed": "lead_score", "op": "gte", "value": 60},
                    {"account": "industry", "op": "eq", "value": "manufacturing"},
                    {"account": "employees", "op": "between", "value": [50, 500]},
                ]
            },
            "pro_plan": {"trait": "plan", "op": "eq", "value": "pro"},
            "pro_demo_requested": {
                "all": [
                    {"trait": "plan", "op": "eq", "value": "pro"},
                    {"event": "Demo Requested"},
                ]
            },
        }
        ids: dict[str, str] = {}
        for name, rules in specs.items():
            start = time.perf_counter()
            with unit_of_work(engine) as session:
                view = create_segment(session, name=name, rules=rules)
            creation[name] = {
                "seconds": round(time.perf_counter() - start, 2),
                "members": view.member_count,
            }
            ids[name] = str(view.id)
        engine.dispose()

        with running_pipeline(env.settings, ["ingest", "identity", "profiles"]) as base:
            time.sleep(5)  # consumer groups join
            pages = _pages(base, api_key, ids["pro_plan"], requests=300)
            export_csv = _export(base, api_key, ids["pro_plan"], "csv", "email,plan")
            export_ndjson = _export(base, api_key, ids["pro_plan"], "ndjson", "email,plan")
            latency = _latency(
                base,
                api_key,
                env.write_key,
                ids["pro_demo_requested"],
                samples=60,
                profiles=profiles,
            )
    export_rate = min(export_csv["rows_per_s"], export_ndjson["rows_per_s"])
    return {
        "benchmark": "segments",
        "profiles": profiles,
        "events": events,
        "generation_s": round(generation_s, 1),
        "generation_steps_s": gen,
        "segment_create_and_compute": creation,
        "event_to_membership": latency,
        "export_csv": export_csv,
        "export_ndjson": export_ndjson,
        "members_page": pages,
        "targets": TARGETS,
        "meets_targets": {
            "event_to_membership_p95_s": latency["p95_s"] <= TARGETS["event_to_membership_p95_s"],
            "export_members_per_s": export_rate >= TARGETS["export_members_per_s"],
            "members_page_p95_ms": pages["p95_ms"] <= TARGETS["members_page_p95_ms"],
        },
    }
