"""Bare Splink, configured the way Splink's own documentation configures each kind of data,
and blocking recall against ground truth. Used only by the evaluation suite
(``bench.identity_suite``): Kindred's resolver does not read this module.

Configurations (Splink 5 API; comparisons, blocking rules, prior rules and recall, u sample
size and EM rules as in the example notebooks of ``moj-analytical-services/splink``,
``docs/demos/``). Each expects the raw columns under the names the notebook uses:

- ``febrl3`` (``examples/duckdb/febrl3``; dedupe): ``given_name``, ``surname``,
  ``date_of_birth`` (``YYYYMMDD``), ``soc_sec_id``, ``street_number``, ``postcode``.
  Blocking on each of soc_sec_id, given_name, surname, date_of_birth, postcode; prior from
  soc_sec_id / name+dob / swapped names+dob at recall 0.9; u from 1e6 pairs; EM on
  date_of_birth, then postcode.
- ``febrl4`` (``examples/duckdb/febrl4``, the "detailed" model; link two files): the same
  columns plus ``address_1``, ``state``. Blocking name pair, swapped names, dob, soc_sec_id,
  state+address_1, street_number+address_1, postcode; prior soc_sec_id / name+dob at 0.8;
  u 1e6; EM on dob, then postcode, without term frequencies.
- ``historical_50k`` (``examples/duckdb/deduplicate_50k_synthetic``): ``first_name``,
  ``surname``, ``dob`` (``YYYY-MM-DD``), ``postcode_fake``, ``birth_place``, ``occupation``.
  Its ten blocking rules (name prefixes, dates, postcode districts), ForenameSurname,
  DateOfBirth, Postcode, exact birth place / occupation with TF; prior at recall 0.6; u 1e7;
  EM on first_name+surname, then dob. With only names and birth dates (``names_dob``), the
  rules and prior rules that use postcode or birth place are dropped.
- ``fake_1000`` (``tutorials/04_Estimating_model_parameters``): ``first_name``, ``surname``,
  ``dob``, ``city``, ``email``: NameComparison x2, Levenshtein(dob, 1), exact city with TF,
  EmailComparison; blocking first_name+city, surname; prior first_name+dob, first name and
  surname within Levenshtein 2, email at recall 0.7; u 2e6; EM on first_name+surname, then
  dob. For CRM exports (``crm``) the tutorial's model gains the columns a CRM has that the
  tutorial data lacks, with the library comparison the docs use for such columns: exact
  company and job title with TF (as ``historical_50k`` treats occupation), phone
  Levenshtein 1/2 on the digits; ``dob`` is absent there and its comparison and rules
  are dropped; ``email`` becomes a blocking rule as in the tutorial's prior rules.

``run_bare_splink`` trains once, predicts once at the lowest threshold and clusters with
``cluster_pairwise_predictions_at_threshold`` at every threshold. ``blocking_recall``
counts the true pairs that satisfy at least one blocking rule (Splink SQL over ``l``/``r``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pandas as pd
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

BASELINES = ("febrl3", "febrl4", "historical_50k", "names_dob", "fake_1000", "crm")


@dataclass
class BaselineConfig:
    comparisons: list[Any]
    blocking: list[Any]
    prior_rules: list[Any]
    prior_recall: float
    u_max_pairs: float
    em_rules: list[Any]
    em_without_tf: bool = False
    concat: tuple[str, str, str] | None = None  # (first, last, concat column name)


def _febrl_config(link: bool) -> BaselineConfig:
    swapped_dob = (
        "l.given_name = r.surname and l.surname = r.given_name "
        "and l.date_of_birth = r.date_of_birth"
    )
    if not link:
        return BaselineConfig(
            comparisons=[
                cl.NameComparison("given_name"),
                cl.NameComparison("surname"),
                cl.DateOfBirthComparison(
                    "date_of_birth", input_is_string=True, datetime_format="%Y%m%d"
                ),
                cl.DamerauLevenshteinAtThresholds("soc_sec_id", [2]),
                cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
                cl.ExactMatch("postcode").configure(term_frequency_adjustments=True),
            ],
            blocking=[
                block_on(c)
                for c in ("soc_sec_id", "given_name", "surname", "date_of_birth", "postcode")
            ],
            prior_rules=[
                block_on("soc_sec_id"),
                block_on("given_name", "surname", "date_of_birth"),
                swapped_dob,
            ],
            prior_recall=0.9,
            u_max_pairs=1e6,
            em_rules=[block_on("date_of_birth"), block_on("postcode")],
        )
    return BaselineConfig(
        comparisons=[
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison(
                "date_of_birth",
                input_is_string=True,
                datetime_format="%Y%m%d",
                invalid_dates_as_null=True,
            ),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(
                term_frequency_adjustments=True
            ),
        ],
        blocking=[
            block_on("given_name", "surname"),
            "l.given_name = r.surname and l.surname = r.given_name",
            block_on("date_of_birth"),
            block_on("soc_sec_id"),
            block_on("state", "address_1"),
            block_on("street_number", "address_1"),
            block_on("postcode"),
        ],
        prior_rules=[block_on("soc_sec_id"), block_on("given_name", "surname", "date_of_birth")],
        prior_recall=0.8,
        u_max_pairs=1e6,
        em_rules=[block_on("date_of_birth"), block_on("postcode")],
        em_without_tf=True,
    )


def _historical_config(*, with_places: bool) -> BaselineConfig:
    blocking = [
        block_on("substr(first_name,1,3)", "substr(surname,1,4)"),
        block_on("surname", "dob"),
        block_on("first_name", "dob"),
    ]
    comparisons: list[Any] = [
        cl.ForenameSurnameComparison(
            "first_name", "surname", forename_surname_concat_col_name="first_name_surname_concat"
        ),
        cl.DateOfBirthComparison("dob", input_is_string=True),
    ]
    prior = [block_on("first_name", "surname", "dob")]
    if with_places:
        blocking += [
            block_on("postcode_fake", "first_name"),
            block_on("postcode_fake", "surname"),
            block_on("dob", "birth_place"),
            block_on("substr(postcode_fake,1,3)", "dob"),
            block_on("substr(postcode_fake,1,3)", "first_name"),
            block_on("substr(postcode_fake,1,3)", "surname"),
        ]
        comparisons += [
            cl.PostcodeComparison("postcode_fake"),
            cl.ExactMatch("birth_place").configure(term_frequency_adjustments=True),
            cl.ExactMatch("occupation").configure(term_frequency_adjustments=True),
        ]
        prior += [
            block_on("substr(first_name,1,2)", "surname", "substr(postcode_fake,1,2)"),
            block_on("dob", "postcode_fake"),
        ]
    blocking.append(block_on("substr(first_name,1,2)", "substr(surname,1,2)", "substr(dob,1,4)"))
    return BaselineConfig(
        comparisons=comparisons,
        blocking=blocking,
        prior_rules=prior,
        prior_recall=0.6,
        u_max_pairs=1e7,
        em_rules=[block_on("first_name", "surname"), block_on("dob")],
        em_without_tf=True,
        concat=("first_name", "surname", "first_name_surname_concat"),
    )


def _fake_1000_config(*, crm: bool) -> BaselineConfig:
    comparisons: list[Any] = [cl.NameComparison("first_name"), cl.NameComparison("surname")]
    prior: list[Any] = [
        "l.first_name = r.first_name and levenshtein(r.surname, l.surname) <= 2",
        block_on("email"),
    ]
    blocking: list[Any] = [block_on("first_name", "city"), block_on("surname")]
    em = [block_on("first_name", "surname")]
    if crm:
        comparisons += [
            cl.ExactMatch("city").configure(term_frequency_adjustments=True),
            cl.EmailComparison("email"),
            cl.ExactMatch("company").configure(term_frequency_adjustments=True),
            cl.ExactMatch("job_title").configure(term_frequency_adjustments=True),
            cl.LevenshteinAtThresholds("phone", [1, 2]),
        ]
        blocking.append(block_on("email"))
        em.append(block_on("email"))
    else:
        comparisons += [
            cl.LevenshteinAtThresholds("dob", 1),
            cl.ExactMatch("city").configure(term_frequency_adjustments=True),
            cl.EmailComparison("email"),
        ]
        prior.insert(0, block_on("first_name", "dob"))
        em.append(block_on("dob"))
    return BaselineConfig(
        comparisons=comparisons,
        blocking=blocking,
        prior_rules=prior,
        prior_recall=0.7,
        u_max_pairs=2e6,
        em_rules=em,
    )


def baseline_config(name: str) -> BaselineConfig:
    """The documented configuration ``name`` (one of ``BASELINES``)."""
    if name in ("febrl3", "febrl4"):
        return _febrl_config(link=name == "febrl4")
    if name in ("historical_50k", "names_dob"):
        return _historical_config(with_places=name == "historical_50k")
    if name in ("fake_1000", "crm"):
        return _fake_1000_config(crm=name == "crm")
    raise ValueError(f"unknown baseline {name!r}: use one of {', '.join(BASELINES)}")


@dataclass
class BareResult:
    """Clusters per threshold (``unique_id``, ``cluster_id``; records in no edge absent),
    the blocking rules' SQL, the trained prior, and timings."""

    clusters: dict[float, pd.DataFrame]
    blocking_rules_sql: list[str]
    prior: float
    timings: dict[str, float] = field(default_factory=dict)


