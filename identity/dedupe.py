"""Batch person resolution: normalisation + strong-id links + Splink + guardrails +
constrained clustering. ``resolve_records`` is the entry point for ``kindred resolve --full``,
the identity worker and ``kindred identity dedupe`` (``identity.dedupe_file``).

Guardrails applied before and after scoring:

- *generic identifiers*: email/phone values shared by two or more people by the evidence
  (dissimilar names - a typo, a nickname, a blank or swapped first/last names are one
  person; two different CRM contacts / logins), and role mailboxes (``info@``; family
  mailboxes, switchboards) are blanked before scoring, so they neither link nor get
  weight; each is reported with its reason (``identity.guardrail``);
- *deterministic contact links*: every other exact normalised email and E.164 phone is a
  must-link (CDP sources key people by them), subject to the strong-id cannot-links;
- *first-name veto*: a pair whose first names are both known and clearly different
  (Jaro-Winkler below ``first_name_veto_similarity``, not an initial, not swapped with the
  surname) is not linked by the model - two people in one household or one role mailbox;
- strong ids (CRM contact id, userId) link deterministically and are *exclusive*: records
  with different values of one are never merged (``identity.clustering``).
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from identity.blocking import add_blocking_keys
from identity.calibration import derive_threshold
from identity.clustering import (
    ClusterConfig,
    constrained_clusters,
    find_generic_identifiers,
    reason_counts,
    shared_value_links,
)
from identity.guardrail import GuardrailPolicy
from identity.spark_engine import EngineName, SparkConfig, check_engine, spark_db_api
from identity.splink_model import LinkType, TrainingConfig, predict_edges, train_model


@dataclass(frozen=True)
class ResolverConfig:
    """Thresholds of the batch resolver.

    ``generic_*``: which email/phone values count as shared by several people (see
    ``identity.guardrail``); with ``generic_min_distinct_names = 2`` one mailbox used by
    two people with dissimilar names is already shared.
    ``link_columns``: contact points whose exact, non-generic normalised value links records
    deterministically (a must-link, refused only by a cannot-link or a strong-id conflict).
    ``contact_mismatch_floor``: the least match weight (log2 Bayes factor) a *disagreeing*
    email or phone may carry. People use several addresses and numbers (personal, work,
    old), so a different email is weak evidence of a different person; unsupervised EM
    (blocked on names) learns it as strong evidence and then splits people's records.
    ``None`` keeps the trained weights.
    ``first_name_veto_scope``: ``"contact"`` vetoes model edges of pairs that share an email
    or phone but have clearly different first names; ``"all"`` vetoes every model edge
    with clearly different first names.
    ``match_threshold``: the least match probability a model edge needs to join clusters;
    ``None`` derives it from the trained model's own probabilities over the scored edges
    (``identity.calibration.derive_threshold``: the highest expected F1 whose expected
    precision reaches ``target_precision``); a value pins it. The chosen value is
    reported in the resolution's ``stats["match_threshold"]``.
    """

    edge_threshold: float = 0.5
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    generic_columns: tuple[str, ...] = ("email", "phone")
    generic_min_distinct_names: int = 2
    generic_max_records: int | None = None
    generic_role_emails: bool = True
    generic_extra_name_columns: tuple[str, ...] = ("last_name",)
    link_columns: tuple[str, ...] = ("email", "phone")
    first_name_veto: bool = True
    first_name_veto_similarity: float = 0.7
    first_name_veto_scope: str = "contact"
    contact_mismatch_floor: float | None = -1.0
    match_threshold: float | None = None
    target_precision: float = 0.98


@dataclass
class Resolution:
    """Result of ``resolve_records``.

    ``clusters``: ``unique_id``, ``cluster_id``, ``confidence`` (the best probability
    linking the record into its cluster; 1.0 for a strong-id link, NaN for singletons).
    ``edges``: every scored or deterministic pair with ``unique_id_l``, ``unique_id_r``,
    ``match_probability``, ``match_weight``, ``rule`` (``splink`` or the strong-id column),
    ``vetoed`` (guardrail), ``mw_<comparison>`` evidence columns, ``same_cluster``.
    """

    clusters: pd.DataFrame
    edges: pd.DataFrame
    generic_identifiers: dict[str, set[str]]
    settings_json: dict[str, Any]
    training_report: dict[str, Any] | None
    stats: dict[str, Any]
    timings: dict[str, float]


def _first_name_veto(
    edges: pd.DataFrame,
    cutoff: float,
    frame: pd.DataFrame | None = None,
    *,
    scope: str = "contact",
) -> np.ndarray[Any, Any]:
    """Pairs whose first names are both known and clearly different (Jaro-Winkler below
    ``cutoff``, not an initial or a prefix, not swapped with the surname). With ``scope``
    ``"contact"`` only pairs that share an email or phone are vetoed (two people behind one
    mailbox or phone line); with ``"all"``, every such pair. Names come from the edges'
    ``<col>_l``/``<col>_r`` columns or, when ``frame`` is given, from ``frame`` by id."""
    if edges.empty:
        return np.zeros(len(edges), dtype=bool)
    cols = ("first_name", "last_name", "email", "phone")
    if frame is not None:
        index = pd.Index(frame["unique_id"].astype(str))
        li = index.get_indexer(edges["unique_id_l"].astype(str))
        ri = index.get_indexer(edges["unique_id_r"].astype(str))
        data = {}
        for c in cols:
            if c in frame.columns:
                arr = frame[c].to_numpy(dtype=object)
                data[f"{c}_l"], data[f"{c}_r"] = arr[li], arr[ri]
        view = pd.DataFrame(data)
    else:
        view = edges[[f"{c}_{s}" for c in cols for s in "lr" if f"{c}_{s}" in edges.columns]]
    if "first_name_l" not in view.columns:
        return np.zeros(len(edges), dtype=bool)
    shared = [f"{c}_l = {c}_r" for c in ("email", "phone") if f"{c}_l" in view.columns]
    if scope == "contact":
        if not shared:
            return np.zeros(len(edges), dtype=bool)
        gate = "(" + " OR ".join(shared) + ") AND "
    else:
        gate = ""
    swap = (
        f"OR jaro_winkler_similarity(first_name_l, last_name_r) >= {cutoff}"
        f" OR jaro_winkler_similarity(first_name_r, last_name_l) >= {cutoff}"
        if "last_name_l" in view.columns
        else ""
    )
    con = duckdb.connect()
    con.register("e", view)
    vetoed = con.execute(
        f"""
        SELECT coalesce({gate}NOT (
            first_name_l = first_name_r
            OR jaro_winkler_similarity(first_name_l, first_name_r) >= {cutoff}
            OR length(first_name_l) = 1 OR length(first_name_r) = 1
            OR starts_with(first_name_l, first_name_r) OR starts_with(first_name_r, first_name_l)
            OR damerau_levenshtein(first_name_l, first_name_r) <= 1
            {swap}
        ), false) AS v FROM e
        """
    ).df()["v"]
    con.close()
    return vetoed.to_numpy(dtype=bool)


def floor_mismatch_weights(
    settings_json: dict[str, Any], comparisons: Sequence[str], floor: float
) -> dict[str, Any]:
    """A copy of ``settings_json`` whose ``comparisons``' "all other" (disagreement) level
    carries a match weight of at least ``floor`` (by raising its m probability)."""
    out = copy.deepcopy(settings_json)
    for comp in out["comparisons"]:
        if comp.get("output_column_name") not in comparisons:
            continue
        levels = [lv for lv in comp["comparison_levels"] if not lv.get("is_null_level")]
        if not levels:
            continue
        last = levels[-1]
        m, u = last.get("m_probability"), last.get("u_probability")
        if m is None or u is None or u <= 0:
            continue
        last["m_probability"] = min(1.0, max(float(m), float(u) * 2.0**floor))
    return out


def _as_pairs(pairs: Iterable[tuple[str, str]] | pd.DataFrame) -> pd.DataFrame:
    frame = (
        pairs
        if isinstance(pairs, pd.DataFrame)
        else pd.DataFrame(list(pairs), columns=["unique_id_l", "unique_id_r"])
    )
    return frame.iloc[:, :2].set_axis(["unique_id_l", "unique_id_r"], axis=1)


def resolve_records(
    frame: pd.DataFrame,
    *,
    settings_json: dict[str, Any] | None = None,
    strong_id_columns: Sequence[str] = (),
    exclusive_columns: Sequence[str] = (),
    duplicate_free_columns: Sequence[str] = (),
    must_links: Iterable[tuple[str, str]] | pd.DataFrame | None = None,
    cannot_links: Iterable[tuple[str, str]] | pd.DataFrame | None = None,
    link_type: LinkType = "dedupe_only",
    config: ResolverConfig | None = None,
    training: TrainingConfig | None = None,
    progress: Callable[[str], None] | None = None,
    engine: EngineName = "duckdb",
    spark: SparkConfig | None = None,
) -> Resolution:
    """Resolve canonical person records (``identity.records``) into clusters.

    ``settings_json``: a trained model; trained on ``frame`` when ``None``.
    ``strong_id_columns``: columns whose shared values link deterministically and whose
    differing values never share a cluster (CRM contact id, userId).
    ``exclusive_columns``: cannot-link only - different values never share a cluster.
    ``duplicate_free_columns``: a cluster holds at most one record per value (e.g.
    ``source_dataset`` when each source is already deduplicated).
    ``must_links`` / ``cannot_links``: extra pairs of ``unique_id``.

    Steps: (1) shared email/phone values (several people or several strong ids behind one
    value, role mailboxes) are found and blanked; (2) exact strong ids and exact
    non-generic emails/phones (``config.link_columns``) become must-links; (3) the Splink
    model (trained on the blanked frame unless given) scores blocked pairs; the first-name
    veto drops edges between different people behind one contact point; (4)
    ``constrained_clusters`` joins must-links, then model edges, never across a
    cannot-link or two values of a strong id, and refusing weak bridges.

    ``engine``: where (3) scores - ``"duckdb"`` in process, or ``"spark"`` through Splink's
    Spark backend (``identity.spark_engine``; ``spark`` says where, default from
    ``KINDRED_SPARK_*``). Training, when needed, runs on DuckDB; the same model scores on
    either engine, so the clusters agree.
    """
    engine = check_engine(engine)
    config = config or ResolverConfig()
    say = progress or (lambda _msg: None)
    timings: dict[str, float] = {}
    frame = frame.reset_index(drop=True)
    strong = [c for c in strong_id_columns if c in frame.columns]
    exclusive_cols = list(
        dict.fromkeys(c for c in [*strong, *exclusive_columns] if c in frame.columns)
    )

    t = time.perf_counter()
    say("detecting generic identifiers")
    verdicts = find_generic_identifiers(
        frame,
        columns=config.generic_columns,
        last_name_columns=config.generic_extra_name_columns,
        strong_columns=exclusive_cols,
        policy=GuardrailPolicy(
            min_persons=config.generic_min_distinct_names,
            role_mailboxes=config.generic_role_emails,
            max_records=config.generic_max_records,
        ),
    )
    generic = {col: set(by_value) for col, by_value in verdicts.items()}
    scoring = frame.copy(deep=False)
    for col, values in generic.items():
        if values:
            hit = scoring[col].isin(values).to_numpy()
            scoring[col] = scoring[col].where(~hit, None)
            if col == "email" and "email_local" in scoring.columns:
                scoring["email_local"] = scoring["email_local"].where(~hit, None)
    link_cols = [c for c in config.link_columns if c in scoring.columns]
    det = shared_value_links(scoring, columns=[*strong, *link_cols])
    timings["guardrails_s"] = round(time.perf_counter() - t, 2)
    scoring = add_blocking_keys(scoring)  # once, for training and scoring

    report: dict[str, Any] | None = None
    if settings_json is None:
        say("training the Splink model")
        t = time.perf_counter()
        settings_json, report = train_model(scoring, link_type=link_type, config=training)
        timings["train_s"] = round(time.perf_counter() - t, 2)

    if config.contact_mismatch_floor is not None:
        settings_json = floor_mismatch_weights(
            settings_json, ("email", "phone"), config.contact_mismatch_floor
        )
    say("scoring candidate pairs")
    t = time.perf_counter()
    edges = predict_edges(
        scoring,
        settings_json,
        threshold=config.edge_threshold,
        evidence=False,
        matching=False,
        db_api=spark_db_api(spark) if engine == "spark" else None,
    )
    edges["rule"] = "splink"
    edges["vetoed"] = (
        _first_name_veto(
            edges, config.first_name_veto_similarity, scoring, scope=config.first_name_veto_scope
        )
        if config.first_name_veto
        else False
    )
    timings["predict_s"] = round(time.perf_counter() - t, 2)
    live = ~edges["vetoed"].to_numpy(dtype=bool)
    threshold, threshold_report = derive_threshold(
        edges["match_probability"].to_numpy()[live],
        target_precision=config.target_precision,
        fixed=config.match_threshold,
    )

    say("clustering")
    t = time.perf_counter()
    if must_links is not None:
        extra = _as_pairs(must_links)
        det = pd.concat([extra.assign(rule="must_link"), det], ignore_index=True)
    exclusive = {c: frame[c] for c in exclusive_cols}
    result = constrained_clusters(
        frame["unique_id"],
        edges=edges.loc[live],
        must_links=det[["unique_id_l", "unique_id_r"]],
        cannot_links=cannot_links,
        exclusive_keys=exclusive,
        duplicate_free={c: frame[c] for c in duplicate_free_columns if c in frame.columns},
        config=dataclasses.replace(config.cluster, threshold=threshold),
    )
    del scoring
    clusters = result.as_frame()
    det = det.assign(match_probability=1.0, match_weight=np.inf, vetoed=False)
    all_edges = pd.concat([edges, det], ignore_index=True) if len(det) else edges
    del edges
    cid = pd.Series(clusters["cluster_id"].to_numpy(), index=clusters["unique_id"].to_numpy())
    all_edges["same_cluster"] = (
        cid.reindex(all_edges["unique_id_l"].astype(str)).to_numpy()
        == cid.reindex(all_edges["unique_id_r"].astype(str)).to_numpy()
    )
    inside = all_edges.loc[all_edges["same_cluster"] & ~all_edges["vetoed"].astype(bool)]
    best = (
        pd.concat(
            [
                inside[["unique_id_l", "match_probability"]].set_axis(["unique_id", "p"], axis=1),
                inside[["unique_id_r", "match_probability"]].set_axis(["unique_id", "p"], axis=1),
            ]
        )
        .groupby("unique_id")["p"]
        .max()
    )
    clusters["confidence"] = best.reindex(clusters["unique_id"]).to_numpy()
    timings["cluster_s"] = round(time.perf_counter() - t, 2)

    stats: dict[str, Any] = dict(result.stats)
    is_splink = all_edges["rule"].to_numpy() == "splink"
    stats["splink_edges"] = int(is_splink.sum())
    stats["vetoed_edges"] = int(all_edges["vetoed"].to_numpy(dtype=bool).sum())
    stats["deterministic_links"] = {
        str(k): int(v) for k, v in all_edges.loc[~is_splink, "rule"].value_counts().items()
    }
    stats["generic_identifiers"] = {k: len(v) for k, v in generic.items()}
    stats["match_threshold"], stats["match_threshold_rule"] = threshold, threshold_report
    # one entry per blanked value with its reason, and how many values each test found
    stats["generic_reasons"] = {
        col: {value: v.reason for value, v in found.items()} for col, found in verdicts.items()
    }
    stats["generic_reason_counts"] = reason_counts(verdicts)
    return Resolution(
        clusters=clusters,
        edges=all_edges,
        generic_identifiers=generic,
        settings_json=settings_json,
        training_report=report,
        stats=stats,
        timings=timings,
    )


MIN_RECORDS_TO_TRAIN = 50


def small_data_model(frame: pd.DataFrame) -> dict[str, Any]:
    """A model for inputs too small to train on: Splink settings for ``frame``'s columns with
    fixed m/u values (m high on exact agreement, u from typical person data)."""
    from identity.splink_model import fixed_parameter_model

    return fixed_parameter_model(frame)
