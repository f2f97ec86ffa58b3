"""The probabilistic person-matching model: Splink 5 over DuckDB, in process.

Input is the canonical person-record frame (``identity.records``). Comparisons are chosen
from the columns that carry data, so one module serves CRM exports, FEBRL-style registers
and the multi-source platform records alike:

- ``first_name`` / ``last_name``: ``NameComparison`` each (Jaro-Winkler 0.92/0.88/0.7),
  term-frequency adjusted (a match on "smith" is worth less than on "zaborowski");
- ``email``: exact match, TF adjusted (no username or fuzzy levels: in CDP data the
  username mostly repeats the name, so it would count the name twice);
- ``phone``: exact / Levenshtein 1, TF adjusted; ``postcode``: Levenshtein 1/2, TF adjusted;
- ``org_key`` (company name or corporate email domain as one token): exact, TF; else
  ``company``: Jaro-Winkler 0.95/0.88, TF; ``job_title``, ``address``, ``city``: see code;
- ``birth_date``: ``DateOfBirthComparison``; ``national_id``: Levenshtein 1/2.

Blocking: exact-value rules plus fuzzy ones on derived keys (Soundex, initials, birth-date
parts, swapped names), each within a comparison budget (``identity.blocking``).
Training is unsupervised: u by random sampling, m by EM over two blocking rules on disjoint
columns; the prior is the larger of the deterministic-rule and the EM estimate, then one
self-consistency step (``identity.calibration``), every estimate in the report. The
trained model is plain JSON (Splink's settings dict); ``save_model``/``load_model`` wrap it
with a Kindred version string.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

from identity.blocking import (
    FUZZY_RULES,
    KEY_COLUMNS,
    BlockingBudget,
    add_blocking_keys,
    guarded_rules,
    measured_blocking_recall,
    rule_creator,
)
from identity.calibration import expected_matches, self_consistent_prior, start_prior

LinkType = Literal["dedupe_only", "link_only", "link_and_dedupe"]
MODEL_FORMAT = "kindred-splink/1"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingConfig:
    """Knobs for unsupervised training (defaults sized for 5k-1M records on 2 cores)."""

    prior_recall: float = 0.7
    u_max_pairs: float = 5e6
    em_max_pairs: float = 2e6
    seed: int = 42
    blocking: BlockingBudget = field(default_factory=BlockingBudget)


def _present(frame: pd.DataFrame, col: str, *, min_share: float = 0.01) -> bool:
    if col not in frame.columns:
        return False
    filled = int(frame[col].notna().sum())
    return filled >= max(2, min_share * len(frame)) and frame[col].nunique(dropna=True) > 1


#: Comparison columns in the order a model compares them (``org_key`` replaces ``company``).
_COMPARED = (
    "first_name", "last_name", "email", "phone", "birth_date", "postcode", "org_key",
    "company", "job_title", "address", "city", "national_id",
)  # fmt: skip

#: the birth-date format in each engine's own date-parsing syntax
_DATE_FORMATS = {"duckdb": "%Y-%m-%d", "spark": "yyyy-MM-dd"}


def _comparison(name: str, dialect: str = "duckdb") -> Any:
    """The Splink comparison Kindred uses for column ``name``, for SQL ``dialect`` (the
    levels are the same in every dialect; only their SQL differs)."""
    if name in ("first_name", "last_name"):
        return cl.NameComparison(name)
    if name in ("email", "org_key"):
        # email: exact address only - a shared username across domains (``ryan.johnson@a.com``
        # / ``ryan.johnson@b.com``) is derived from the name, not independent evidence;
        # org_key: the organisation from the company name or a corporate email domain (it
        # replaces the company comparison: one piece of evidence, counted once)
        return cl.ExactMatch(name).configure(term_frequency_adjustments=True)
    if name == "phone":
        return cl.LevenshteinAtThresholds("phone", [1]).configure(term_frequency_adjustments=True)
    if name == "birth_date":
        return cl.DateOfBirthComparison(
            "birth_date", input_is_string=True, datetime_format=_DATE_FORMATS[dialect]
        )
    if name == "postcode":
        return cl.LevenshteinAtThresholds("postcode", [1, 2]).configure(
            term_frequency_adjustments=True
        )
    if name == "company":
        return cl.JaroWinklerAtThresholds("company", [0.95, 0.88]).configure(
            term_frequency_adjustments=True
        )
    if name == "job_title":
        return cl.JaroWinklerAtThresholds("job_title", [0.9])
    if name == "address":
        return cl.JaroWinklerAtThresholds("address", [0.95, 0.85])
    if name == "city":
        return cl.ExactMatch("city").configure(term_frequency_adjustments=True)
    if name == "national_id":
        return cl.LevenshteinAtThresholds("national_id", [1, 2])
    raise ValueError(f"no Kindred comparison for column {name!r}")


def _comparisons(frame: pd.DataFrame) -> list[Any]:
    names = [c for c in _COMPARED if _present(frame, c)]
    if "org_key" in names and "company" in names:
        names.remove("company")
    if not names:
        raise ValueError("no comparable columns: the frame needs names, email, phone or similar")
    return [_comparison(n) for n in names]


def settings_for_dialect(settings_json: dict[str, Any], dialect: str) -> dict[str, Any]:
    """A trained model (Splink settings JSON, DuckDB SQL) for another SQL ``dialect``
    (``"spark"``): every parameter kept - m, u, term-frequency settings, the prior - and
    only the SQL rewritten: each comparison level's condition from the same comparison
    built for ``dialect`` (``_comparison``), each blocking rule transpiled by sqlglot."""
    source = str(settings_json.get("sql_dialect", "duckdb"))
    if source == dialect:
        return settings_json
    import sqlglot

    out = copy.deepcopy(settings_json)
    for comp in out["comparisons"]:
        name = str(comp["output_column_name"])
        target = _comparison(name, dialect).get_comparison(dialect).as_dict()
        levels, new = comp["comparison_levels"], target["comparison_levels"]
        labels = [lv.get("label_for_charts") for lv in levels]
        if labels != [lv.get("label_for_charts") for lv in new]:
            raise ValueError(f"comparison {name!r} of the model differs from Kindred's: {labels}")
        for level, translated in zip(levels, new, strict=True):
            level["sql_condition"] = translated["sql_condition"]
    for rule in out["blocking_rules_to_generate_predictions"]:
        rule["blocking_rule"] = sqlglot.transpile(
            rule["blocking_rule"], read=source, write=dialect
        )[0]
        rule["sql_dialect"] = dialect
    out["sql_dialect"] = dialect
    return out


_PREDICTION_RULES: tuple[tuple[str, ...], ...] = (
    ("email",),
    ("phone",),
    ("first_name", "last_name"),
    ("last_name", "birth_date"),
    ("first_name", "birth_date"),
    ("postcode", "last_name"),
    ("postcode", "first_name"),
    ("email_local", "first_name"),
    ("company", "last_name"),
    ("org_key", "first_name"),
    ("birth_date", "postcode"),
    ("address", "city"),
    ("national_id",),
)


def _with_keys(frame: pd.DataFrame) -> pd.DataFrame:
    return frame if all(c in frame.columns for c in KEY_COLUMNS) else add_blocking_keys(frame)


def build_settings(
    frame: pd.DataFrame,
    *,
    link_type: LinkType = "dedupe_only",
    budget: BlockingBudget | None = None,
    blocking_report: dict[str, Any] | None = None,
) -> SettingsCreator:
    """Splink settings for the columns of ``frame`` that carry data; the blocking rules'
    guard report (``identity.blocking.guarded_rules``) goes into ``blocking_report``."""
    exact = [r for r in _PREDICTION_RULES if all(_present(frame, c) for c in r)]
    rules, report = guarded_rules(
        _with_keys(frame), [*exact, *FUZZY_RULES], link_type=link_type, budget=budget
    )
    if blocking_report is not None:
        blocking_report.update(report, kept=rules)
    return SettingsCreator(
        link_type=link_type,
        unique_id_column_name="unique_id",
        comparisons=_comparisons(frame),
        blocking_rules_to_generate_predictions=[rule_creator(r) for r in rules],
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=True,
    )


#: Columns a model may read: only these are registered with DuckDB (fewer columns, less
#: memory at 1M records). Strong ids, sources, ``full_name``, ``email_domain`` and labels
#: stay out of Splink.
_SCORING_COLUMNS = (
    "first_name", "last_name", "email", "email_local", "phone", "company", "org_key", "job_title",
    "city", "postcode", "birth_date", "address", "national_id", "source_dataset", *KEY_COLUMNS,
)  # fmt: skip


def _model_columns(frame: pd.DataFrame) -> list[str]:
    return ["unique_id", *[c for c in _SCORING_COLUMNS if c in frame.columns]]


def _dialect(db_api: Any) -> str:
    return str(db_api.sql_dialect.sql_dialect_str)


def _register(db_api: Any, frame: pd.DataFrame, link_type: str) -> list[Any]:
    frame = _with_keys(frame)
    cols = _model_columns(frame)

    def register(part: pd.DataFrame, name: str) -> Any:
        if _dialect(db_api) != "spark":
            return db_api.register(part, dataset_display_name=name)
        from identity.spark_engine import to_spark_frame

        # a Spark session outlives one linker: a table name of its own per registration
        return db_api.register(
            to_spark_frame(db_api.spark, part),
            dataset_display_name=name,
            table_name=f"kindred_{uuid.uuid4().hex[:12]}",
        )

    if link_type == "dedupe_only":
        return [register(frame[cols], "records")]
    if "source_dataset" not in frame.columns:
        raise ValueError(f"link_type {link_type!r} needs a source_dataset column")
    cols = [c for c in cols if c != "source_dataset"]
    return [
        register(part[cols].reset_index(drop=True), str(name))
        for name, part in frame.groupby("source_dataset", sort=True)
    ]


def _prior_rules(frame: pd.DataFrame) -> list[tuple[str, ...]]:
    candidates = [
        ("first_name", "last_name", "birth_date"),
        ("first_name", "last_name", "email"),
        ("first_name", "last_name", "phone"),
        ("first_name", "last_name", "postcode"),
    ]
    rules: list[tuple[str, ...]] = [r for r in candidates if all(_present(frame, c) for c in r)]
    if not rules:
        rules = [
            r
            for r in [("email",), ("first_name", "last_name")]
            if all(_present(frame, c) for c in r)
        ][:1]
    return rules


def _em_rules(frame: pd.DataFrame) -> list[tuple[str, ...]]:
    rules: list[tuple[str, ...]] = []
    if _present(frame, "first_name") and _present(frame, "last_name"):
        rules.append(("first_name", "last_name"))
    for other in (("birth_date",), ("email",), ("phone",), ("postcode",), ("city",)):
        if all(_present(frame, c) for c in other):
            rules.append(other)
            break
    if len(rules) < 2 and _present(frame, "postcode"):
        rules.append(("postcode",))
    return rules


def model_version(settings_json: dict[str, Any]) -> str:
    """``kindred-<utc timestamp>-<hash of the parameters>``: stable for identical models."""
    digest = hashlib.sha256(json.dumps(settings_json, sort_keys=True).encode()).hexdigest()[:10]
    return f"kindred-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{digest}"


def train_model(
    frame: pd.DataFrame,
    *,
    link_type: LinkType = "dedupe_only",
    config: TrainingConfig | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Train a model on ``frame`` without labels. Returns (Splink settings JSON, report)."""
    config = config or TrainingConfig()
    started = time.perf_counter()
    frame = _with_keys(frame)
    db_api = DuckDBAPI()
    sdfs = _register(db_api, frame, link_type)
    blocking: dict[str, Any] = {}
    settings = build_settings(
        frame, link_type=link_type, budget=config.blocking, blocking_report=blocking
    )
    linker = Linker(sdfs if len(sdfs) > 1 else sdfs[0], settings)
    prior_rules = _prior_rules(frame)
    linker.training.estimate_probability_two_random_records_match(
        [block_on(*r) for r in prior_rules], recall=config.prior_recall
    )
    deterministic = float(linker.misc.save_model_to_json()["probability_two_random_records_match"])
    n = len(frame)
    linker.training.estimate_u_using_random_sampling(
        max_pairs=min(config.u_max_pairs, n * (n - 1) / 2), seed=config.seed
    )
    em_rules = _em_rules(frame)
    for i, rule in enumerate(em_rules):
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on(*rule),
            max_pairs=config.em_max_pairs,
            populate_probability_two_random_records_match_from_trained_values=(
                i == len(em_rules) - 1
            ),
        )
    settings_json = linker.misc.save_model_to_json()
    em = float(settings_json["probability_two_random_records_match"]) if em_rules else None
    if link_type == "link_only":
        sizes = frame["source_dataset"].value_counts().to_numpy()
        total_pairs = float(sizes.sum() ** 2 - (sizes**2).sum()) / 2
    else:
        total_pairs = n * (n - 1) / 2
    start, source = start_prior(deterministic, em)
    settings_json["probability_two_random_records_match"] = start
    expected = expected_matches(sdfs, settings_json)
    found = deterministic * total_pairs * config.prior_recall
    prior = self_consistent_prior(
        start=start,
        expected_matches=expected or 0.0,
        total_pairs=total_pairs,
        lower_bound=found / total_pairs if total_pairs else 0.0,
    )
    settings_json["probability_two_random_records_match"] = prior
    version = model_version(settings_json)
    kept = blocking.pop("kept", [])
    blocking["measured_recall"] = measured_blocking_recall(frame, kept, link_type)
    report = {
        "model_version": version,
        "format": MODEL_FORMAT,
        "link_type": link_type,
        "records": n,
        "comparisons": [c["output_column_name"] for c in settings_json["comparisons"]],
        "blocking_rules": [
            b["blocking_rule"] for b in settings_json["blocking_rules_to_generate_predictions"]
        ],
        "blocking": blocking,
        "prior": {
            "method": f"max(deterministic, em) = {source}, then one self-consistency step",
            "rules": [list(r) for r in prior_rules],
            "assumed_recall": config.prior_recall,
            "deterministic": deterministic,
            "deterministic_pairs": round(found, 1),
            "em": em,
            "start": start,
            "expected_matches": None if expected is None else round(expected, 1),
            "checked_recall": round(min(1.0, found / expected), 4) if expected else None,
            "measured_recall": measured_blocking_recall(frame, prior_rules, link_type),
            "probability_two_random_records_match": prior,
        },
        "em_blocking_rules": [list(r) for r in em_rules],
        "config": asdict(config),
        "train_seconds": round(time.perf_counter() - started, 2),
    }
    return settings_json, report


