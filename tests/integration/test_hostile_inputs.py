"""One bad record must stall nothing behind it.

Each hostile message goes through the real collector (or, for what a collector would refuse,
straight onto the events topic, as any other producer could put it there) and is followed by a
normal identify of a fresh person, which must reach its profile within the usual latency.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select, text

from cli.runtime import Workers
from kindred.kafka import ensure_topics, make_producer, send_all
from kindred.models import DeadLetter, Event
from kindred.settings import Settings
from tests.helpers import basic, bearer, make_api_key, make_source, message, wait_for

pytestmark = pytest.mark.integration

LONG_EMAIL = "x" * 4990 + "@example.com"

#: (case, message fields, what the collector does with the message)
HOSTILE: list[tuple[str, dict[str, Any], str]] = [
    ("nul in a property", {"event": "E", "properties": {"x": "a\x00b"}}, "rejected"),
    ("nul in a trait", {"type": "identify", "traits": {"first_name": "A\x00n"}}, "rejected"),
    ("nul in an identifier", {"type": "identify", "traits": {"email": "a\x00b@x.com"}}, "rejected"),
    ("nul in the user id", {"userId": "u\x00v", "event": "E"}, "rejected"),
    ("nul in an event name", {"event": "Sign\x00up"}, "rejected"),
    ("nul in a key", {"event": "E", "properties": {"k\x00": 1}}, "rejected"),
    ("lone surrogate", {"event": "E", "properties": {"x": "a\ud800b"}}, "rejected"),
    ("100 KB string", {"event": "E", "properties": {"blob": "y" * 100_000}}, "rejected"),
    ("integer beyond 64 bits", {"event": "E", "properties": {"n": 2**80}}, "accepted"),
    ("year 1", {"event": "E", "timestamp": "0001-01-01T00:00:00Z"}, "rejected"),
    ("year 9999", {"event": "E", "timestamp": "9999-12-31T23:59:59Z"}, "rejected"),
    (
        "year 9999 with sentAt",
        {"event": "E", "timestamp": "9999-12-31T23:59:59Z", "sentAt": "2026-11-01T00:00:00Z"},
        "rejected",
    ),
    ("5,000-character email", {"type": "identify", "traits": {"email": LONG_EMAIL}}, "accepted"),
]


#: the 32 KB message limit is the collector's; on the topic a 100 KB value is stored
TOPIC_ACCEPTS = {"100 KB string"}


def _topic_outcome(case: str, expected: str) -> str:
    return "accepted" if case in TOPIC_ACCEPTS else expected


def _hostile_message(fields: dict[str, Any]) -> dict[str, Any]:
    kind = fields.get("type", "track")
    body = {k: v for k, v in fields.items() if k != "type"}
    body.setdefault("userId", f"h-{uuid.uuid4().hex[:8]}")
    return message(kind, **body)


def _normal(user: str) -> dict[str, Any]:
    return message("identify", userId=user, traits={"email": f"{user}@example.com"})


def _profile_of(server: str, api_key: str, user: str) -> dict[str, Any] | None:
    r = httpx.get(
        f"{server}/v1/profiles",
        params={"identifier": f"user_id:{user}"},
        headers=bearer(api_key),
    )
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()["profiles"]
    return found[0] if found else None


class TestHostileInputsThroughTheCollector:
    def test_each_hostile_message_is_answered_and_stalls_nothing(
        self, settings: Settings, engine: Engine, workers: Workers, server: str
    ) -> None:
        _, write_key = make_source(engine)
        api_key = make_api_key(engine, "read")
        outcomes: dict[str, str] = {}
        for case, fields, _expected in HOSTILE:
            user = f"n-{uuid.uuid4().hex[:8]}"
            hostile = _hostile_message(fields)
            body = json.dumps({"batch": [hostile, _normal(user)]}, ensure_ascii=True)
            resp = httpx.post(
                f"{server}/v1/batch",
                content=body,
                headers={**basic(write_key), "Content-Type": "application/json"},
            )
            assert resp.status_code == 200, (case, resp.text)
            rejected = resp.json().get("rejected", [])
            outcomes[case] = "rejected" if rejected else "accepted"
            if rejected:
                assert rejected[0]["index"] == 0, (case, rejected)
                assert rejected[0]["reason"], case
            # the valid sibling reaches its profile within the usual latency
            wait_for(lambda u=user: _profile_of(server, api_key, u), timeout=20)  # type: ignore[misc]
        assert outcomes == {case: expected for case, _, expected in HOSTILE}

        # the reasons name the field at fault
        with engine.connect() as conn:
            reasons = conn.execute(select(DeadLetter.reason)).scalars().all()
        assert any("properties.x" in r and "NUL" in r for r in reasons), reasons
        assert any("unpaired surrogate" in r for r in reasons), reasons
        assert any("timestamp" in r and "supported range" in r for r in reasons), reasons

    def test_single_call_with_a_nul_is_a_400_naming_the_field(
        self, engine: Engine, workers: Workers, server: str
    ) -> None:
        _, write_key = make_source(engine)
        resp = httpx.post(
            f"{server}/v1/track",
            content=json.dumps(
                {"messageId": "p", "userId": "u", "event": "E", "properties": {"x": "a\x00b"}}
            ),
            headers={**basic(write_key), "Content-Type": "application/json"},
        )
        assert resp.status_code == 400, resp.text
        assert "properties.x" in resp.json()["error"]["message"]


def _event_bytes(source: str, fields: dict[str, Any]) -> bytes:
    data = {"source": source, "channel": "web", **_hostile_message(fields)}
    return json.dumps(data, ensure_ascii=True).encode()


class TestPoisonOnTheTopic:
    """What another producer may put on the topic: the worker dead-letters exactly the
    poison, with the reason, and stores the rest of the same poll batch."""

    def test_poison_messages_are_dead_lettered_and_the_rest_is_stored(
        self, settings: Settings, engine: Engine, workers: Workers, server: str
    ) -> None:
        source, _ = make_source(engine)
        api_key = make_api_key(engine, "read")
        # a value the database refuses although validation let it through: a trigger makes
        # the real server refuse one message id, as a constraint or a limit would
        with engine.begin() as conn:
            conn.execute(
                text(
                    "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ "
                    "BEGIN IF NEW.message_id = 'poison-db' THEN "
                    "RAISE EXCEPTION 'refused by the test trigger' USING ERRCODE = '22000'; "
                    "END IF; RETURN NEW; END $$"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_poison BEFORE INSERT ON events "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_poison()"
                )
            )
        poison_db = json.loads(_event_bytes(source, {"event": "E"}))
        poison_db["messageId"] = "poison-db"
        payloads = [_event_bytes(source, fields) for _, fields, _ in HOSTILE]
        payloads += [json.dumps(poison_db).encode(), b"\xff\xfe not json", b"[1, 2]"]
        users = [f"k-{uuid.uuid4().hex[:8]}" for _ in range(5)]
        normals = [
            json.dumps({"source": source, "channel": "web", **_normal(u)}).encode() for u in users
        ]
        # interleave: poison, normal, poison, ... all in one key so they share a partition
        stream = [p for pair in zip(payloads, normals * 4, strict=False) for p in pair]
        ensure_topics(settings.resolved_kafka_bootstrap(), [settings.events_topic], partitions=2)
        producer = make_producer(settings.resolved_kafka_bootstrap())
        try:
            send_all(producer, settings.events_topic, [(b"same-key", p) for p in stream])
        finally:
            producer.close()

        for user in users:
            wait_for(lambda u=user: _profile_of(server, api_key, u), timeout=20)  # type: ignore[misc]

        outcomes = [_topic_outcome(c, e) for c, _, e in HOSTILE]
        expected_dead = outcomes.count("rejected") + 3
        with engine.connect() as conn:
            wait_for(
                lambda: len(conn.execute(select(DeadLetter.id)).all()) >= expected_dead,
                timeout=20,
            )
            conn.rollback()
            reasons = conn.execute(select(DeadLetter.reason)).scalars().all()
            stored = conn.execute(select(Event.message_id)).scalars().all()
        assert len(reasons) == expected_dead, reasons
        assert any("refused by the test trigger" in r for r in reasons), reasons
        assert any(r.startswith("not JSON") for r in reasons), reasons
        assert "poison-db" not in stored
        accepted = outcomes.count("accepted")
        assert len(stored) == accepted + len(set(normals)), stored