def _register(db_api: DuckDBAPI, frame: pd.DataFrame, link_type: str) -> Any:
    cols = [c for c in frame.columns if c not in ("true_id", "source_dataset")]
    if link_type == "dedupe_only":
        return db_api.register(frame[cols], dataset_display_name="records")
    return [
        db_api.register(part[cols].reset_index(drop=True), dataset_display_name=str(name))
        for name, part in frame.groupby("source_dataset", sort=True)
    ]


def run_bare_splink(
    frame: pd.DataFrame,
    *,
    config: str,
    link_type: str = "dedupe_only",
    thresholds: Sequence[float] = (0.5, 0.9, 0.95, 0.99),
    seed: int = 42,
) -> BareResult:
    """Train and run the documented configuration ``config`` on ``frame`` (its columns
    named as the configuration expects, plus ``unique_id``; ``source_dataset`` when
    linking; ``true_id`` is never given to Splink)."""
    cfg = baseline_config(config)
    frame = frame.reset_index(drop=True)
    if cfg.concat:
        first, last, concat = cfg.concat
        both = frame[first].notna() & frame[last].notna()
        joined = frame[first].fillna("") + " " + frame[last].fillna("")
        frame = frame.assign(**{concat: joined.where(both, None)})
    t0 = time.perf_counter()
    settings = SettingsCreator(
        link_type=link_type,  # type: ignore[arg-type]
        unique_id_column_name="unique_id",
        comparisons=cfg.comparisons,
        blocking_rules_to_generate_predictions=cfg.blocking,
        retain_intermediate_calculation_columns=False,
    )
    db_api = DuckDBAPI()
    linker = Linker(_register(db_api, frame, link_type), settings)
    linker.training.estimate_probability_two_random_records_match(
        cfg.prior_rules, recall=cfg.prior_recall
    )
    n = len(frame)
    linker.training.estimate_u_using_random_sampling(
        max_pairs=min(cfg.u_max_pairs, n * (n - 1) / 2), seed=seed
    )
    for rule in cfg.em_rules:
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=cfg.em_without_tf
        )
    model = linker.misc.save_model_to_json()
    t1 = time.perf_counter()
    lowest = min(thresholds)
    pred = linker.inference.predict(threshold_match_probability=lowest, warning_mode="never")
    out: dict[float, pd.DataFrame] = {}
    for th in thresholds:
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
            pred, threshold_match_probability=th
        )
        out[th] = (
            clusters.as_duckdbpyrelation()
            .select("CAST(unique_id AS VARCHAR) AS unique_id, CAST(cluster_id AS VARCHAR) AS cid")
            .df()
            .rename(columns={"cid": "cluster_id"})
        )
    t2 = time.perf_counter()
    rules = [str(b["blocking_rule"]) for b in model["blocking_rules_to_generate_predictions"]]
    return BareResult(
        clusters=out,
        blocking_rules_sql=rules,
        prior=float(model["probability_two_random_records_match"]),
        timings={"train_s": round(t1 - t0, 2), "predict_cluster_s": round(t2 - t1, 2)},
    )


