"""The segment rule language: validation with paths, parameterised compilation."""

from __future__ import annotations

from typing import Any

import pytest

from kindred.errors import Unprocessable
from profiles.rules import compile_rule


def problems(rule: Any, level: str = "person") -> set[str]:
    with pytest.raises(Unprocessable) as info:
        compile_rule(rule, level=level)
    return {d["path"] for d in info.value.details}


class TestValidation:
    def test_every_problem_is_reported_with_its_path(self) -> None:
        rule = {
            "all": [
                {"trait": "industry", "op": "eq", "value": "x"},
                {"any": []},
                {"not": {"computed": "lead_score", "op": "between", "value": [1]}},
                {"event": "X", "within_days": -1, "count": {"op": "gte", "value": "a"}},
                {"consent": "fax"},
                {"bogus": 1},
            ]
        }
        assert problems(rule) == {
            "rules.all[1].any",
            "rules.all[2].not.value",
            "rules.all[3].within_days",
            "rules.all[3].count.value",
            "rules.all[4].consent",
            "rules.all[5]",
        }

    def test_level_rules(self) -> None:
        assert problems({"trait": "x", "op": "exists"}, "account") == {"rules.trait"}
        assert problems({"contacts": {"trait": "x", "op": "exists"}}) == {"rules"}
        assert problems({"trait": "x", "op": "exists"}, "galaxy") == {"level"}

    def test_one_mode_per_event_condition(self) -> None:
        assert problems({"event": "X", "never": True, "count": {"op": "gte", "value": 2}}) == {
            "rules"
        }


class TestCompilation:
    def test_values_and_names_are_parameters_never_sql(self) -> None:
        evil = "x'); DROP TABLE profiles; --"
        compiled = compile_rule(
            {
                "all": [
                    {"trait": evil, "op": "eq", "value": evil},
                    {"event": evil, "where": [{"property": evil, "op": "contains", "value": evil}]},
                ]
            }
        )
        assert "DROP" not in compiled.sql
        assert evil in compiled.params.values() or [evil] in compiled.params.values()
        assert "%(p" in compiled.sql

    def test_time_based_detection(self) -> None:
        assert not compile_rule({"computed": "lead_score", "op": "gte", "value": 50}).time_based
        assert compile_rule({"event": "X", "within_days": 30}).time_based
        assert compile_rule(
            {"event": "X", "last": {"op": "older_than_days", "value": 9}}
        ).time_based
        assert compile_rule(
            {"account_computed": "key_account", "op": "eq", "value": True}
        ).time_based

    def test_count_shortcuts(self) -> None:
        assert compile_rule({"event": "X"}).sql.startswith("EXISTS")
        assert compile_rule({"event": "X", "never": True}).sql.startswith("NOT EXISTS")
        assert "count(*)" in compile_rule({"event": "X", "count": {"op": "gte", "value": 3}}).sql

    def test_like_patterns_are_escaped(self) -> None:
        compiled = compile_rule({"trait": "t", "op": "contains", "value": "50%_off"})
        assert "%50\\%\\_off%" in compiled.params.values()
