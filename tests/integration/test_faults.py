"""The short fault suite (`kindred bench faults --short`): one kill per worker, one group
stall, one PostgreSQL restart, under load through the real collector, with separate worker
processes on their own embedded PostgreSQL and broker. Nothing acknowledged may be lost or
stored twice, and every scenario must recover without anyone restarting anything."""

from __future__ import annotations

from typing import Any

import pytest

from bench.faults import BROKER_SCENARIOS, run

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def suite() -> dict[str, Any]:
    return run(short=True, events_per_second=50)


def _table(doc: dict[str, Any]) -> str:
    keys = ("acknowledged", "stored", "lost", "duplicated", "records_left_unresolved",
            "profiles_left_stale", "seconds_to_recover", "person_acted")  # fmt: skip
    lines = []
    for s in doc["scenarios"]:
        lines.append(f"{s['name']}: " + ", ".join(f"{k}={s.get(k)}" for k in keys))
        lines.append(f"  failed: {s['failed']}; interventions: {s['interventions']}")
    return "\n".join(lines)


class TestShortFaultSuite:
    def test_runs_every_short_scenario(self, suite: dict[str, Any]) -> None:
        assert [s["name"] for s in suite["scenarios"]] == suite["config"]["scenarios"]
        assert all(s["acknowledged"] > 0 for s in suite["scenarios"]), _table(suite)

    def test_nothing_acknowledged_is_lost_or_stored_twice(self, suite: dict[str, Any]) -> None:
        for s in suite["scenarios"]:
            if s["name"] in BROKER_SCENARIOS:
                continue
            assert s["lost"] == 0, _table(suite)
            assert s["duplicated"] == 0, _table(suite)

    def test_every_scenario_recovers_without_a_person(self, suite: dict[str, Any]) -> None:
        for s in suite["scenarios"]:
            assert not s["person_acted"], _table(suite)
            assert s["recovered_by_itself"], _table(suite)
            limit = suite["targets"]["seconds_to_recover_max"]
            assert s["seconds_to_recover"] <= limit, _table(suite)