def save_model(path: str | Path, settings_json: dict[str, Any], *, version: str) -> None:
    """Write ``{"format", "version", "settings"}`` JSON."""
    doc = {"format": MODEL_FORMAT, "version": version, "settings": settings_json}
    Path(path).write_text(json.dumps(doc, indent=2), encoding="utf-8")


def load_model(path: str | Path) -> tuple[dict[str, Any], str]:
    """Read a file written by ``save_model``: (settings JSON, version)."""
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    if doc.get("format") != MODEL_FORMAT:
        raise ValueError(f"{path}: not a Kindred model file (format {doc.get('format')!r})")
    return doc["settings"], str(doc["version"])


def comparison_names(settings_json: dict[str, Any]) -> list[str]:
    return [str(c["output_column_name"]) for c in settings_json["comparisons"]]


def linker_for(
    frame: pd.DataFrame,
    settings_json: dict[str, Any],
    *,
    validate: bool = True,
    db_api: Any | None = None,
) -> tuple[Linker, Any]:
    """A Linker over ``frame``. ``validate=False`` skips Splink's settings validation (the
    model was validated when trained); ``db_api`` reuses one in-process DuckDB, or is a
    ``SparkAPI`` (``identity.spark_engine``): the model's SQL is then rewritten for Spark
    (``settings_for_dialect``), its parameters unchanged."""
    db_api = db_api or DuckDBAPI()
    link_type = str(settings_json.get("link_type", "dedupe_only"))
    frame = with_model_columns(frame, settings_json)
    settings_json = settings_for_dialect(settings_json, _dialect(db_api))
    sdfs = _register(db_api, frame, link_type)
    linker = Linker(sdfs if len(sdfs) > 1 else sdfs[0], settings_json, validate_settings=validate)
    return linker, db_api


