"""Segments over HTTP: validation (422 pointing at the rule), members pages and streams,
changes since a cursor, consent-filtered exports, and enter/exit events on Kafka."""

from __future__ import annotations

import csv
import io
import json
import uuid
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import Engine

from kindred.kafka import make_consumer
from kindred.settings import Settings
from profiles.worker import ProfilesWorker
from tests.helpers import bearer, make_api_key, wait_for
from tests.integration.test_profiles_pipeline import ev, feed, profile_of

pytestmark = pytest.mark.integration


def _people(engine: Engine, n: int) -> None:
    events = []
    for i in range(n):
        events.append(
            ev(
                "identify",
                userId=f"p{i}",
                traits={"email": f"p{i}@x.io", "plan": "pro" if i % 2 else "free"},
            )
        )
        if i % 3 == 0:
            events.append(ev("track", userId=f"p{i}", event="Unsubscribed"))
    feed(engine, *events)


class TestSegmentsApi:
    def test_validation_points_at_the_offending_part(self, engine: Engine, server: str) -> None:
        key = make_api_key(engine, "read", "write")
        r = httpx.post(
            f"{server}/v1/segments",
            headers=bearer(key),
            json={
                "name": "bad",
                "rules": {
                    "all": [
                        {"trait": "plan", "op": "eq", "value": "x"},
                        {"trait": "plan", "op": "nope"},
                        {"event": "X", "count": {"op": "gte"}},
                    ]
                },
            },
        )
        assert r.status_code == 422, r.text
        err = r.json()["error"]
        assert err["code"] == "validation_error"
        paths = {d["path"] for d in err["details"]}
        assert paths == {"rules.all[1].op", "rules.all[2].count.value"}
        # injection attempts are just values
        r = httpx.post(
            f"{server}/v1/segments",
            headers=bearer(key),
            json={
                "name": "inj",
                "rules": {
                    "trait": "plan'; DROP TABLE profiles; --",
                    "op": "eq",
                    "value": "' OR 1=1 --",
                },
            },
        )
        assert r.status_code == 201 and r.json()["member_count"] == 0
        ro = make_api_key(engine, "read")
        r = httpx.post(f"{server}/v1/segments", headers=bearer(ro), json={"name": "x", "rules": {}})
        assert r.status_code == 403


@dataclass(frozen=True)
class ProSegment:
    """25 people (every second one on the pro plan, every third unsubscribed) and a segment
    of the pro ones, created over HTTP once for the class."""

    engine: Engine
    server: str
    key: str
    created: httpx.Response

    @property
    def id(self) -> str:
        return str(self.created.json()["id"])


@pytest.fixture(scope="class")
def pro(class_engine: Engine, class_server: str) -> ProSegment:
    _people(class_engine, 25)
    key = make_api_key(class_engine, "read", "write")
    r = httpx.post(
        f"{class_server}/v1/segments",
        headers=bearer(key),
        json={"name": "pro", "rules": {"trait": "plan", "op": "eq", "value": "PRO"}},
    )
    return ProSegment(class_engine, class_server, key, r)


