"""`kindred resolve --full`: Splink + deterministic links + overrides, ids kept stable."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from connectors.events import parse_event
from identity.accounts import get_account
from identity.batch import resolve_full
from identity.overrides import RecordRef, split_profile
from identity.service import resolve_dirty, resolve_step
from ingest.service import persist_events
from kindred.db import unit_of_work
from kindred.models import Profile, RecordLink, SourceRecord, SplinkModel
from kindred.models.identity import AccountLink

pytestmark = pytest.mark.integration


def _send(engine: Engine, source: str, channel: str, *messages: dict[str, Any]) -> None:
    events = [
        parse_event({"messageId": str(uuid.uuid4()), "source": source, "channel": channel, **m})
        for m in messages
    ]
    with unit_of_work(engine) as session:
        persist_events(session, events)
        resolve_step(session)  # as the identity worker does: accounts linked as records arrive


def _profile(engine: Engine, record_key: str) -> uuid.UUID:
    with engine.connect() as conn:
        return conn.execute(
            select(RecordLink.profile_id)
            .join(SourceRecord, SourceRecord.id == RecordLink.record_id)
            .where(SourceRecord.record_key == record_key)
        ).scalar_one()


def _world(engine: Engine) -> None:
    _send(
        engine,
        "site",
        "web",
        {
            "type": "identify",
            "userId": "u-ann",
            "traits": {
                "first_name": "Annabel",
                "last_name": "Kowalski",
                "email": "annabel@northwind.io",
                "company": "Northwind",
                "city": "Portland",
            },
        },
        {
            "type": "identify",
            "userId": "u-bob",
            "traits": {
                "first_name": "Robert",
                "last_name": "Lang",
                "email": "bob@contoso.com",
                "company": "Contoso",
            },
        },
        {
            "type": "group",
            "userId": "u-bob",
            "groupId": "acct-contoso",
            "traits": {"name": "Contoso Ltd", "domain": "contoso.com"},
        },
    )
    # the same Annabel in the CRM, with a personal address: only Splink can tell
    _send(
        engine,
        "crm",
        "crm",
        {
            "type": "identify",
            "recordKey": "contact:9",
            "traits": {
                "first_name": "Annabel",
                "last_name": "Kowalski",
                "email": "annabel.k@gmail.com",
                "company": "Northwind Inc.",
                "city": "Portland",
            },
            "context": {"externalIds": [{"id": "9", "type": "crm_contact_id"}]},
        },
    )
    # two different people behind one family address, with different user ids
    _send(
        engine,
        "site",
        "web",
        {
            "type": "identify",
            "userId": "u-kim1",
            "traits": {"first_name": "Kim", "last_name": "Park", "email": "parks@family.net"},
        },
        {
            "type": "identify",
            "userId": "u-kim2",
            "traits": {"first_name": "Kim", "last_name": "Park", "email": "parks@family.net"},
        },
    )


class TestBatchResolution:
    def test_full_run_links_keeps_ids_and_respects_constraints(self, engine: Engine) -> None:
        _world(engine)
        bob_before = _profile(engine, "user:u-bob")
        ann_before = _profile(engine, "user:u-ann")
        with unit_of_work(engine) as session:
            first = resolve_full(session)
        assert first.records == 5
        assert first.model_version
        # Splink joins the CRM Annabel to the web Annabel; the older id survives
        assert _profile(engine, "contact:9") == _profile(engine, "user:u-ann") == ann_before
        assert _profile(engine, "user:u-bob") == bob_before
        # conflicting user ids never share a profile, whatever the names say
        assert _profile(engine, "user:u-kim1") != _profile(engine, "user:u-kim2")
        with Session(engine) as session:
            link = session.execute(
                select(RecordLink)
                .join(SourceRecord, SourceRecord.id == RecordLink.record_id)
                .where(SourceRecord.record_key == "contact:9")
            ).scalar_one()
            assert link.rule == "splink"
            edge = link.evidence["splink"][0]
            assert edge["match_probability"] >= 0.9
            assert edge["comparisons"]  # per-comparison match weights
            assert session.execute(select(func.count()).select_from(SplinkModel)).scalar_one() == 1
            # accounts: Bob's group call links him to Contoso with certainty
            bob_link = session.get(AccountLink, bob_before)
            assert bob_link is not None and bob_link.rule == "association"
            account = get_account(session, account_id=bob_link.account_id)
            assert account["domain"] == "contoso.com"

        # a second run changes nothing, and rewrites no link (each keeps when it was made)
        def linked_at() -> dict[str, Any]:
            with engine.connect() as conn:
                records = conn.execute(select(RecordLink.record_id, RecordLink.linked_at)).all()
                accounts = conn.execute(select(AccountLink.profile_id, AccountLink.linked_at)).all()
            return {f"r{rid}": at for rid, at in records} | {f"a{pid}": at for pid, at in accounts}

        before = linked_at()
        with unit_of_work(engine) as session:
            second = resolve_full(session)
        assert second.new_profiles == 0 and second.moved_records == 0
        assert second.merged_profiles == 0
        assert second.stats["accounts"]["linked_profiles"] == 0  # no profile changed
        assert linked_at() == before
        # every account chosen again: the same ones, so still nothing rewritten
        with unit_of_work(engine) as session:
            third = resolve_full(session, all_accounts=True)
        assert third.stats["accounts"]["linked_profiles"] >= 2
        assert linked_at() == before

    def test_a_manual_split_survives_a_full_run(self, engine: Engine) -> None:
        _world(engine)
        with unit_of_work(engine) as session:
            resolve_full(session)
        ann = _profile(engine, "user:u-ann")
        with unit_of_work(engine) as session:
            out = split_profile(
                session,
                profile_id=ann,
                records=[RecordRef(source="crm", record_key="contact:9")],
                reason="two Annabels",
                actor="test",
            )
        with unit_of_work(engine) as session:
            resolve_full(session)
        assert _profile(engine, "contact:9") == out["new_profile_id"]
        assert _profile(engine, "user:u-ann") == ann
        with Session(engine) as session:
            live = session.execute(
                select(func.count()).select_from(Profile).where(Profile.merged_into.is_(None))
            ).scalar_one()
        assert live >= 5


class TestAccountInputs:
    def test_an_email_or_company_that_is_not_a_string_links_no_account(
        self, engine: Engine
    ) -> None:
        _send(
            engine,
            "site",
            "web",
            {
                "type": "identify",
                "userId": "u-odd",
                "traits": {"email": ["odd@globex.com"], "company": {"name": 42}},
            },
            {"type": "identify", "userId": "u-even", "traits": {"email": "even@initech.com"}},
        )
        with Session(engine) as session:
            odd = session.get(AccountLink, _profile(engine, "user:u-odd"))
            even = session.get(AccountLink, _profile(engine, "user:u-even"))
        assert odd is None
        assert even is not None and even.evidence == "initech.com"


class TestStreamingProbabilistic:
    def test_a_new_record_with_no_shared_identifier_joins_by_model(self, engine: Engine) -> None:
        from identity.streaming import SplinkScorer

        _world(engine)
        with unit_of_work(engine) as session:
            resolve_full(session)  # trains and stores the active model
        ann = _profile(engine, "user:u-ann")
        events = [
            parse_event(
                {
                    "messageId": "late-lead",
                    "source": "fb",
                    "channel": "ads",
                    "type": "identify",
                    "recordKey": "lead:fb:77",
                    "traits": {
                        "first_name": "Annabel",
                        "last_name": "Kowalski",
                        "email": "akowalski@outlook.com",
                        "company": "Northwind",
                        "city": "Portland",
                    },
                }
            )
        ]
        scorer = SplinkScorer()
        with unit_of_work(engine) as session:
            persist_events(session, events)
            result = resolve_dirty(session, scorer=scorer)
        assert result.records == 1
        assert _profile(engine, "lead:fb:77") == ann
        with Session(engine) as session:
            link = session.execute(
                select(RecordLink)
                .join(SourceRecord, SourceRecord.id == RecordLink.record_id)
                .where(SourceRecord.record_key == "lead:fb:77")
            ).scalar_one()
        assert link.rule == "splink"
        assert link.evidence["shared"][0]["comparisons"]

    def test_a_record_the_model_places_nowhere_is_marked_scored(self, engine: Engine) -> None:
        """Its outcome is final: a reader waiting for it (or a second stage) can tell it from
        one not scored yet. A record a shared identifier placed is not marked."""
        from identity.streaming import SplinkScorer

        _world(engine)
        with unit_of_work(engine) as session:
            resolve_full(session)
        events = [
            parse_event(
                {
                    "messageId": "stranger",
                    "source": "fb",
                    "channel": "ads",
                    "type": "identify",
                    "recordKey": "lead:fb:78",
                    "traits": {"first_name": "Zebulon", "last_name": "Quarrington"},
                }
            ),
            parse_event(
                {
                    "messageId": "bob-again",
                    "source": "fb",
                    "channel": "ads",
                    "type": "identify",
                    "recordKey": "lead:fb:79",
                    "traits": {"first_name": "Robert", "email": "bob@contoso.com"},
                }
            ),
        ]
        with unit_of_work(engine) as session:
            persist_events(session, events)
            resolve_dirty(session, scorer=SplinkScorer())
        with Session(engine) as session:
            links = {
                key: link
                for key, link in session.execute(
                    select(SourceRecord.record_key, RecordLink)
                    .join(SourceRecord, SourceRecord.id == RecordLink.record_id)
                    .where(SourceRecord.record_key.in_(["lead:fb:78", "lead:fb:79"]))
                ).tuples()
            }
        assert links["lead:fb:78"].rule == "new_record"
        assert links["lead:fb:78"].evidence.get("scored") is True
        assert links["lead:fb:79"].rule == "shared_identifier"
        assert "scored" not in links["lead:fb:79"].evidence

    def test_deterministic_links_do_not_wait_for_the_model(self, engine: Engine) -> None:
        """With ``defer_scoring`` the records only the model can place stay dirty for a pass
        of their own; the others are resolved at once. The identity worker runs both."""
        from identity.streaming import SplinkScorer
        from identity.worker import IdentityConfig, IdentityWorker

        _world(engine)
        with unit_of_work(engine) as session:
            resolve_full(session)
        ann = _profile(engine, "user:u-ann")
        lead = {
            "first_name": "Annabel",
            "last_name": "Kowalski",
            "email": "akowalski@outlook.com",
            "company": "Northwind",
            "city": "Portland",
        }
        ann_email = "Annabel@Northwind.io"  # u-ann's address: a deterministic link
        events = [
            parse_event(
                {
                    "messageId": m,
                    "source": "fb",
                    "channel": "ads",
                    "type": "identify",
                    "recordKey": key,
                    "traits": traits,
                }
            )
            for m, key, traits in (
                ("det-1", "lead:fb:det", {"email": ann_email, "first_name": "Ann"}),
                ("mod-1", "lead:fb:mod", lead),
            )
        ]
        with unit_of_work(engine) as session:
            persist_events(session, events)
        with unit_of_work(engine) as session:
            first = resolve_dirty(session, scorer=SplinkScorer(), defer_scoring=True)
        assert first.records == 1 and len(first.deferred) == 1
        assert _profile(engine, "lead:fb:det") == ann
        with Session(engine) as session:
            dirty = session.execute(
                select(SourceRecord.record_key).where(SourceRecord.dirty)
            ).scalars()
            assert list(dirty) == ["lead:fb:mod"]
        # the worker: both passes in one run_once
        with unit_of_work(engine) as session:
            session.execute(
                SourceRecord.__table__.update()
                .where(SourceRecord.record_key == "lead:fb:mod")
                .values(dirty=True)
            )
        worker = IdentityWorker(IdentityConfig(), engine, heartbeat=False)
        out = worker.run_once()
        assert out.records == 1 and not out.deferred
        assert _profile(engine, "lead:fb:mod") == ann

    def test_the_warm_scorer_gives_the_cold_scorers_edges(self, engine: Engine) -> None:
        """The warm path (one DuckDB, cached SQL, new x candidate pairs only) scores exactly
        what a Linker per pass scores, pass after pass, and leaves no table behind."""
        from identity.streaming import SplinkScorer

        _world(engine)
        with unit_of_work(engine) as session:
            resolve_full(session)
        people = [
            ("Annabel", "Kowalski", "akowalski@outlook.com", "Portland"),
            ("Anabel", "Kowalsky", "a.kowalski@gmail.com", "Portland"),
            ("Bob", "Stone", "bob.stone@example.org", "Austin"),
        ]
        events = [
            parse_event(
                {
                    "messageId": f"warm-{i}",
                    "source": "fb",
                    "channel": "ads",
                    "type": "identify",
                    "recordKey": f"lead:fb:warm{i}",
                    "traits": {"first_name": f, "last_name": ln, "email": e, "city": c},
                }
            )
            for i, (f, ln, e, c) in enumerate(people)
        ]
        with unit_of_work(engine) as session:
            persist_events(session, events)
        with Session(engine) as session:
            ids = list(
                session.execute(
                    select(SourceRecord.id).where(SourceRecord.record_key.like("lead:fb:warm%"))
                ).scalars()
            )
            warm, cold = SplinkScorer(threshold=0.01), SplinkScorer(threshold=0.01, warm=False)
            expected = cold(session, ids)
            assert expected, "the cold scorer found no edge: the test data is too thin"
            for _ in range(3):  # the second and third passes run the cached SQL
                got = warm(session, ids)
                key = lambda e: (e["record_id"], e["candidate_id"])  # noqa: E731
                assert sorted(map(key, got)) == sorted(map(key, expected))
                by_pair = {key(e): e for e in expected}
                for edge in got:
                    want = by_pair[key(edge)]
                    assert abs(edge["match_probability"] - want["match_probability"]) < 1e-9
                    assert edge["comparisons"] == want["comparisons"]
            con = warm._warm._db_api._con  # type: ignore[union-attr]
            left = con.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '__splink__%'"
            ).fetchone()
            assert left == (0,), left


class TestModelCharts:
    def test_the_trained_model_and_its_charts_are_served(
        self, engine: Engine, settings: Any
    ) -> None:
        from fastapi.testclient import TestClient

        from api.app import create_app
        from tests.helpers import bearer, make_api_key

        _world(engine)
        with unit_of_work(engine) as session:
            out = resolve_full(session)
        client = TestClient(create_app(settings, engine=engine))
        key = make_api_key(engine, "read")
        models = client.get("/v1/identity/models", headers=bearer(key)).json()
        assert models[0]["version"] == out.model_version and models[0]["active"] is True
        assert models[0]["charts"] == ["m_u_parameters", "match_weights"]
        page = client.get(
            f"/v1/identity/models/{out.model_version}/charts/match_weights", headers=bearer(key)
        )
        assert page.status_code == 200 and "<html" in page.text.lower()
        missing = client.get(
            f"/v1/identity/models/{out.model_version}/charts/nope", headers=bearer(key)
        )
        assert missing.status_code == 404


class TestTwoStageStreaming:
    def test_stage_two_merges_a_singleton_into_the_older_profile(self, engine: Engine) -> None:
        from identity.streaming import SplinkScorer, refine_singletons

        _world(engine)
        with unit_of_work(engine) as session:
            resolve_full(session)
        ann = _profile(engine, "user:u-ann")
        lead = parse_event(
            {
                "messageId": "late-lead-2",
                "source": "fb",
                "channel": "ads",
                "type": "identify",
                "recordKey": "lead:fb:78",
                "traits": {
                    "first_name": "Annabel",
                    "last_name": "Kowalski",
                    "email": "annabel.kowalski@yahoo.com",
                    "company": "Northwind",
                    "city": "Portland",
                },
            }
        )
        with unit_of_work(engine) as session:
            persist_events(session, [lead])
            resolve_dirty(session)  # stage one: no shared identifier, so a profile of its own
        alone = _profile(engine, "lead:fb:78")
        assert alone != ann
        out = refine_singletons(engine, SplinkScorer())
        assert out.scored >= 1 and out.merged == 1  # the other singletons are scored once too
        assert _profile(engine, "lead:fb:78") == ann
        with Session(engine) as session:
            merged_into = session.execute(
                select(Profile.merged_into).where(Profile.id == alone)
            ).scalar_one()
        assert merged_into == ann  # the short-lived id keeps answering with the person
        # nothing left to score: a second pass is a no-op
        assert refine_singletons(engine, SplinkScorer()).scored == 0
