"""The identity change log over HTTP: every change has a summary in words (the generic
identifier behind a split named, with the people behind it), filters by profile and time,
newest first with keyset pages; why-not answers in words."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from connectors.events import parse_event
from identity.service import resolve_dirty
from ingest.service import persist_events
from kindred.db import unit_of_work
from kindred.models import RecordLink, SourceRecord
from tests.helpers import make_api_key

pytestmark = pytest.mark.integration


def _send(engine: Engine, *messages: dict[str, Any]) -> None:
    events = [
        parse_event({"messageId": str(uuid.uuid4()), "source": "web", "channel": "web", **m})
        for m in messages
    ]
    with unit_of_work(engine) as session:
        persist_events(session, events)
    with unit_of_work(engine) as session:
        resolve_dirty(session)


def _profile(engine: Engine, anon: str) -> uuid.UUID:
    with engine.connect() as conn:
        return conn.execute(
            select(RecordLink.profile_id)
            .join(SourceRecord, SourceRecord.id == RecordLink.record_id)
            .where(SourceRecord.record_key == f"anon:{anon}")
        ).scalar_one()


def _changes(client: httpx.Client, **params: Any) -> dict[str, Any]:
    resp = client.get("/v1/identity/changes", params=params)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def test_change_log_in_words_with_filters_and_pages(server: str, engine: Engine) -> None:
    # a role address two people share links them; a third person makes it generic: a split
    for anon, name in (("a1", "Ann Lee"), ("a2", "Boris Stone")):
        _send(
            engine,
            {
                "type": "identify",
                "anonymousId": anon,
                "traits": {"email": "info@acme.io", "name": name},
            },
        )
    _send(
        engine,
        {
            "type": "identify",
            "anonymousId": "a3",
            "traits": {"email": "info@acme.io", "name": "Carla Wu"},
        },
    )
    _send(engine, {"type": "identify", "anonymousId": "solo", "traits": {"email": "s@solo.io"}})
    # an email and a phone seen apart, then together: a merge
    _send(engine, {"type": "identify", "anonymousId": "x1", "traits": {"email": "z@z.io"}})
    _send(engine, {"type": "identify", "anonymousId": "x2", "traits": {"phone": "+4930123456"}})
    _send(
        engine,
        {
            "type": "identify",
            "anonymousId": "x3",
            "traits": {"email": "z@z.io", "phone": "+4930123456"},
        },
    )
    key = make_api_key(engine, "read")
    with httpx.Client(base_url=server, headers={"Authorization": f"Bearer {key}"}) as client:
        every = _changes(client, limit=1000)["items"]
        assert len(every) >= 7, [c["summary"] for c in every]
        for item in every:
            assert item["summary"] and "[{" not in item["summary"] and "[]" not in item["summary"]
        merge = next(c for c in every if c["kind"] == "merge")
        assert merge["summary"] == (
            "Merged because the records share email z@z.io and phone +4930123456 "
            "(deterministic rule shared_identifier)"
        ), merge["summary"]
        split = next(c for c in every if c["kind"] == "split")
        assert split["cause"] == "generic_identifier"
        assert split["summary"].startswith(
            "Split because the email info@acme.io turned out to be generic (shared by 3 "
            "different people; 3 dissimilar names: "
        ), split["summary"]
        assert "moved off" in split["summary"]

        # newest first, keyset pages that add up to the whole log
        ids: list[int] = []
        before = None
        while True:
            paging = {"before": before} if before is not None else {}
            page = _changes(client, order="desc", limit=2, **paging)
            ids += [c["id"] for c in page["items"]]
            before = page["next_before"]
            if before is None:
                break
        assert ids == sorted((c["id"] for c in every), reverse=True)

        # by profile: the changes touching it (and the profiles merged into it) only
        solo = _profile(engine, "solo")
        mine = _changes(client, profile_id=str(solo))["items"]
        assert [c["kind"] for c in mine] == ["create"]
        assert mine[0]["summary"].startswith("New profile for record")
        ann = _profile(engine, "a1")
        touching = _changes(client, profile_id=str(ann), order="desc")["items"]
        assert touching and all(
            str(ann) in (c["profile_id"], c["other_profile_id"]) or c["kind"] == "create"
            for c in touching
        )
        assert len(touching) < len(every)

        # by time
        later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        assert _changes(client, since=later)["items"] == []
        assert len(_changes(client, until=later, limit=1000)["items"]) == len(every)
        naive = (datetime.now(UTC) - timedelta(hours=1)).replace(tzinfo=None).isoformat()
        assert len(_changes(client, since=naive, limit=1000)["items"]) == len(every)
        assert _changes(client, since=later, until=naive)["items"] == []  # an empty window
        unix = client.get("/v1/identity/changes", params={"since": "0.5"})
        assert unix.status_code == 422 and "ISO 8601" in unix.text
        assert client.get("/v1/identity/changes", params={"order": "sideways"}).status_code == 422

        # why-not in words: the generic address is named with the people behind it
        a2, a3 = _profile(engine, "a2"), _profile(engine, "a3")
        if a2 != a3:
            why = client.get("/v1/identity/why-not", params={"a": str(a2), "b": str(a3)}).json()
            assert why["merged"] is False
            assert why["summary"].startswith("Not merged. ")
            generic = next(r for r in why["reasons"] if r["kind"] == "generic_identifier")
            assert generic["summary"].startswith("Not merged on email info@acme.io: both hold it")
            assert "shared by 3 different people" in generic["summary"]
