"""`kindred bench ingest`: collector -> Kafka -> Postgres throughput, event -> profile latency,
and the ceiling of our Kafka client (plain kafka-python produce + consume of the same payloads).

Everything runs on this machine as separate processes, as in production: the API
(`kindred serve`), the ingest worker and the identity worker; the load comes from this process.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench.processes import running_pipeline
from kindred import infra
from kindred.db import make_engine, unit_of_work
from kindred.kafka import ensure_topics, make_consumer, make_producer
from kindred.migrate import upgrade
from kindred.settings import Settings

TARGETS = {
    "events_per_s": 5_000,
    "ratio_to_plain_kafka": 0.5,
    "event_to_profile_p95_s": 0.5,
}


@dataclass(frozen=True)
class BenchEnv:
    settings: Settings
    database_url: str
    write_key: str
    source: str


@contextmanager
def bench_environment() -> Iterator[BenchEnv]:
    """A fresh database and fresh topics on the embedded (or configured) services."""
    base = Settings()
    data_dir = Path(tempfile.mkdtemp(prefix="kindred-bench-"))
    settings = Settings(
        data_dir=data_dir,
        database_url=base.database_url,
        kafka_bootstrap=base.kafka_bootstrap,
    )
    status = infra.up(settings)
    assert status.database_url and status.kafka_bootstrap
    server = status.database_url.rsplit("/", 1)[0]
    name = f"bench_{uuid.uuid4().hex[:8]}"
    admin = server.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{server}/{name}"
    if "+psycopg" not in url:
        url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    upgrade(url)
    suffix = uuid.uuid4().hex[:6]
    run_settings = Settings(
        data_dir=data_dir,
        database_url=url,
        kafka_bootstrap=status.kafka_bootstrap,
        events_topic=f"bench.events.{suffix}",
        dlq_topic=f"bench.dlq.{suffix}",
        identity_changes_topic=f"bench.changes.{suffix}",
    )
    from ingest.sources import create_source

    engine = make_engine(url)
    with unit_of_work(engine) as session:
        _, key = create_source(session, name="bench-web", connector="web")
    engine.dispose()
    try:
        yield BenchEnv(run_settings, url, key, "bench-web")
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        infra.down(settings)
        shutil.rmtree(data_dir, ignore_errors=True)


def _count_events(url: str) -> int:
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        row = conn.execute("SELECT count(*) FROM events").fetchone()
    return int(row[0]) if row else 0


def _pct(values: list[float], q: float) -> float | None:
    """The q-quantile (nearest rank), None when there is no value (JSON has no NaN)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def wait_settled(url: str, *, timeout: float = 600) -> float:
    """Seconds until identity has no dirty record left (the backlog has settled)."""
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    start = time.perf_counter()
    with psycopg.connect(plain, autocommit=True) as conn:
        while time.perf_counter() - start < timeout:
            (dirty,) = conn.execute(
                "SELECT count(*) FROM source_records WHERE dirty AND NOT deleted"
            ).fetchone() or (0,)
            if dirty == 0:
                break
            time.sleep(0.1)
    return round(time.perf_counter() - start, 2)


def throughput_phase(
    env: BenchEnv, base: str, batches: list[dict[str, Any]], total: int
) -> dict[str, Any]:
    auth = (env.write_key, "")
    bodies = [json.dumps(b).encode() for b in batches]
    errors = 0

    local = threading.local()

    def send(body: bytes) -> int:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(base_url=base, timeout=60)
        r = client.post(
            "/v1/batch", content=body, auth=auth, headers={"Content-Type": "application/json"}
        )
        return r.status_code

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=4) as pool:
        codes = list(pool.map(send, bodies))
    sent_at = time.perf_counter()
    errors = sum(1 for c in codes if c != 200)
    while _count_events(env.database_url) < total:
        if time.perf_counter() - start > 600:
            break
        time.sleep(0.05)
    done = time.perf_counter()
    persisted = _count_events(env.database_url)
    return {
        "events": total,
        "requests": len(bodies),
        "events_per_request": total // max(1, len(bodies)),
        "http_errors": errors,
        "accept_seconds": round(sent_at - start, 3),
        "accepted_events_per_s": round(total / (sent_at - start), 1),
        "persisted": persisted,
        "seconds_first_send_to_last_persisted": round(done - start, 3),
        "events_per_s": round(persisted / (done - start), 1),
    }


def latency_phase(
    env: BenchEnv, base: str, *, rate: int = 1000, seconds: float = 10.0
) -> dict[str, Any]:
    """Send identify calls for new people at ``rate``/s; time until each is on a profile."""
    auth = (env.write_key, "")
    tick = 0.05
    per_tick = max(1, int(rate * tick))
    sent: dict[str, float] = {}
    found: dict[str, float] = {}
    plain = env.database_url.replace("postgresql+psycopg://", "postgresql://")
    run = uuid.uuid4().hex[:6]
    n = 0
    start = time.perf_counter()
    with httpx.Client(base_url=base, timeout=30) as client, psycopg.connect(plain) as conn:
        conn.autocommit = True
        next_tick = start
        while time.perf_counter() - start < seconds:
            batch = []
            for _ in range(per_tick):
                uid = f"lat-{run}-{n}"
                n += 1
                batch.append(
                    {
                        "type": "identify",
                        "messageId": uid,
                        "userId": uid,
                        "traits": {"email": f"{uid}@latency.example"},
                    }
                )
            t0 = time.perf_counter()
            r = client.post("/v1/batch", json={"batch": batch}, auth=auth)
            if r.status_code == 200:
                for m in batch:
                    sent[f"user:{m['userId']}"] = t0
            _poll_linked(conn, env.source, sent, found)
            next_tick += tick
            delay = next_tick - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        deadline = time.perf_counter() + 30
        while len(found) < len(sent) and time.perf_counter() < deadline:
            _poll_linked(conn, env.source, sent, found)
            time.sleep(0.02)
    latencies = [found[k] - sent[k] for k in found]
    return {
        "target_rate_per_s": rate,
        "achieved_rate_per_s": round(len(sent) / seconds, 1),
        "events": len(sent),
        "linked": len(found),
        "p50_s": _round(_pct(latencies, 0.5)),
        "p95_s": _round(_pct(latencies, 0.95)),
        "max_s": round(max(latencies), 3) if latencies else None,
        "mean_s": round(statistics.fmean(latencies), 3) if latencies else None,
    }


