"""Constrained clustering, generic identifiers and the benchmark metrics."""

from __future__ import annotations

import pandas as pd
import pytest

from bench.metrics import clustering_metrics
from identity.clustering import (
    ClusterConfig,
    constrained_clusters,
    detect_generic_identifiers,
    distinct_name_count,
    shared_value_links,
)


def _edges(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["unique_id_l", "unique_id_r", "match_probability"])


def _groups(result_ids: list[str], cluster_ids: list[str]) -> set[frozenset[str]]:
    by: dict[str, set[str]] = {}
    for node, cid in zip(result_ids, cluster_ids, strict=True):
        by.setdefault(cid, set()).add(node)
    return {frozenset(v) for v in by.values()}


class TestConstrainedClusters:
    def test_threshold_and_transitivity(self) -> None:
        res = constrained_clusters(
            ["a", "b", "c", "d"],
            edges=_edges([("a", "b", 0.99), ("b", "c", 0.95), ("c", "d", 0.5)]),
            config=ClusterConfig(threshold=0.9),
        )
        assert _groups(res.node_ids, res.cluster_ids) == {frozenset("abc"), frozenset("d")}
        assert res.cluster_ids[0] == "a"  # id of the first member

    def test_cannot_link_pair_is_never_merged(self) -> None:
        res = constrained_clusters(
            ["a", "b", "c"],
            edges=_edges([("a", "b", 0.99), ("b", "c", 0.99), ("a", "c", 0.99)]),
            cannot_links=[("a", "c")],
        )
        groups = _groups(res.node_ids, res.cluster_ids)
        assert not any({"a", "c"} <= g for g in groups)
        assert res.stats["edge_refused_conflict"] >= 1

    def test_exclusive_key_blocks_transitive_merge(self) -> None:
        # two CRM contacts (different crm ids) bridged by a web record matching both
        res = constrained_clusters(
            ["crm1", "crm2", "web"],
            edges=_edges([("crm1", "web", 0.999), ("crm2", "web", 0.998)]),
            exclusive_keys={"crm_id": ["C1", "C2", None]},
        )
        groups = _groups(res.node_ids, res.cluster_ids)
        assert frozenset({"crm1", "web"}) in groups
        assert frozenset({"crm2"}) in groups

    def test_must_link_respects_exclusive_key(self) -> None:
        res = constrained_clusters(
            ["a", "b", "c"],
            must_links=[("a", "b"), ("b", "c")],
            exclusive_keys={"crm_id": ["C1", None, "C2"]},
        )
        assert res.stats["must_link_refused_conflict"] == 1
        assert res.cluster_ids[0] != res.cluster_ids[2]

    def test_weak_bridge_between_dense_groups_is_refused(self) -> None:
        dense = [(x, y, 0.999) for g in ("abc", "xyz") for i, x in enumerate(g) for y in g[i + 1 :]]
        res = constrained_clusters(
            list("abcxyz"),
            edges=_edges([*dense, ("c", "x", 0.95)]),
            config=ClusterConfig(threshold=0.9, min_link_share=0.5),
        )
        assert _groups(res.node_ids, res.cluster_ids) == {frozenset("abc"), frozenset("xyz")}
        assert res.stats["edge_refused_support"] == 1

    def test_well_supported_groups_do_merge(self) -> None:
        edges = [("a", "b", 0.99), ("x", "y", 0.99), ("a", "x", 0.95), ("b", "y", 0.95)]
        res = constrained_clusters(list("abxy"), edges=_edges(edges))
        assert len(set(res.cluster_ids)) == 1

    def test_duplicate_free_source(self) -> None:
        res = constrained_clusters(
            ["a1", "a2", "b1"],
            edges=_edges([("a1", "b1", 0.99), ("a2", "b1", 0.98)]),
            duplicate_free={"source": ["a", "a", "b"]},
        )
        assert _groups(res.node_ids, res.cluster_ids) == {
            frozenset({"a1", "b1"}),
            frozenset({"a2"}),
        }

    def test_rejects_duplicate_node_ids(self) -> None:
        with pytest.raises(ValueError):
            constrained_clusters(["a", "a"])


