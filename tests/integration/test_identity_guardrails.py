"""Deterministic resolution guardrails: cannot-links, generic identifiers, splits, stable ids."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from connectors.events import parse_event
from identity.service import resolve_dirty
from ingest.service import persist_events
from kindred.db import unit_of_work
from kindred.models import GenericIdentifier, IdentityChange, Profile, RecordLink, SourceRecord

pytestmark = pytest.mark.integration


def _send(
    engine: Engine, *messages: dict[str, Any], source: str = "web", channel: str = "web"
) -> None:
    events = [
        parse_event({"messageId": str(uuid.uuid4()), "source": source, "channel": channel, **m})
        for m in messages
    ]
    with unit_of_work(engine) as session:
        persist_events(session, events)
    with unit_of_work(engine) as session:
        resolve_dirty(session)


def _profile_of(engine: Engine, source: str, record_key: str) -> uuid.UUID:
    with engine.connect() as conn:
        return conn.execute(
            select(RecordLink.profile_id)
            .join(SourceRecord, SourceRecord.id == RecordLink.record_id)
            .where(SourceRecord.source == source, SourceRecord.record_key == record_key)
        ).scalar_one()


def _live_profiles(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(select(func.count(func.distinct(RecordLink.profile_id)))).scalar_one()
        )


class TestCannotLinks:
    def test_two_user_ids_sharing_an_email_stay_apart_and_say_why(self, engine: Engine) -> None:
        _send(
            engine,
            {
                "type": "identify",
                "userId": "alice",
                "traits": {"email": "fam@x.io", "first_name": "Alice"},
            },
        )
        _send(
            engine,
            {
                "type": "identify",
                "userId": "bob",
                "traits": {"email": "FAM@x.io", "first_name": "Bob"},
            },
        )
        a = _profile_of(engine, "web", "user:alice")
        b = _profile_of(engine, "web", "user:bob")
        assert a != b
        with engine.connect() as conn:
            evidence = conn.execute(
                select(RecordLink.evidence)
                .join(SourceRecord, SourceRecord.id == RecordLink.record_id)
                .where(SourceRecord.record_key == "user:bob")
            ).scalar_one()
        assert "conflicting user_id" in evidence["blocked"][0]["reason"]

    def test_crm_contacts_with_different_ids_never_merge_through_a_shared_phone(
        self, engine: Engine
    ) -> None:
        for cid, name in (("1", "Ann"), ("2", "Ben")):
            _send(
                engine,
                {
                    "type": "identify",
                    "recordKey": f"contact:{cid}",
                    "traits": {"phone": "+1 415 555 0100", "first_name": name},
                    "context": {"externalIds": [{"id": cid, "type": "crm_contact_id"}]},
                },
                source="hubspot",
                channel="crm",
            )
        assert _profile_of(engine, "hubspot", "contact:1") != _profile_of(
            engine, "hubspot", "contact:2"
        )

    def test_a_web_visitor_bridging_two_crm_contacts_joins_only_one(self, engine: Engine) -> None:
        for cid, email in (("7", "ann@acme.io"), ("8", "ben@acme.io")):
            _send(
                engine,
                {
                    "type": "identify",
                    "recordKey": f"contact:{cid}",
                    "traits": {"email": email},
                    "context": {"externalIds": [{"id": cid, "type": "crm_contact_id"}]},
                },
                source="crm",
                channel="crm",
            )
        # one anonymous visitor typed both addresses (shared laptop)
        _send(
            engine,
            {"type": "identify", "anonymousId": "device-1", "traits": {"email": "ann@acme.io"}},
        )
        _send(
            engine,
            {"type": "identify", "anonymousId": "device-1", "traits": {"email": "ben@acme.io"}},
        )
        assert _profile_of(engine, "crm", "contact:7") != _profile_of(engine, "crm", "contact:8")


class TestGenericIdentifiers:
    def test_a_role_address_used_by_three_people_stops_linking_and_splits(
        self, engine: Engine
    ) -> None:
        for anon, name in (("a1", "Ann"), ("a2", "Boris")):
            _send(
                engine,
                {
                    "type": "identify",
                    "anonymousId": anon,
                    "traits": {"email": "info@acme.io", "first_name": name},
                },
            )
        assert _profile_of(engine, "web", "anon:a1") == _profile_of(engine, "web", "anon:a2")
        first = _profile_of(engine, "web", "anon:a1")
        _send(
            engine,
            {
                "type": "identify",
                "anonymousId": "a3",
                "traits": {"email": "info@acme.io", "first_name": "Carla"},
            },
        )
        ids = {_profile_of(engine, "web", f"anon:{a}") for a in ("a1", "a2", "a3")}
        assert len(ids) == 3
        assert first in ids  # the original id still names one of the people
        with Session(engine) as conn:
            generic = conn.execute(select(GenericIdentifier)).scalars().all()
            splits = (
                conn.execute(select(IdentityChange).where(IdentityChange.kind == "split"))
                .scalars()
                .all()
            )
        assert [(g.link_type, g.value) for g in generic] == [("email", "info@acme.io")]
        assert splits and splits[0].cause == "generic_identifier"
        # a fourth user of the address is not linked to anyone either
        _send(
            engine,
            {
                "type": "identify",
                "anonymousId": "a4",
                "traits": {"email": "Info@Acme.io", "first_name": "Dan"},
            },
        )
        assert _profile_of(engine, "web", "anon:a4") not in ids


class TestGenericIdentifierEvidence:
    def test_typos_swapped_names_and_blanks_keep_one_persons_email_linking(
        self, engine: Engine
    ) -> None:
        names = [("Catherine", "Lee"), ("Cathrine", "Lee"), ("Lee", "Catherine"), (None, "Lee")]
        for i, (first, last) in enumerate(names):
            traits = {"email": "cath.lee@x.io", "first_name": first, "last_name": last}
            _send(engine, {"type": "identify", "anonymousId": f"c{i}", "traits": traits})
        assert len({_profile_of(engine, "web", f"anon:c{i}") for i in range(4)}) == 1
        with Session(engine) as conn:
            assert conn.execute(select(GenericIdentifier)).scalars().all() == []

    def test_the_reason_names_the_people(self, engine: Engine) -> None:
        for i, name in enumerate(("Ann Lee", "Bob Stone", "Chris Wu")):
            traits = {"email": "team@x.io", "name": name}
            _send(engine, {"type": "identify", "anonymousId": f"t{i}", "traits": traits})
        with Session(engine) as conn:
            generic = conn.execute(select(GenericIdentifier)).scalar_one()
        # names as the resolver normalises them (nicknames mapped), most frequent first
        assert generic.reason.startswith("3 dissimilar names: ")
        assert all(part in generic.reason for part in (" lee", " stone", " wu"))
        assert (generic.distinct_names, generic.records) == (3, 3)


class TestStableIds:
    def test_merge_keeps_the_oldest_id_and_the_other_points_to_it(self, engine: Engine) -> None:
        _send(engine, {"type": "identify", "anonymousId": "x1", "traits": {"email": "z@z.io"}})
        _send(engine, {"type": "identify", "anonymousId": "x2", "traits": {"phone": "+4930123456"}})
        old = _profile_of(engine, "web", "anon:x1")
        young = _profile_of(engine, "web", "anon:x2")
        _send(
            engine,
            {
                "type": "identify",
                "userId": "zed",
                "traits": {"email": "z@z.io", "phone": "+49 30 123456"},
            },
        )
        assert _profile_of(engine, "web", "anon:x2") == old
        with engine.connect() as conn:
            merged_into = conn.execute(
                select(Profile.merged_into).where(Profile.id == young)
            ).scalar_one()
        assert merged_into == old
        assert _live_profiles(engine) == 1


class TestWhyNotMerged:
    def test_conflicting_user_ids_and_the_refused_link_are_reported(self, engine: Engine) -> None:
        from identity.service import why_not_merged

        _send(
            engine,
            {
                "type": "identify",
                "userId": "kim1",
                "traits": {"email": "parks@x.io", "first_name": "Kim"},
            },
        )
        _send(
            engine,
            {
                "type": "identify",
                "userId": "kim2",
                "traits": {"email": "parks@x.io", "first_name": "Kim"},
            },
        )
        a = _profile_of(engine, "web", "user:kim1")
        b = _profile_of(engine, "web", "user:kim2")
        with Session(engine) as session:
            out = why_not_merged(session, a, b)
        kinds = {r["kind"] for r in out["reasons"]}
        assert out["merged"] is False
        assert {"conflicting_ids", "refused_link"} <= kinds
        assert {"type": "email", "value": "parks@x.io", "linking": True} in out["shared"]
