"""`kindred bench reads` at a tiny size: the real API on the test database, every read path
measured, and the report is valid JSON with the documented keys."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bench.reads import TARGETS, measure
from kindred.settings import Settings

pytestmark = pytest.mark.integration

PATHS = ("profile_by_id", "profile_by_identifier", "journey_first_page", "members_page")


@pytest.fixture(scope="class")
def report(class_settings: Settings) -> dict[str, Any]:
    return measure(class_settings, profiles=2000, events=6000, requests=20, warmup=5)


class TestReadsBench:
    def test_measures_every_path_without_errors(self, report: dict[str, Any]) -> None:
        for path in PATHS:
            assert report[path]["requests"] == 20, (path, report[path])
            assert report[path]["errors"] == 0, (path, report[path])
            assert report[path]["p95_ms"] is not None
            assert report[path]["p50_ms"] <= report[path]["p95_ms"]
        assert report["segment"]["members"] == 1000
        assert report["export_csv"]["rows"] == 1000
        assert report["export_csv"]["rows_per_s"] > 0
        assert set(report["meets_targets"]) == set(TARGETS)
        assert report["ingest_load"] is None

    def test_report_is_valid_json(self, report: dict[str, Any]) -> None:
        assert json.loads(json.dumps(report, allow_nan=False)) == report