def with_model_columns(frame: pd.DataFrame, settings_json: dict[str, Any]) -> pd.DataFrame:
    """``frame`` with every column the trained model reads (one this frame lacks is added
    all-null: the model may have been trained on data with more fields)."""
    needed = set()
    for comp in settings_json["comparisons"]:
        for level in comp["comparison_levels"]:
            sql = str(level.get("sql_condition", ""))
            for col in _CANONICAL_OPTIONAL:
                if f'"{col}_l"' in sql or f"{col}_l" in sql:
                    needed.add(col)
    for rule in settings_json["blocking_rules_to_generate_predictions"]:
        for col in _CANONICAL_OPTIONAL:
            if f"l.{col}" in rule["blocking_rule"] or f'l."{col}"' in rule["blocking_rule"]:
                needed.add(col)
    missing = sorted(c for c in needed if c not in frame.columns)
    if missing:
        frame = frame.assign(**{c: pd.Series([None] * len(frame), dtype=object) for c in missing})
    return frame


def scoring_frame(frame: pd.DataFrame, settings_json: dict[str, Any]) -> pd.DataFrame:
    """``frame`` as a trained model reads it: blocking keys added, the model's columns (all
    of them, null where missing) and nothing else, in a fixed order."""
    frame = with_model_columns(_with_keys(frame), settings_json)
    cols = _model_columns(frame)
    cols += sorted(c for c in _CANONICAL_OPTIONAL if c in frame.columns and c not in cols)
    return frame[cols]


