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
3. Agreement (unless ``agreement=False``): once the stream has settled (no dirty records),
   the worker is stopped and the record -> live profile clustering it left is taken; then
   the batch resolver runs on the same database (``identity.batch.resolve_full``, what
   ``kindred resolve --full`` calls) and the clustering is taken again. Reported: pairwise
   and B-cubed precision/recall/F1 of streaming against batch (batch the reference), and of
   each against the generator's ground truth, over every live record.
"""

from __future__ import annotations

import os
import random
import statistics
import threading
import time
from typing import Any

import psycopg
from rich.console import Console
from sqlalchemy import Engine

from bench.ingest import bench_environment
from bench.metrics import clustering_metrics
from connectors.events import Event, parse_event
from identity.batch import resolve_full, train
from identity.service import resolve_step
from identity.worker import IdentityConfig, IdentityWorker, start_workers, stop_workers
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


#: records per scoring pass measured by ``scorer_costs``; 1 shows the fixed cost of a pass
SCORER_BATCHES = (1, 100, 1000)


def scorer_costs(engine: Engine, stored: int, *, repeats: int = 5) -> dict[str, Any]:
    """Median milliseconds of one model-scoring pass over ``n`` new records (only the model
    can link them: known people with a new personal email), for each ``n`` in
    SCORER_BATCHES, with the warm scorer (one DuckDB, compiled SQL cached) and with a Splink
    Linker built per pass (the cold path). The records are written in a transaction that is
    rolled back: nothing stays behind. ``fixed_ms`` = the 1-record pass."""
    from sqlalchemy.orm import Session

    from identity.streaming import SplinkScorer

    rng = random.Random(11)
    serial = 10_000_000  # record keys lead:<serial>, away from the stream's
    out: dict[str, Any] = {}
    for mode, warm in (("warm", True), ("cold", False)):
        scorer = SplinkScorer(warm=warm)
        per: dict[str, float] = {}
        for n in SCORER_BATCHES:
            times: list[float] = []
            with Session(engine) as session:
                events: list[Event] = []
                while len(events) < n * (repeats + 1):
                    serial += 1
                    ev, label, _ = new_record(serial, stored, rng)
                    if label == "probabilistic":
                        events.append(ev)
                persist_events(session, events)
                session.flush()
                keys = [str(e.record_key) for e in events]
                ids = _record_ids(session, keys)
                for r in range(repeats + 1):  # the first pass warms up (compiles, caches)
                    chunk = ids[r * n : (r + 1) * n]
                    t0 = time.perf_counter()
                    scorer(session, chunk)
                    if r:
                        times.append((time.perf_counter() - t0) * 1000)
                session.rollback()
            per[str(n)] = round(statistics.median(times), 1)
        out[mode] = {"ms_per_pass_by_records": per, "fixed_ms": per[str(SCORER_BATCHES[0])]}
    cold, warm_ = out["cold"]["fixed_ms"], out["warm"]["fixed_ms"]
    out["fixed_cost_ratio_cold_to_warm"] = round(cold / warm_, 2) if warm_ else None
    return out


def _record_ids(session: Any, record_keys: list[str]) -> list[int]:
    from sqlalchemy import select

    from kindred.models import SourceRecord

    rows = session.execute(
        select(SourceRecord.record_key, SourceRecord.id).where(
            SourceRecord.record_key.in_(record_keys)
        )
    ).all()
    by_key = dict(rows)
    return [int(by_key[k]) for k in record_keys if k in by_key]


def run(
    *,
    stored: int = 100_000,
    rate: int = 1000,
    seconds: float = 10.0,
    two_stage: bool = False,
    agreement: bool = True,
    identity_workers: int = 1,
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

        console.print("measuring the scorer's cost per pass (warm vs a Linker per pass)...")
        scorer_cost = scorer_costs(engine, stored)

        config = IdentityConfig(batch_size=2000, idle_sleep=0.02, two_stage=two_stage)
        # one worker in a thread of this process (as before); several in processes of their
        # own (CPU-bound Python: threads would share one core)
        worker = IdentityWorker(config, engine) if identity_workers == 1 else None
        procs = (
            [] if worker is not None else start_workers(env.database_url, config, identity_workers)
        )
        thread = threading.Thread(target=worker.run if worker else lambda: None, daemon=True)
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
            settled = (
                _settle(conn, two_stage=two_stage, deadline=time.perf_counter() + 120)
                if agreement
                else None
            )
        if worker is not None:
            worker.stop()
        stop_workers(procs)
        thread.join(30)
        agree = _agreement(engine, plain, labels, truths, settled) if agreement else None
        engine.dispose()
    lat = sorted(found[k] - committed[k] for k in found)
    # steadiness: the records committed in the run's first and last minute (or fifth)
    window = min(60.0, seconds / 5)
    head = sorted(found[k] - committed[k] for k in found if committed[k] - start < window)
    tail = sorted(
        found[k] - committed[k] for k in found if committed[k] - start >= seconds - window
    )
    return {
        "benchmark": "identity-stream",
        "stored_records": 2 * stored,
        "two_stage": two_stage,
        "identity_workers": identity_workers,
        "setup": {
            "load_s": round(load_s, 1),
            "resolve_s": round(resolve_s, 1),
            "train_s": round(train_s, 1),
            "model": trained["version"],
        },
        "scorer_ms_per_pass": scorer_cost,
        "offered_rate_per_s": rate,
        "achieved_rate_per_s": round(len(committed) / seconds, 1),
        "records": len(committed),
        "linked": len(found),
        "latency_p50_s": _pct(lat, 0.5),
        "latency_p95_s": _pct(lat, 0.95),
        "latency_max_s": round(lat[-1], 3) if lat else None,
        "latency_mean_s": round(statistics.fmean(lat), 3) if lat else None,
        "steadiness": {
            "window_s": round(window, 1),
            "latency_p95_s_first_window": _pct(head, 0.95),
            "latency_p95_s_last_window": _pct(tail, 0.95),
        },
        "latency_p95_s_by_kind": {
            kind: _pct(sorted(found[k] - committed[k] for k in found if labels[k] == kind), 0.95)
            for kind in sorted(set(labels.values()))
        },
        "outcome_by_kind": outcome,
        "offered_by_kind": _count(labels),
        "agreement": agree,
        "targets": {
            "latency_p95_s": 1.0,
            "records_per_s": 1000,
            "stream_vs_batch_pairwise_f1": 0.99,
        },
    }


def drain(
    *, stored: int = 20_000, backlog: int = 20_000, workers: tuple[int, ...] = (1, 2)
) -> dict[str, Any]:
    """Throughput of N identity workers: ``backlog`` new records (the stream's mix) committed
    at once onto ``stored`` resolved people, then the time until none is dirty, for each N
    in ``workers`` (each round its own backlog, workers started and warm before it lands)."""
    with bench_environment() as env:
        engine = make_engine(env.database_url)
        console.print(f"storing {stored} people ({2 * stored} records), resolving, training...")
        for first in range(0, stored, 2500):
            events = [e for i in range(first, min(stored, first + 2500)) for e in stored_events(i)]
            with unit_of_work(engine) as session:
                persist_events(session, events)
        while True:
            with unit_of_work(engine) as session:
                if resolve_step(session, limit=10_000).records == 0:
                    break
        with unit_of_work(engine) as session:
            train(session)
        plain = env.database_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")  # the first round must not plan on a bulk load's stats
        rng = random.Random(9)
        serial = 0
        rounds: list[dict[str, Any]] = []
        config = IdentityConfig(batch_size=2000, idle_sleep=0.02)
        with psycopg.connect(plain, autocommit=True) as conn:
            for count in workers:
                procs = start_workers(env.database_url, config, count)
                # warm: a probe record per worker, resolved, shows they run with the model
                probes = []
                for _ in range(count):
                    serial += 1
                    probes.append(new_record(serial, stored, rng)[0])
                with unit_of_work(engine) as session:
                    persist_events(session, probes)
                _wait_clean(conn, deadline=time.perf_counter() + 120)
                time.sleep(2)
                events = []
                for _ in range(backlog):
                    serial += 1
                    events.append(new_record(serial, stored, rng)[0])
                console.print(f"{count} worker(s): committing {backlog} records at once...")
                with unit_of_work(engine) as session:
                    for first in range(0, len(events), 5000):
                        persist_events(session, events[first : first + 5000])
                t0 = time.perf_counter()
                done = _wait_clean(conn, deadline=t0 + 900)
                took = time.perf_counter() - t0
                stop_workers(procs)
                rounds.append(
                    {
                        "identity_workers": count,
                        "backlog": backlog,
                        "drained": done,
                        "seconds": round(took, 2),
                        "records_per_s": round(backlog / took, 1),
                    }
                )
                console.print(f"  {rounds[-1]}")
        engine.dispose()
    base = rounds[0]["records_per_s"]
    return {
        "benchmark": "identity-drain",
        "stored_records": 2 * stored,
        "cores": os.cpu_count(),
        "rounds": rounds,
        "speedup_vs_first": {
            str(r["identity_workers"]): round(r["records_per_s"] / base, 2) for r in rounds
        },
        "targets": {"two_workers_speedup": 1.5},
    }


def _wait_clean(conn: psycopg.Connection[Any], *, deadline: float) -> bool:
    """Wait until no live record is dirty; False if ``deadline`` passed first."""
    while time.perf_counter() < deadline:
        (dirty,) = conn.execute(
            "SELECT count(*) FROM source_records WHERE dirty AND NOT deleted"
        ).fetchone() or (0,)
        if dirty == 0:
            return True
        time.sleep(0.05)
    return False


def _poll(
    conn: psycopg.Connection[Any], committed: dict[str, float], found: dict[str, float]
) -> None:
    now = time.perf_counter()
    # only the records still awaited: a poll that read every linked record would grow with
    # the run and slow the writer and the database down (the bench measuring itself)
    pending = [k for k in committed if k not in found]
    if not pending:
        return
    rows = conn.execute(
        "SELECT r.record_key FROM record_links l JOIN source_records r ON r.id = l.record_id "
        "WHERE r.source = 'leads' AND r.record_key = ANY(%s) AND NOT r.dirty "
        # final only: linked by a rule, or left alone after the model had its say
        "AND (l.rule <> 'new_record' OR l.evidence ? 'scored')",
        (pending,),
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


def _settle(conn: psycopg.Connection[Any], *, two_stage: bool, deadline: float) -> bool:
    """Wait until no live record is dirty or unlinked (and none awaits stage two's scoring).
    False if that did not happen before ``deadline``."""
    while time.perf_counter() < deadline:
        (pending,) = conn.execute(
            "SELECT count(*) FROM source_records r LEFT JOIN record_links l ON l.record_id = r.id "
            "WHERE NOT r.deleted AND (r.dirty OR l.record_id IS NULL "
            # what stage two would still pick up (its pending singletons); a single stage
            # scores within the pass
            "OR (%s AND l.rule = 'new_record' AND NOT l.evidence ? 'scored' "
            "AND (SELECT count(*) FROM record_links o WHERE o.profile_id = l.profile_id) = 1))",
            (two_stage,),
        ).fetchone() or (0,)
        if pending == 0:
            return True
        time.sleep(0.1)
    return False


def _clustering(conn: psycopg.Connection[Any]) -> dict[str, str]:
    """record key (``source/record_key``) -> live profile id, every live record; a record
    with no link is its own cluster; ``merged_into`` chains are followed to the survivor."""
    merged = dict(
        conn.execute(
            "SELECT id, merged_into FROM profiles WHERE merged_into IS NOT NULL"
        ).fetchall()
    )
    rows = conn.execute(
        "SELECT r.source, r.record_key, l.profile_id FROM source_records r "
        "LEFT JOIN record_links l ON l.record_id = r.id WHERE NOT r.deleted"
    ).fetchall()
    out: dict[str, str] = {}
    for source, key, profile in rows:
        seen = 0
        while profile in merged and seen < 100:  # guard against a cycle
            profile, seen = merged[profile], seen + 1
        out[f"{source}/{key}"] = str(profile) if profile else f"single:{source}/{key}"
    return out


def _truth(key: str, labels: dict[str, str], truths: dict[str, int]) -> str:
    """The generator's person behind a record (a stranger is a person of their own)."""
    source, _, rk = key.partition("/")
    if source == "site" and rk.startswith("user:u"):
        return rk.removeprefix("user:u")
    if source == "crm" and rk.startswith("contact:"):
        return rk.removeprefix("contact:")
    if source == "leads" and rk in truths and labels.get(rk) != "new":
        return str(truths[rk])
    return f"other:{key}"


def _agreement(
    engine: Engine,
    plain: str,
    labels: dict[str, str],
    truths: dict[str, int],
    settled: bool | None,
) -> dict[str, Any]:
    """Streaming clustering vs batch (``resolve_full``) on the same database, and both vs
    the generator's ground truth."""
    with psycopg.connect(plain, autocommit=True) as conn:
        stream = _clustering(conn)
        links = {
            f"leads/{key}": (rule, evidence)
            for key, rule, evidence in conn.execute(
                "SELECT r.record_key, l.rule, l.evidence FROM record_links l "
                "JOIN source_records r ON r.id = l.record_id WHERE r.source = 'leads'"
            ).fetchall()
        }
    console.print("batch resolution on the same records (resolve --full)...")
    t0 = time.perf_counter()
    with unit_of_work(engine) as session:
        result = resolve_full(session)
    batch_s = time.perf_counter() - t0
    with psycopg.connect(plain, autocommit=True) as conn:
        batch = _clustering(conn)
    keys = sorted(set(stream) & set(batch))
    s_labels = [stream[k] for k in keys]
    b_labels = [batch[k] for k in keys]
    t_labels = [_truth(k, labels, truths) for k in keys]
    vs_batch = clustering_metrics(b_labels, s_labels)
    s_truth = clustering_metrics(t_labels, s_labels)
    b_truth = clustering_metrics(t_labels, b_labels)
    return {
        "settled": settled,
        "scope": "every live record",
        "records": len(keys),
        "batch_s": round(batch_s, 1),
        "batch_model": result.model_version,
        "clusters": {
            "streaming": vs_batch["predicted_clusters"],
            "batch": vs_batch["true_entities"],
            "truth": s_truth["true_entities"],
        },
        "pairs": {
            "streaming": vs_batch["pairwise"]["predicted_pairs"],
            "batch": vs_batch["pairwise"]["true_pairs"],
            "truth": s_truth["pairwise"]["true_pairs"],
        },
        "streaming_vs_batch": _brief(vs_batch),
        "streaming_vs_truth": _brief(s_truth),
        "batch_vs_truth": _brief(b_truth),
        **_disagreement(keys, stream, batch, labels, links),
    }


def _brief(m: dict[str, Any]) -> dict[str, Any]:
    pw = m["pairwise"]
    return {
        "pairwise": {k: pw[k] for k in ("precision", "recall", "f1", "true_positive_pairs")},
        "bcubed_f1": m["cluster"]["f1"],
    }


def _disagreement(
    keys: list[str],
    stream: dict[str, str],
    batch: dict[str, str],
    labels: dict[str, str],
    links: dict[str, tuple[str, dict[str, Any]]],
) -> dict[str, Any]:
    """Records whose streaming cluster and batch cluster differ as sets of records, by the
    generator's kind (stored people are ``stored``), and a few new records among them with
    the link streaming left them (rule, cluster sizes, what the model said or was refused)."""
    s_members: dict[str, set[str]] = {}
    b_members: dict[str, set[str]] = {}
    for k in keys:
        s_members.setdefault(stream[k], set()).add(k)
        b_members.setdefault(batch[k], set()).add(k)
    out: dict[str, int] = {}
    examples: list[dict[str, Any]] = []
    for k in keys:
        if s_members[stream[k]] != b_members[batch[k]]:
            source, _, rk = k.partition("/")
            kind = labels.get(rk, "?") if source == "leads" else "stored"
            out[kind] = out.get(kind, 0) + 1
            if k in links and len(examples) < 8:
                rule, evidence = links[k]
                examples.append(
                    {
                        "record": k,
                        "kind": kind,
                        "streaming_rule": rule,
                        "streaming_cluster_size": len(s_members[stream[k]]),
                        "batch_cluster_size": len(b_members[batch[k]]),
                        "streaming_evidence": {
                            "scored": evidence.get("scored"),
                            "model": [
                                e.get("value")
                                for e in evidence.get("shared", [])
                                if e.get("type") == "splink"
                            ],
                            "blocked": [e.get("reason") for e in evidence.get("blocked", [])],
                        },
                    }
                )
    return {"disagreement_by_kind": out, "disagreement_examples": examples}


def _count(labels: dict[str, str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for label in labels.values():
        counts[label] = counts.get(label, 0) + 1
    return counts


def _pct(values: list[float], q: float) -> float | None:
    """The q-quantile of sorted ``values``, rounded to ms; None (JSON null, not NaN) if empty
    (e.g. strangers in a single stage, which are never flagged scored)."""
    if not values:
        return None
    return round(values[min(len(values) - 1, round(q * (len(values) - 1)))], 3)
