"""The demo world generator: reproducible, vendor-shaped, and with a usable ground truth."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.events import parse_event
from samples.demo import DemoWorld, generate_world, segment_events_for_bench
from samples.demo.crm import COMPANY_HEADER, CONTACT_HEADER

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def world() -> DemoWorld:
    return generate_world(companies=30, people=300, seed=11)


def messages(world: DemoWorld) -> list[dict[str, Any]]:
    return [m for body in world.segment_batches for m in body["batch"]]


def email_events(world: DemoWorld) -> list[dict[str, Any]]:
    return [e for body in world.sendgrid_payloads for e in body]


def contact_rows(world: DemoWorld) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(world.crm_contacts_csv)))


def company_rows(world: DemoWorld) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(world.crm_companies_csv)))


class TestDeterminism:
    def test_same_seed_same_world(self, world: DemoWorld) -> None:
        again = generate_world(companies=30, people=300, seed=11)
        assert again == world
        assert json.dumps(again.segment_batches) == json.dumps(world.segment_batches)

    def test_other_seed_other_world(self, world: DemoWorld) -> None:
        other = generate_world(companies=30, people=300, seed=12)
        assert other.people != world.people
        assert other.crm_contacts_csv != world.crm_contacts_csv

    def test_default_now_is_fixed(self) -> None:
        def small(now: datetime | None = None) -> DemoWorld:
            return generate_world(companies=5, people=20, seed=3, now=now)

        assert small() == small(NOW)
        assert small(NOW + timedelta(days=30)).segment_batches != small().segment_batches


class TestPeopleAndCompanies:
    def test_sizes_and_links(self, world: DemoWorld) -> None:
        assert len(world.companies) == 30
        assert len(world.people) == 300
        company_ids = {c.company_id for c in world.companies}
        assert len(company_ids) == 30
        assert len({p.person_id for p in world.people}) == 300
        assert {p.company_id for p in world.people} <= company_ids
        assert len({c.domain for c in world.companies}) == 30

    def test_key_accounts_are_the_pareto_head(self, world: DemoWorld) -> None:
        keys = [c for c in world.companies if c.key_account]
        assert 0 < len(keys) < len(world.companies)
        total = sum(c.annual_revenue for c in world.companies)
        assert sum(c.annual_revenue for c in keys) >= 0.8 * total
        smallest_key = min(c.annual_revenue for c in keys)
        assert all(c.annual_revenue <= smallest_key for c in world.companies if not c.key_account)

    def test_people_attributes(self, world: DemoWorld) -> None:
        assert {p.temperature for p in world.people} == {"hot", "warm", "cold"}
        assert {p.role for p in world.people} == {"decision_maker", "influencer", "end_user"}
        assert all(p.email == p.email.strip().lower() and "@" in p.email for p in world.people)
        assert len({p.email for p in world.people}) == len(world.people)
        missing = sum(p.phone is None for p in world.people)
        assert 0 < missing < len(world.people) / 2

    def test_each_person_is_seen_in_several_channels(self, world: DemoWorld) -> None:
        assert sum(len(p.channels) for p in world.people) / len(world.people) >= 2
        seen = Counter(ch for p in world.people for ch in p.channels)
        assert set(seen) == {"web", "email", "crm", "ads"}
        for p in world.people:
            assert p.channels and set(p.channels) == set(p.identifiers)

    def test_no_identifier_belongs_to_two_people(self, world: DemoWorld) -> None:
        owners = Counter(
            (ch, v) for p in world.people for ch, ids in p.identifiers.items() for v in ids
        )
        assert max(owners.values()) == 1


class TestSegment:
    def test_batches_fit_the_collector(self, world: DemoWorld) -> None:
        assert world.segment_batches
        for body in world.segment_batches:
            assert 0 < len(body["batch"]) <= 100
            assert len(json.dumps(body).encode()) < 400_000
            assert body["sentAt"].endswith("Z")

    def test_messages_are_valid_and_unique(self, world: DemoWorld) -> None:
        msgs = messages(world)
        assert len({m["messageId"] for m in msgs}) == len(msgs)
        assert {m["type"] for m in msgs} == {"page", "track", "identify", "group"}
        for m in msgs:
            assert m["type"] and m["messageId"] and (m.get("anonymousId") or m.get("userId"))
            event = parse_event({**m, "source": "website", "channel": "web"})
            assert NOW - timedelta(days=560) < event.occurred_at <= NOW

    def test_identify_ties_ids_of_one_person(self, world: DemoWorld) -> None:
        owner = {v: p.person_id for p in world.people for v in p.identifiers.get("web", [])}
        identifies = [m for m in messages(world) if m["type"] == "identify"]
        assert identifies
        for m in identifies:
            assert owner[m["userId"]] == owner[m["anonymousId"]]
            assert "email" in m["traits"]

    def test_each_visitor_is_in_time_order(self, world: DemoWorld) -> None:
        last: dict[str, str] = {}
        for m in messages(world):
            assert m["timestamp"] >= last.get(m["anonymousId"], "")
            last[m["anonymousId"]] = m["timestamp"]

    def test_real_data_variations(self, world: DemoWorld) -> None:
        emails = {p.email for p in world.people}
        traits = [m["traits"]["email"] for m in messages(world) if m["type"] == "identify"]
        assert any(e not in emails and e.strip().lower() in emails for e in traits)
        urls = [m["context"]["page"]["url"] for m in messages(world) if m["type"] == "page"]
        assert any("utm_source=" in u for u in urls)
        assert any("gclid=" in u for u in urls)
        events = Counter(m.get("event") for m in messages(world))
        assert events["Order Completed"] and events["Complaint Submitted"]


class TestSendGrid:
    def test_payloads(self, world: DemoWorld) -> None:
        events = email_events(world)
        assert all(0 < len(body) <= 500 for body in world.sendgrid_payloads)
        assert len({e["sg_event_id"] for e in events}) == len(events)
        kinds = Counter(e["event"] for e in events)
        assert {"processed", "delivered", "open", "click"} <= set(kinds)
        for e in events:
            assert isinstance(e["timestamp"], int) and e["email"] and e["sg_message_id"]
            if e["event"] == "bounce":
                assert e["type"] == "bounce" and e["reason"]
            if e["event"] == "click":
                assert "utm_" in e["url"]

    def test_addresses_map_to_people(self, world: DemoWorld) -> None:
        emails = {p.email for p in world.people if "email" in p.channels}
        assert {e["email"].strip().lower() for e in email_events(world)} == emails


class TestCrm:
    def test_contacts_csv(self, world: DemoWorld) -> None:
        reader = csv.DictReader(io.StringIO(world.crm_contacts_csv))
        rows = list(reader)
        assert tuple(reader.fieldnames or ()) == CONTACT_HEADER
        assert CONTACT_HEADER[0] == "Record ID" and len(CONTACT_HEADER) == 14
        assert [r["Record ID"] for r in rows].count("") == 1
        assert rows[-1]["Record ID"] == ""
        ids = [r["Record ID"] for r in rows[:-1]]
        assert all(i.isdigit() for i in ids) and len(set(ids)) == len(ids)
        crm_ids = {v for p in world.people for v in p.identifiers.get("crm", [])}
        assert set(ids) == crm_ids
        for r in rows:
            datetime.strptime(r["Create Date"], "%Y-%m-%d %H:%M")

    def test_companies_csv(self, world: DemoWorld) -> None:
        reader = csv.DictReader(io.StringIO(world.crm_companies_csv))
        rows = list(reader)
        assert tuple(reader.fieldnames or ()) == COMPANY_HEADER
        ids = {r["Record ID"] for r in rows}
        assert all(i.isdigit() for i in ids) and len(ids) == len(rows)
        linked = {r["Associated Company ID"] for r in contact_rows(world)} - {""}
        assert linked and linked <= ids

    def test_quotes_and_commas_survive(self) -> None:
        w = generate_world(companies=120, people=50, seed=5)
        names = {r["Company name"] for r in company_rows(w)}
        assert names <= {c.name for c in w.companies}
        assert any("," in n or "«" in n for n in names)


class TestLeads:
    def test_shapes(self, world: DemoWorld) -> None:
        assert world.lead_payloads
        lead_ids = {v for p in world.people for v in p.identifiers.get("ads", [])}
        seen = set()
        for lead in world.lead_payloads:
            if "field_data" in lead:
                assert lead["platform"] in ("fb", "ig")
                assert lead["created_time"].endswith("+0000")
                assert {f["name"] for f in lead["field_data"]} >= {"email", "full_name"}
                seen.add(lead["id"])
            else:
                assert lead["google_key"] == "demo" and lead["is_test"] is False
                assert lead["lead_submit_time"].endswith("+00:00") and lead["gcl_id"]
                columns = {c["column_id"] for c in lead["user_column_data"]}
                assert {"EMAIL", "FULL_NAME"} <= columns
                seen.add(lead["lead_id"])
        assert seen == lead_ids

    def test_google_leads_reuse_web_gclids(self) -> None:
        w = generate_world(companies=30, people=600, seed=2)
        urls = " ".join(m["context"]["page"]["url"] for m in messages(w) if m["type"] == "page")
        gclids = [lead["gcl_id"] for lead in w.lead_payloads if "gcl_id" in lead]
        assert any(g in urls for g in gclids)


class TestBench:
    def test_thousand(self) -> None:
        batches = segment_events_for_bench(1000)
        assert [len(b["batch"]) for b in batches] == [100] * 10
        msgs = [m for b in batches for m in b["batch"]]
        assert len({m["messageId"] for m in msgs}) == 1000
        types = Counter(m["type"] for m in msgs)
        assert types["page"] > types["track"] > types["identify"] > types["group"] > 0
        for m in msgs[:200]:
            parse_event({**m, "source": "bench", "channel": "web"})

    def test_partial_last_batch(self) -> None:
        batches = segment_events_for_bench(250, batch_size=100)
        assert [len(b["batch"]) for b in batches] == [100, 100, 50]
        assert segment_events_for_bench(0) == []

    def test_deterministic(self) -> None:
        assert segment_events_for_bench(300, seed=4) == segment_events_for_bench(300, seed=4)
        assert segment_events_for_bench(300, seed=4) != segment_events_for_bench(300, seed=5)
