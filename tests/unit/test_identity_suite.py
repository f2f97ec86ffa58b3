"""The evaluation suite's parts: generators (deterministic, the documented shapes), metrics
on a hand example, blocking recall and JSON safety. Small sizes; no Splink training."""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import pandas as pd
import pytest

from bench.identity_suite import SUITE, json_safe, load_set, summary_row
from bench.metrics import align_clusters, pairwise_bcubed
from identity.splink_baseline import BASELINES, baseline_config, blocking_recall
from samples.crm_shape import crm_export
from samples.people_shapes import historical, names_dob


class TestGeneratorsAreDeterministic:
    @pytest.mark.parametrize("gen", [names_dob, historical, crm_export])
    def test_same_seed_same_records(self, gen: Callable[..., pd.DataFrame]) -> None:
        assert gen(600, seed=5).equals(gen(600, seed=5))
        assert not gen(600, seed=5).equals(gen(600, seed=6))


@pytest.fixture(scope="module")
def nd_recs() -> pd.DataFrame:
    return names_dob(4000, seed=3)


class TestNamesDob:
    def test_only_names_and_birth_dates(self, nd_recs: pd.DataFrame) -> None:
        assert list(nd_recs.columns) == ["record_id", "true_id", "first_name", "surname", "dob"]
        assert nd_recs["record_id"].is_unique

    def test_about_one_record_in_ten_a_duplicate(self, nd_recs: pd.DataFrame) -> None:
        dup_share = 1 - nd_recs["true_id"].nunique() / len(nd_recs)
        assert 0.08 < dup_share < 0.12

    def test_duplicates_differ(self, nd_recs: pd.DataFrame) -> None:
        multi = nd_recs[nd_recs["true_id"].duplicated(keep=False)]
        exact = multi.duplicated(subset=["true_id", "first_name", "surname", "dob"], keep=False)
        assert exact.mean() < 0.8  # most duplicates carry a typo, nickname, swap or gap
        assert multi["dob"].isna().any() and multi["first_name"].isna().any()


@pytest.fixture(scope="module")
def hist_recs() -> pd.DataFrame:
    return historical(5000, seed=3)


class TestHistorical:
    def test_columns_and_people(self, hist_recs: pd.DataFrame) -> None:
        assert set(hist_recs.columns) == {
            "record_id", "true_id", "first_name", "surname", "dob", "birth_place",
            "postcode_fake", "occupation",
        }  # fmt: skip
        assert 2.0 < len(hist_recs) / hist_recs["true_id"].nunique() < 3.0

    def test_impossible_dates_and_missing_fields(self, hist_recs: pd.DataFrame) -> None:
        month = pd.to_numeric(hist_recs["dob"].str[5:7], errors="coerce")
        assert 0.05 < (month > 12).mean() < 0.15  # 7% planted + day/month swaps
        for col in ("birth_place", "postcode_fake", "occupation"):
            assert 0.25 < hist_recs[col].isna().mean() < 0.5

    def test_ocr_errors(self, hist_recs: pd.DataFrame) -> None:
        names = pd.concat([hist_recs["first_name"], hist_recs["surname"]]).dropna()
        assert names.str.contains(r"[01]").sum() > 10  # l->1, o->0


@pytest.fixture(scope="module")
def crm_recs() -> pd.DataFrame:
    return crm_export(3000, seed=3)


