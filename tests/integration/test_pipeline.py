"""End to end: HTTP collector -> Kafka -> ingest worker -> Postgres -> resolver -> API."""

from __future__ import annotations

import gzip
import json
import uuid

import httpx
import pytest
from sqlalchemy import Engine, func, select

from cli.runtime import Workers
from kindred.models import DeadLetter, Event, Touchpoint
from kindred.settings import Settings
from tests.helpers import basic, bearer, make_api_key, make_source, message, wait_for

pytestmark = pytest.mark.integration


def _count(engine: Engine, model: type) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model)).scalar_one())


def _visit_then_identify(email: str) -> tuple[dict[str, object], str]:
    anon = str(uuid.uuid4())
    user = f"usr_{uuid.uuid4().hex[:8]}"
    batch = {
        "batch": [
            message(
                "page",
                anonymousId=anon,
                name="Pricing",
                context={
                    "page": {
                        "url": "https://kindred.test/pricing?utm_source=google"
                        "&utm_medium=cpc&utm_campaign=q4&gclid=abc123"
                    }
                },
                timestamp="2026-11-01T10:00:00Z",
            ),
            message(
                "identify",
                anonymousId=anon,
                userId=user,
                traits={"email": email, "first_name": "Ann", "last_name": "Lee"},
                timestamp="2026-11-01T10:01:00Z",
            ),
            message(
                "track",
                userId=user,
                event="Demo Requested",
                properties={"plan": "team"},
                timestamp="2026-11-01T10:02:00Z",
            ),
        ]
    }
    return batch, user


class TestCollectorToProfile:
    def test_batch_becomes_one_profile_readable_by_email(
        self, settings: Settings, engine: Engine, workers: Workers, server: str
    ) -> None:
        _, write_key = make_source(engine)
        api_key = make_api_key(engine, "read")
        batch, user = _visit_then_identify("  Ann.Lee@Example.COM ")
        resp = httpx.post(f"{server}/v1/batch", json=batch, headers=basic(write_key))
        assert resp.status_code == 200
        assert resp.json() == {"success": True}

        def lookup() -> list[dict[str, object]] | None:
            r = httpx.get(
                f"{server}/v1/profiles",
                params={"identifier": "email:ann.lee@example.com"},
                headers=bearer(api_key),
            )
            assert r.status_code == 200, r.text
            found = r.json()["profiles"]
            return found if found and len(found[0]["sources"]) >= 2 else None

        profiles = wait_for(lookup, timeout=20)
        assert len(profiles) == 1
        profile = profiles[0]
        assert profile["traits"]["email"] == "  Ann.Lee@Example.COM "
        assert profile["traits"]["first_name"] == "Ann"
        pid = profile["id"]
        # the anonymous page view is stitched to the identified person
        journey = httpx.get(f"{server}/v1/profiles/{pid}/journey", headers=bearer(api_key)).json()
        names = [t["event"] for t in journey["items"]]
        assert names == ["Viewed Pricing", "Identified", "Demo Requested"]
        assert journey["items"][0]["campaign"]["source"] == "google"
        assert journey["items"][0]["campaign"]["click_ids"] == {"gclid": "abc123"}
        # identities include the anonymous id and the user id
        ids = httpx.get(f"{server}/v1/profiles/{pid}/identities", headers=bearer(api_key)).json()
        kinds = {(i["type"], i["value"]) for i in ids["identities"]}
        assert ("user_id", user) in kinds
        assert ("email", "ann.lee@example.com") in kinds

        # replaying the very same batch adds nothing
        events_before = _count(engine, Event)
        assert events_before == 3
        again = httpx.post(f"{server}/v1/batch", json=batch, headers=basic(write_key))
        assert again.status_code == 200
        wait_for(lambda: workers.ingest.stats.duplicates >= 3, timeout=15)
        assert _count(engine, Event) == 3
        assert _count(engine, Touchpoint) == 3

    def test_gzip_body_is_accepted(
        self, settings: Settings, engine: Engine, workers: Workers, server: str
    ) -> None:
        _, write_key = make_source(engine)
        body = gzip.compress(json.dumps(message("track", userId="u-gz", event="Zipped")).encode())
        resp = httpx.post(
            f"{server}/v1/track",
            content=body,
            headers={
                **basic(write_key),
                "Content-Encoding": "gzip",
                "Content-Type": "application/json",
            },
        )
        assert resp.status_code == 200, resp.text
        wait_for(lambda: _count(engine, Event) == 1)


