"""``run``: the suite over a fresh cluster, and its JSON document."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.faults.cluster import Cluster
from bench.faults.load import Load
from bench.faults.plan import (
    SCENARIOS,
    SHORT_SCENARIOS,
    SHORT_TIMINGS,
    TARGETS,
    Outcome,
    Timings,
    now,
    rounded,
)
from bench.faults.suite import Suite


def summary_table(results: Sequence[dict[str, Any]]) -> Table:
    """One line per scenario, for people (the JSON on stdout is the record)."""
    table = Table(title="kindred bench faults")
    columns = {
        "scenario": "name",
        "acked": "acknowledged",
        "stored": "stored",
        "lost": "lost",
        "in-memory lost": "lost_in_memory_broker",
        "dup": "duplicated",
        "unresolved": "records_left_unresolved",
        "stale": "profiles_left_stale",
        "recover s": "seconds_to_recover",
        "person": "person_acted",
        "pass": "pass",
    }
    for title in columns:
        table.add_column(title, justify="left" if title == "scenario" else "right")
    for r in results:
        table.add_row(*("-" if r.get(k) is None else str(r.get(k)) for k in columns.values()))
    return table


@contextmanager
def _cluster(console: Console) -> Iterator[Cluster]:
    cluster = Cluster(console)
    try:
        yield cluster
    finally:
        cluster.stop()


def run(
    *,
    events_per_second: float = 100.0,
    kills: int = 3,
    scenarios: Sequence[str] | None = None,
    short: bool = False,
    timings: Timings | None = None,
    console: Console | None = None,
) -> dict[str, Any]:
    """Run the fault suite; returns the JSON document ``kindred bench faults`` prints."""
    console = console or Console(stderr=True)
    if short:
        kills = 1
    chosen = list(scenarios or (SHORT_SCENARIOS if short else SCENARIOS))
    unknown = [s for s in chosen if s not in SCENARIOS]
    if unknown:
        raise ValueError(f"unknown scenarios {unknown}; choose from {', '.join(SCENARIOS)}")
    timings = timings or (SHORT_TIMINGS if short else Timings())
    started = now()
    results: list[dict[str, Any]] = []
    with _cluster(console) as cluster:
        console.log(f"starting embedded services and processes in {cluster.data_dir}")
        cluster.start()
        load = Load(cluster.base, cluster.write_key, rate=events_per_second)
        suite = Suite(cluster, load, timings, kills=kills)
        warm = Outcome(fault_end=now())
        ready = suite.await_recovery("warmup", warm.fault_end, 120.0, warm)
        if ready is None:
            raise RuntimeError(f"the pipeline never became ready; logs in {cluster.log_dir}")
        console.log(f"pipeline ready in {ready:.1f} s; logs in {cluster.log_dir}")
        try:
            for name in chosen:
                results.append(suite.scenario(name))
                r = results[-1]
                colour = "green" if r["pass"] else "red"
                console.log(
                    f"[{colour}]{name}: acknowledged {r['acknowledged']}, lost {r['lost']}, "
                    f"duplicated {r['duplicated']}, recover {r['seconds_to_recover']} s, "
                    f"person acted {r['person_acted']}[/{colour}]"
                )
        finally:
            load.close()
        log_dir = str(cluster.log_dir)
    console.print(summary_table(results))
    return {
        "benchmark": "faults",
        "machine": {"cpus": os.cpu_count()},
        "config": {
            "events_per_second": events_per_second,
            "kills": kills,
            "short": short,
            "scenarios": chosen,
            "timings": asdict(timings),
            "broker": "embedded tansu (memory storage)",
            "database": "embedded PostgreSQL 16",
        },
        "targets": TARGETS,
        "scenarios": results,
        "passed": all(r["pass"] for r in results),
        "seconds": rounded(now() - started, 1),
        "logs": log_dir,
    }