class TestSegmentMembers:
    """One segment (``pro``), one test per way of reading it. The incremental-sync test moves
    a person out of the segment, so it comes last."""

    def test_creating_computes_the_members_at_once(self, pro: ProSegment) -> None:
        r = pro.created
        assert r.status_code == 201, r.text
        seg = r.json()
        assert seg["member_count"] == 12 and seg["computed_at"] and seg["lag_seconds"] == 0

    def test_members_pages_follow_the_cursor(self, pro: ProSegment) -> None:
        server, key, sid = pro.server, pro.key, pro.id
        got: list[str] = []
        cursor = None
        while True:
            params = {"limit": 5, "fields": "email,computed.consent.email.granted"}
            if cursor:
                params["cursor"] = cursor
            page = httpx.get(
                f"{server}/v1/segments/{sid}/members", headers=bearer(key), params=params
            ).json()
            got += [i["profile_id"] for i in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert len(got) == len(set(got)) == 12
        assert page["items"][0]["fields"]["email"].endswith("@x.io")

    def test_members_as_csv(self, pro: ProSegment) -> None:
        r = httpx.get(
            f"{pro.server}/v1/segments/{pro.id}/members",
            headers={**bearer(pro.key), "Accept": "text/csv"},
            params={"fields": "email"},
        )
        rows = list(csv.reader(io.StringIO(r.text)))
        assert r.headers["content-type"].startswith("text/csv")
        assert rows[0] == ["profile_id", "entered_at", "email"] and len(rows) == 13

    def test_members_as_ndjson_leave_out_who_withdrew_consent_for_the_channel(
        self, pro: ProSegment
    ) -> None:
        r = httpx.get(
            f"{pro.server}/v1/segments/{pro.id}/members",
            headers={**bearer(pro.key), "Accept": "application/x-ndjson"},
            params={"fields": "email", "channel": "email"},
        )
        lines = [json.loads(x) for x in r.text.splitlines()]
        unsubscribed = {f"p{i}@x.io" for i in range(25) if i % 3 == 0}
        assert lines and all(x["fields"]["email"] not in unsubscribed for x in lines)
        assert len(lines) == 12 - len([i for i in range(25) if i % 2 and i % 3 == 0])

    def test_a_profile_lists_its_segments(self, pro: ProSegment) -> None:
        mine = httpx.get(
            f"{pro.server}/v1/profiles/{profile_of(pro.engine, 'p3').id}/segments",
            headers=bearer(pro.key),
        ).json()
        assert [s["name"] for s in mine["segments"]] == ["pro"]

    def test_the_distribution_counts_every_profile(self, pro: ProSegment) -> None:
        dist = httpx.get(f"{pro.server}/v1/profiles/distribution", headers=bearer(pro.key)).json()
        assert dist["total"] == 25

    def test_an_unknown_segment_is_404(self, pro: ProSegment) -> None:
        unknown = f"{pro.server}/v1/segments/{uuid.uuid4()}"
        assert httpx.get(unknown, headers=bearer(pro.key)).status_code == 404

    def test_changes_since_a_cursor_show_who_left(self, pro: ProSegment) -> None:
        server, key, sid, engine = pro.server, pro.key, pro.id, pro.engine
        # incremental sync: one person leaves
        ch = httpx.get(f"{server}/v1/segments/{sid}/changes", headers=bearer(key)).json()
        assert len(ch["items"]) == 12 and {i["change"] for i in ch["items"]} == {"entered"}
        feed(engine, ev("identify", userId="p1", traits={"plan": "free"}, ago_days=0))
        later = httpx.get(
            f"{server}/v1/segments/{sid}/changes",
            headers=bearer(key),
            params={"since": ch["next_cursor"]},
        ).json()
        assert [(i["change"], i["profile_id"]) for i in later["items"]] == [
            ("exited", str(profile_of(engine, "p1").id))
        ]


class TestKafka:
    def test_enter_exit_events_are_published_after_commit(
        self, settings: Settings, engine: Engine
    ) -> None:
        topic = f"test.segments.{uuid.uuid4().hex[:6]}"
        worker = ProfilesWorker(
            engine, kafka_bootstrap=settings.resolved_kafka_bootstrap(), changes_topic=topic
        )
        feed(engine, ev("identify", userId="z", traits={"email": "z@x.io"}))
        from kindred.db import unit_of_work
        from profiles.segments import create_segment

        with unit_of_work(engine) as session:
            create_segment(session, name="z", rules={"trait": "email", "op": "exists"})
        assert worker.tick().published == 1
        consumer = make_consumer(
            settings.resolved_kafka_bootstrap(),
            group_id=topic,
            topics=[topic],
            consumer_timeout_ms=1000,
        )
        try:

            def poll() -> list[dict[str, object]]:
                out = []
                for batch in consumer.poll(timeout_ms=500).values():
                    out += [json.loads(m.value) for m in batch]
                return out

            msgs = wait_for(poll, timeout=20)
        finally:
            consumer.close()
        assert msgs[0]["change"] == "entered" and msgs[0]["segment"] == "z"
        assert worker.tick().published == 0  # the position is stored
