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

``detect_generic_identifiers`` finds email/phone values shared by several different
people (``info@``, a family mailbox, a company switchboard): a value whose records carry at
least ``min_distinct_names`` mutually dissimilar first names (typos, initials and
nicknames are one name), or two different values of a strong id (two CRM contacts behind
one switchboard), or a role local part. Such values must not link.

Union-find (``identity.graph.UnionFind``) uses path halving, here with union by size and
per-cluster constraint state in plain Python lists; for 1M nodes and a few million edges this
runs in seconds.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from identity.graph import UnionFind


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


def _one_edit(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` differ by one substitution, insertion, deletion or
    transposition of adjacent letters (a typo)."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(short) and short[i] == long_[i]:
        i += 1
    return short[i:] == long_[i + 1 :]


def _similar_names(a: str, b: str, *, cutoff: float) -> bool:
    if a == b:
        return True
    if len(a) == 1 or len(b) == 1:  # an initial matches the names it starts
        return a[0] == b[0]
    if len(a) >= 3 and len(b) >= 3 and _one_edit(a, b):
        return True
    return difflib.SequenceMatcher(None, a, b).ratio() >= cutoff


def similar_names(a: str, b: str, *, cutoff: float = 0.75) -> bool:
    """Whether two normalised first names can be one person's (equal, an initial, one typo
    apart, or close by sequence similarity)."""
    return _similar_names(a, b, cutoff=cutoff)


def distinct_name_count(names: Iterable[str], *, cutoff: float = 0.75) -> int:
    """Names counted once per group of similar spellings (``jon``/``john`` are one)."""
    kept: list[str] = []
    for name in sorted(set(names), key=lambda s: (-len(s), s)):
        if not any(_similar_names(name, k, cutoff=cutoff) for k in kept):
            kept.append(name)
    return len(kept)


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
    """Identifier values shared by different people, per column.

    A value is generic when its records carry ``min_distinct_names`` or more dissimilar
    first names (or values of one of ``extra_name_columns``, e.g. ``last_name``: two
    colleagues named David behind one switchboard); when its records carry two or more
    different values of one of ``strong_columns`` (two CRM contacts or two logins behind
    one mailbox); with ``role_emails``, when it is an email whose local part is a role (``info@``,
    ``sales@``...); or (when ``max_records`` is set) when more than ``max_records`` records
    carry it. ``reasons``, when given, receives per column the count of values found by
    each test (a value may count under several).
    """
    from identity.normalize import ROLE_LOCAL_PARTS

    found: dict[str, set[str]] = {}
    for col in columns:
        if col not in frame.columns:
            continue
        generic: set[str] = set()
        why: dict[str, int] = {}
        present = frame[col].notna().to_numpy()
        values = frame[col].to_numpy()[present]
        for name_col in dict.fromkeys([name_column, *extra_name_columns]):
            if name_col not in frame.columns:
                continue
            sub = pd.DataFrame({"v": values, "n": frame[name_col].to_numpy()[present]})
            sub = sub.dropna().drop_duplicates()
            counts = sub.groupby("v", sort=False).size()
            cand = sub[sub["v"].isin(counts.index[counts >= min_distinct_names])]
            cand = cand.sort_values("v", kind="stable")
            v_arr = cand["v"].to_numpy()
            n_arr = cand["n"].to_numpy()
            hits = 0
            if len(v_arr):
                starts = np.flatnonzero(np.r_[True, v_arr[1:] != v_arr[:-1]])
                ends = np.r_[starts[1:], len(v_arr)]
                for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
                    if distinct_name_count(n_arr[s:e].tolist()) >= min_distinct_names:
                        generic.add(str(v_arr[s]))
                        hits += 1
            why["distinct_" + name_col] = hits
        for strong in strong_columns:
            if strong not in frame.columns:
                continue
            sub = pd.DataFrame({"v": values, "s": frame[strong].to_numpy()[present]}).dropna()
            nun = sub.drop_duplicates().groupby("v", sort=False).size()
            multi = {str(v) for v in nun.index[nun > 1]}
            why[f"several_{strong}"] = len(multi)
            generic |= multi
        if role_emails and col == "email":
            uniq = pd.Series(pd.unique(values))
            local = uniq.str.rsplit("@", n=1).str[0].str.replace(r"[._]", "", regex=True)
            role = {str(v) for v in uniq[local.isin(ROLE_LOCAL_PARTS)]}
            why["role_mailbox"] = len(role)
            generic |= role
        if max_records is not None:
            counts = frame[col].value_counts()
            big = {str(v) for v in counts.index[counts > max_records]}
            why["too_many_records"] = len(big)
            generic |= big
        found[col] = generic
        if reasons is not None:
            reasons[col] = why
    return found


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
