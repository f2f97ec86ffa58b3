"""Blocking keys and blocking rules for the Splink model, with a guard on their cost.

Exact-value rules (first + last name, last name + birth date, ...) miss the pairs real
person data is full of: a typo in a name *and* a changed birth date, a swapped day and
month, swapped first and last names, a date known only by its year. The derived keys below
are added to the frame registered with DuckDB (``add_blocking_keys``) and give rules that
catch them:

- ``first_name_sx`` / ``last_name_sx``: Soundex codes (typos after the first letter keep
  the code: ``smith`` = ``smyth`` = ``smiht``);
- ``first_init`` / ``last_init``: the first letter;
- ``dob_year``, ``dob_month``, ``dob_day``: birth-date parts, taken from the canonical
  frame's ``birth_year`` / ``birth_month`` / ``birth_day`` (``identity.records``: a date
  impossible as a whole keeps its usable parts there), else from ``birth_date``;
- ``dob_key``: year with month and day in sorted order, so ``1985-03-07`` and
  ``1985-07-03`` (day and month swapped) share it.

Guard: every candidate rule's comparison count is computed exactly (one ``GROUP BY`` per
rule, no pairs materialised: Splink's ``count_comparisons_from_blocking_rules`` samples 5%
by default and reads 0 on small inputs, or materialises every pair when exact). A rule
over ``max_rule_comparisons`` is tightened once (a birth year, else an initial, added) or
dropped; rules are also dropped once the running total passes ``max_total_comparisons``.
What was kept, tightened and dropped, with counts, goes into the training report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import jellyfish
import numpy as np
import pandas as pd
from splink import block_on
from splink.blocking_rule_library import CustomRule

#: Columns ``add_blocking_keys`` derives (registered with DuckDB alongside the data).
KEY_COLUMNS = (
    "first_name_sx", "last_name_sx", "first_init", "last_init",
    "dob_year", "dob_month", "dob_day", "dob_key",
)  # fmt: skip

#: Swapped first and last names (either spelling kept by its Soundex code).
SWAPPED_NAMES = "swapped_names"

#: Rules beyond the exact-value ones, in priority order (a rule is a tuple of columns that
#: must be equal, or ``SWAPPED_NAMES``).
FUZZY_RULES: tuple[tuple[str, ...], ...] = (
    ("first_name_sx", "last_name_sx"),
    ("first_init", "dob_key"),
    ("last_init", "dob_key"),
    ("last_name_sx", "dob_year"),
    ("first_name_sx", "dob_year"),
    (SWAPPED_NAMES,),
)


@dataclass(frozen=True)
class BlockingBudget:
    """Comparison budget: per rule ``max(min_rule, per_record * n)``, in total
    ``max(min_total, total_per_record * n)`` (pre-filter counts, overlaps counted twice)."""

    per_record: float = 10.0
    min_rule: float = 2e6
    total_per_record: float = 60.0
    min_total: float = 1e7


def _soundex(values: pd.Series) -> pd.Series:
    uniq = pd.unique(values.dropna())
    codes = {v: jellyfish.soundex(v) for v in uniq if isinstance(v, str) and v}
    return values.map(codes)


def _part(frame: pd.DataFrame, col: str, fallback: pd.Series) -> pd.Series:
    if col in frame.columns:
        raw = pd.to_numeric(frame[col], errors="coerce")
        return raw.where(raw > 0).astype("Int64").astype("string").astype(object)
    return fallback


def add_blocking_keys(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the ``KEY_COLUMNS`` added (null where the source field is null)."""
    out = frame.copy(deep=False)
    for col in ("first_name", "last_name"):
        if col in out.columns:
            names = out[col].where(out[col].notna(), None)
            out[f"{col}_sx"] = _soundex(names)
            out[f"{col.split('_')[0]}_init"] = names.str[:1]
        else:
            out[f"{col}_sx"] = None
            out[f"{col.split('_')[0]}_init"] = None
    dob = (
        out["birth_date"].astype("string")
        if "birth_date" in out.columns
        else pd.Series(pd.NA, index=out.index, dtype="string")
    )
    ok = dob.str.fullmatch(r"\d{4}-\d{2}-\d{2}").fillna(False).to_numpy(dtype=bool)
    good = dob.where(ok)
    # the canonical frame's parts (identity.records) keep what an impossible date still says
    year = _part(out, "birth_year", good.str[:4].astype(object))
    month = _part(out, "birth_month", good.str[5:7].str.lstrip("0").astype(object))
    day = _part(out, "birth_day", good.str[8:10].str.lstrip("0").astype(object))
    out["dob_year"], out["dob_month"], out["dob_day"] = year, month, day
    m = pd.to_numeric(month, errors="coerce")
    d = pd.to_numeric(day, errors="coerce")
    lo, hi = np.fmin(m, d), np.fmax(m, d)
    both = year.notna() & m.notna() & d.notna()
    key = (
        year.astype(str)
        + "-"
        + lo.astype("Int64").astype(str)
        + "-"
        + hi.astype("Int64").astype(str)
    )
    out["dob_key"] = key.where(both, None)
    return out


def _rule_sql(rule: tuple[str, ...]) -> str:
    if rule == (SWAPPED_NAMES,):
        return "l.first_name_sx = r.last_name_sx AND l.last_name_sx = r.first_name_sx"
    return " AND ".join(f'l."{c}" = r."{c}"' for c in rule)


def rule_creator(rule: tuple[str, ...]) -> Any:
    """The Splink blocking rule for ``rule``."""
    if rule == (SWAPPED_NAMES,):
        return CustomRule(_rule_sql(rule))
    return block_on(*rule)