_CANONICAL_OPTIONAL = (
    "first_name", "last_name", "full_name", "email", "email_local", "email_domain", "phone",
    "company", "org_key", "job_title", "city", "postcode", "birth_date", "address",
    "national_id",
)  # fmt: skip


def predict_edges(
    frame: pd.DataFrame,
    settings_json: dict[str, Any],
    *,
    threshold: float = 0.5,
    evidence: bool = True,
    matching: bool = True,
    validate: bool = True,
    db_api: Any | None = None,
) -> pd.DataFrame:
    """Score the blocked pairs of ``frame`` with a trained model.

    Returns one row per pair with ``match_probability >= threshold``: ``unique_id_l``,
    ``unique_id_r``, ``match_weight``, ``match_probability``, ``mw_<comparison>`` (the
    comparison's log2 Bayes factor including its term-frequency adjustment),
    ``gamma_<comparison>`` and, when ``evidence`` is true, ``evidence`` (a dict
    comparison -> weight per pair, for storing with the link). With ``matching`` false the
    ``first_name``/``last_name``/``email``/``phone`` ``_l``/``_r`` columns are left out
    (Splink does not materialise them either: less memory on large inputs). ``db_api``: the
    engine that scores (``linker_for``); the edges come back as pandas either way.
    """
    if not matching:
        settings_json = {**settings_json, "retain_matching_columns": False}
    linker, api = linker_for(frame, settings_json, validate=validate, db_api=db_api)
    pred = linker.inference.predict(threshold_match_probability=threshold, warning_mode="never")
    names = comparison_names(settings_json)
    rel = _prediction_relation(pred)
    edges: pd.DataFrame = rel.select(edge_select(names, set(rel.columns), matching=matching)).df()
    pred.drop_table_from_database_and_remove_from_cache()
    if _dialect(api) == "spark":
        # the session stays up for the next run: drop this run's tables and cached frames
        api.delete_tables_created_by_splink_from_db()
        api.spark.catalog.clearCache()
    if evidence:
        edges["evidence"] = edge_evidence(edges, names)
    return edges


