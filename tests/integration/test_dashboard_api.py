"""GET /v1/dashboard (figures aggregated in SQL) and the dead-letter API (/v1/dlq).

The dashboard's profiles are written with known ``computed`` sections into the test's own
database, so every figure can be checked exactly; the dead letters come from a real bad
batch posted to the collector."""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

import profiles.dashboard
from kindred.db import unit_of_work
from kindred.models import Profile
from profiles.dashboard import DashboardOut, dashboard, refresh_dashboard_snapshot
from profiles.worker import ProfilesWorker
from tests.helpers import basic, bearer, make_api_key, make_source

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


def _iso(days_ago: float) -> str:
    return (NOW - timedelta(days=days_ago)).isoformat()


def make_profile(
    engine: Engine,
    *,
    temperature: str | None = None,
    lifecycle: str | None = None,
    stage: str | None = None,
    in_stage_days: float = 1,
    last_interaction_days: float | None = None,
    cases: list[dict[str, Any]] | None = None,
    merged: bool = False,
) -> uuid.UUID:
    computed: dict[str, Any] = {}
    if temperature:
        computed["temperature"] = {"value": temperature}
    if lifecycle:
        computed["lifecycle"] = {"stage": lifecycle}
    if stage:
        computed["journey"] = {"stage": stage, "entered_at": _iso(in_stage_days)}
    if last_interaction_days is not None:
        computed["lead_score"] = {"last_interaction_at": _iso(last_interaction_days)}
    if cases is not None:
        computed["complaints"] = {"total": len(cases), "cases": cases}
    pid = uuid.uuid4()
    with unit_of_work(engine) as session:
        target = None
        if merged:
            target = uuid.uuid4()
            session.add(Profile(id=target, computed={}, stale=False))
            session.flush()
        session.add(Profile(id=pid, computed=computed, stale=False, merged_into=target))
    return pid


def case(
    channel: str, *, opened_hours: float, deadline_hours: float, closed_hours: float | None
) -> dict[str, Any]:
    return {
        "channel": channel,
        "opened_at": (NOW - timedelta(hours=opened_hours)).isoformat(),
        "deadline_at": (NOW - timedelta(hours=opened_hours - deadline_hours)).isoformat(),
        "closed_at": None
        if closed_hours is None
        else (NOW - timedelta(hours=closed_hours)).isoformat(),
        "status": "open" if closed_hours is None else "closed",
    }


class TestDashboardFigures:
    def test_every_figure_is_counted_in_sql(self, engine: Engine) -> None:
        # 3 warm, 2 hot, 1 cold: the healthy order
        for _ in range(3):
            make_profile(engine, temperature="warm", lifecycle="new", stage="awareness")
        # awareness: stuck after 90 days (default config)
        make_profile(
            engine,
            temperature="hot",
            lifecycle="active_customer",
            stage="awareness",
            in_stage_days=120,
            last_interaction_days=10,
        )
        make_profile(
            engine,
            temperature="hot",
            lifecycle="lapsing",
            stage="conversion",
            in_stage_days=61,
            last_interaction_days=60,
            cases=[
                case("phone", opened_hours=2, deadline_hours=5 / 60, closed_hours=None),
                case("email", opened_hours=30, deadline_hours=24, closed_hours=1),
                case("email", opened_hours=1, deadline_hours=24, closed_hours=None),
            ],
        )
        make_profile(engine, temperature="cold", lifecycle="inactive", last_interaction_days=200)
        make_profile(engine, temperature="cold", merged=True)  # merged away: not counted

        with unit_of_work(engine) as session:
            d = dashboard(session)

        assert d.profiles == 6 + 1  # the merge target (no computed) counts as a live profile
        t = {g.value: g.profiles for g in d.temperature.groups}
        assert t == {"warm": 3, "hot": 2, "cold": 1, None: 1}
        assert d.temperature.healthy and d.temperature.order == ["warm", "hot", "cold"]
        life = {g.value: g.profiles for g in d.lifecycle}
        assert life == {"new": 3, "active_customer": 1, "lapsing": 1, "inactive": 1, None: 1}
        assert d.activity.customers == 3
        assert (d.activity.active_30d, d.activity.active_90d) == (1, 2)
        assert d.activity.share_90d == round(2 / 3, 4)
        stages = {s.stage: (s.profiles, s.stuck) for s in d.journey}
        assert stages["awareness"] == (4, 1)
        assert stages["conversion"] == (1, 1)
        assert stages["consideration"] == (0, 0)
        assert [s.stage for s in d.journey][:5] == [
            "awareness",
            "consideration",
            "conversion",
            "service",
            "advocacy",
        ]
        complaints = {c.channel: c for c in d.complaints}
        assert (complaints["phone"].open, complaints["phone"].overdue) == (1, 1)
        assert complaints["phone"].deadline_minutes == 5
        assert (complaints["email"].open, complaints["email"].overdue) == (1, 0)
        assert complaints["email"].answered_late == 1
        assert complaints["social"].open == 0  # configured channels are listed without cases

    def test_an_unhealthy_base_is_called_out(self, engine: Engine) -> None:
        for _ in range(2):
            make_profile(engine, temperature="cold")
        make_profile(engine, temperature="warm")
        with unit_of_work(engine) as session:
            d = dashboard(session)
        assert not d.temperature.healthy
        assert d.temperature.order[0] == "cold"
        assert "not in the healthy order" in d.temperature.verdict

    def test_ingest_rate_and_pipeline_lag(self, engine: Engine) -> None:
        with unit_of_work(engine) as session:
            session.execute(
                text(
                    "INSERT INTO events (source, message_id, type, channel, occurred_at, "
                    "received_at, payload) SELECT 's', 'm' || g, 'track', 'web', now(), "
                    "now() - make_interval(mins => g % 90), '{}' FROM generate_series(1, 180) g"
                )
            )
            session.execute(
                text(
                    "INSERT INTO source_records (source, record_key, channel, first_seen, "
                    "last_seen, dirty, updated_at) VALUES ('s', 'k1', 'web', now(), now(), "
                    "true, now() - interval '10 minutes')"
                )
            )
        with unit_of_work(engine) as session:
            d = dashboard(session)
        # minutes 0..59 of every 90: 2 events each (g and g + 90) -> 120 in the last hour
        assert d.ingest.events_last_hour == 120
        assert d.ingest.per_minute == 2.0
        assert len(d.ingest.minutes) == 60 and sum(m.events for m in d.ingest.minutes) == 120
        assert not d.ingest.capped
        assert d.pipeline.unresolved_records == 1
        age = d.pipeline.oldest_unresolved_age_seconds
        assert age is not None and 590 < age < 700


