"""Batch resolution (``kindred resolve --full``): every live source record, from PostgreSQL,
through normalisation, deterministic links, ops overrides and the Splink model, into
constrained clusters, then reconciled with the existing profiles so ids stay stable.

Reconciliation is maximum-overlap: each new cluster keeps the id of the existing profile it
shares most records with (each id used once, the older profile first on ties); a cluster
with no free id gets a new profile (a split); a profile whose records all went elsewhere is
merged into the profile that took most of them, and keeps answering through ``merged_into``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from identity import scoring_repository as repo
from identity.accounts import resolve_accounts
from identity.dedupe import MIN_RECORDS_TO_TRAIN, ResolverConfig, resolve_records
from identity.merge import lock_resolver
from identity.records import canonical_person_frame
from identity.spark_engine import EngineName, SparkConfig
from identity.splink_model import model_version
from kindred.models import SplinkModel


@dataclass
class BatchResult:
    records: int = 0
    clusters: int = 0
    kept_ids: int = 0
    new_profiles: int = 0
    merged_profiles: int = 0
    moved_records: int = 0
    model_version: str | None = None
    trained: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def load_frame(session: Session, *, record_ids: list[int] | None = None) -> pd.DataFrame:
    """Canonical person frame of every live record, or of ``record_ids`` (``unique_id`` =
    record id)."""
    rows = repo.person_rows(session, record_ids=record_ids)
    raw = pd.DataFrame(rows, columns=list(repo.PERSON_COLUMNS))
    if raw.empty:
        return pd.DataFrame(columns=["unique_id"])
    mapping = {name: name for name in repo.FIELD_SQL}
    return canonical_person_frame(
        raw,
        mapping=mapping,
        id_column="id",
        keep_columns={"user_id": "user_id", "crm_id": "crm_id", "source": "source_dataset"},
    )


def deterministic_pairs(session: Session) -> pd.DataFrame:
    """Records sharing a linking identifier, as a chain per shared value."""
    rows = repo.linking_chains(session)
    frame = pd.DataFrame(rows, columns=["unique_id_l", "unique_id_r"])
    return frame.dropna().reset_index(drop=True)


def override_pairs(session: Session) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = repo.override_rows(session)
    must = [(str(a), str(b)) for kind, a, b in rows if kind == "must_link"]
    cannot = [(str(a), str(b)) for kind, a, b in rows if kind == "cannot_link"]
    cols = ["unique_id_l", "unique_id_r"]
    return pd.DataFrame(must, columns=cols), pd.DataFrame(cannot, columns=cols)


def list_models(session: Session) -> list[dict[str, Any]]:
    rows = repo.model_rows(session)
    return [
        {
            "version": v,
            "active": a,
            "threshold": t,
            "report": r,
            "created_at": c,
            "charts": sorted((ch or {}).keys()),
        }
        for v, a, t, r, c, ch in rows
    ]


def model_chart(session: Session, *, version: str, name: str) -> str | None:
    charts = repo.charts_of(session, version=version)
    value = (charts or {}).get(name)
    return value if isinstance(value, str) else None


def active_model(session: Session) -> SplinkModel | None:
    return repo.active_model(session)


def model_charts(frame: pd.DataFrame, settings_json: dict[str, Any]) -> dict[str, str]:
    """Self-contained HTML charts of a model (Splink's own renderers)."""
    import os
    import tempfile

    from identity.splink_model import linker_for

    if frame.empty:
        return {}
    linker, _ = linker_for(frame, settings_json)
    charts: dict[str, str] = {}
    for name, make in (
        ("match_weights", linker.visualisations.match_weights_chart),
        ("m_u_parameters", linker.visualisations.m_u_parameters_chart),
    ):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, f"{name}.html")
            try:
                make().save(path)
            except Exception as err:  # a chart must never fail training
                charts[name] = f"<p>chart unavailable: {err}</p>"
                continue
            with open(path, encoding="utf-8") as fh:
                charts[name] = fh.read()
    return charts


def store_model(
    session: Session,
    *,
    settings_json: dict[str, Any],
    report: dict[str, Any],
    threshold: float,
    frame: pd.DataFrame | None = None,
) -> str:
    version = model_version(settings_json)
    charts = model_charts(frame, settings_json) if frame is not None else {}
    repo.save_model(
        session,
        version=version,
        settings_json=settings_json,
        report=report,
        threshold=threshold,
        charts=charts,
    )
    return version


