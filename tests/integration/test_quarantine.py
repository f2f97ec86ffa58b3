"""Quarantine: a record or profile that fails again and again is set aside with its reason;
the rest keeps flowing. Failures are made real with triggers in the test's own database."""

from __future__ import annotations

import random
import string
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from cli.runtime import Workers
from connectors.events import parse_event
from identity.worker import IdentityConfig, IdentityWorker
from ingest.service import persist_events
from kindred.db import unit_of_work
from kindred.models import Identifier, Profile, RecordLink, SourceRecord
from kindred.quarantine import (
    is_transient,
    list_quarantine,
    quarantine_counts,
    record_failure,
    release_quarantine,
)
from profiles.config import load_config
from profiles.repository import due_batch, stale_batch
from profiles.worker import process_stale, refresh_all_due_profiles, refresh_due_profiles
from tests.helpers import basic, make_source, message, wait_for

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


# ------------------------------------------------------------------------------- identity

POISON_EMAIL = "poison@x.io"
FAIL_ON_IDENTIFIER = """
CREATE FUNCTION test_fail_identifier() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'refused identifier %', NEW.value USING ERRCODE = '{code}';
END $$;
CREATE TRIGGER test_fail_identifier BEFORE INSERT ON identifiers FOR EACH ROW
WHEN (NEW.value = '{value}') EXECUTE FUNCTION test_fail_identifier();
"""
DROP_FAIL_ON_IDENTIFIER = (
    "DROP TRIGGER test_fail_identifier ON identifiers; DROP FUNCTION test_fail_identifier();"
)


def _exec(engine: Engine, sql: str) -> None:
    """DDL through psycopg directly (no parameters: ``%`` is plpgsql's, not a placeholder)."""
    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        raw.execute(sql)


def _identify(engine: Engine, *emails: str) -> dict[str, int]:
    """One identify per email (user id = the email's local part); email -> record id."""
    events = [
        parse_event(
            {
                "messageId": str(uuid.uuid4()),
                "source": "web",
                "channel": "web",
                "type": "identify",
                "userId": email.split("@")[0][:40],
                "traits": {"email": email},
            }
        )
        for email in emails
    ]
    with unit_of_work(engine) as session:
        persist_events(session, events)
    with engine.connect() as conn:
        rows = conn.execute(
            select(SourceRecord.record_key, SourceRecord.id).where(SourceRecord.source == "web")
        ).all()
    by_key = {key: rid for key, rid in rows}
    return {
        e: next(rid for key, rid in by_key.items() if key.endswith(e.split("@")[0][:40]))
        for e in emails
    }


def _linked(engine: Engine, record_ids: list[int]) -> dict[int, uuid.UUID]:
    with engine.connect() as conn:
        return dict(
            conn.execute(
                select(RecordLink.record_id, RecordLink.profile_id).where(
                    RecordLink.record_id.in_(record_ids)
                )
            )
            .tuples()
            .all()
        )


def _dirty(engine: Engine, record_id: int) -> bool:
    with engine.connect() as conn:
        return bool(
            conn.execute(select(SourceRecord.dirty).where(SourceRecord.id == record_id)).scalar()
        )


def _rows(engine: Engine, kind: str) -> dict[str, dict[str, Any]]:
    with unit_of_work(engine) as session:
        return {r["ref"]: r for r in list_quarantine(session, kind=kind)}


