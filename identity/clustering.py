"""Constrained clustering of person records, and detection of generic identifiers.

``constrained_clusters`` turns scored pairs into people under rules a CDP knows and plain
threshold clustering does not:

1. **Must-links** (records sharing a strong identifier such as a CRM contact id or a login
   userId) are joined first.
2. **Cannot-links** are never violated: explicit pairs; *exclusive keys* - a namespace
   (e.g. ``crm_id``) in which one person holds at most one value, so a cluster may never
   contain two different values of it; and *duplicate-free* namespaces (e.g. the source of
   a deduplicated register), where a cluster holds at most one record per value. A
   must-link that would break one is refused and counted.
3. **Probabilistic edges** (``probability >= threshold``) are taken in descending
   probability with union-find. A record not yet linked (a singleton) joins freely; two
   clusters that both have several records are joined only when the link *support*
   between them is enough: at least ``min_link_share * min(|A|, |B|)`` edges (rounded up,
   at least ``min_links``) between their members. One weak bridge between two dense groups
   therefore does not merge them. Edges refused for support are retried once after the
   first pass, when clusters have grown.

``find_generic_identifiers`` finds email/phone values shared by several different people
(``info@``, a family mailbox, a company switchboard): it gathers the records behind each
value that could be shared and asks ``identity.guardrail.judge``, the one rule the streaming
resolver uses too. Typos, nicknames, initials, blanks and swapped first/last names are one
person; dissimilar names, two values of a strong id (two CRM contacts behind one
switchboard) or a role local part make the value generic, with its reason.
``detect_generic_identifiers`` is the same with plain arguments and sets for an answer.

Union-find (``identity.graph.UnionFind``) uses path halving, here with union by size and
per-cluster constraint state in plain Python lists; for 1M nodes and a few million edges this
runs in seconds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from identity.graph import UnionFind
from identity.guardrail import (
    BATCH_POLICY,
    GuardrailPolicy,
    Holder,
    Verdict,
    group_persons,
    judge,
    role_local_part,
    same_given_name,
)


@dataclass(frozen=True)
class ClusterConfig:
    """Thresholds for ``constrained_clusters``."""

    threshold: float = 0.9
    min_link_share: float = 0.5
    min_links: int = 1
    max_cluster_size: int = 500


@dataclass
class ClusterResult:
    """``cluster_id`` per node (in input order; the id of the cluster's first node), and
    counts of what the constraints did."""

    node_ids: list[str]
    cluster_ids: list[str]
    stats: dict[str, int] = field(default_factory=dict)

    def as_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"unique_id": self.node_ids, "cluster_id": self.cluster_ids})


class _ClusterSets(UnionFind[int]):
    """Union-find over nodes ``0..n-1`` with union by size and, per cluster, its members,
    exclusive-key values and cannot-link partners."""

    def __init__(
        self,
        n: int,
        exclusive: list[dict[str, str] | None],
        forbid: dict[int, set[int]],
        once: list[frozenset[tuple[str, str]] | None],
    ) -> None:
        super().__init__(range(n))
        self.size = [1] * n
        self.members: dict[int, list[int]] = {}
        self.exclusive = exclusive
        self.forbid = forbid
        self.once = once

    def members_of(self, root: int) -> list[int]:
        return self.members.get(root, [root])

    def conflict(self, ra: int, rb: int) -> bool:
        ea, eb = self.exclusive[ra], self.exclusive[rb]
        if ea and eb:
            for ns, value in ea.items():
                other = eb.get(ns)
                if other is not None and other != value:
                    return True
        oa, ob = self.once[ra], self.once[rb]
        if oa and ob and not oa.isdisjoint(ob):
            return True
        fa, fb = self.forbid.get(ra), self.forbid.get(rb)
        if fa and len(fa) <= len(fb or fa):
            if any(self.find(x) == rb for x in fa):
                return True
        elif fb and any(self.find(x) == ra for x in fb):
            return True
        return False

    def join(self, ra: int, rb: int) -> int:
        if self.size[ra] < self.size[rb]:
            ra, rb = rb, ra
        super().join(ra, rb)
        self.size[ra] += self.size[rb]
        self.members.setdefault(ra, [ra]).extend(self.members.pop(rb, [rb]))
        eb = self.exclusive[rb]
        if eb:
            ea = self.exclusive[ra]
            self.exclusive[ra] = {**eb, **ea} if ea else dict(eb)
        ob = self.once[rb]
        if ob:
            oa = self.once[ra]
            self.once[ra] = oa | ob if oa else ob
        fb = self.forbid.pop(rb, None)
        if fb:
            self.forbid.setdefault(ra, set()).update(fb)
        return ra


def _pairs_to_codes(
    pairs: Iterable[tuple[str, str]] | pd.DataFrame | None, index: pd.Index
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    if pairs is None:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    frame = pairs if isinstance(pairs, pd.DataFrame) else pd.DataFrame(list(pairs))
    if frame.empty:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    left = index.get_indexer(frame.iloc[:, 0].astype(str))
    right = index.get_indexer(frame.iloc[:, 1].astype(str))
    ok = (left >= 0) & (right >= 0) & (left != right)
    return left[ok], right[ok]


def constrained_clusters(
    node_ids: Sequence[str] | pd.Series,
    *,
    edges: pd.DataFrame | None = None,
    must_links: Iterable[tuple[str, str]] | pd.DataFrame | None = None,
    cannot_links: Iterable[tuple[str, str]] | pd.DataFrame | None = None,
    exclusive_keys: Mapping[str, Sequence[str | None] | pd.Series] | None = None,
    duplicate_free: Mapping[str, Sequence[str | None] | pd.Series] | None = None,
    config: ClusterConfig | None = None,
) -> ClusterResult:
    """Cluster ``node_ids`` (see module docstring).

    ``edges``: columns ``unique_id_l``, ``unique_id_r``, ``match_probability``.
    ``must_links`` / ``cannot_links``: pairs of node ids (or two-column frames).
    ``exclusive_keys``: namespace -> per-node value (aligned with ``node_ids``; None = no
    value), e.g. ``{"crm_id": frame["crm_id"]}``.
    ``duplicate_free``: namespace -> per-node value; a cluster holds at most one record per
    value, e.g. ``{"source_dataset": frame["source_dataset"]}`` for sources known to hold
    no duplicates.
    """
    config = config or ClusterConfig()
    ids = [str(x) for x in node_ids]
    index = pd.Index(ids)
    if not index.is_unique:
        raise ValueError("node ids must be unique")
    n = len(ids)

    exclusive: list[dict[str, str] | None] = [None] * n
    for ns, values in (exclusive_keys or {}).items():
        arr = pd.Series(list(values) if not isinstance(values, pd.Series) else values.to_numpy())
        if len(arr) != n:
            raise ValueError(f"exclusive key {ns!r} has {len(arr)} values for {n} nodes")
        for i in np.flatnonzero(arr.notna().to_numpy()).tolist():
            d = exclusive[i]
            if d is None:
                d = exclusive[i] = {}
            d[ns] = str(arr.iat[i])

    once: list[frozenset[tuple[str, str]] | None] = [None] * n
    for ns, values in (duplicate_free or {}).items():
        arr = pd.Series(list(values) if not isinstance(values, pd.Series) else values.to_numpy())
        if len(arr) != n:
            raise ValueError(f"duplicate-free key {ns!r} has {len(arr)} values for {n} nodes")
        for i in np.flatnonzero(arr.notna().to_numpy()).tolist():
            prev = once[i]
            item = frozenset({(ns, str(arr.iat[i]))})
            once[i] = prev | item if prev else item

    forbid: dict[int, set[int]] = {}
    cl_left, cl_right = _pairs_to_codes(cannot_links, index)
    for a, b in zip(cl_left.tolist(), cl_right.tolist(), strict=True):
        forbid.setdefault(a, set()).add(b)
        forbid.setdefault(b, set()).add(a)

    uf = _ClusterSets(n, exclusive, forbid, once)
    stats = {
        "nodes": n,
        "must_links": 0,
        "must_link_unions": 0,
        "must_link_refused_conflict": 0,
        "edges_considered": 0,
        "edge_unions": 0,
        "edge_refused_conflict": 0,
        "edge_refused_support": 0,
        "edge_refused_size": 0,
        "edge_unions_retry": 0,
        "cannot_link_pairs": len(cl_left),
    }

    ml_left, ml_right = _pairs_to_codes(must_links, index)
    stats["must_links"] = len(ml_left)
    for a, b in zip(ml_left.tolist(), ml_right.tolist(), strict=True):
        ra, rb = uf.find(a), uf.find(b)
        if ra == rb:
            continue
        if uf.conflict(ra, rb):
            stats["must_link_refused_conflict"] += 1
            continue
        uf.join(ra, rb)
        stats["must_link_unions"] += 1

    if edges is not None and len(edges):
        prob = edges["match_probability"].to_numpy(dtype=float)
        keep = prob >= config.threshold
        sub = edges.loc[keep, ["unique_id_l", "unique_id_r"]]
        left = index.get_indexer(sub["unique_id_l"].astype(str))
        right = index.get_indexer(sub["unique_id_r"].astype(str))
        p = prob[keep]
        ok = (left >= 0) & (right >= 0) & (left != right)
        left, right, p = left[ok], right[ok], p[ok]
        order = np.argsort(-p, kind="stable")
        left, right = left[order], right[order]
        stats["edges_considered"] = len(left)
        # adjacency (CSR) of the edges above threshold, for support counts
        both_src = np.concatenate([left, right])
        both_dst = np.concatenate([right, left])
        srt = np.argsort(both_src, kind="stable")
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(both_src, minlength=n), out=indptr[1:])
        nbrs = both_dst[srt].tolist()
        ptr = indptr.tolist()

        def support(ra: int, rb: int) -> int:
            small, other = (ra, rb) if uf.size[ra] <= uf.size[rb] else (rb, ra)
            count = 0
            for m in uf.members_of(small):
                for nb in nbrs[ptr[m] : ptr[m + 1]]:
                    if uf.find(nb) == other:
                        count += 1
            return count

        def attempt(a: int, b: int) -> str:
            ra, rb = uf.find(a), uf.find(b)
            if ra == rb:
                return "same"
            if uf.conflict(ra, rb):
                return "conflict"
            sa, sb = uf.size[ra], uf.size[rb]
            if sa + sb > config.max_cluster_size:
                return "size"
            if sa > 1 and sb > 1:
                need = max(config.min_links, math.ceil(config.min_link_share * min(sa, sb)))
                if support(ra, rb) < need:
                    return "support"
            uf.join(ra, rb)
            return "union"

        retry: list[tuple[int, int]] = []
        for a, b in zip(left.tolist(), right.tolist(), strict=True):
            outcome = attempt(a, b)
            if outcome == "union":
                stats["edge_unions"] += 1
            elif outcome == "conflict":
                stats["edge_refused_conflict"] += 1
            elif outcome == "size":
                stats["edge_refused_size"] += 1
            elif outcome == "support":
                retry.append((a, b))
        for a, b in retry:
            outcome = attempt(a, b)
            if outcome == "union":
                stats["edge_unions_retry"] += 1
            elif outcome == "support":
                stats["edge_refused_support"] += 1

    roots = np.fromiter((uf.find(i) for i in range(n)), dtype=np.int64, count=n)
    # the cluster's id is the id of its lowest-index member: deterministic
    first = np.full(n, n, dtype=np.int64)
    np.minimum.at(first, roots, np.arange(n, dtype=np.int64))
    id_arr = np.asarray(ids, dtype=object)
    cluster_ids = id_arr[first[roots]].tolist()
    stats["clusters"] = len(np.unique(roots))
    return ClusterResult(node_ids=ids, cluster_ids=cluster_ids, stats=stats)


# --- generic identifiers -----------------------------------------------------------------


def similar_names(a: str, b: str, *, cutoff: float = 0.9) -> bool:
    """Whether two normalised first names can be one person's
    (``identity.guardrail.same_given_name``: equal, nickname, initial, prefix, one typo,
    Jaro-Winkler >= ``cutoff``)."""
    return same_given_name(a, b, cutoff=cutoff)


def distinct_name_count(names: Iterable[str], *, cutoff: float = 0.9) -> int:
    """First names counted once per person they can belong to (``jon``/``john``/``j`` are
    one)."""
    return len(group_persons(((n or None, None) for n in names), cutoff=cutoff))


def _text_or_none(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def find_generic_identifiers(
    frame: pd.DataFrame,
    *,
    columns: Sequence[str] = ("email", "phone"),
    name_column: str = "first_name",
    last_name_columns: Sequence[str] = ("last_name",),
    strong_columns: Sequence[str] = (),
    policy: GuardrailPolicy = BATCH_POLICY,
) -> dict[str, dict[str, Verdict]]:
    """Per column of ``columns`` present in ``frame``, the values that are generic, each with
    its ``identity.guardrail.Verdict`` (reason included).

    The decision is ``identity.guardrail.judge`` on the records holding a value (names from
    ``name_column`` and ``last_name_columns``, strong ids from ``strong_columns``); it is
    asked only about values that could fail it: held under ``policy.min_persons`` or more
    spellings of a name, under two values of a strong id, role mailboxes, and values on more
    than ``policy.max_records`` records."""
    names = [c for c in dict.fromkeys([name_column, *last_name_columns]) if c in frame.columns]
    first_col = name_column if name_column in frame.columns else None
    last_cols = [c for c in names if c != first_col]
    strong = [c for c in dict.fromkeys(strong_columns) if c in frame.columns]
    found: dict[str, dict[str, Verdict]] = {}
    for col in columns:
        if col not in frame.columns:
            continue
        sub = frame.loc[frame[col].notna().to_numpy(), [col, *names, *strong]]
        sub = sub.set_axis(["v", *names, *strong], axis=1)
        cand: set[Any] = set()
        if names:
            spelled = sub[["v", *names]].dropna(subset=names, how="all").drop_duplicates()
            counts = spelled.groupby("v", sort=False).size()
            cand.update(counts.index[counts >= policy.min_persons])
        if policy.strong_ids:
            for s in strong:
                nun = sub[["v", s]].dropna().drop_duplicates().groupby("v", sort=False).size()
                cand.update(nun.index[nun > 1])
        if policy.role_mailboxes and col == "email":
            cand.update(v for v in pd.unique(sub["v"]) if role_local_part(str(v)) is not None)
        if policy.max_records is not None:
            sizes = sub["v"].value_counts()
            cand.update(sizes.index[sizes > policy.max_records])
        rows = sub[sub["v"].isin(cand)].sort_values("v", kind="stable")
        verdicts: dict[str, Verdict] = {}
        values = rows["v"].to_numpy()
        firsts = rows[first_col].tolist() if first_col else [None] * len(rows)
        lasts = [rows[c].tolist() for c in last_cols]
        strongs = [rows[c].tolist() for c in strong]
        bounds: list[int] = []
        if len(values):
            bounds = np.flatnonzero(np.r_[True, values[1:] != values[:-1]]).tolist()
        ends = [*bounds[1:], len(values)] if bounds else []
        for lo, hi in zip(bounds, ends, strict=True):
            holders = []
            for i in range(lo, hi):
                parts = [p for p in (_text_or_none(x[i]) for x in lasts) if p]
                ids = tuple(
                    (c, str(x[i]))
                    for c, x in zip(strong, strongs, strict=True)
                    if _text_or_none(x[i])
                )
                holders.append(
                    Holder(first=_text_or_none(firsts[i]), last=" ".join(parts) or None, strong=ids)
                )
            value = str(values[lo])
            verdict = judge(col, value, holders, policy)
            if verdict.generic:
                verdicts[value] = verdict
        found[col] = verdicts
    return found


def reason_counts(verdicts: Mapping[str, Mapping[str, Verdict]]) -> dict[str, dict[str, int]]:
    """Per column, how many generic values each test found (a value may count under
    several)."""
    out: dict[str, dict[str, int]] = {}
    for col, by_value in verdicts.items():
        counts: dict[str, int] = {}
        for verdict in by_value.values():
            for code in verdict.codes:
                counts[code] = counts.get(code, 0) + 1
        out[col] = counts
    return out


def detect_generic_identifiers(
    frame: pd.DataFrame,
    *,
    columns: Sequence[str] = ("email", "phone"),
    name_column: str = "first_name",
    min_distinct_names: int = 3,
    max_records: int | None = None,
    strong_columns: Sequence[str] = (),
    extra_name_columns: Sequence[str] = (),
    role_emails: bool = False,
    reasons: dict[str, dict[str, int]] | None = None,
) -> dict[str, set[str]]:
    """Identifier values shared by different people, per column: ``find_generic_identifiers``
    with ``min_distinct_names`` dissimilar persons, ``extra_name_columns`` as the family
    name (e.g. ``last_name``: two Davids behind one switchboard are two people), conflicting
    ``strong_columns``, role mailboxes when ``role_emails``, and more than ``max_records``
    records when set. ``reasons``, when given, receives per column the count of values found
    by each test (``distinct_first_name``, ``distinct_last_name``, ``several_<column>``,
    ``role_mailbox``, ``too_many_records``)."""
    policy = GuardrailPolicy(
        min_persons=min_distinct_names,
        strong_ids=bool(strong_columns),
        role_mailboxes=role_emails,
        max_records=max_records,
    )
    verdicts = find_generic_identifiers(
        frame,
        columns=columns,
        name_column=name_column,
        last_name_columns=extra_name_columns,
        strong_columns=strong_columns,
        policy=policy,
    )
    if reasons is not None:
        reasons.update(reason_counts(verdicts))
    return {col: set(by_value) for col, by_value in verdicts.items()}


def shared_value_links(
    frame: pd.DataFrame, *, columns: Sequence[str], exclude: Mapping[str, set[str]] | None = None
) -> pd.DataFrame:
    """Must-link pairs from records sharing a value in any of ``columns`` (a chain per value:
    n - 1 pairs for n records), skipping values in ``exclude[col]``. Columns
    ``unique_id_l``, ``unique_id_r``, ``rule`` (the column name)."""
    parts = []
    for col in columns:
        if col not in frame.columns:
            continue
        sub = frame[["unique_id", col]].dropna()
        if exclude and exclude.get(col):
            sub = sub[~sub[col].isin(exclude[col])]
        sub = sub.sort_values([col, "unique_id"], kind="stable")
        same = sub[col].to_numpy()[1:] == sub[col].to_numpy()[:-1]
        uid = sub["unique_id"].to_numpy()
        parts.append(
            pd.DataFrame({"unique_id_l": uid[:-1][same], "unique_id_r": uid[1:][same], "rule": col})
        )
    if not parts:
        return pd.DataFrame(columns=["unique_id_l", "unique_id_r", "rule"])
    return pd.concat(parts, ignore_index=True)
