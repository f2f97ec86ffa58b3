"""Computed traits as plain functions: lifecycle, temperature, journey, complaints, consent,
golden-record survivorship."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from profiles.computed import TP, compute_all, journey, lifecycle
from profiles.config import ProfilesConfig, Survivorship
from profiles.traits import ConsentSignal, RecordTraits, derive_consent, golden_record

NOW = datetime(2026, 6, 1, tzinfo=UTC)
CFG = ProfilesConfig()


def tp(name: str, days_ago: float, *, kind: str = "track", **props: Any) -> TP:
    return TP(int(days_ago * 1000), NOW - timedelta(days=days_ago), "web", kind, name, "s", props)


def life(*tps: TP, traits: dict[str, Any] | None = None) -> str:
    out = lifecycle(
        CFG,
        traits=traits or {},
        touchpoints=sorted(tps, key=lambda t: t.occurred_at),
        now=NOW,
        stage_at=None,
        score=0,
    )
    return str(out["stage"])


class TestLifecycle:
    def test_states(self) -> None:
        assert life() == "new"
        assert life(tp("Demo Requested", 3)) == "prospect"
        assert life(traits={"lifecycle_stage": "opportunity"}) == "prospect"
        assert life(tp("Order Completed", 10)) == "active_customer"
        assert life(tp("Order Completed", 200)) == "lapsing"
        assert life(tp("Order Completed", 400)) == "inactive"
        assert life(tp("Order Completed", 500), tp("Order Completed", 5)) == "re_acquired"

    def test_expected_gap_follows_the_buying_rhythm(self) -> None:
        monthly = [tp("Order Completed", d) for d in (150, 120, 90, 60)]
        assert life(*monthly) == "lapsing"  # 60 days without an order, usually 30


class TestJourney:
    def test_furthest_stage_time_in_stage_and_stuck(self) -> None:
        out = journey(
            CFG,
            touchpoints=[
                tp("Viewed Blog", 120, kind="page", path="/blog"),
                tp("Demo Requested", 100),
            ],
            now=NOW,
        )
        assert out["stage"] == "consideration" and out["stuck"] is True
        assert out["days_in_stage"] == 100


class TestAllTogether:
    def test_complaint_closed_by_id_within_deadline_and_consent(self) -> None:
        tps = [
            tp("Complaint Submitted", 2, complaint_id="a", channel="email"),
            tp("Complaint Submitted", 1, complaint_id="b", channel="social"),
            tp("Complaint Resolved", 1.9, complaint_id="a"),
            tp("Email Marked as Spam", 0.5),
        ]
        out = compute_all(
            CFG,
            traits={},
            account=None,
            touchpoints=tps,
            consent_signals=[],
            lifecycle_stage_at=None,
            now=NOW,
        )
        cases = {c["id"]: c for c in out["complaints"]["cases"]}
        assert cases["a"]["status"] == "closed" and not cases["a"]["overdue"]
        assert cases["b"]["status"] == "open" and cases["b"]["overdue"]
        assert out["complaints"]["overdue"] == 1
        assert out["consent"]["email"]["granted"] is False
        assert out["temperature"]["value"] == "warm"
        assert out["churn_risk"] is None  # not a customer

    def test_lead_score_decays_with_time(self) -> None:
        def score(days: float) -> int:
            out = compute_all(
                CFG,
                traits={},
                account=None,
                touchpoints=[tp("Demo Requested", days)],
                consent_signals=[],
                lifecycle_stage_at=None,
                now=NOW,
            )
            return int(out["lead_score"]["score"])

        assert score(1) > score(60) > score(300)


class TestConsentAndGolden:
    def test_latest_signal_wins_and_withdrawal_wins_ties(self) -> None:
        out = derive_consent(
            [
                ConsentSignal("email", False, "2026-01-01", "event Unsubscribed", "sg"),
                ConsentSignal("email", True, "2026-02-01", "event Resubscribed", "sg"),
                ConsentSignal("sms", True, "2026-01-01", "trait", "crm"),
                ConsentSignal("sms", False, "2026-01-01", "trait", "crm"),
            ]
        )
        assert out["email"]["granted"] is True and out["sms"]["granted"] is False

    def test_recency_when_sources_rank_the_same(self) -> None:
        t = datetime(2026, 1, 1, tzinfo=UTC)
        recs = [
            RecordTraits(
                "web", "a", "web", {"Email": "old@x.io"}, {"Email": {"at": "2026-01-01"}}, t
            ),
            RecordTraits(
                "web", "b", "web", {"e-mail": "new@x.io"}, {"e-mail": {"at": "2026-03-01"}}, t
            ),
        ]
        traits, prov = golden_record(recs, survivorship=Survivorship(source_priority=[]))
        assert traits == {"email": "new@x.io"}
        assert prov["email"]["rule"] == "most_recent"
        assert prov["email"]["original_name"] == "e-mail"