def train(session: Session, *, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train the model on the records in the database and make it the active one."""
    from identity.dedupe import small_data_model
    from identity.splink_model import train_model

    frame = load_frame(session)
    if len(frame) < MIN_RECORDS_TO_TRAIN:
        settings_json, report = small_data_model(frame), {"note": "fixed parameters (small data)"}
    else:
        if progress:
            progress(f"training on {len(frame)} records")
        settings_json, report = train_model(frame)
    version = store_model(
        session, settings_json=settings_json, report=report, threshold=0.9, frame=frame
    )
    return {"version": version, "records": len(frame), "report": report}


def resolve_full(
    session: Session,
    *,
    config: ResolverConfig | None = None,
    progress: Callable[[str], None] | None = None,
    engine: EngineName = "duckdb",
    spark: SparkConfig | None = None,
    all_accounts: bool = False,
) -> BatchResult:
    """Re-resolve every record with the full resolver; keep profile ids stable. ``engine``
    scores the candidate pairs in process (``duckdb``) or on Spark (``spark``, configured by
    ``spark`` or ``KINDRED_SPARK_*``); the model is the same either way (the active one, or
    trained on DuckDB).

    Accounts: the dirty account records are taken and duplicate accounts merged; then the
    profiles this run created or changed get their account chosen again. The others keep
    theirs (every identity pass keeps a profile's account current as its records arrive);
    ``all_accounts`` re-links every live profile (after the account rules changed)."""
    say = progress or (lambda _m: None)
    lock_resolver(session)
    out = BatchResult()
    t = time.perf_counter()
    say("loading records from PostgreSQL")
    frame = load_frame(session)
    out.records = len(frame)
    if frame.empty:
        return out
    det = deterministic_pairs(session)
    must, cannot = override_pairs(session)
    out.timings["load_s"] = round(time.perf_counter() - t, 2)

    model = active_model(session)
    settings_json = model.settings if model else None
    if settings_json is None and len(frame) < MIN_RECORDS_TO_TRAIN:
        from identity.dedupe import small_data_model

        settings_json = small_data_model(frame)
    res = resolve_records(
        frame,
        settings_json=settings_json,
        exclusive_columns=("user_id", "crm_id"),
        must_links=pd.concat([det, must], ignore_index=True),
        cannot_links=cannot,
        config=config,
        progress=say,
        engine=engine,
        spark=spark,
    )
    out.timings.update(res.timings)
    out.stats = {**res.stats, "engine": engine}
    if model is None:
        out.trained = res.training_report is not None
        out.model_version = store_model(
            session,
            settings_json=res.settings_json,
            report=res.training_report or {},
            threshold=0.9,
            frame=frame,
        )
    else:
        out.model_version = model.version

    say("reconciling clusters with existing profiles")
    t = time.perf_counter()
    touched = _reconcile(session, res.clusters, res.edges, out)
    out.timings["reconcile_s"] = round(time.perf_counter() - t, 2)
    say("resolving accounts")
    t = time.perf_counter()
    accounts = resolve_accounts(session, profile_ids=None if all_accounts else touched)
    out.stats["accounts"] = accounts.__dict__
    out.timings["accounts_s"] = round(time.perf_counter() - t, 2)
    return out


def _model_edges(edges: pd.DataFrame) -> pd.DataFrame:
    """The Splink edges inside a cluster (not vetoed), their ends as record ids (int)."""
    inside = edges.loc[edges["same_cluster"] & (edges["rule"] == "splink") & ~edges["vetoed"]]
    return inside.astype({"unique_id_l": "int64", "unique_id_r": "int64"})


def _evidence(inside: pd.DataFrame, records: set[int]) -> dict[int, list[dict[str, Any]]]:
    """Per record of ``records``, its strongest in-cluster Splink edges (of ``inside``, from
    ``_model_edges``) with per-comparison weights."""
    inside = inside.loc[inside["unique_id_l"].isin(records) | inside["unique_id_r"].isin(records)]
    mw_cols = [c for c in inside.columns if c.startswith("mw_")]
    found: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in inside.sort_values("match_probability", ascending=False).itertuples(index=False):
        item = row._asdict()
        comparisons = {c[3:]: round(float(item[c]), 3) for c in mw_cols if pd.notna(item.get(c))}
        for me, other in (
            (item["unique_id_l"], item["unique_id_r"]),
            (item["unique_id_r"], item["unique_id_l"]),
        ):
            if int(me) not in records:
                continue
            bucket = found[int(me)]
            if len(bucket) < 3:
                bucket.append(
                    {
                        "record_id": int(other),
                        "match_probability": round(float(item["match_probability"]), 6),
                        "match_weight": round(float(item["match_weight"]), 3),
                        "comparisons": comparisons,
                    }
                )
    return found


def _needs_model_evidence(rid: int, links: repo.CurrentLinks) -> bool:
    """Whether a record that stays on its profile gets this run's Splink evidence: not when
    a shared identifier put it there (that is why it is there; the model agreeing changes
    nothing), nor when its link holds this model's evidence already (a re-run with the same
    model rewrites only what moved)."""
    return links.rule.get(rid) in ("splink", "new_record") and rid not in links.scored


def _reconcile(
    session: Session, clusters: pd.DataFrame, edges: pd.DataFrame, out: BatchResult
) -> set[uuid.UUID]:
    """Map the clusters onto profiles (the one holding most of a cluster's records keeps its
    id), write what changed; returns the live profiles whose records changed."""
    record_cluster = {
        int(u): str(c) for u, c in zip(clusters["unique_id"], clusters["cluster_id"], strict=True)
    }
    links = repo.current_links(session, model_version=out.model_version)
    current = links.profile
    created = repo.live_profiles_created(session)
    overlap: Counter[tuple[str, uuid.UUID]] = Counter()
    for rid, cid in record_cluster.items():
        pid = current.get(rid)
        if pid is not None:
            overlap[(cid, pid)] += 1
    assigned: dict[str, uuid.UUID] = {}
    used: set[uuid.UUID] = set()
    for (cid, pid), _count in sorted(
        overlap.items(), key=lambda kv: (-kv[1], created.get(kv[0][1], float("inf")), str(kv[0][1]))
    ):
        if cid in assigned or pid in used or pid not in created:
            continue
        assigned[cid] = pid
        used.add(pid)
    out.clusters = len(set(record_cluster.values()))
    out.kept_ids = len(assigned)

    by_cluster: dict[str, list[int]] = defaultdict(list)
    for rid, cid in record_cluster.items():
        by_cluster[cid].append(rid)
    new_rows: list[dict[str, Any]] = []
    change_rows: list[dict[str, Any]] = []
    for cid in sorted(set(record_cluster.values()) - set(assigned)):
        pid = uuid.uuid4()
        assigned[cid] = pid
        new_rows.append({"id": pid})
        members = by_cluster[cid]
        origin = Counter(current[r] for r in members if r in current).most_common(1)
        change_rows.append(
            {
                "kind": "split" if origin else "create",
                "profile_id": pid,
                "other_profile_id": origin[0][0] if origin else None,
                "cause": "batch_resolution",
                "evidence": {"records": members[:50]},
            }
        )
    out.new_profiles = len(new_rows)
    if new_rows:
        repo.insert_profiles(session, new_rows)
    if change_rows:
        repo.insert_changes(session, change_rows)

    # profiles that no longer hold any cluster merge into the one that took most records
    # (set-based: every record's link is rewritten below, so only the profiles move)
    destinations: dict[uuid.UUID, Counter[uuid.UUID]] = defaultdict(Counter)
    for rid, old_pid in current.items():
        if old_pid not in used and rid in record_cluster:
            destinations[old_pid][assigned[record_cluster[rid]]] += 1
    absorbed: list[uuid.UUID] = []
    survivors: list[uuid.UUID] = []
    moved: list[int] = []
    for pid in sorted(set(created) - used, key=str):
        took = destinations[pid].most_common(1)
        if took and took[0][0] != pid:
            absorbed.append(pid)
            survivors.append(took[0][0])
            moved.append(took[0][1])
    if absorbed:
        repo.merge_profiles(session, absorbed=absorbed, survivors=survivors)
        repo.insert_changes(
            session,
            [
                {
                    "kind": "merge",
                    "profile_id": survivor,
                    "other_profile_id": gone,
                    "cause": "batch_resolution",
                    "evidence": {"records_moved": count},
                }
                for gone, survivor, count in zip(absorbed, survivors, moved, strict=True)
            ],
        )
    out.merged_profiles = len(absorbed)

    inside = _model_edges(edges)
    modelled = set(inside["unique_id_l"]) | set(inside["unique_id_r"])
    rows = []
    for rid, cid in record_cluster.items():
        pid = assigned[cid]
        if current.get(rid) != pid or (rid in modelled and _needs_model_evidence(rid, links)):
            rows.append((rid, pid))
    splink = _evidence(inside, {rid for rid, _ in rows})
    out.moved_records = sum(1 for rid, pid in rows if current.get(rid) != pid)
    if rows:
        repo.merge_links(
            session,
            links={
                "record_id": [r for r, _ in rows],
                "profile_id": [p for _, p in rows],
                "rule": ["splink" if r in splink else "shared_identifier" for r, _ in rows],
                "evidence": [
                    json.dumps({"splink": splink.get(r, [])}, default=str) for r, _ in rows
                ],
                "model_version": [out.model_version for _ in rows],
            },
        )
    # only profiles whose membership changed need their golden record and segments redone
    touched = {pid for rid, pid in rows if current.get(rid) != pid}
    touched |= {current[rid] for rid, pid in rows if rid in current and current[rid] != pid}
    touched |= set(survivors) | {r["id"] for r in new_rows}
    if touched:
        repo.mark_stale_now(session, touched)
    session.flush()
    return touched - set(absorbed)
