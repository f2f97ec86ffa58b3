"""The reads the account and segments pages stand on, against the console world: accounts by
account score (paged), one account's rollup, contacts with roles and engagement, its journey
newest first (paged, complete), a segment's size history replayed from its change log, member
search, newest-first changes."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from profiles.config import DECISION_MAKER_TITLES
from tests.helpers import bearer, make_api_key, wait_for
from tests.integration.conftest import ConsoleWorld

pytestmark = pytest.mark.integration


def _client(w: ConsoleWorld) -> httpx.Client:
    return httpx.Client(base_url=w.server, headers=bearer(w.api_key), timeout=20)


def _walk(c: httpx.Client, path: str, limit: int, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(200):
        r = c.get(path, params={"limit": limit, **params, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        body = r.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("pages never ended")


def test_accounts_by_score_and_one_account(console_world: ConsoleWorld) -> None:
    w = console_world
    with _client(w) as c:
        # the rollup runs on the profiles worker's schedule: wait for one over the settled world
        accounts = wait_for(
            lambda: (a := _walk(c, "/v1/accounts", 5)) and any(x["key_account"] for x in a) and a,
            timeout=60,
            every=1,
        )
        first = c.get("/v1/accounts", params={"limit": 5}).json()
        assert c.get("/v1/accounts", params={"cursor": "nonsense!"}).status_code == 400
        with w.engine.connect() as conn:
            live = conn.execute(
                text("SELECT count(*) FROM accounts WHERE merged_into IS NULL")
            ).scalar_one()
        assert first["total"] == live == len(accounts)
        assert len({a["id"] for a in accounts}) == live
        scores = [a["account_score"] if a["account_score"] is not None else -1 for a in accounts]
        assert scores == sorted(scores, reverse=True)
        shares = [a["revenue_share"] or 0 for a in accounts]
        assert 0.99 <= sum(shares) <= 1.01

        top = max(accounts, key=lambda a: a["contacts"] or 0)
        acc = c.get(f"/v1/accounts/{top['id']}").json()
        # (rescored on a schedule meanwhile: the same fields, not necessarily the same values)
        assert {"account_score", "revenue_share", "key_account", "contacts"} <= acc["rollup"].keys()
        assert acc["rollup_computed_at"]
        assert "formula" in acc["rollup"]["reasons"]

        people = c.get(f"/v1/accounts/{top['id']}/profiles").json()["items"]
        with w.engine.connect() as conn:
            linked = conn.execute(
                text(
                    "SELECT count(*) FROM account_links l JOIN profiles p ON p.id = l.profile_id "
                    "WHERE l.account_id = :a AND p.merged_into IS NULL"
                ),
                {"a": acc["id"]},
            ).scalar_one()
        assert len(people) == linked > 0
        assert all("lead_score" in p and "temperature" in p and "last_seen" in p for p in people)
        assert any(p["lead_score"] is not None for p in people)
        assert any(p["last_seen"] for p in people)
        assert any(p["job_title"] for p in people)
        for p in people:
            title = (p["job_title"] or "").lower()
            assert p["decision_maker"] == any(w in title for w in DECISION_MAKER_TITLES), p

        journey = _walk(c, f"/v1/accounts/{top['id']}/journey", 7)
        ids = {p["profile_id"] for p in people}
        with w.engine.connect() as conn:
            expected = conn.execute(
                text(
                    "SELECT count(*) FROM touchpoints t JOIN record_links l "
                    "ON l.record_id = t.record_id JOIN source_records r ON r.id = t.record_id "
                    "JOIN profiles p ON p.id = l.profile_id WHERE p.account_id = :a "
                    "AND p.merged_into IS NULL AND NOT p.deleted AND NOT r.deleted"
                ),
                {"a": acc["id"]},
            ).scalar_one()
        assert expected > 0
        assert len(journey) == expected
        assert len({t["id"] for t in journey}) == expected
        keys = [(t["occurred_at"], t["id"]) for t in journey]
        assert keys == sorted(keys, reverse=True)
        assert {t["profile_id"] for t in journey} <= ids
        assert c.get(f"/v1/accounts/{uuid.uuid4()}/journey").status_code == 404


def test_segment_history_members_search_recent_changes(console_world: ConsoleWorld) -> None:
    w = console_world
    with _client(w) as c:
        segments = c.get("/v1/segments").json()["segments"]
        seg = max(segments, key=lambda s: s["member_count"])
        assert seg["member_count"] > 0
        hist = c.get(f"/v1/segments/{seg['id']}/history").json()
        assert hist["points"], hist
        assert hist["points"][-1]["size"] == seg["member_count"]
        total = sum(p["entered"] - p["exited"] for p in hist["points"])
        assert total == seg["member_count"]
        hourly = c.get(f"/v1/segments/{seg['id']}/history", params={"bucket": "hour"}).json()
        assert hourly["bucket_seconds"] == 3600
        assert hourly["points"][-1]["size"] == seg["member_count"]
        assert c.get(f"/v1/segments/{seg['id']}/history", params={"bucket": "x"}).status_code == 400

        fields = "name,first_name,last_name,email,company"
        page = c.get(
            f"/v1/segments/{seg['id']}/members", params={"limit": 1000, "fields": fields}
        ).json()
        member = next(m for m in page["items"] if m["fields"]["email"])
        probe = member["fields"]["email"].split("@")[0].upper()
        found = c.get(
            f"/v1/segments/{seg['id']}/members", params={"q": probe, "fields": fields}
        ).json()["items"]
        assert member["profile_id"] in {m["profile_id"] for m in found}
        for m in found:
            f = m["fields"]
            text_ = " ".join(
                str(f[k] or "") for k in ("name", "first_name", "last_name", "email", "company")
            )
            assert (
                probe.lower() in text_.lower()
                or probe.lower() in " ".join([f["first_name"] or "", f["last_name"] or ""]).lower()
            ), m
        none = c.get(f"/v1/segments/{seg['id']}/members", params={"q": "%_no-such-person_%"})
        assert none.status_code == 200 and none.json()["items"] == []

        recent = c.get(f"/v1/segments/{seg['id']}/recent-changes", params={"limit": 5}).json()
        ids = [ch["id"] for ch in recent["items"]]
        assert ids == sorted(ids, reverse=True) and len(ids) == min(5, len(ids))
        assert all(ch["change"] in ("entered", "exited") for ch in recent["items"])
        assert any(ch["name"] or ch["email"] for ch in recent["items"])
        if recent["next_before"]:
            more = c.get(
                f"/v1/segments/{seg['id']}/recent-changes",
                params={"limit": 5, "before": recent["next_before"]},
            ).json()
            assert all(ch["id"] < ids[-1] for ch in more["items"])


def test_history_replays_entries_and_exits(engine: Engine, server: str) -> None:
    from tests.integration.test_profiles_pipeline import ev, feed, profile_of

    feed(
        engine,
        *[
            ev(
                "identify",
                userId=f"h{i}",
                traits={"email": f"h{i}@hist.example", "plan": "pro" if i < 3 else "free"},
            )
            for i in range(5)
        ],
    )
    key = make_api_key(engine, "read", "write")
    with httpx.Client(base_url=server, headers=bearer(key), timeout=20) as c:
        sid = c.post(
            "/v1/segments",
            json={"name": "pro", "rules": {"trait": "plan", "op": "eq", "value": "pro"}},
        ).json()["id"]
        first = c.get(f"/v1/segments/{sid}/history", params={"bucket": "minute"}).json()
        assert [(p["entered"], p["exited"], p["size"]) for p in first["points"]] == [(3, 0, 3)]
        feed(engine, ev("identify", userId="h1", traits={"plan": "free"}, ago_days=0))
        hist = c.get(f"/v1/segments/{sid}/history", params={"bucket": "minute"}).json()
        assert sum(p["entered"] for p in hist["points"]) == 3
        assert sum(p["exited"] for p in hist["points"]) == 1
        assert hist["points"][-1]["size"] == hist["member_count"] == 2
        auto = c.get(f"/v1/segments/{sid}/history").json()
        assert auto["bucket_seconds"] == 60 and auto["points"][-1]["size"] == 2

        recent = c.get(f"/v1/segments/{sid}/recent-changes", params={"limit": 2}).json()
        gone = recent["items"][0]
        assert gone["change"] == "exited" and gone["email"] == "h1@hist.example"
        assert gone["member_id"] == str(profile_of(engine, "h1").id)
        rest = c.get(
            f"/v1/segments/{sid}/recent-changes", params={"before": recent["next_before"]}
        ).json()
        assert len(rest["items"]) == 2 and rest["next_before"] is None
        assert {i["change"] for i in rest["items"]} == {"entered"}
        assert (
            c.get(f"/v1/segments/{sid}/recent-changes", params={"before": "x"}).status_code == 400
        )

        hits = c.get(f"/v1/segments/{sid}/members", params={"q": "H2@HIST"}).json()["items"]
        assert [m["profile_id"] for m in hits] == [str(profile_of(engine, "h2").id)]
        # LIKE's wildcards are only characters
        assert c.get(f"/v1/segments/{sid}/members", params={"q": "h_@"}).json()["items"] == []
