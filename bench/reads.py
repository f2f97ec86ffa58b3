"""`kindred bench reads`: the read paths' latency as the profile count grows.

For each size a fresh database is filled set-based inside PostgreSQL (the generator of
`kindred bench segments`: profiles with materialised traits, one source record with its
``user_id`` identifier and record link per profile, events with their touchpoints), one
segment (``plan = pro``, half the profiles) is computed, and the real API (`kindred serve`)
is started as a child process. This process then measures over HTTP, one request at a time:
profile by id, profile by identifier, the journey's first page, a members page (walking the
cursor), and the CSV export of the whole segment. Optionally the ingest, identity and
profiles workers run too, with events posted to the collector at ``ingest_rate`` events/s
during the measurement.
"""

from __future__ import annotations

import random
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import Any

import httpx
import psycopg

from bench.ingest import bench_environment
from bench.processes import running_pipeline
from bench.segments import _export, generate, quiet_schedule
from ingest.sources import create_source
from kindred.db import make_engine, unit_of_work
from kindred.security import create_api_key
from kindred.settings import Settings
from profiles.segments import create_segment

__all__ = ["TARGETS", "measure", "run"]

TARGETS = {
    "profile_by_id_p95_ms": 20.0,
    "profile_by_identifier_p95_ms": 20.0,
    "members_page_p95_ms": 30.0,
    "export_csv_rows_per_s": 150_000,
}
SOURCE = "bench-reads"


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], 2)


def _timed(
    client: httpx.Client, key: str, paths: Sequence[tuple[str, dict[str, Any]]], *, warmup: int
) -> dict[str, Any]:
    """GET each (path, params) in turn; the first ``warmup`` are not counted."""
    headers = {"Authorization": f"Bearer {key}"}
    latencies: list[float] = []
    errors = 0
    for n, (path, params) in enumerate(paths):
        start = time.perf_counter()
        r = client.get(path, headers=headers, params=params)
        elapsed = (time.perf_counter() - start) * 1000
        if r.status_code != 200:
            errors += 1
        elif n >= warmup:
            latencies.append(elapsed)
    return {
        "requests": len(latencies),
        "errors": errors,
        "p50_ms": _pct(latencies, 0.5),
        "p95_ms": _pct(latencies, 0.95),
        "mean_ms": round(statistics.fmean(latencies), 2) if latencies else None,
    }


def _members_pages(
    client: httpx.Client, key: str, segment_id: str, *, requests: int, warmup: int
) -> dict[str, Any]:
    """Walk the members cursor, 100 per page (starting over at the end)."""
    headers = {"Authorization": f"Bearer {key}"}
    latencies: list[float] = []
    errors = 0
    cursor: str | None = None
    for n in range(requests + warmup):
        params: dict[str, Any] = {"limit": 100, "fields": "email,plan"}
        if cursor:
            params["cursor"] = cursor
        start = time.perf_counter()
        r = client.get(f"/v1/segments/{segment_id}/members", headers=headers, params=params)
        elapsed = (time.perf_counter() - start) * 1000
        if r.status_code != 200:
            errors += 1
            cursor = None
            continue
        if n >= warmup:
            latencies.append(elapsed)
        cursor = r.json().get("next_cursor")
    return {
        "requests": len(latencies),
        "errors": errors,
        "page_size": 100,
        "p50_ms": _pct(latencies, 0.5),
        "p95_ms": _pct(latencies, 0.95),
        "mean_ms": round(statistics.fmean(latencies), 2) if latencies else None,
    }


class _Load:
    """Posts track events to the collector at ``rate`` events/s (batches of ``rate / 10``
    every 100 ms) for known users, in a background thread."""

    def __init__(self, base: str, write_key: str, *, rate: int, profiles: int) -> None:
        self.base, self.write_key, self.rate, self.profiles = base, write_key, rate, profiles
        self.sent = 0
        self.errors = 0
        self.seconds = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bench-reads-load", daemon=True)

    def _loop(self) -> None:
        rng = random.Random(5)
        per_batch = max(1, self.rate // 10)
        start = time.perf_counter()
        tick = 0
        with httpx.Client(base_url=self.base, timeout=30) as client:
            while not self._stop.is_set():
                batch = [
                    {
                        "type": "track",
                        "userId": f"u{rng.randint(1, self.profiles)}",
                        "event": "Viewed Blog",
                        "messageId": uuid.uuid4().hex,
                        "properties": {"bench": "reads"},
                    }
                    for _ in range(per_batch)
                ]
                try:
                    r = client.post("/v1/batch", json={"batch": batch}, auth=(self.write_key, ""))
                    if r.status_code == 200:
                        self.sent += per_batch
                    else:
                        self.errors += 1
                except httpx.HTTPError:
                    self.errors += 1
                tick += 1
                delay = start + tick * 0.1 - time.perf_counter()
                if delay > 0:
                    self._stop.wait(delay)
        self.seconds = time.perf_counter() - start

    def __enter__(self) -> _Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def report(self) -> dict[str, Any]:
        return {
            "offered_events_per_s": self.rate,
            "sent_events": self.sent,
            "achieved_events_per_s": round(self.sent / self.seconds, 1) if self.seconds else None,
            "request_errors": self.errors,
        }


def _sample(url: str, *, n: int, seed: int) -> tuple[list[str], list[int]]:
    """``n`` random live profile ids, and ``n`` random profile indexes (for ``u{i}``)."""
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain) as conn:
        conn.execute("SELECT setseed(%s)", (seed / 1000,))
        rows = conn.execute(
            "SELECT id FROM profiles WHERE merged_into IS NULL AND NOT deleted "
            "ORDER BY random() LIMIT %s",
            (n,),
        ).fetchall()
        count_row = conn.execute("SELECT count(*) FROM source_records").fetchone()
    total = int(count_row[0]) if count_row else 1
    rng = random.Random(seed)
    return [str(r[0]) for r in rows], [rng.randint(1, max(1, total)) for _ in range(n)]


