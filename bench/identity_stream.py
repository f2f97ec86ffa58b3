"""`kindred bench identity-stream`: streaming resolution latency and throughput with many
records already stored.

1. Fresh database; ``stored`` people written as two records each (web identify + CRM
   contact sharing the email), resolved by the identity worker's code path; the Splink model
   trained on them and made active.
2. New records arrive at ``rate`` per second for ``seconds`` (written the way the ingest
   worker writes them): half are known people from a new source (deterministic link by
   email), half are known people with a new personal email and no shared identifier (only the
   model can link them), and a few are strangers. The identity worker runs both stages;
   latency is measured from the commit of a record to its final link (for records only the
   model can link: after stage two merged them; for strangers: after stage two scored them).
"""

from __future__ import annotations

import random
import statistics
import threading
import time
from typing import Any

import psycopg
from rich.console import Console

from bench.ingest import bench_environment
from connectors.events import Event, parse_event
from identity.batch import train
from identity.service import resolve_step
from identity.worker import IdentityConfig, IdentityWorker
from ingest.service import persist_events
from kindred.db import make_engine, unit_of_work

FIRST = [
    "Anna",
    "Boris",
    "Carla",
    "Dmitri",
    "Elena",
    "Frank",
    "Grace",
    "Hugo",
    "Irina",
    "Jonas",
    "Katja",
    "Liam",
    "Maria",
    "Nikolai",
    "Olga",
    "Pavel",
    "Quinn",
    "Rosa",
    "Sergei",
    "Tanja",
]
LAST = [
    "Ivanova",
    "Smith",
    "Kowalski",
    "Müller",
    "Petrov",
    "Garcia",
    "Lang",
    "Novak",
    "Fischer",
    "Sokolov",
    "Brown",
    "Wagner",
    "Popov",
    "Kim",
    "Rossi",
    "Jensen",
    "Dubois",
    "Horvat",
]
COMPANIES = ["Northwind", "Contoso", "Fabrikam", "Initech", "Umbrella", "Globex", "Hooli"]
CITIES = ["Berlin", "Moscow", "Portland", "Lyon", "Warsaw", "Austin", "Riga"]
console = Console(stderr=True)


def _person(i: int) -> dict[str, Any]:
    rng = random.Random(i)
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return {
        "first_name": first,
        # ~5 people share each surname at 100k: realistic blocks, some true ambiguity
        "last_name": f"{last}{i % 20011}",
        "email": f"{first.lower()}.{last.lower()}{i}@{rng.choice(COMPANIES).lower()}.com",
        "phone": f"+1415{i:07d}"[-12:],
        "company": rng.choice(COMPANIES),
        "city": rng.choice(CITIES),
    }


def stored_events(i: int) -> list[Event]:
    p = _person(i)
    web = {
        "messageId": f"w{i}",
        "source": "site",
        "channel": "web",
        "type": "identify",
        "userId": f"u{i}",
        "traits": {k: p[k] for k in ("first_name", "last_name", "email")},
    }
    crm = {
        "messageId": f"c{i}",
        "source": "crm",
        "channel": "crm",
        "type": "identify",
        "recordKey": f"contact:{i}",
        "traits": p,
        "context": {"externalIds": [{"id": str(i), "type": "crm_contact_id"}]},
    }
    return [parse_event(web), parse_event(crm)]


def new_record(n: int, stored: int, rng: random.Random) -> tuple[Event, str, int]:
    kind = rng.random()
    i = rng.randrange(stored)
    p = _person(i)
    if kind < 0.5:  # known person, new source, same email
        traits = {"email": p["email"].upper(), "first_name": p["first_name"]}
        label = "deterministic"
    elif kind < 0.95:  # known person, personal email: only the model links
        traits = {**p, "email": f"{p['first_name'].lower()}{n}@gmail.com"}
        traits.pop("phone")
        label = "probabilistic"
    else:
        traits = {"first_name": "Zed", "last_name": f"Stranger{n}", "email": f"z{n}@x.org"}
        label = "new"
    ev = parse_event(
        {
            "messageId": f"n{n}",
            "source": "leads",
            "channel": "ads",
            "type": "identify",
            "recordKey": f"lead:{n}",
            "traits": traits,
        }
    )
    return ev, label, i


