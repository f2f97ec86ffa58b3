"""`kindred bench identity-batch`: `resolve --full` time from PostgreSQL to the updated
profile map, against bare Splink's train + predict + cluster on the same records.

Records are the people of ``bench.identity_stream`` (a web record and a CRM contact each,
sharing an email) plus, for a fifth of them, an ad lead with a personal address that only the
model can link. They are stored and resolved by the streaming path first (so profiles exist),
then the batch run re-resolves everything and reconciles ids.

With ``scoring_engine="spark"`` the same records are then re-resolved twice more with the model the
first run stored: once scored on DuckDB and once on Spark (``KINDRED_SPARK_MASTER``,
default ``local[2]``), so the two engines' times stand side by side with one model; the
Spark session's start-up is timed apart.
"""

from __future__ import annotations

import resource
import time
from typing import Any

from rich.console import Console
from sqlalchemy import func, select

from bench.identity_stream import new_record, stored_events
from bench.ingest import bench_environment
from identity.batch import load_frame, resolve_full
from identity.service import resolve_step
from identity.splink_model import bare_splink_clusters, train_model
from ingest.service import persist_events
from kindred.db import make_engine, unit_of_work
from kindred.models import Profile

console = Console(stderr=True)


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _engines_side_by_side(db: Any) -> dict[str, Any]:
    from identity.spark_engine import spark_session

    out: dict[str, Any] = {}
    for name in ("duckdb", "spark"):
        if name == "spark":
            console.print("starting the Spark session...")
            t = time.perf_counter()
            spark_session()
            out["spark_session_start_s"] = round(time.perf_counter() - t, 1)
        console.print(f"batch resolution on {name} with the stored model...")
        t = time.perf_counter()
        with unit_of_work(db) as session:
            res = resolve_full(session, engine=name)
        out[name] = {
            "seconds": round(time.perf_counter() - t, 1),
            "timings": res.timings,
            "clusters": res.clusters,
            "moved_records": res.moved_records,
            "model_version": res.model_version,
        }
    duck, spark = out["duckdb"], out["spark"]
    out["spark_to_duckdb_ratio"] = round(spark["seconds"] / duck["seconds"], 2)
    out["same_cluster_count"] = duck["clusters"] == spark["clusters"]
    out["note"] = (
        "both with the model the first run stored; moved_records on the spark run counts "
        "records whose profile changed from the duckdb run's result (0: the same clusters)"
    )
    return out


def run(*, people: int = 50_000, scoring_engine: str = "duckdb") -> dict[str, Any]:
    import random

    from identity.spark_engine import check_engine

    scoring = check_engine(scoring_engine)
    with bench_environment() as env:
        engine = make_engine(env.database_url)
        console.print(f"storing {people} people...")
        rng = random.Random(11)
        for first in range(0, people, 2500):
            last = min(people, first + 2500)
            events = [e for i in range(first, last) for e in stored_events(i)]
            events += [new_record(i, people, rng)[0] for i in range(first, last) if i % 5 == 0]
            with unit_of_work(engine) as session:
                persist_events(session, events)
        while True:
            with unit_of_work(engine) as session:
                if resolve_step(session, limit=10_000).records == 0:
                    break
        with engine.connect() as conn:
            before = conn.execute(
                select(func.count()).select_from(Profile).where(Profile.merged_into.is_(None))
            ).scalar_one()

        console.print("batch resolution (kindred resolve --full)...")
        t = time.perf_counter()
        with unit_of_work(engine) as session:
            result = resolve_full(session)
        kindred_s = time.perf_counter() - t
        kindred_rss = _peak_rss_mb()
        with engine.connect() as conn:
            after = conn.execute(
                select(func.count()).select_from(Profile).where(Profile.merged_into.is_(None))
            ).scalar_one()

        console.print("bare Splink on the same records...")
        with unit_of_work(engine) as session:
            frame = load_frame(session)
        t = time.perf_counter()
        settings_json, _report = train_model(frame)
        train_s = time.perf_counter() - t
        _clusters, timings = bare_splink_clusters(frame, settings_json)
        bare_s = train_s + timings["predict_s"] + timings["cluster_s"]
        engines = _engines_side_by_side(engine) if scoring == "spark" else None
        engine.dispose()
    return {
        "benchmark": "identity-batch",
        "records": result.records,
        "kindred": {
            "seconds": round(kindred_s, 1),
            "timings": result.timings,
            "trained": result.trained,
            "clusters": result.clusters,
            "kept_ids": result.kept_ids,
            "new_profiles": result.new_profiles,
            "merged_profiles": result.merged_profiles,
            "moved_records": result.moved_records,
            "live_profiles_before": before,
            "live_profiles_after": after,
            "peak_rss_mb": kindred_rss,
        },
        "bare_splink": {
            "seconds": round(bare_s, 1),
            "train_s": round(train_s, 1),
            **timings,
            "note": "train + predict + cluster on a frame already in memory (no database)",
        },
        "ratio_to_bare_splink": round(kindred_s / bare_s, 2) if bare_s else None,
        "target_ratio": 1.5,
        **({"engines": engines} if engines else {}),
    }
