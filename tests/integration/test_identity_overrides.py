"""Ops overrides: forced merges and splits through the API, honoured by later resolution."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from api.app import create_app
from connectors.events import parse_event
from identity.service import resolve_dirty
from ingest.producer import EventPublisher
from ingest.service import persist_events
from kindred.db import unit_of_work
from kindred.models import RecordLink, SourceRecord
from kindred.settings import Settings
from tests.helpers import bearer, make_api_key

pytestmark = pytest.mark.integration


def _send(engine: Engine, *messages: dict[str, Any]) -> None:
    events = [
        parse_event({"messageId": str(uuid.uuid4()), "source": "web", "channel": "web", **m})
        for m in messages
    ]
    with unit_of_work(engine) as session:
        persist_events(session, events)
        resolve_dirty(session)


def _profile(engine: Engine, record_key: str) -> str:
    with engine.connect() as conn:
        return str(
            conn.execute(
                select(RecordLink.profile_id)
                .join(SourceRecord, SourceRecord.id == RecordLink.record_id)
                .where(SourceRecord.record_key == record_key)
            ).scalar_one()
        )


@pytest.fixture
def client(settings: Settings, engine: Engine) -> TestClient:
    publisher = EventPublisher(settings.resolved_kafka_bootstrap(), settings.events_topic)
    return TestClient(create_app(settings, engine=engine, publisher=publisher))


class TestSplit:
    def test_split_moves_records_and_streaming_keeps_them_apart(
        self, engine: Engine, client: TestClient
    ) -> None:
        admin = make_api_key(engine, "admin")
        _send(
            engine,
            {"type": "identify", "anonymousId": "tablet", "traits": {"email": "kid@home.io"}},
            {"type": "identify", "anonymousId": "laptop", "traits": {"email": "kid@home.io"}},
        )
        pid = _profile(engine, "anon:tablet")
        assert _profile(engine, "anon:laptop") == pid
        resp = client.post(
            "/v1/identity/split",
            headers=bearer(admin),
            json={
                "profile_id": pid,
                "records": [{"source": "web", "record_key": "anon:laptop"}],
                "reason": "parent's laptop",
            },
        )
        assert resp.status_code == 200, resp.text
        new_pid = resp.json()["new_profile_id"]
        assert _profile(engine, "anon:laptop") == new_pid
        assert _profile(engine, "anon:tablet") == pid  # the held id keeps its person
        # new evidence through the same shared email does not undo the split
        _send(
            engine,
            {
                "type": "track",
                "anonymousId": "laptop",
                "event": "Viewed",
                "context": {"traits": {"email": "kid@home.io"}},
            },
        )
        assert _profile(engine, "anon:laptop") == new_pid
        assert _profile(engine, "anon:tablet") == pid
        changes = client.get("/v1/identity/changes", headers=bearer(admin)).json()
        assert any(c["kind"] == "split" and c["cause"] == "manual_split" for c in changes["items"])

    def test_split_needs_admin_scope_and_valid_records(
        self, engine: Engine, client: TestClient
    ) -> None:
        reader = make_api_key(engine, "read")
        admin = make_api_key(engine, "admin")
        body = {"profile_id": str(uuid.uuid4()), "records": [{"id": 1}]}
        assert (
            client.post("/v1/identity/split", headers=bearer(reader), json=body).status_code == 403
        )
        missing = client.post("/v1/identity/split", headers=bearer(admin), json=body)
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"
        bad = client.post("/v1/identity/split", headers=bearer(admin), json={"records": []})
        assert bad.status_code == 422


class TestMerge:
    def test_forced_merge_survives_and_the_old_id_answers(
        self, engine: Engine, client: TestClient
    ) -> None:
        admin = make_api_key(engine, "admin")
        _send(engine, {"type": "identify", "userId": "ann-crm", "traits": {"email": "ann@work.io"}})
        _send(
            engine,
            {"type": "identify", "anonymousId": "ann-home", "traits": {"email": "annie@home.io"}},
        )
        a, b = _profile(engine, "user:ann-crm"), _profile(engine, "anon:ann-home")
        assert a != b
        resp = client.post(
            "/v1/identity/merge",
            headers=bearer(admin),
            json={"profile_ids": [b, a], "reason": "same person, confirmed"},
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["survivor"] == a
        old = client.get(f"/v1/profiles/{b}", headers=bearer(admin)).json()
        assert old["id"] == a and old["merged"] is True
        # later events for the home visitor stay on the merged profile
        _send(engine, {"type": "track", "anonymousId": "ann-home", "event": "Came Back"})
        assert _profile(engine, "anon:ann-home") == a