class TestGenericIdentifiers:
    def test_shared_mailbox_is_detected(self) -> None:
        frame = pd.DataFrame(
            {
                "unique_id": list("123456"),
                "first_name": ["carol", "dan", "erin", "john", "jon", "johnny"],
                "email": ["info@x.com"] * 3 + ["j@y.com"] * 3,
                "phone": ["+1415"] * 6,
            }
        )
        found = detect_generic_identifiers(frame, min_distinct_names=3)
        # jon/john/johnny are one person with typos; carol, dan, erin are three people
        assert found["email"] == {"info@x.com"}
        assert found["phone"] == {"+1415"}

    def test_distinct_name_count(self) -> None:
        assert distinct_name_count(["john", "jon", "j"]) == 1
        assert distinct_name_count(["ann", "bob", "carol"]) == 3
        # one typo apart (substitution, transposition, deletion) is one name
        assert distinct_name_count(["ann", "anh"]) == 1
        assert distinct_name_count(["charles", "cahrles", "charls"]) == 1
        assert distinct_name_count(["david", "diane"]) == 2

    def test_two_people_or_two_crm_contacts_make_a_value_shared(self) -> None:
        frame = pd.DataFrame(
            {
                "unique_id": list("abcdefgh"),
                "first_name": ["ann", "bob", "ann", "anne", "david", "david", "zoe", None],
                "last_name": ["lee", "lee", "ray", "ray", "miller", "selworth", "kim", "kim"],
                "email": ["lee.family@gmail.com"] * 2
                + ["ann@x.com"] * 2
                + [None, None]
                + ["Info@kim.com".lower(), "zk@y.com"],
                "phone": [None] * 4 + ["+14155550000"] * 2 + ["+14155550001"] * 2,
                "crm_id": [None] * 6 + ["C1", "C2"],
            }
        )
        reasons: dict[str, dict[str, int]] = {}
        found = detect_generic_identifiers(
            frame,
            min_distinct_names=2,
            strong_columns=["crm_id"],
            extra_name_columns=["last_name"],
            role_emails=True,
            reasons=reasons,
        )
        # household mailbox (ann/bob) and the role mailbox; ann/anne is one person
        assert found["email"] == {"lee.family@gmail.com", "info@kim.com"}
        # a switchboard: two Davids with different surnames; two CRM contacts on one line
        assert found["phone"] == {"+14155550000", "+14155550001"}
        assert reasons["phone"]["several_crm_id"] == 1
        assert reasons["phone"]["distinct_last_name"] == 1
        assert reasons["email"]["role_mailbox"] == 1

    def test_shared_value_links_skip_excluded(self) -> None:
        frame = pd.DataFrame({"unique_id": list("abcd"), "crm_id": ["C1", "C1", "C2", "C2"]})
        links = shared_value_links(frame, columns=["crm_id"], exclude={"crm_id": {"C2"}})
        assert links[["unique_id_l", "unique_id_r"]].values.tolist() == [["a", "b"]]


class TestMetrics:
    def test_hand_computed(self) -> None:
        # truth: {1,2,3} {4,5}; predicted: {1,2} {3,4,5}
        m = clustering_metrics(["A", "A", "A", "B", "B"], ["x", "x", "y", "y", "y"])
        pw = m["pairwise"]
        # true pairs 3 + 1 = 4; predicted 1 + 3 = 4; TP = (1,2) + (4,5) = 2
        assert (pw["true_pairs"], pw["predicted_pairs"], pw["true_positive_pairs"]) == (4, 4, 2)
        assert pw["precision"] == pw["recall"] == pw["f1"] == 0.5
        # B-cubed precision: r1,r2: 2/2; r3: 1/3; r4,r5: 2/3 -> (1+1+1/3+2/3+2/3)/5
        assert m["cluster"]["precision"] == pytest.approx((2 + 1 / 3 + 4 / 3) / 5, abs=1e-5)
        # B-cubed recall: r1,r2: 2/3; r3: 1/3; r4,r5: 2/2 -> (2/3+2/3+1/3+1+1)/5
        assert m["cluster"]["recall"] == pytest.approx((5 / 3 + 2) / 5, abs=1e-5)
        assert m["exact_cluster"]["precision"] == 0.0

    def test_perfect(self) -> None:
        m = clustering_metrics([1, 1, 2], ["a", "a", "b"])
        assert m["pairwise"]["f1"] == 1.0 and m["cluster"]["f1"] == 1.0
        assert m["exact_cluster"]["f1"] == 1.0