def _prediction_relation(pred: Any) -> Any:
    """Splink's predictions as a DuckDB relation: directly on DuckDB; from Spark, the rows
    collected through Arrow into an in-process DuckDB, so both engines share
    ``edge_select``."""
    if _dialect(pred.db_api) != "spark":
        return pred.as_duckdbpyrelation()
    import duckdb

    frame = pred.as_spark_dataframe()
    keep = {"unique_id_l", "unique_id_r", "match_weight", "match_probability"}
    keep |= {f"{c}_{s}" for c in ("first_name", "last_name", "email", "phone") for s in "lr"}
    # only what edge_select can read crosses to the driver (no tf_ or other value columns)
    wanted = [c for c in frame.columns if c in keep or c.startswith(("mw_", "gamma_"))]
    return duckdb.connect().from_arrow(frame.select(*wanted).toArrow())


def edge_select(names: list[str], have: set[str], *, matching: bool) -> str:
    """The columns of an edge table out of Splink's predictions (columns ``have``): ids,
    weight, probability, per-comparison weights with their term-frequency adjustment,
    gammas, and the compared names/contacts when ``matching``."""
    select = ["unique_id_l", "unique_id_r", "match_weight", "match_probability"]
    for name in names:
        tf = f"mw_tf_adj_{name}"
        mw = f'"mw_{name}"' + (f' + coalesce("{tf}", 0)' if tf in have else "")
        select.append(f'CAST({mw} AS DOUBLE) AS "mw_{name}"')
        if f"gamma_{name}" in have:
            select.append(f'"gamma_{name}"')
    for col in ("first_name", "last_name", "email", "phone"):
        if matching and f"{col}_l" in have:
            select += [f'"{col}_l"', f'"{col}_r"']
    return ", ".join(select)


