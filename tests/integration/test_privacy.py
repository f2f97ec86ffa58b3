"""Erasure and suppression end to end: real PostgreSQL, real broker, workers running.

After an erasure, a scan of every text, varchar, array and JSON column of every table of the
test database finds none of the person's identifiers or names; replaying their old messages
through Kafka recreates nothing when they are suppressed (and recreates them after a plain
delete, as documented); a suppressed email is dropped, and counted, from every connector."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from kafka import KafkaConsumer, KafkaProducer
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from cli.runtime import Workers
from kindred.settings import Settings
from tests.helpers import basic, bearer, make_api_key, make_source, message, wait_for

pytestmark = pytest.mark.integration

EMAIL = "Zelda.Quorn@Example.com"
USER_ID = "u-zq-7781"
ANON_ID = "anon-zq-5521"
OTHER_ID = "other-zq-9931"
#: what must not remain anywhere (matched case-insensitively)
NEEDLES = [
    "zelda.quorn@example.com",
    "Zelda",
    "Quorn",
    USER_ID,
    ANON_ID,
    OTHER_ID,
    "4155550199",
    "555 0199",
]


@pytest.fixture(autouse=True)
def _secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """One master key for the API (the test's settings) and the ingest worker (process
    settings): set before the ``settings`` fixture is built (autouse fixtures come first)."""
    monkeypatch.setenv("KINDRED_SECRET_KEY", "privacy-test-master-key")


def scan(engine: Engine, needles: list[str]) -> dict[str, int]:
    """Rows per table in which any text-like column, cast to text, contains a needle."""
    patterns = [f"%{n}%" for n in needles]
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        cols = conn.execute(
            text(
                "SELECT c.table_name, c.column_name FROM information_schema.columns c "
                "JOIN information_schema.tables t ON t.table_schema = c.table_schema "
                "AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE' "
                "WHERE c.table_schema = current_schema() AND c.data_type IN "
                "('text', 'character varying', 'character', 'json', 'jsonb', 'ARRAY') "
                "ORDER BY 1, 2"
            )
        ).all()
        by_table: dict[str, list[str]] = {}
        for table, column in cols:
            by_table.setdefault(table, []).append(column)
        for table, columns in by_table.items():
            cond = " OR ".join(f'"{c}"::text ILIKE ANY(:p)' for c in columns)
            counts[table] = int(
                conn.execute(
                    text(f'SELECT count(*) FROM "{table}" WHERE {cond}'), {"p": patterns}
                ).scalar_one()
            )
    return counts


def post_batch(server: str, write_key: str, *msgs: dict[str, Any]) -> dict[str, Any]:
    r = httpx.post(f"{server}/v1/batch", json={"batch": list(msgs)}, headers=basic(write_key))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def lookup(server: str, key: str, identifier: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{server}/v1/profiles", params={"identifier": identifier}, headers=bearer(key))
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()["profiles"]
    return found


def one_profile(server: str, key: str, identifier: str) -> dict[str, Any]:
    found = wait_for(lambda: lookup(server, key, identifier), timeout=25)
    return found[0]


def dropped(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT source, dropped FROM suppression_counts")).all()
    return {s: int(n) for s, n in rows}


def replay_person(settings: Settings, needles: list[str]) -> int:
    """Publish again, unchanged, every message on the events topic that mentions the person."""
    consumer = KafkaConsumer(
        settings.events_topic,
        bootstrap_servers=settings.resolved_kafka_bootstrap(),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=3000,
    )
    found = [
        (m.key, m.value)
        for m in consumer
        if any(n.lower() in m.value.decode("utf-8", "replace").lower() for n in needles)
    ]
    consumer.close()
    producer = KafkaProducer(bootstrap_servers=settings.resolved_kafka_bootstrap())
    for key, value in found:
        producer.send(settings.events_topic, key=key, value=value)
    producer.flush()
    producer.close()
    return len(found)


def build_person(engine: Engine, server: str, admin: str) -> dict[str, str]:
    """Zelda: a web identity with email, phone and a segment, an anonymous page view, an
    order mentioning her email, a dead letter, and a second profile (other source) merged
    into hers by ops. Bob, unrelated, is the control."""
    _, web_key = make_source(engine, connector="web", name="web-z")
    _, other_key = make_source(engine, connector="web", name="web-y")
    seg = httpx.post(
        f"{server}/v1/segments",
        headers=bearer(admin),
        json={"name": "gold", "rules": {"trait": "plan", "op": "eq", "value": "gold"}},
    )
    assert seg.status_code in (200, 201), seg.text
    post_batch(
        server,
        web_key,
        message("page", anonymousId=ANON_ID, properties={"url": "https://shop.example/?x=1"}),
        message(
            "identify",
            userId=USER_ID,
            anonymousId=ANON_ID,
            traits={
                "email": EMAIL,
                "firstName": "Zelda",
                "lastName": "Quorn",
                "phone": "+1 415 555 0199",
                "plan": "gold",
            },
        ),
        message(
            "track",
            userId=USER_ID,
            event="Order Completed",
            properties={"note": "gift for zelda.quorn@example.com"},
        ),
        message("identify", userId="u-bob-1", traits={"email": "bob@example.org", "plan": "x"}),
    )
    # refused at the collector (no event name): kept as a dead letter, with her email
    post_batch(server, web_key, message("track", userId=USER_ID, properties={"email": EMAIL}))
    post_batch(
        server, other_key, message("identify", userId=OTHER_ID, traits={"name": "Zelda Quorn"})
    )
    main = one_profile(server, admin, f"email:{EMAIL.lower()}")
    other = one_profile(server, admin, f"user_id:{OTHER_ID}")
    merged = httpx.post(
        f"{server}/v1/identity/merge",
        headers=bearer(admin),
        json={"profile_ids": [main["id"], other["id"]], "reason": "same person"},
    )
    assert merged.status_code == 200, merged.text
    survivor = merged.json()["survivor"]
    absorbed = other["id"] if survivor == main["id"] else main["id"]
    wait_for(lambda: lookup(server, admin, "user_id:u-bob-1"))

    def in_segment() -> bool:
        r = httpx.get(f"{server}/v1/profiles/{survivor}/segments", headers=bearer(admin))
        return r.status_code == 200 and len(r.json()["segments"]) == 1

    wait_for(in_segment, timeout=30)
    return {"survivor": survivor, "absorbed": absorbed}


class TestSuppressWithDelete:
    def test_nothing_remains_and_a_replay_recreates_nothing(
        self, settings: Settings, engine: Engine, workers: Workers, server: str
    ) -> None:
        admin = make_api_key(engine, "admin")
        ids = build_person(engine, server, admin)
        before = scan(engine, NEEDLES)
        assert before["events"] and before["source_records"] and before["identifiers"]
        assert before["dead_letters"] >= 1

        readonly = make_api_key(engine, "read")
        denied = httpx.post(
            f"{server}/v1/privacy/requests",
            headers=bearer(readonly),
            json={"type": "suppress_with_delete", "identifier": f"email:{EMAIL}"},
        )
        assert denied.status_code == 403
        r = httpx.post(
            f"{server}/v1/privacy/requests",
            headers=bearer(admin),
            json={"type": "suppress_with_delete", "identifier": f"email:{EMAIL.upper()}"},
        )
        assert r.status_code == 201, r.text
        audit = r.json()
        assert audit["profiles"] == 2 and audit["hashes"] >= 4
        assert audit["counts"]["source_records"] == 3 and audit["counts"]["events"] >= 4
        assert audit["requested_by"].startswith("api-key:")
        assert "zelda" not in json.dumps(audit).lower()

        after = scan(engine, NEEDLES)
        print("\nscan before:", json.dumps({t: n for t, n in before.items() if n}))
        print("scan after: ", json.dumps(after))
        print("audit counts:", json.dumps(audit["counts"]))
        assert sum(after.values()) == 0, {t: n for t, n in after.items() if n}
        for pid in ids.values():
            gone = httpx.get(f"{server}/v1/profiles/{pid}", headers=bearer(admin))
            assert gone.status_code == 404
        assert lookup(server, admin, "user_id:u-bob-1")  # the control is untouched
        seg = httpx.get(f"{server}/v1/segments", headers=bearer(admin)).json()
        listed = seg if isinstance(seg, list) else seg.get("segments", seg.get("items", []))
        assert all(s["member_count"] in (0, 1) for s in listed)

        replayed = replay_person(settings, NEEDLES)
        assert replayed >= 4
        wait_for(lambda: sum(dropped(engine).values()) >= replayed, timeout=25)
        assert dropped(engine) == {"web-z": replayed - 1, "web-y": 1}
        assert sum(scan(engine, NEEDLES).values()) == 0
        assert lookup(server, admin, f"email:{EMAIL}") == []

        listing = httpx.get(f"{server}/v1/privacy/requests", headers=bearer(admin)).json()
        assert [q["type"] for q in listing["requests"]] == ["suppress_with_delete"]
        assert listing["suppressed_events"] == dropped(engine)


class TestPlainDelete:
    def test_delete_by_merged_away_id_then_a_replay_brings_the_person_back(
        self, settings: Settings, engine: Engine, workers: Workers, server: str
    ) -> None:
        admin = make_api_key(engine, "admin")
        ids = build_person(engine, server, admin)
        r = httpx.delete(f"{server}/v1/profiles/{ids['absorbed']}", headers=bearer(admin))
        assert r.status_code == 200, r.text
        assert r.json()["type"] == "delete" and r.json()["hashes"] == 0
        assert sum(scan(engine, NEEDLES).values()) == 0
        for pid in ids.values():
            assert (
                httpx.get(f"{server}/v1/profiles/{pid}", headers=bearer(admin)).status_code == 404
            )
        again = httpx.delete(f"{server}/v1/profiles/{ids['survivor']}", headers=bearer(admin))
        assert again.status_code == 404

        # no suppression: the old messages, replayed, are new events again (documented)
        assert replay_person(settings, NEEDLES) >= 4
        back = one_profile(server, admin, f"email:{EMAIL}")
        assert back["id"] not in ids.values()
        assert dropped(engine) == {}


SUPPRESSED = "Sup.Pressed+promo@Example.com"


def send_everywhere(
    server: str, keys: dict[str, str], runner: CliRunner, tmp: Path, n: int
) -> None:
    """The suppressed address through the collector, SendGrid, a CRM CSV import and a lead
    form, each in another spelling; message ids differ per round ``n``."""
    post_batch(
        server,
        keys["web"],
        message("identify", userId=f"sp-{n}", traits={"email": "sup.pressed@example.com"}),
    )
    sg = [{"email": "SUP.PRESSED@example.com", "event": "open", "timestamp": 1795000000 + n,
           "sg_event_id": f"sg-sp-{n}"}]  # fmt: skip
    r = httpx.post(f"{server}/v1/webhooks/sendgrid/sg", params={"key": keys["sg"]}, json=sg)
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
    lead = {
        "id": f"lead-sp-{n}",
        "created_time": "2026-11-20T10:15:30+0000",
        "form_id": "f1",
        "field_data": [
            {"name": "email", "values": [SUPPRESSED]},
            {"name": "full_name", "values": ["Sue Pressed"]},
        ],
    }
    r = httpx.post(f"{server}/v1/webhooks/leadform/fb", params={"key": keys["fb"]}, json=lead)
    assert r.status_code == 200 and r.json()["accepted"] >= 1, r.text
    csv = tmp / f"contacts-{n}.csv"
    csv.write_text(
        f"Record ID,First Name,Last Name,Email\n{700 + n},Sue,Pressed, {SUPPRESSED} \n",
        encoding="utf-8",
    )
    from cli import app

    res = runner.invoke(app, ["import", "crm", str(csv), "--source", "crm"])
    assert res.exit_code == 0 and '"accepted": 1' in res.stdout, res.output


class TestSuppressionAtIngest:
    def test_every_connector_is_dropped_and_counted_until_unsuppressed(
        self,
        engine: Engine,
        workers: Workers,
        server: str,
        cli_env: CliRunner,
        tmp_path: Path,
    ) -> None:
        admin = make_api_key(engine, "admin")
        keys = {
            "web": make_source(engine, connector="web", name="web")[1],
            "sg": make_source(engine, connector="sendgrid", name="sg")[1],
            "fb": make_source(engine, connector="leadform", name="fb")[1],
        }
        make_source(engine, connector="crm", name="crm")
        from cli import app

        res = cli_env.invoke(app, ["privacy", "suppress", "--identifier", "email:Sup.Pressed@x"])
        assert res.exit_code == 1 and "nothing to suppress" in res.output  # not an address
        res = cli_env.invoke(
            app, ["privacy", "suppress", "--identifier", "email:sup.pressed@example.com"]
        )
        assert res.exit_code == 0 and json.loads(res.stdout)["hashes"] == 1, res.output

        send_everywhere(server, keys, cli_env, tmp_path, 1)
        want = {"web": 1, "sg": 1, "fb": 1, "crm": 1}
        counts = wait_for(lambda: dropped(engine) if dropped(engine) == want else None)
        print("\ndropped per source:", json.dumps(counts))
        time.sleep(1)  # nothing else arrives late
        assert dropped(engine) == want
        assert sum(scan(engine, ["sup.pressed", "Sue", "Pressed"]).values()) == 0
        assert lookup(server, admin, "email:sup.pressed@example.com") == []

        r = httpx.post(
            f"{server}/v1/privacy/requests",
            headers=bearer(admin),
            json={"type": "unsuppress", "identifier": f"email:{SUPPRESSED}"},
        )
        assert r.status_code == 201 and r.json()["hashes"] == 1, r.text
        send_everywhere(server, keys, cli_env, tmp_path, 2)

        def all_four() -> dict[str, Any] | None:
            found = lookup(server, admin, "email:sup.pressed@example.com")
            return found[0] if found and len(found[0]["sources"]) >= 4 else None

        back = wait_for(all_four, timeout=30)
        assert {s["source"] for s in back["sources"]} >= {"web", "sg", "fb", "crm"}
        assert dropped(engine) == want
        listed = json.loads(cli_env.invoke(app, ["privacy", "list"]).stdout)
        assert [q["type"] for q in listed["requests"]] == ["unsuppress", "suppress"]
        assert listed["suppressed_events"] == want
