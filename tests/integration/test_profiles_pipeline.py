"""Golden record, computed traits and incremental membership, through the real database:
events persisted by ingest, resolved by identity, materialised by the profiles worker."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select, text, update

from connectors.events import Event
from identity.accounts import absorb_account_records, link_profiles
from identity.service import resolve_dirty
from ingest.service import persist_events
from kindred.db import unit_of_work
from kindred.models import Profile, SegmentChange, SegmentMembership
from profiles.config import save_config
from profiles.materialise import refresh_accounts
from profiles.segments import create_segment, evaluate_segment, lock_changes
from profiles.service import get_journey, get_profile
from profiles.worker import process_stale

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


def ev(
    kind: str, *, source: str = "site", channel: str = "web", ago_days: float = 1.0, **fields: Any
) -> Event:
    data: dict[str, Any] = {
        "type": kind,
        "messageId": uuid.uuid4().hex,
        "source": source,
        "channel": channel,
        "timestamp": (NOW - timedelta(days=ago_days)).isoformat(),
        **fields,
    }
    return Event.model_validate(data)


def feed(engine: Engine, *events: Event) -> None:
    with unit_of_work(engine) as session:
        persist_events(session, list(events))
    with unit_of_work(engine) as session:
        # the identity worker's step: take the account records, resolve, then link the changed
        # profiles' accounts
        absorb_account_records(session)
        resolved = resolve_dirty(session)
        link_profiles(session, profile_ids=resolved.changed_profiles)
    with unit_of_work(engine) as session:
        process_stale(session)


def profile_of(engine: Engine, user_id: str) -> Profile:
    with unit_of_work(engine) as session:
        pid = session.execute(
            text(
                "SELECT rl.profile_id FROM record_links rl JOIN identifiers i "
                "ON i.record_id = rl.record_id WHERE i.type = 'user_id' AND i.value = :v"
            ),
            {"v": user_id},
        ).scalar_one()
        profile = session.get(Profile, pid)
        assert profile is not None
        return profile


class TestGoldenRecord:
    def test_source_priority_then_recency_with_provenance_and_canonical_names(
        self, engine: Engine
    ) -> None:
        feed(
            engine,
            ev(
                "identify",
                userId="u1",
                traits={"E-mail": "ann@acme.io", "title": "Engineer", "favourite_color": "green"},
                ago_days=1,
            ),
            ev(
                "identify",
                source="crm",
                channel="crm",
                recordKey="contact:1",
                traits={"email_address": "ann@acme.io", "job_title": "VP Engineering"},
                ago_days=30,
            ),
        )
        profile = profile_of(engine, "u1")
        assert profile.traits["email"] == "ann@acme.io"
        assert profile.traits["job_title"] == "VP Engineering"  # crm outranks web, though older
        assert profile.traits["favourite_color"] == "green"  # custom traits kept
        with unit_of_work(engine) as session:
            view = get_profile(session, profile_id=profile.id)
        prov = view.provenance["job_title"]
        assert prov["source"] == "crm" and prov["rule"] == "source_priority"
        assert prov["overridden"][0]["value"] == "Engineer"
        # priority is configurable: trust the web for job titles
        with unit_of_work(engine) as session:
            save_config(
                session,
                sections={
                    "survivorship": {
                        "source_priority": ["crm"],
                        "trait_priority": {"job_title": ["site"]},
                    }
                },
            )
            session.execute(update(Profile).values(stale=True))
        with unit_of_work(engine) as session:
            process_stale(session)
        assert profile_of(engine, "u1").traits["job_title"] == "Engineer"


class TestComputedTraits:
    def test_consent_score_lifecycle_and_complaints(self, engine: Engine) -> None:
        feed(
            engine,
            ev(
                "group",
                userId="u2",
                groupId="acme",
                traits={"name": "Acme", "industry": "Manufacturing", "employees": 250},
            ),
            ev(
                "identify",
                userId="u2",
                context={"groupId": "acme"},
                traits={
                    "email": "bo@acme.io",
                    "job_title": "Head of Operations",
                    "sms_consent": False,
                },
                ago_days=10,
            ),
            ev(
                "page",
                userId="u2",
                name="Pricing",
                properties={"path": "/pricing", "url": "https://x.io/pricing"},
                ago_days=2,
            ),
            ev("track", userId="u2", event="Webinar Attended", ago_days=3),
            ev(
                "track",
                userId="u2",
                event="Order Completed",
                properties={"revenue": 1200},
                ago_days=400,
            ),
            ev("track", userId="u2", event="Unsubscribed", ago_days=1),
            ev(
                "track",
                userId="u2",
                event="Complaint Submitted",
                properties={"complaint_id": "c1", "channel": "phone"},
                ago_days=0.5,
            ),
            ev(
                "track",
                userId="u2",
                event="Survey Submitted",
                properties={"rating": 2},
                ago_days=0.2,
            ),
        )
        computed = profile_of(engine, "u2").computed
        assert computed["consent"]["email"]["granted"] is False
        assert computed["consent"]["email"]["reason"] == "event Unsubscribed"
        assert computed["consent"]["sms"]["granted"] is False
        assert computed["consent"]["ads"]["granted"] is True
        score = computed["lead_score"]
        rules = {b["rule"] for b in score["breakdown"]}
        assert {
            "target industry",
            "company size 50-5000",
            "decision maker title",
            "pricing page views",
            "webinar attendance",
        } <= rules
        assert score["score"] == round(sum(b["points"] for b in score["breakdown"]))
        assert computed["lifecycle"]["stage"] == "inactive"
        assert computed["temperature"]["value"] == "hot"
        assert computed["complaints"]["open"] == 1
        assert computed["complaints"]["overdue"] == 1  # phone: 5 minutes
        assert computed["complaints"]["satisfaction"]["average"] == 2
        assert computed["churn_risk"]["reasons"]
        assert computed["counters"]["revenue_total"] == 1200
        assert computed["journey"]["stage"] == "service"


class TestMembership:
    def test_incremental_entry_exit_and_merge_leaves_no_ghosts(self, engine: Engine) -> None:
        feed(
            engine,
            ev("identify", userId="a", traits={"email": "a@x.io"}),
            ev("identify", userId="b", traits={"phone": "+14155550100"}),
        )
        with unit_of_work(engine) as session:
            seg = create_segment(
                session,
                name="webinar, no demo",
                rules={
                    "all": [
                        {"event": "Webinar Attended", "within_days": 30},
                        {"event": "Demo Requested", "never": True},
                    ]
                },
            )
        assert seg.member_count == 0 and seg.time_based
        feed(engine, ev("track", userId="b", event="Webinar Attended"))
        b = profile_of(engine, "b")
        with unit_of_work(engine) as session:
            members = set(
                session.execute(
                    select(SegmentMembership.profile_id).where(
                        SegmentMembership.segment_id == seg.id
                    )
                ).scalars()
            )
        assert members == {b.id}
        # a merges with b (alias): b's id is absorbed or survives; nobody is a ghost member
        feed(engine, ev("alias", userId="a", previousId="b"))
        with unit_of_work(engine) as session:
            process_stale(session)
            rows = session.execute(
                select(SegmentMembership.profile_id, Profile.merged_into)
                .join(Profile, Profile.id == SegmentMembership.profile_id)
                .where(SegmentMembership.segment_id == seg.id)
            ).all()
            changes = session.execute(
                select(SegmentChange.change, SegmentChange.cause)
                .where(SegmentChange.segment_id == seg.id)
                .order_by(SegmentChange.id)
            ).all()
        assert len(rows) == 1 and rows[0][1] is None  # the survivor only
        assert changes[0] == ("entered", "profile changed")
        # demo requested: exits
        feed(engine, ev("track", userId="a", event="Demo Requested"))
        with unit_of_work(engine) as session:
            left = session.execute(
                select(SegmentMembership).where(SegmentMembership.segment_id == seg.id)
            ).all()
        assert left == []

    def test_account_segments_and_key_accounts(self, engine: Engine) -> None:
        feed(
            engine,
            ev("group", userId="k1", groupId="big", traits={"name": "Big", "industry": "retail"}),
            ev(
                "identify",
                userId="k1",
                context={"groupId": "big"},
                traits={"email": "ceo@big.io", "job_title": "CEO"},
            ),
            ev("track", userId="k1", event="Order Completed", properties={"revenue": 9000}),
            ev("group", userId="k2", groupId="small", traits={"name": "Small"}),
            ev(
                "identify",
                userId="k2",
                context={"groupId": "small"},
                traits={"email": "cto@small.io", "job_title": "CTO"},
            ),
            ev("track", userId="k2", event="Order Completed", properties={"revenue": 1000}),
        )
        with unit_of_work(engine) as session:
            refresh_accounts(session, config=__import__("profiles.config").config.ProfilesConfig())
            seg = create_segment(
                session,
                name="decision makers at key accounts",
                rules={
                    "all": [
                        {"trait": "job_title", "op": "contains_any", "value": ["ceo", "cto"]},
                        {"account_computed": "key_account", "op": "eq", "value": True},
                    ]
                },
            )
            acc = create_segment(
                session,
                name="key accounts",
                level="account",
                rules={
                    "all": [
                        {"account_computed": "key_account", "op": "eq", "value": True},
                        {"contacts": {"trait": "job_title", "op": "eq", "value": "ceo"}},
                    ]
                },
            )
        assert seg.member_count == 1 and acc.member_count == 1
        with unit_of_work(engine) as session:
            lock_changes(session)
            from kindred.models import Segment

            again = session.get(Segment, seg.id)
            assert again is not None
            assert evaluate_segment(session, segment=again, cause="test") == (0, 0)


class TestJourney:
    def test_stage_attribution_and_filters(self, engine: Engine) -> None:
        feed(
            engine,
            ev(
                "page",
                userId="j",
                name="Blog",
                properties={"path": "/blog/x"},
                context={"campaign": {"name": "spring", "source": "google", "medium": "cpc"}},
                ago_days=20,
            ),
            ev(
                "page",
                userId="j",
                name="Pricing",
                properties={"path": "/pricing"},
                context={"campaign": {"name": "retarget", "source": "li"}},
                ago_days=10,
            ),
            ev("track", userId="j", event="Order Completed", ago_days=5),
            ev(
                "page",
                userId="j",
                name="Docs",
                properties={"path": "/docs"},
                context={"campaign": {"name": "late", "source": "x"}},
                ago_days=1,
            ),
        )
        pid = profile_of(engine, "j").id
        with unit_of_work(engine) as session:
            page = get_journey(session, profile_id=pid)
            stages = [i["stage"] for i in page.items if i["type"] != "identify"]
            assert stages == ["awareness", "consideration", "conversion", "service"]
            first = next(i for i in page.items if i["first_touch"])
            last = next(i for i in page.items if i["last_touch"])
            assert first["campaign"]["name"] == "spring"
            assert last["campaign"]["name"] == "retarget"  # last touch before the conversion
            only = get_journey(session, profile_id=pid, stage="consideration")
            assert [i["event"] for i in only.items] == ["Viewed Pricing"]
            recent = get_journey(session, profile_id=pid, since=NOW - timedelta(days=2))
            assert [i["event"] for i in recent.items] == ["Viewed Docs"]