def _poll_linked(
    conn: psycopg.Connection[Any], source: str, sent: dict[str, float], found: dict[str, float]
) -> None:
    now = time.perf_counter()
    # only the records still awaited (reading every linked one would grow with the run)
    pending = [k for k in sent if k not in found]
    if not pending:
        return
    rows = conn.execute(
        "SELECT r.record_key FROM record_links l JOIN source_records r ON r.id = l.record_id "
        "WHERE r.source = %s AND r.record_key = ANY(%s) AND NOT r.dirty",
        (source, pending),
    ).fetchall()
    for (key,) in rows:
        if key in sent and key not in found:
            found[key] = now


def plain_kafka_phase(settings: Settings, payloads: list[bytes]) -> dict[str, Any]:
    """The same payloads through bare kafka-python (acks=all), produce + consume."""
    bootstrap = settings.resolved_kafka_bootstrap()
    topic = f"bench.plain.{uuid.uuid4().hex[:6]}"
    ensure_topics(bootstrap, [topic], partitions=settings.topic_partitions)
    consumer = make_consumer(bootstrap, group_id=f"plain-{uuid.uuid4().hex[:6]}", topics=[topic])
    consumer.poll(timeout_ms=3000)  # join the group before timing
    producer = make_producer(bootstrap)
    start = time.perf_counter()
    for i, p in enumerate(payloads):
        producer.send(topic, key=str(i % 1000).encode(), value=p)
    producer.flush()
    produced = time.perf_counter()
    got = 0
    deadline = start + 300
    while got < len(payloads) and time.perf_counter() < deadline:
        polled = consumer.poll(timeout_ms=500, max_records=5000)
        got += sum(len(v) for v in polled.values())
    done = time.perf_counter()
    consumer.close()
    producer.close()
    return {
        "messages": len(payloads),
        "consumed": got,
        "produce_per_s": round(len(payloads) / (produced - start), 1),
        "events_per_s": round(got / (done - start), 1),
    }


def run(
    events: int = 50_000,
    *,
    latency_seconds: float = 10.0,
    ingest_workers: int | Sequence[int] = 1,
) -> dict[str, Any]:
    """One round per ingest worker count (each on fresh infrastructure): throughput, then
    event -> profile latency twice: at once (identity still working through the throughput
    phase's backlog) and after the backlog has settled; bare kafka-python on the same
    payloads in the same run is the ceiling."""
    from samples.demo.world import segment_events_for_bench

    counts = [ingest_workers] if isinstance(ingest_workers, int) else list(ingest_workers)
    batches = segment_events_for_bench(events, batch_size=100)
    total = sum(len(b["batch"]) for b in batches)
    rounds = [_round_of(batches, total, count, latency_seconds) for count in counts]
    first = rounds[0]
    return {
        "benchmark": "ingest",
        "machine": {"cpus": os.cpu_count()},
        "ingest_workers": counts,
        "rounds": rounds,
        "speedup_vs_first": {
            str(r["ingest_workers"]): round(
                r["throughput"]["events_per_s"] / first["throughput"]["events_per_s"], 2
            )
            for r in rounds
        },
        "targets": TARGETS,
    }


def _round_of(
    batches: list[dict[str, Any]], total: int, ingest_workers: int, latency_seconds: float
) -> dict[str, Any]:
    with bench_environment() as env:
        workers = ["ingest"] * ingest_workers + ["identity"]
        with running_pipeline(env.settings, workers) as base:
            time.sleep(4)  # the ingest workers join their consumer group
            tp = throughput_phase(env, base, batches, total)
            under_backlog = latency_phase(env, base, seconds=latency_seconds)
            settle_s = wait_settled(env.database_url)
            settled = latency_phase(env, base, seconds=latency_seconds)
        payloads = []
        for b in batches:
            for m in b["batch"]:
                m = {**m, "source": env.source, "channel": "web"}
                payloads.append(json.dumps(m).encode())
        plain = plain_kafka_phase(env.settings, payloads)
    ratio = tp["events_per_s"] / plain["events_per_s"] if plain["events_per_s"] else None
    p95 = settled["p95_s"]
    p95_backlog = under_backlog["p95_s"]
    return {
        "ingest_workers": ingest_workers,
        "partitions": env.settings.topic_partitions,
        "throughput": tp,
        "event_to_profile_latency_under_backlog": under_backlog,
        "seconds_to_settle_backlog": settle_s,
        "event_to_profile_latency_settled": settled,
        "plain_kafka_python": plain,
        "ratio_to_plain_kafka": round(ratio, 3) if ratio else None,
        "meets": {
            "events_per_s": tp["events_per_s"] >= TARGETS["events_per_s"],
            "ratio_to_plain_kafka": bool(ratio and ratio >= TARGETS["ratio_to_plain_kafka"]),
            "event_to_profile_p95_s_settled": p95 is not None
            and p95 <= TARGETS["event_to_profile_p95_s"],
            "event_to_profile_p95_s_under_backlog": p95_backlog is not None
            and p95_backlog <= TARGETS["event_to_profile_p95_s"],
        },
    }