class TestCrmExport:
    def test_columns(self, crm_recs: pd.DataFrame) -> None:
        assert set(crm_recs.columns) == {
            "record_id", "true_id", "first_name", "last_name", "company", "job_title",
            "email", "phone", "city",
        }  # fmt: skip

    def test_work_email_changes_with_the_job(self, crm_recs: pd.DataFrame) -> None:
        domains = crm_recs.dropna(subset=["email"]).assign(
            d=lambda f: f["email"].str.split("@").str[1]
        )
        per_person = domains.groupby("true_id")["d"].nunique()
        assert (per_person > 1).sum() > 20

    def test_phone_formats_and_shared_switchboards(self, crm_recs: pd.DataFrame) -> None:
        phones = crm_recs["phone"].dropna()
        shapes = phones.str.replace(r"\d", "9", regex=True).nunique()
        assert shapes >= 4
        digits = phones.str.replace(r"\D", "", regex=True).str[-10:]
        people = crm_recs.loc[phones.index, "true_id"].groupby(digits.to_numpy()).nunique()
        assert (people > 1).any()  # a switchboard shared by colleagues


class TestMetrics:
    def test_hand_example(self) -> None:
        truth = ["a", "a", "a", "b", "b", "c"]
        pred = [1, 1, 2, 2, 2, 3]
        m = pairwise_bcubed(truth, pred)
        # true pairs: 3 (a) + 1 (b); predicted pairs: 1 + 3; both share (r0,r1) and (r3,r4)
        assert m["pairwise"]["true_pairs"] == 4
        assert m["pairwise"]["predicted_pairs"] == 4
        assert m["pairwise"]["true_positive_pairs"] == 2
        assert m["pairwise"]["precision"] == m["pairwise"]["recall"] == 0.5
        # B-cubed precision: (1 + 1 + 1/3 + 2/3 + 2/3 + 1) / 6; recall likewise by symmetry
        assert m["bcubed"]["precision"] == pytest.approx(14 / 18, abs=1e-5)
        assert m["bcubed"]["recall"] == pytest.approx(14 / 18, abs=1e-5)
        assert m["bcubed"]["f1"] == pytest.approx(14 / 18, abs=1e-5)

    def test_records_in_no_cluster_are_singletons(self) -> None:
        clusters = pd.DataFrame({"unique_id": ["x", "y"], "cluster_id": ["x", "x"]})
        aligned = align_clusters(["x", "y", "z", "w"], clusters)
        assert aligned.iloc[0] == aligned.iloc[1]
        assert len(set(aligned)) == 3

    def test_blocking_recall(self) -> None:
        frame = pd.DataFrame(
            {
                "unique_id": ["1", "2", "3", "4", "5"],
                "true_id": ["a", "a", "b", "b", "c"],
                "name": ["ann", "ann", "bob", "rob", "bob"],
                "dob": ["1990", None, "1980", "1980", "1980"],
            }
        )
        one = blocking_recall(frame, ['l."name" = r."name"'])
        assert one["true_pairs"] == 2 and one["covered_pairs"] == 1 and one["recall"] == 0.5
        both = blocking_recall(frame, ['l."name" = r."name"', 'l."dob" = r."dob"'])
        assert both["recall"] == 1.0
        bad = blocking_recall(frame, ['l."nope" = r."nope"'])
        assert bad["recall"] == 0.0 and bad["unevaluated"]

    def test_json_safe_has_no_nan(self) -> None:
        doc = json_safe({"a": math.nan, "b": [math.inf, 1.5], "c": {"d": -math.inf}})
        assert json.loads(json.dumps(doc, allow_nan=False)) == {
            "a": None,
            "b": [None, 1.5],
            "c": {"d": None},
        }


class TestSuiteSets:
    def test_every_set_has_a_baseline_configuration(self) -> None:
        for name in ("names_dob", "historical", "crm", "febrl1"):
            data = load_set(name, size=300)
            assert data.baseline in BASELINES
            baseline_config(data.baseline)
            assert {"unique_id", "true_id"} <= set(data.bare.columns)
            assert len(data.bare) == len(data.kindred)
        assert set(SUITE) >= {"febrl1", "febrl2", "febrl3", "febrl4"}

    def test_summary_with_a_failed_side(self) -> None:
        row = summary_row({"name": "x", "records": 3, "kindred": {"error": "boom"}})
        assert row["kindred_at_least_bare"] is None
