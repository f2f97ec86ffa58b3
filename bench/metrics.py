"""Accuracy of a clustering against ground truth, without enumerating pairs.

Inputs are two equal-length label arrays over the same records: ``truth`` (true entity id)
and ``predicted`` (cluster id).

**Pairwise** precision/recall/F1: over all unordered record pairs, a pair is *predicted*
when both records share a predicted cluster and *true* when they share a true entity.
``TP = sum over (true, predicted) cells of C(n, 2)``, ``predicted pairs = sum over predicted
clusters of C(n, 2)``, ``true pairs = sum over true entities of C(n, 2)``. When there are
no predicted (true) pairs, precision (recall) is 1.0 by convention.

**Cluster** precision/recall/F1 are **B-cubed** (Bagga & Baldwin 1998): for each record r,
with P(r) its predicted cluster and T(r) its true entity,
``precision(r) = |P(r) ∩ T(r)| / |P(r)|`` and ``recall(r) = |P(r) ∩ T(r)| / |T(r)|``;
cluster precision/recall are the means over records and F1 their harmonic mean. A wrong
merge of two big groups costs precision for every record in them, so chaining shows up
much more strongly here than pairwise.

**Exact** cluster match (also reported): the share of predicted clusters that equal a true
entity exactly (precision) and the share of true entities reproduced exactly (recall).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd


def _f1(p: float, r: float) -> float:
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def _pairs(counts: np.ndarray[Any, Any]) -> int:
    c = counts.astype(np.int64)
    return int((c * (c - 1) // 2).sum())


def clustering_metrics(
    truth: Sequence[Any] | np.ndarray[Any, Any] | pd.Series,
    predicted: Sequence[Any] | np.ndarray[Any, Any] | pd.Series,
) -> dict[str, Any]:
    """Pairwise, B-cubed and exact-match precision/recall/F1 (see module docstring)."""
    t_codes, _ = pd.factorize(pd.Series(np.asarray(truth, dtype=object)), sort=False)
    p_codes, _ = pd.factorize(pd.Series(np.asarray(predicted, dtype=object)), sort=False)
    if len(t_codes) != len(p_codes):
        raise ValueError("truth and predicted must have the same length")
    n = len(t_codes)
    if n == 0:
        raise ValueError("no records")
    t_size = np.bincount(t_codes)
    p_size = np.bincount(p_codes)
    cells = pd.DataFrame({"t": t_codes, "p": p_codes}).value_counts()
    cell_t = cells.index.get_level_values("t").to_numpy()
    cell_p = cells.index.get_level_values("p").to_numpy()
    cell_n = cells.to_numpy().astype(np.int64)

    tp = _pairs(cell_n)
    pred_pairs = _pairs(p_size)
    true_pairs = _pairs(t_size)
    pw_p = tp / pred_pairs if pred_pairs else 1.0
    pw_r = tp / true_pairs if true_pairs else 1.0

    # B-cubed: each record in cell (t, p) scores n_cell/|p| and n_cell/|t|
    b3_p = float((cell_n * cell_n / p_size[cell_p]).sum() / n)
    b3_r = float((cell_n * cell_n / t_size[cell_t]).sum() / n)

    # exact: a cell that is the whole of its predicted cluster and its true entity
    exact = int(((cell_n == p_size[cell_p]) & (cell_n == t_size[cell_t])).sum())
    ex_p = exact / len(p_size)
    ex_r = exact / len(t_size)

    return {
        "records": n,
        "true_entities": len(t_size),
        "predicted_clusters": len(p_size),
        "pairwise": {
            "precision": round(pw_p, 5),
            "recall": round(pw_r, 5),
            "f1": round(_f1(pw_p, pw_r), 5),
            "true_pairs": true_pairs,
            "predicted_pairs": pred_pairs,
            "true_positive_pairs": tp,
        },
        "cluster": {
            "definition": "B-cubed",
            "precision": round(b3_p, 5),
            "recall": round(b3_r, 5),
            "f1": round(_f1(b3_p, b3_r), 5),
        },
        "exact_cluster": {
            "precision": round(ex_p, 5),
            "recall": round(ex_r, 5),
            "f1": round(_f1(ex_p, ex_r), 5),
        },
    }


def align_clusters(record_ids: Sequence[Any] | pd.Series, clusters: pd.DataFrame) -> pd.Series:
    """Cluster id per record of ``record_ids`` from a ``unique_id``/``cluster_id`` frame that
    may omit records (Splink leaves out records in no edge): an omitted record is its own
    cluster (its id prefixed so it cannot collide with a real cluster id)."""
    ids = pd.Series(np.asarray(record_ids, dtype=object)).astype(str)
    by_id = pd.Series(
        clusters["cluster_id"].astype(str).to_numpy(), index=clusters["unique_id"].astype(str)
    )
    out = by_id.reindex(ids.to_numpy())
    missing = out.isna().to_numpy()
    values = out.to_numpy(dtype=object)
    values[missing] = ("single:" + ids[missing]).to_numpy()
    return pd.Series(values, dtype=object)


def pairwise_bcubed(
    truth: Sequence[Any] | np.ndarray[Any, Any] | pd.Series,
    predicted: Sequence[Any] | np.ndarray[Any, Any] | pd.Series,
) -> dict[str, Any]:
    """``{"pairwise": {precision, recall, f1, ...pair counts}, "bcubed": {precision, recall,
    f1}, "predicted_clusters"}`` (see the module docstring)."""
    full = clustering_metrics(truth, predicted)
    bcubed = {k: full["cluster"][k] for k in ("precision", "recall", "f1")}
    return {
        "pairwise": full["pairwise"],
        "bcubed": bcubed,
        "predicted_clusters": full["predicted_clusters"],
    }