class TestDashboardSnapshot:
    def test_a_slow_scan_is_served_from_the_workers_snapshot(
        self, engine: Engine, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        make_profile(engine, temperature="warm")
        with unit_of_work(engine) as session:
            assert dashboard(session).base_source == "live"  # no snapshot yet
        worker = ProfilesWorker(engine, publish=False, heartbeat=False)
        assert worker.refresh_dashboard() >= 60
        with unit_of_work(engine) as session:
            assert dashboard(session).base_source == "live"  # that scan was cheap: live
        # scans slower than the live budget are served from the snapshot
        monkeypatch.setattr(profiles.dashboard, "LIVE_BUDGET_MS", 0.0)
        make_profile(engine, temperature="cold")
        with unit_of_work(engine) as session:
            session.execute(
                text(
                    "INSERT INTO source_records (source, record_key, channel, first_seen, "
                    "last_seen, dirty, updated_at) VALUES ('s', 'k1', 'web', now(), now(), "
                    "true, now())"
                )
            )
        with unit_of_work(engine) as session:
            d = dashboard(session)
        assert d.base_source == "snapshot"
        assert d.profiles == 1 and d.temperature.groups[0].profiles == 1
        assert d.base_computed_at < d.generated_at
        assert d.pipeline.unresolved_records == 1  # the pipeline is always live
        worker.refresh_dashboard()
        with unit_of_work(engine) as session:
            d = dashboard(session)
        assert d.base_source == "snapshot" and d.profiles == 2
        assert [g.profiles for g in d.temperature.groups] == [1, 0, 1]


class TestDashboardHttp:
    def test_read_scope_and_response(self, server: str, engine: Engine) -> None:
        make_profile(engine, temperature="warm", lifecycle="new", stage="awareness")
        r = httpx.get(f"{server}/v1/dashboard", headers=bearer(make_api_key(engine, "read")))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["profiles"] == 1
        assert body["temperature"]["groups"][0] == {"value": "warm", "profiles": 1, "share": 1.0}
        assert set(body) >= {"lifecycle", "activity", "journey", "complaints", "ingest", "pipeline"}
        r = httpx.get(f"{server}/v1/dashboard", headers=bearer(make_api_key(engine, "write")))
        assert r.status_code == 403


class TestDeadLettersHttp:
    def test_a_rejected_item_is_listed_with_its_reason_and_replay_reports_it(
        self, server: str, engine: Engine
    ) -> None:
        name, write_key = make_source(engine, connector="web")
        admin = bearer(make_api_key(engine, "admin"))
        batch = {
            "batch": [
                {"type": "track", "userId": "u1", "event": "Signed Up"},
                {"type": "track", "userId": "u2"},  # no event name
            ]
        }
        r = httpx.post(f"{server}/v1/batch", json=batch, headers=basic(write_key))
        assert r.status_code == 200, r.text
        assert len(r.json()["rejected"]) == 1
        r = httpx.get(f"{server}/v1/dlq", params={"source": name}, headers=admin)
        assert r.status_code == 200, r.text
        letters = r.json()
        assert len(letters) == 1
        letter = letters[0]
        assert letter["source"] == name and letter["origin"] == "item"
        assert letter["reason"].startswith("item 1:")
        # still invalid: replay reports it with its reason, the letter stays unreplayed
        r = httpx.post(f"{server}/v1/dlq/{letter['id']}/replay", headers=admin)
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["replayed"] == 0 and out["still_invalid"][0]["id"] == letter["id"]
        r = httpx.post(f"{server}/v1/dlq/replay", params={"source": name}, headers=admin)
        assert r.status_code == 200 and r.json()["letters"] == 1
        assert httpx.post(f"{server}/v1/dlq/999999/replay", headers=admin).status_code == 404
        read = bearer(make_api_key(engine, "read"))
        assert httpx.get(f"{server}/v1/dlq", headers=read).status_code == 403


_FILL = """
INSERT INTO profiles (id, computed, stale, computed_at, stale_since)
SELECT gen_random_uuid(),
       jsonb_build_object(
           'temperature', jsonb_build_object(
               'value', (ARRAY['warm','warm','hot','cold'])[1 + i % 4], 'reason', 'x'),
           'lifecycle', jsonb_build_object(
               'stage', (ARRAY['prospect','new','active_customer','lapsing','inactive',
                               're_acquired'])[1 + i % 6]),
           'journey', jsonb_build_object(
               'stage', (ARRAY['awareness','consideration','conversion','service',
                               'advocacy'])[1 + i % 5],
               'entered_at', (now() - make_interval(days => i % 200))::text,
               'reached', jsonb_build_object('awareness', now()::text)),
           'lead_score', jsonb_build_object(
               'score', i % 100,
               'last_interaction_at', (now() - make_interval(days => i % 400))::text,
               'breakdown', jsonb_build_array(repeat(md5(i::text), 20))),
           'complaints', CASE WHEN i % 20 = 0 THEN jsonb_build_object(
               'total', 1, 'cases', jsonb_build_array(jsonb_build_object(
                   'channel', (ARRAY['phone','email','social'])[1 + i % 3],
                   'status', 'open',
                   'deadline_at', (now() - make_interval(hours => i % 48))::text)))
               ELSE jsonb_build_object('total', 0, 'cases', '[]'::jsonb) END),
       false, now(), NULL
FROM generate_series(1, :n) g(i)
"""


def _timed_dashboard(engine: Engine, times: int = 3) -> tuple[list[float], DashboardOut]:
    took = []
    for _ in range(times):
        started = time.monotonic()
        with unit_of_work(engine) as session:
            d = dashboard(session)
        took.append(time.monotonic() - started)
    return took, d


@pytest.mark.slow
@pytest.mark.parametrize(
    "size", [int(n) for n in os.environ.get("KINDRED_DASHBOARD_SIZES", "100000").split(",")]
)
def test_dashboard_time_at_size(engine: Engine, size: int) -> None:
    """`pytest -m slow -s`: how long the dashboard's queries take at ``size`` profiles
    (``KINDRED_DASHBOARD_SIZES=100000,1000000``), scanned live and served from the snapshot."""
    started = time.monotonic()
    with unit_of_work(engine) as session:
        session.execute(text(_FILL), {"n": size})
    with engine.connect() as conn:
        conn.execute(text("ANALYZE profiles"))
    fill_s = time.monotonic() - started
    took, d = _timed_dashboard(engine)
    with unit_of_work(engine) as session:
        scan_ms = refresh_dashboard_snapshot(session)
    served, snap = _timed_dashboard(engine)
    print(
        f"\ndashboard at {size:,} profiles: live {[round(t, 3) for t in took]} s, snapshot "
        f"scan {scan_ms:.0f} ms, served from it {[round(t, 3) for t in served]} s "
        f"(fill {fill_s:.0f} s)"
    )
    if scan_ms >= profiles.dashboard.LIVE_BUDGET_MS:
        assert snap.base_source == "snapshot" and snap.profiles == size
    assert d.profiles == size
    assert sum(g.profiles for g in d.temperature.groups) == size
    assert d.temperature.healthy is False  # warm 50%, hot 25%, cold 25%: hot and cold tie
    assert sum(c.open for c in d.complaints) == size // 20
    # a loose bound (2 shared cores): it catches a per-profile loop, not a slow machine
    assert min(took) < 5.0, took