class TestIdentityQuarantine:
    def test_poison_record_is_isolated_quarantined_skipped_and_released(
        self, engine: Engine
    ) -> None:
        ids = _identify(engine, "ann@x.io", POISON_EMAIL, "bob@x.io")
        bad = ids[POISON_EMAIL]
        _exec(engine, FAIL_ON_IDENTIFIER.format(code="P0001", value=POISON_EMAIL))
        worker = IdentityWorker(IdentityConfig(probabilistic=False, max_attempts=3), engine)

        first = worker.run_once()  # no exception: the good records of the pass are resolved
        assert first.records == 2
        linked = _linked(engine, list(ids.values()))
        assert set(linked) == {ids["ann@x.io"], ids["bob@x.io"]}
        assert _dirty(engine, bad)
        row = _rows(engine, "record")[str(bad)]
        assert row["attempts"] == 1 and row["quarantined_at"] is None
        assert "refused identifier poison@x.io" in row["reason"]
        assert row["reason"].startswith("RaiseException")

        worker.run_once()
        worker.run_once()
        row = _rows(engine, "record")[str(bad)]
        assert row["attempts"] == 3 and row["quarantined_at"] is not None
        with unit_of_work(engine) as session:
            assert quarantine_counts(session)["record"] == 1

        # quarantined: skipped without an exception, and new records keep flowing
        assert worker.run_once().records == 0
        late = _identify(engine, "cat@x.io")["cat@x.io"]
        assert worker.run_once().records == 1
        assert late in _linked(engine, [late])
        assert _rows(engine, "record")[str(bad)]["attempts"] == 3
        assert bad not in _linked(engine, [bad]) and _dirty(engine, bad)

        # released (and the cause fixed): resolved by the next pass, failures forgotten
        with unit_of_work(engine) as session:
            assert release_quarantine(session, kind="record", ref=str(bad))
        _exec(engine, DROP_FAIL_ON_IDENTIFIER)
        assert worker.run_once().records == 1
        assert bad in _linked(engine, [bad]) and not _dirty(engine, bad)
        assert _rows(engine, "record") == {}

    def test_released_record_that_still_fails_counts_from_one(self, engine: Engine) -> None:
        bad = _identify(engine, POISON_EMAIL)[POISON_EMAIL]
        _exec(engine, FAIL_ON_IDENTIFIER.format(code="P0001", value=POISON_EMAIL))
        worker = IdentityWorker(IdentityConfig(probabilistic=False, max_attempts=1), engine)
        worker.run_once()
        assert _rows(engine, "record")[str(bad)]["quarantined_at"] is not None
        with unit_of_work(engine) as session:
            release_quarantine(session, kind="record", ref=str(bad))
        worker.run_once()
        assert _rows(engine, "record")[str(bad)]["attempts"] == 1

    def test_transient_error_blames_no_record_and_commits_nothing(self, engine: Engine) -> None:
        ids = _identify(engine, "ann@x.io", POISON_EMAIL)
        _exec(engine, FAIL_ON_IDENTIFIER.format(code="40P01", value=POISON_EMAIL))  # deadlock
        worker = IdentityWorker(IdentityConfig(probabilistic=False), engine)
        with pytest.raises(Exception) as raised:
            worker.run_once()
        assert is_transient(raised.value)
        assert _rows(engine, "record") == {}
        assert _linked(engine, list(ids.values())) == {}
        assert _dirty(engine, ids["ann@x.io"])

    def test_many_poison_records_in_one_pass_with_good_ones(self, engine: Engine) -> None:
        emails = [f"p{i}@x.io" for i in range(12)] + [f"g{i}@x.io" for i in range(20)]
        ids = _identify(engine, *emails)
        _exec(
            engine,
            FAIL_ON_IDENTIFIER.format(code="P0001", value="x").replace(
                "NEW.value = 'x'", "NEW.value LIKE 'p%'"
            ),
        )
        worker = IdentityWorker(IdentityConfig(probabilistic=False, max_attempts=1), engine)
        assert worker.run_once().records == 20
        assert set(_rows(engine, "record")) == {str(ids[e]) for e in emails[:12]}
        assert set(_linked(engine, list(ids.values()))) == {ids[e] for e in emails[12:]}


# ------------------------------------------------------------------------------- profiles

FAIL_ON_RECOMPUTE = """
CREATE FUNCTION test_fail_profile() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'refused golden record of %', OLD.id;
END $$;
CREATE TRIGGER test_fail_profile BEFORE UPDATE ON profiles FOR EACH ROW
WHEN (OLD.id = '{pid}' AND NEW.computed_at IS DISTINCT FROM OLD.computed_at)
EXECUTE FUNCTION test_fail_profile();
"""
DROP_FAIL_ON_RECOMPUTE = (
    "DROP TRIGGER test_fail_profile ON profiles; DROP FUNCTION test_fail_profile();"
)


def _profiles_for(engine: Engine, *emails: str) -> dict[str, uuid.UUID]:
    ids = _identify(engine, *emails)
    IdentityWorker(IdentityConfig(probabilistic=False), engine).run_once()
    linked = _linked(engine, list(ids.values()))
    return {e: linked[rid] for e, rid in ids.items()}


def _stale(engine: Engine, pids: list[uuid.UUID]) -> dict[uuid.UUID, bool]:
    with engine.connect() as conn:
        return dict(
            conn.execute(select(Profile.id, Profile.stale).where(Profile.id.in_(pids)))
            .tuples()
            .all()
        )


def _tick(engine: Engine, **kwargs: Any) -> int:
    with unit_of_work(engine) as session:
        return process_stale(session, **kwargs).recomputed


