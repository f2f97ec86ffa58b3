"""The model's prior and match threshold, from the data rather than constants.

**Prior** (``probability_two_random_records_match``, lambda). Three estimates:

1. *deterministic*: pairs agreeing exactly on strong rules (first + last name + birth date,
   ...) divided by an assumed recall (Splink's ``estimate_probability_two_random_records_
   match``). Weak when those rules are: on names and birth dates with typos the exact rule
   finds a tenth of the matches, and lambda came out a hundred times too low;
2. *EM*: each EM session estimates lambda among its blocked pairs; Splink reverses the
   blocking with the trained Bayes factors of the blocked columns
   (``populate_probability_two_random_records_match_from_trained_values``) and takes the
   median over sessions;
3. the pairs found by the deterministic rules, over all pairs: a *lower bound* (those
   pairs are nearly all matches).

The start value is the larger of (1) and (2): each can only be too low for its own reason
(rules that miss matches; EM sessions whose blocking holds few of them), and the threshold
below protects precision if it is too high. One self-consistency step follows
(``self_consistent_prior``): the trained model, scoring the prediction blocks with the start
value, expects ``E = sum(match_probability >= 0.5)`` matches, so lambda becomes
``E / pairs``, bounded below by (3).

**Threshold** (``derive_threshold``): the model's probabilities are its own estimate of
precision. For each threshold ``t`` on a grid from 0.5 to 0.99, the expected precision of
the accepted edges is the mean probability at or above ``t`` and the expected recall their
probability mass over all scored edges' mass; the chosen threshold maximises the expected
F1 among those whose expected precision reaches ``target_precision`` (the highest grid
value when none does).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from splink import Linker

CHECK_MIN_PROBABILITY = 0.5

THRESHOLD_GRID: tuple[float, ...] = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99)


def start_prior(deterministic: float | None, em: float | None) -> tuple[float, str]:
    """The larger sane estimate and its name (``deterministic`` or ``em``)."""
    options = [
        (float(v), name)
        for v, name in ((deterministic, "deterministic"), (em, "em"))
        if v is not None and 0.0 < float(v) < 1.0 and v == v
    ]
    if not options:
        raise ValueError("no usable estimate of the prior")
    value, name = max(options)
    return value, name


def self_consistent_prior(
    *, start: float, expected_matches: float, total_pairs: float, lower_bound: float
) -> float:
    """``expected_matches / total_pairs`` bounded to ``[lower_bound, start]``, or ``start``
    when the expectation is unusable."""
    if not total_pairs or not expected_matches or expected_matches != expected_matches:
        return start
    value = float(expected_matches) / float(total_pairs)
    return float(min(start, max(lower_bound, value)))


def expected_matches(sdfs: list[Any], settings_json: dict[str, Any]) -> float | None:
    """Matches the model ``settings_json`` expects among its blocked pairs of ``sdfs``: the
    sum of the match probabilities of at least ``CHECK_MIN_PROBABILITY`` (0.5). The sum
    starts at 0.5, not near 0: at 1M records the blocking yields tens of millions of
    unlikely pairs whose small probabilities add up to more than the true matches."""
    linker = Linker(sdfs if len(sdfs) > 1 else sdfs[0], settings_json, validate_settings=False)
    pred = linker.inference.predict(
        threshold_match_probability=CHECK_MIN_PROBABILITY, warning_mode="never"
    )
    total = pred.as_duckdbpyrelation().aggregate("sum(match_probability) AS e").df()["e"]
    pred.drop_table_from_database_and_remove_from_cache()
    value = total.iloc[0]
    return None if value is None or value != value else float(value)


def derive_threshold(
    probabilities: Sequence[float] | np.ndarray[Any, Any],
    *,
    target_precision: float = 0.98,
    grid: Sequence[float] = THRESHOLD_GRID,
    fixed: float | None = None,
) -> tuple[float, dict[str, Any]]:
    """(threshold, report): see the module docstring; ``fixed`` pins the threshold."""
    if fixed is not None:
        return fixed, {"threshold": fixed, "rule": "fixed by the config"}
    p = np.asarray(probabilities, dtype=float)
    p = p[np.isfinite(p)]
    mass = float(p.sum())
    rows: list[dict[str, float]] = []
    best: tuple[float, float] | None = None
    for t in sorted(grid):
        sel = p[p >= t]
        if not len(sel):
            rows.append({"threshold": t, "edges": 0})
            continue
        tp = float(sel.sum())
        precision = tp / len(sel)
        recall = tp / mass if mass else 0.0
        f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
        rows.append(
            {
                "threshold": t,
                "edges": len(sel),
                "expected_precision": round(precision, 5),
                "expected_recall": round(recall, 5),
                "expected_f1": round(f1, 5),
            }
        )
        if precision >= target_precision and (best is None or f1 > best[1]):
            best = (t, f1)
    chosen = best[0] if best is not None else max(grid)
    report = {
        "threshold": chosen,
        "rule": "max expected F1 subject to expected precision >= target",
        "target_precision": target_precision,
        "grid": rows,
    }
    return chosen, report
