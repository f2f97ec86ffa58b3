"""Quarantine: a record or profile that fails again and again is set aside with its reason;
the rest keeps flowing. Failures are made real with triggers in the test's own database."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from kindred.db import unit_of_work
from kindred.quarantine import (
    list_quarantine,
    quarantine_counts,
    record_failure,
    release_quarantine,
)

pytestmark = pytest.mark.integration


class TestQuarantineTable:
    def test_failures_count_up_to_quarantine_and_release_deletes(self, engine: Engine) -> None:
        with unit_of_work(engine) as session:
            first = record_failure(
                session, kind="record", ref="42", reason="DataError: a\x00b", max_attempts=2
            )
            second = record_failure(
                session, kind="record", ref="42", reason="DataError: " + "x" * 5000, max_attempts=2
            )
            other = record_failure(
                session, kind="profile", ref="p1", reason="\ud800 lone", max_attempts=3
            )
        assert (first, second, other) == (False, True, False)
        with unit_of_work(engine) as session:
            rows = {r["ref"]: r for r in list_quarantine(session)}
            assert quarantine_counts(session) == {"record": 1, "profile": 0}
            only = list_quarantine(session, kind="record", only_quarantined=True)
        assert [r["ref"] for r in only] == ["42"]
        assert rows["42"]["attempts"] == 2
        assert rows["42"]["quarantined_at"] is not None
        assert rows["42"]["first_failed_at"] <= rows["42"]["last_failed_at"]
        assert len(rows["42"]["reason"]) <= 2000
        assert rows["p1"]["quarantined_at"] is None
        assert rows["p1"]["reason"] == "\\ud800 lone"
        with unit_of_work(engine) as session:
            # a third failure keeps the first quarantine time
            record_failure(session, kind="record", ref="42", reason="again", max_attempts=2)
        with unit_of_work(engine) as session:
            again = list_quarantine(session, kind="record")[0]
            assert again["quarantined_at"] == rows["42"]["quarantined_at"]
            assert again["attempts"] == 3 and again["reason"] == "again"
            assert release_quarantine(session, kind="record", ref="42") is True
            assert release_quarantine(session, kind="record", ref="42") is False
            assert quarantine_counts(session)["record"] == 0

    def test_nul_in_reason_is_escaped(self, engine: Engine) -> None:
        with unit_of_work(engine) as session:
            record_failure(session, kind="record", ref="1", reason="a\x00b", max_attempts=1)
        with unit_of_work(engine) as session:
            assert list_quarantine(session)[0]["reason"] == "a\\x00b"