def run(
    *, stored: int = 100_000, rate: int = 1000, seconds: float = 10.0, two_stage: bool = False
) -> dict[str, Any]:
    with bench_environment() as env:
        engine = make_engine(env.database_url)
        t0 = time.perf_counter()
        console.print(f"storing {stored} people ({2 * stored} records)...")
        for first in range(0, stored, 2500):
            events = [e for i in range(first, min(stored, first + 2500)) for e in stored_events(i)]
            with unit_of_work(engine) as session:
                persist_events(session, events)
        load_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        while True:
            with unit_of_work(engine) as session:
                if resolve_step(session, limit=10_000).records == 0:
                    break
        resolve_s = time.perf_counter() - t0
        console.print("training the model...")
        t0 = time.perf_counter()
        with unit_of_work(engine) as session:
            trained = train(session)
        train_s = time.perf_counter() - t0

        worker = IdentityWorker(
            IdentityConfig(batch_size=2000, idle_sleep=0.02, two_stage=two_stage), engine
        )
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        rng = random.Random(5)
        committed: dict[str, float] = {}
        labels: dict[str, str] = {}
        truths: dict[str, int] = {}
        found: dict[str, float] = {}
        plain = env.database_url.replace("postgresql+psycopg://", "postgresql://")
        tick = 0.1
        per_tick = max(1, int(rate * tick))
        n = 0
        console.print(f"streaming {rate} records/s for {seconds}s...")
        start = time.perf_counter()
        next_tick = start
        with psycopg.connect(plain, autocommit=True) as conn:
            while time.perf_counter() - start < seconds:
                batch = []
                for _ in range(per_tick):
                    ev, label, truth = new_record(n, stored, rng)
                    labels[f"lead:{n}"] = label
                    truths[f"lead:{n}"] = truth
                    batch.append(ev)
                    n += 1
                with unit_of_work(engine) as session:
                    persist_events(session, batch)
                now = time.perf_counter()
                for ev in batch:
                    committed[str(ev.record_key)] = now
                _poll(conn, committed, found)
                next_tick += tick
                delay = next_tick - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            deadline = time.perf_counter() + 60
            while len(found) < len(committed) and time.perf_counter() < deadline:
                _poll(conn, committed, found)
                time.sleep(0.02)
            outcome = _outcomes(conn, labels, truths)
        worker.stop()
        thread.join(30)
        engine.dispose()
    lat = sorted(found[k] - committed[k] for k in found)
    return {
        "benchmark": "identity-stream",
        "stored_records": 2 * stored,
        "two_stage": two_stage,
        "setup": {
            "load_s": round(load_s, 1),
            "resolve_s": round(resolve_s, 1),
            "train_s": round(train_s, 1),
            "model": trained["version"],
        },
        "offered_rate_per_s": rate,
        "achieved_rate_per_s": round(len(committed) / seconds, 1),
        "records": len(committed),
        "linked": len(found),
        "latency_p50_s": round(_pct(lat, 0.5), 3),
        "latency_p95_s": round(_pct(lat, 0.95), 3),
        "latency_max_s": round(lat[-1], 3) if lat else None,
        "latency_mean_s": round(statistics.fmean(lat), 3) if lat else None,
        "latency_p95_s_by_kind": {
            kind: round(
                _pct(sorted(found[k] - committed[k] for k in found if labels[k] == kind), 0.95),
                3,
            )
            for kind in sorted(set(labels.values()))
        },
        "outcome_by_kind": outcome,
        "offered_by_kind": _count(labels),
        "targets": {"latency_p95_s": 1.0, "records_per_s": 1000},
    }


def _poll(
    conn: psycopg.Connection[Any], committed: dict[str, float], found: dict[str, float]
) -> None:
    now = time.perf_counter()
    rows = conn.execute(
        "SELECT r.record_key FROM record_links l JOIN source_records r ON r.id = l.record_id "
        "WHERE r.source = 'leads' AND NOT r.dirty "
        # final only: linked by a rule, or left alone after the model had its say
        "AND (l.rule <> 'new_record' OR l.evidence ? 'scored')"
    ).fetchall()
    for (key,) in rows:
        if key in committed and key not in found:
            found[key] = now


def _outcomes(
    conn: psycopg.Connection[Any], labels: dict[str, str], truths: dict[str, int]
) -> dict[str, dict[str, int]]:
    """Per kind of new record: linked to the right person, to a wrong one, or left alone."""
    truth_profile = dict(
        conn.execute(
            "SELECT r.record_key, l.profile_id FROM record_links l "
            "JOIN source_records r ON r.id = l.record_id WHERE r.source = 'crm'"
        ).fetchall()
    )
    rows = conn.execute(
        "SELECT r.record_key, l.rule, l.profile_id, (SELECT count(*) FROM record_links o "
        " WHERE o.profile_id = l.profile_id) FROM record_links l "
        "JOIN source_records r ON r.id = l.record_id WHERE r.source = 'leads'"
    ).fetchall()
    out: dict[str, dict[str, int]] = {}
    for key, rule, profile, size in rows:
        bucket = out.setdefault(labels.get(key, "?"), {"right": 0, "wrong": 0, "alone": 0})
        bucket.setdefault(f"rule_{rule}", 0)
        bucket[f"rule_{rule}"] += 1
        if size <= 1:
            bucket["alone"] += 1
        elif truth_profile.get(f"contact:{truths[key]}") == profile:
            bucket["right"] += 1
        else:
            bucket["wrong"] += 1
    return out


def _count(labels: dict[str, str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for label in labels.values():
        counts[label] = counts.get(label, 0) + 1
    return counts


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]