class TestBadInput:
    def test_invalid_message_is_rejected_and_valid_siblings_kept(
        self, settings: Settings, engine: Engine, workers: Workers, server: str
    ) -> None:
        _, write_key = make_source(engine)
        batch = {
            "batch": [
                message("track", userId="u1", event="Good One"),
                message("track", userId="u1"),  # no event name
                message("identify", userId="u1", traits={"email": "u1@example.com"}),
            ]
        }
        resp = httpx.post(f"{server}/v1/batch", json=batch, headers=basic(write_key))
        assert resp.status_code == 200
        body = resp.json()
        assert body["success"] is True
        assert [r["index"] for r in body["rejected"]] == [1]
        assert "event" in body["rejected"][0]["reason"]
        wait_for(lambda: _count(engine, Event) == 2)
        with engine.connect() as conn:
            reasons = conn.execute(select(DeadLetter.reason)).scalars().all()
        assert any("track call needs `event`" in r for r in reasons)

    def test_single_call_with_bad_json_is_400_json(self, engine: Engine, server: str) -> None:
        _, write_key = make_source(engine)
        resp = httpx.post(f"{server}/v1/track", content=b"{not json", headers=basic(write_key))
        assert resp.status_code == 400
        assert resp.json()["error"]["code"] == "invalid_json"

    def test_unknown_write_key_is_401(self, server: str) -> None:
        resp = httpx.post(f"{server}/v1/batch", json={"batch": []}, headers=basic("nope"))
        assert resp.status_code == 401
        assert resp.json()["error"]["code"] == "unauthorized"

    def test_invalid_kafka_message_goes_to_dlq_with_reason(
        self, settings: Settings, engine: Engine, workers: Workers
    ) -> None:
        from kafka import KafkaConsumer

        from kindred.kafka import make_producer, send_all

        producer = make_producer(settings.resolved_kafka_bootstrap())
        good = {
            "type": "track",
            "messageId": "m-good",
            "userId": "u9",
            "event": "Ok",
            "source": "raw",
            "channel": "web",
        }
        send_all(
            producer,
            settings.events_topic,
            [
                (b"k", b"\x00not json at all"),
                (
                    b"k",
                    json.dumps(
                        {
                            "type": "track",
                            "messageId": "m-bad",
                            "source": "raw",
                            "channel": "web",
                            "userId": "u9",
                        }
                    ).encode(),
                ),
                (b"k", json.dumps(good).encode()),
            ],
        )
        producer.close()
        wait_for(lambda: _count(engine, Event) == 1)
        wait_for(lambda: _count(engine, DeadLetter) == 2)
        consumer = KafkaConsumer(
            settings.dlq_topic,
            bootstrap_servers=settings.resolved_kafka_bootstrap(),
            auto_offset_reset="earliest",
            consumer_timeout_ms=8000,
        )
        letters = []
        for record in consumer:
            letters.append(record)
            if len(letters) == 2:
                break
        consumer.close()
        assert len(letters) == 2
        by_offset = sorted(letters, key=lambda r: int(dict(r.headers)["original_offset"]))
        reasons = [dict(r.headers)["reason"].decode() for r in by_offset]
        assert by_offset[0].value == b"\x00not json at all"
        assert "not JSON" in reasons[0]
        assert "event" in reasons[1]


class TestAuth:
    def test_read_api_needs_a_key_with_the_read_scope(self, engine: Engine, server: str) -> None:
        pid = uuid.uuid4()
        no_key = httpx.get(f"{server}/v1/profiles/{pid}")
        assert no_key.status_code == 401
        assert no_key.json()["error"]["code"] == "unauthorized"
        wrong = httpx.get(f"{server}/v1/profiles/{pid}", headers=bearer("kd_wrong"))
        assert wrong.status_code == 401
        write_only = make_api_key(engine, "write")
        forbidden = httpx.get(f"{server}/v1/profiles/{pid}", headers=bearer(write_only))
        assert forbidden.status_code == 403
        reader = make_api_key(engine, "read")
        missing = httpx.get(f"{server}/v1/profiles/{pid}", headers=bearer(reader))
        assert missing.status_code == 404
        bad_id = httpx.get(f"{server}/v1/profiles/not-a-uuid", headers=bearer(reader))
        assert bad_id.status_code == 422
        assert "error" in bad_id.json()
        bad_ident = httpx.get(
            f"{server}/v1/profiles", params={"identifier": "nocolon"}, headers=bearer(reader)
        )
        # the identifier's TYPE:VALUE shape is part of the OpenAPI (a pattern), so a
        # malformed one is a parameter validation error like any other
        assert bad_ident.status_code == 422
        assert "identifier" in bad_ident.json()["error"]["message"]


class TestBrokerDown:
    def test_collector_answers_503_when_kafka_is_unreachable(
        self, settings: Settings, engine: Engine
    ) -> None:
        from fastapi.testclient import TestClient

        from api.app import create_app
        from ingest.producer import EventPublisher
        from tests.helpers import free_port

        _, write_key = make_source(engine)
        dead = EventPublisher(f"127.0.0.1:{free_port()}", settings.events_topic)
        client = TestClient(create_app(settings, engine=engine, publisher=dead))
        resp = client.post(
            "/v1/track", json=message("track", userId="u", event="E"), headers=basic(write_key)
        )
        assert resp.status_code == 503
        assert resp.json()["error"]["code"] == "broker_unavailable"