def blocking_rules_of(settings_json: dict[str, Any]) -> list[str]:
    """The prediction blocking rules (Splink SQL) of a trained model's settings."""
    return [
        str(b["blocking_rule"]) for b in settings_json["blocking_rules_to_generate_predictions"]
    ]


def blocking_recall(
    frame: pd.DataFrame, rules_sql: Sequence[str], *, link_type: str = "dedupe_only"
) -> dict[str, Any]:
    """Share of the true pairs (same ``true_id``; across ``source_dataset`` when linking)
    that satisfy at least one of ``rules_sql`` (Splink blocking SQL over ``l``/``r``), and
    per rule. A rule that cannot be evaluated on ``frame`` (a column it derives elsewhere)
    is listed under ``unevaluated`` with the error."""
    con = duckdb.connect()
    con.register("f", frame)
    cross = " AND l.source_dataset <> r.source_dataset" if link_type == "link_only" else ""
    con.execute(
        "CREATE TABLE tp AS SELECT l.unique_id AS a, r.unique_id AS b FROM f l JOIN f r "
        "ON l.true_id = r.true_id AND l.unique_id < r.unique_id" + cross
    )
    total = int(con.execute("SELECT count(*) FROM tp").fetchall()[0][0])
    join = "FROM tp JOIN f l ON l.unique_id = tp.a JOIN f r ON r.unique_id = tp.b"
    found: list[str] = []
    per_rule: dict[str, float | None] = {}
    unevaluated: dict[str, str] = {}
    for rule in rules_sql:
        try:
            hit = con.execute(f"SELECT count(*) {join} WHERE coalesce(({rule}), false)")
            count = int(hit.fetchall()[0][0])
        except duckdb.Error as exc:
            unevaluated[rule] = str(exc).splitlines()[0][:200]
            continue
        found.append(rule)
        per_rule[rule] = round(count / total, 5) if total else None
    covered = 0
    if found:
        cond = " OR ".join(f"coalesce(({r}), false)" for r in found)
        covered = int(con.execute(f"SELECT count(*) {join} WHERE {cond}").fetchall()[0][0])
    con.close()
    return {
        "recall": round(covered / total, 5) if total else None,
        "true_pairs": total,
        "covered_pairs": covered,
        "per_rule": per_rule,
        "unevaluated": unevaluated,
    }