def rule_columns(rule: tuple[str, ...]) -> tuple[str, ...]:
    if rule == (SWAPPED_NAMES,):
        return ("first_name_sx", "last_name_sx")
    return rule


def _count(con: duckdb.DuckDBPyConnection, rule: tuple[str, ...], link_only: bool) -> float:
    """Exact pre-filter comparison count of ``rule`` over table ``f``."""
    if rule == (SWAPPED_NAMES,):
        # pairs (a, b) with a.first = b.last and a.last = b.first: join the (first, last)
        # counts to the (last, first) counts; same-key pairs are counted on both sides
        sql = """
            WITH c AS (SELECT first_name_sx AS x, last_name_sx AS y, count(*) AS n FROM f
                       WHERE first_name_sx IS NOT NULL AND last_name_sx IS NOT NULL
                       GROUP BY ALL)
            SELECT coalesce(sum(a.n * b.n) / 2, 0) FROM c a JOIN c b ON a.x = b.y AND a.y = b.x
        """
        return float(con.execute(sql).fetchall()[0][0])
    cols = ", ".join(f'"{c}"' for c in rule)
    nonnull = " AND ".join(f'"{c}" IS NOT NULL' for c in rule)
    if link_only:
        sql = f"""
            WITH k AS (SELECT {cols}, source_dataset, count(*) AS n FROM f WHERE {nonnull}
                       GROUP BY ALL),
                 g AS (SELECT sum(n) AS t, sum(n * n) AS s FROM k GROUP BY {cols})
            SELECT coalesce(sum(t * t - s) / 2, 0) FROM g
        """
    else:
        sql = f"""
            SELECT coalesce(sum(n * (n - 1)) / 2, 0)
            FROM (SELECT count(*) AS n FROM f WHERE {nonnull} GROUP BY {cols})
        """
    return float(con.execute(sql).fetchall()[0][0])


_TIGHTENERS = ("dob_year", "first_init", "last_init")


def _filled(frame: pd.DataFrame, col: str) -> bool:
    return col in frame.columns and bool(frame[col].notna().any())


def guarded_rules(
    frame: pd.DataFrame,
    candidates: Sequence[tuple[str, ...]],
    *,
    link_type: str = "dedupe_only",
    budget: BlockingBudget | None = None,
) -> tuple[list[tuple[str, ...]], dict[str, Any]]:
    """Keep the ``candidates`` (on columns that carry data) within the budget.

    ``frame`` must hold the columns the rules use (``add_blocking_keys`` first). Returns the
    kept rules in order and a report: per rule its count and whether it was kept,
    tightened (``tightened_from``) or dropped, and the total."""
    budget = budget or BlockingBudget()
    n = len(frame)
    per_rule = max(budget.min_rule, budget.per_record * n)
    total_cap = max(budget.min_total, budget.total_per_record * n)
    link_only = link_type == "link_only" and "source_dataset" in frame.columns
    usable = [r for r in candidates if all(_filled(frame, c) for c in rule_columns(r))]
    cols = sorted(
        {c for r in usable for c in rule_columns(r)} | {c for c in _TIGHTENERS if _filled(frame, c)}
    )
    con = duckdb.connect()
    con.register("f", frame[[*cols, *(["source_dataset"] if link_only else [])]])
    kept: list[tuple[str, ...]] = []
    rows: list[dict[str, Any]] = []
    total = 0.0
    for rule in usable:
        count = _count(con, rule, link_only)
        row: dict[str, Any] = {"rule": _rule_sql(rule), "comparisons": int(count)}
        if count > per_rule:
            tighter = next(
                (
                    (*rule, extra)
                    for extra in _TIGHTENERS
                    if extra not in rule and rule != (SWAPPED_NAMES,) and _filled(frame, extra)
                ),
                None,
            )
            if tighter is not None:
                tight_count = _count(con, tighter, link_only)
                if tight_count <= per_rule:
                    row = {
                        "rule": _rule_sql(tighter),
                        "comparisons": int(tight_count),
                        "tightened_from": row,
                    }
                    rule, count = tighter, tight_count
        if count > per_rule or total + count > total_cap:
            row["dropped"] = "over the rule budget" if count > per_rule else "over the total"
        else:
            kept.append(rule)
            total += count
        rows.append(row)
    con.close()
    report = {
        "rules": rows,
        "kept_comparisons": int(total),
        "rule_budget": int(per_rule),
        "total_budget": int(total_cap),
    }
    return kept, report


def measured_blocking_recall(
    frame: pd.DataFrame, rules: Sequence[tuple[str, ...]], link_type: str
) -> float | None:
    """Share of true pairs (same ``true_id``) any of ``rules`` produces; None without labels."""
    if "true_id" not in frame.columns or not rules:
        return None
    cols = sorted({c for r in rules for c in rule_columns(r)} | {"unique_id", "true_id"})
    if "source_dataset" in frame.columns:
        cols.append("source_dataset")
    con = duckdb.connect()
    con.register("f", frame[cols])
    cross = " AND l.source_dataset <> r.source_dataset" if link_type == "link_only" else ""
    pairs = "FROM f l JOIN f r ON l.true_id = r.true_id AND l.unique_id < r.unique_id" + cross
    hit = " OR ".join(f"({_rule_sql(r)})" for r in rules)
    found, total = con.execute(
        f"SELECT count(*) FILTER (WHERE coalesce({hit}, false)), count(*) {pairs}"
    ).fetchall()[0]
    con.close()
    return round(float(found) / float(total), 4) if total else None