class TestProfilesQuarantine:
    def test_poison_profile_is_isolated_quarantined_skipped_and_released(
        self, engine: Engine
    ) -> None:
        pids = _profiles_for(engine, "ann@x.io", POISON_EMAIL, "bob@x.io")
        bad = pids[POISON_EMAIL]
        _exec(engine, FAIL_ON_RECOMPUTE.format(pid=bad))

        assert _tick(engine, max_attempts=3) == 2  # the others are recomputed
        assert _stale(engine, list(pids.values())) == {
            pids["ann@x.io"]: False,
            bad: True,
            pids["bob@x.io"]: False,
        }
        row = _rows(engine, "profile")[str(bad)]
        assert row["attempts"] == 1 and row["quarantined_at"] is None
        assert f"refused golden record of {bad}" in row["reason"]

        _tick(engine, max_attempts=3)
        _tick(engine, max_attempts=3)
        row = _rows(engine, "profile")[str(bad)]
        assert row["attempts"] == 3 and row["quarantined_at"] is not None
        with unit_of_work(engine) as session:
            assert quarantine_counts(session)["profile"] == 1
            assert [b[0] for b in stale_batch(session, limit=10)] == []

        # skipped without an exception; new stale profiles keep flowing
        assert _tick(engine) == 0
        late = _profiles_for(engine, "cat@x.io")["cat@x.io"]
        assert _tick(engine) == 1
        assert _stale(engine, [late, bad]) == {late: False, bad: True}

        with unit_of_work(engine) as session:
            assert release_quarantine(session, kind="profile", ref=str(bad))
        _exec(engine, DROP_FAIL_ON_RECOMPUTE)
        assert _tick(engine) == 1
        assert _stale(engine, [bad]) == {bad: False}
        assert _rows(engine, "profile") == {}

    def test_due_refresh_skips_a_failing_profile(self, engine: Engine) -> None:
        pids = _profiles_for(engine, "ann@x.io", POISON_EMAIL)
        _tick(engine)
        bad = pids[POISON_EMAIL]
        _exec(engine, FAIL_ON_RECOMPUTE.format(pid=bad))
        with unit_of_work(engine) as session:
            config = load_config(session)
        config = config.model_copy(
            update={"schedule": config.schedule.model_copy(update={"recompute_after_seconds": 0})}
        )
        with unit_of_work(engine) as session:
            assert refresh_due_profiles(session, config=config, max_attempts=1) == 1
        assert _rows(engine, "profile")[str(bad)]["quarantined_at"] is not None
        with unit_of_work(engine) as session:
            due = due_batch(session, older_than_s=0, limit=10)
        assert due == [pids["ann@x.io"]]

    def test_due_refresh_works_through_the_aged_set_in_batches(self, engine: Engine) -> None:
        emails = [f"aged{i}@x.io" for i in range(5)]
        pids = _profiles_for(engine, *emails)
        _tick(engine)
        with unit_of_work(engine) as session:
            config = load_config(session)
        config = config.model_copy(
            update={"schedule": config.schedule.model_copy(update={"recompute_after_seconds": 0})}
        )
        with engine.connect() as conn:
            before = dict(conn.execute(select(Profile.id, Profile.computed_at)).tuples().all())
        # 5 aged profiles, batches of 2: three transactions in one call (under xdist a profile
        # the pipeline left stale can be refreshed by the same call: at least the 5)
        assert refresh_all_due_profiles(engine, config=config, batch=2) >= 5
        with engine.connect() as conn:
            after = dict(conn.execute(select(Profile.id, Profile.computed_at)).tuples().all())
        for pid in pids.values():
            was, now = before[pid], after[pid]
            assert was is not None and now is not None and now > was
        with unit_of_work(engine) as session:
            assert due_batch(session, older_than_s=3600, limit=10) == []


# ------------------------------------------------------------------------------- workers


class TestThroughTheWorkers:
    def test_normal_record_after_a_poison_one_reaches_its_profile(
        self, engine: Engine, workers: Workers, server: str
    ) -> None:
        _exec(engine, FAIL_ON_IDENTIFIER.format(code="P0001", value=POISON_EMAIL))
        _, write_key = make_source(engine)
        poison = message("identify", userId="poison", traits={"email": POISON_EMAIL})
        resp = httpx.post(f"{server}/v1/identify", json=poison, headers=basic(write_key))
        assert resp.status_code == 200
        normal = message("identify", userId="dan", traits={"email": "dan@x.io"})
        resp = httpx.post(f"{server}/v1/identify", json=normal, headers=basic(write_key))
        assert resp.status_code == 200

        def golden() -> dict[str, Any] | None:
            with engine.connect() as conn:
                row = conn.execute(
                    select(Profile.traits)
                    .join(RecordLink, RecordLink.profile_id == Profile.id)
                    .join(SourceRecord, SourceRecord.id == RecordLink.record_id)
                    .where(SourceRecord.record_key.contains("dan"), Profile.stale.is_(False))
                ).first()
            return dict(row[0]) if row and row[0] else None

        traits = wait_for(golden, timeout=20)
        assert "dan@x.io" in str(traits)

        def quarantined() -> list[dict[str, Any]] | None:
            rows = _rows(engine, "record")
            return [r for r in rows.values() if r["quarantined_at"] is not None] or None

        (row,) = wait_for(quarantined, timeout=20)
        assert "refused identifier poison@x.io" in row["reason"]


class TestLongIdentifiers:
    def test_identify_with_a_5000_character_email_resolves_by_its_user_id(
        self, engine: Engine
    ) -> None:
        rng = random.Random(8)  # incompressible: no TOAST compression saves the index row
        huge = "".join(rng.choices(string.ascii_lowercase, k=5000)) + "@example.com"
        ids = _identify(engine, huge, "ann@x.io")
        result = IdentityWorker(IdentityConfig(probabilistic=False), engine).run_once()
        assert result.records == 2
        assert set(_linked(engine, list(ids.values()))) == set(ids.values())
        assert _rows(engine, "record") == {}
        with engine.connect() as conn:
            kinds = set(
                conn.execute(
                    select(Identifier.type).where(Identifier.record_id == ids[huge])
                ).scalars()
            )
        assert kinds == {"user_id"}  # the email is not an identifier: treated as absent