def edge_evidence(edges: pd.DataFrame, names: list[str]) -> list[dict[str, float]]:
    """Per-pair dict comparison -> match weight (rounded to 3 decimals)."""
    cols = [f"mw_{n}" for n in names if f"mw_{n}" in edges.columns]
    block = edges[cols].round(3).to_numpy()
    keys = [c[3:] for c in cols]
    return [dict(zip(keys, row.tolist(), strict=True)) for row in block]


def bare_splink_clusters(
    frame: pd.DataFrame,
    settings_json: dict[str, Any],
    *,
    threshold: float = 0.9,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """The baseline: Splink's own ``cluster_pairwise_predictions_at_threshold`` over the same
    model. Returns (``unique_id``, ``cluster_id`` frame, timings)."""
    t0 = time.perf_counter()
    linker, _ = linker_for(frame, settings_json)
    pred = linker.inference.predict(threshold_match_probability=threshold, warning_mode="never")
    t1 = time.perf_counter()
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        pred, threshold_match_probability=threshold
    )
    out: pd.DataFrame = (
        clusters.as_duckdbpyrelation()
        .select(
            "CAST(unique_id AS VARCHAR) AS unique_id, CAST(cluster_id AS VARCHAR) AS cluster_id"
        )
        .df()
    )
    t2 = time.perf_counter()
    return out, {"predict_s": round(t1 - t0, 2), "cluster_s": round(t2 - t1, 2)}


# u (chance agreement on the exact level) for typical person data, per comparison
_EXACT_U = {
    "first_name": 0.01, "last_name": 0.005, "email": 0.0001, "phone": 0.0002,
    "birth_date": 0.0005, "postcode": 0.01, "company": 0.01, "job_title": 0.05,
    "address": 0.0005, "city": 0.05, "national_id": 0.0001,
}  # fmt: skip


def fixed_parameter_model(
    frame: pd.DataFrame, *, link_type: LinkType = "dedupe_only", prior: float = 0.01
) -> dict[str, Any]:
    """An untrained model with fixed, conservative m/u values, for inputs too small to
    train on (a few dozen records). Exact agreement on a field is strong evidence, partial
    agreement weaker, disagreement evidence against."""
    db_api = DuckDBAPI()
    sdfs = _register(db_api, frame, link_type)
    linker = Linker(sdfs if len(sdfs) > 1 else sdfs[0], build_settings(frame, link_type=link_type))
    settings: dict[str, Any] = linker.misc.save_model_to_json()
    settings["probability_two_random_records_match"] = prior
    for comp in settings["comparisons"]:
        levels = [lv for lv in comp["comparison_levels"] if not lv.get("is_null_level")]
        k = len(levels)
        exact_u = _EXACT_U.get(str(comp["output_column_name"]), 0.01)
        for j, level in enumerate(levels):
            # term frequencies from a few dozen rows are noise: switch them off
            level.pop("tf_adjustment_column", None)
            level.pop("tf_adjustment_weight", None)
            if j == k - 1:
                level["m_probability"] = 0.05
                level["u_probability"] = max(0.5, 1 - exact_u * 5 * k)
            elif j == 0:
                level["m_probability"] = 0.85 if k > 2 else 0.95
                level["u_probability"] = exact_u
            else:
                level["m_probability"] = 0.10 / max(1, k - 2)
                level["u_probability"] = exact_u * (3 * j)
    return settings