def measure(
    settings: Settings,
    *,
    profiles: int,
    events: int,
    requests: int = 500,
    warmup: int = 50,
    ingest_rate: int = 0,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Generate ``profiles`` into the (migrated, empty) database of ``settings``, start the
    API (and, with ``ingest_rate``, the workers) on it and measure the read paths."""
    url = settings.resolved_database_url()
    engine = make_engine(url, pool_size=2)
    try:
        with unit_of_work(engine) as session:
            _, write_key = create_source(session, name=SOURCE, connector="web")
        progress(f"reads: generating {profiles} profiles, {events} events")
        started = time.perf_counter()
        steps = generate(url, profiles=profiles, events=events, source=SOURCE)
        generation_s = time.perf_counter() - started
        with unit_of_work(engine) as session:
            _, api_key = create_api_key(session, name="bench-reads", scopes=["read", "write"])
            quiet_schedule(session)
        started = time.perf_counter()
        with unit_of_work(engine) as session:
            segment = create_segment(
                session,
                name="bench_reads_pro_plan",
                rules={"trait": "plan", "op": "eq", "value": "pro"},
            )
        segment_s = time.perf_counter() - started
    finally:
        engine.dispose()
    segment_id = str(segment.id)
    ids, indexes = _sample(url, n=requests + warmup, seed=17)

    workers = ["ingest", "identity", "profiles"] if ingest_rate > 0 else []
    load: dict[str, Any] | None = None
    progress(f"reads: measuring at {profiles} profiles (ingest {ingest_rate}/s)")
    with running_pipeline(settings, workers) as base, ExitStack() as stack:
        loader = _Load(base, write_key, rate=ingest_rate, profiles=profiles)
        if ingest_rate > 0:
            time.sleep(5)  # consumer groups join
            stack.enter_context(loader)
        with httpx.Client(base_url=base, timeout=60) as client:
            by_id = _timed(client, api_key, [(f"/v1/profiles/{i}", {}) for i in ids], warmup=warmup)
            by_identifier = _timed(
                client,
                api_key,
                [("/v1/profiles", {"identifier": f"user_id:u{i}"}) for i in indexes],
                warmup=warmup,
            )
            journey = _timed(
                client,
                api_key,
                [(f"/v1/profiles/{i}/journey", {"limit": 50}) for i in ids],
                warmup=warmup,
            )
            members = _members_pages(client, api_key, segment_id, requests=requests, warmup=warmup)
        export_csv = _export(base, api_key, segment_id, "csv", "email,plan")
        stack.close()  # stop the load before reading its figures
        if ingest_rate > 0:
            load = loader.report()
    meets = {
        "profile_by_id_p95_ms": _within(by_id["p95_ms"], TARGETS["profile_by_id_p95_ms"]),
        "profile_by_identifier_p95_ms": _within(
            by_identifier["p95_ms"], TARGETS["profile_by_identifier_p95_ms"]
        ),
        "members_page_p95_ms": _within(members["p95_ms"], TARGETS["members_page_p95_ms"]),
        "export_csv_rows_per_s": export_csv["rows_per_s"] >= TARGETS["export_csv_rows_per_s"],
    }
    return {
        "profiles": profiles,
        "events": events,
        "generation_s": round(generation_s, 1),
        "generation_steps_s": steps,
        "segment": {"members": segment.member_count, "create_and_compute_s": round(segment_s, 2)},
        "ingest_load": load,
        "profile_by_id": by_id,
        "profile_by_identifier": by_identifier,
        "journey_first_page": journey,
        "members_page": members,
        "export_csv": export_csv,
        "meets_targets": meets,
    }


def _within(value: float | None, limit: float) -> bool:
    return value is not None and value <= limit


def run(
    *,
    sizes: Sequence[int],
    events_per_profile: int = 5,
    requests: int = 500,
    ingest_rate: int = 0,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """One fresh database per size; the report has one entry per size, smallest first."""
    runs = []
    for profiles in sorted(sizes):
        with bench_environment() as env:
            runs.append(
                measure(
                    env.settings,
                    profiles=profiles,
                    events=profiles * events_per_profile,
                    requests=requests,
                    ingest_rate=ingest_rate,
                    progress=progress,
                )
            )
    return {
        "benchmark": "reads",
        "config": {
            "sizes": sorted(sizes),
            "events_per_profile": events_per_profile,
            "requests_per_path": requests,
            "ingest_rate": ingest_rate,
            "client": "one httpx client, one request at a time, over loopback",
        },
        "runs": runs,
        "targets": TARGETS,
    }
