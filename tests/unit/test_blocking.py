"""Derived blocking keys and the comparison budget (identity.blocking)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from identity.blocking import (
    SWAPPED_NAMES,
    BlockingBudget,
    add_blocking_keys,
    guarded_rules,
    measured_blocking_recall,
)


def _frame(rows: Sequence[tuple[str, str | None, str | None, str | None]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["unique_id", "first_name", "last_name", "birth_date"])


class TestBlockingKeys:
    def test_typos_share_soundex_and_swapped_day_month_share_dob_key(self) -> None:
        keys = add_blocking_keys(
            _frame([("1", "john", "smith", "1985-03-07"), ("2", "jon", "smiht", "1985-07-03")])
        )
        assert keys["last_name_sx"].nunique() == 1
        assert keys["dob_key"].nunique() == 1
        assert list(keys["dob_year"]) == ["1985", "1985"]
        assert list(keys["first_init"]) == ["j", "j"]

    def test_null_and_impossible_dates_give_null_parts(self) -> None:
        keys = add_blocking_keys(_frame([("1", None, "smith", None), ("2", "ann", None, "x")]))
        assert keys["dob_key"].isna().all()
        assert keys["first_name_sx"].iloc[0] is None or pd.isna(keys["first_name_sx"].iloc[0])

    def test_date_parts_from_the_canonical_frame_win(self) -> None:
        frame = _frame([("1", "ann", "lee", None)]).assign(birth_year=["1861"], birth_month=["11"])
        keys = add_blocking_keys(frame)
        assert keys["dob_year"].iloc[0] == "1861"
        assert keys["dob_month"].iloc[0] == "11"


class TestGuardedRules:
    def test_oversized_rule_is_tightened_or_dropped(self) -> None:
        rows = [(str(i), "ann", "lee", f"19{50 + i % 40}-01-01") for i in range(400)]
        frame = add_blocking_keys(_frame(rows))
        budget = BlockingBudget(per_record=0.0, min_rule=5_000, min_total=1e9)
        kept, report = guarded_rules(frame, [("first_name", "last_name")], budget=budget)
        # 400 identical names: 79,800 pairs; with the birth year added 40 blocks of 10
        assert kept == [("first_name", "last_name", "dob_year")]
        assert report["rules"][0]["tightened_from"]["comparisons"] == 79_800
        assert report["rules"][0]["comparisons"] == 40 * 45

    def test_swapped_names_rule_counts_and_recalls_swaps(self) -> None:
        frame = _frame(
            [("1", "ann", "lee", None), ("2", "lee", "ann", None), ("3", "bob", "ray", None)]
        ).assign(true_id=["a", "a", "b"])
        frame = add_blocking_keys(frame)
        kept, report = guarded_rules(frame, [(SWAPPED_NAMES,)])
        assert kept == [(SWAPPED_NAMES,)]
        assert report["rules"][0]["comparisons"] == 1
        assert measured_blocking_recall(frame, kept, "dedupe_only") == 1.0
