"""The dashboard's figures (``GET /v1/dashboard``): the health of the base and of the pipeline.

Everything is aggregated in SQL, in one transaction: one scan of the live profiles answers
temperature, lifecycle, activity and the journey funnel (``GROUPING SETS``), one more reads the
complaint cases; the pipeline figures come from partial indexes (dirty records, stale
profiles) and the newest events. No Python loop over profiles, so it stays fast at 1M.

"Stuck" is judged now, not when the profile was computed: a profile is stuck when it has been
in its (furthest) journey stage longer than ``journey.stuck_after_days`` of the config.
Complaints past their deadline are the open cases whose channel deadline
(``complaints.deadline_minutes``) has passed now; the profile keeps its last 10 cases.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import func, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from kindred.models import DashboardSnapshot
from profiles.config import STAGES, ProfilesConfig, load_config

__all__ = ["DashboardOut", "dashboard", "refresh_dashboard_snapshot"]

TEMPERATURES = ("warm", "hot", "cold")  # the healthy order
LIFECYCLE = ("prospect", "new", "active_customer", "re_acquired", "lapsing", "inactive")
CUSTOMER_STAGES = ("active_customer", "re_acquired", "lapsing", "inactive")
#: the ingest rate reads at most this many of the newest events (``events`` has no index on
#: ``received_at``; ids grow with it): beyond that the last hour's count is a lower bound
RATE_SCAN_CAP = 200_000


class Group(BaseModel):
    #: the value (``None``: not computed yet)
    value: str | None
    profiles: int
    share: float = Field(description="of the live profiles, 0..1")


class TemperatureOut(BaseModel):
    groups: list[Group] = Field(description="warm, hot, cold (the healthy order), then unknown")
    #: the three temperatures from the largest to the smallest group
    order: list[str]
    healthy: bool = Field(description="warm > hot > cold, as a healthy base is")
    verdict: str


class ActivityOut(BaseModel):
    customers: int = Field(description="live profiles in a customer lifecycle stage")
    active_30d: int
    active_90d: int
    share_30d: float
    share_90d: float


class StageOut(BaseModel):
    stage: str | None
    profiles: int
    stuck: int = Field(description="in the stage for longer than stuck_after_days, now")
    stuck_after_days: int | None


class ComplaintChannelOut(BaseModel):
    channel: str
    deadline_minutes: int
    open: int
    overdue: int = Field(description="open and past the channel's deadline now")
    answered_late: int = Field(description="closed after the deadline")


class MinuteOut(BaseModel):
    minute: datetime
    events: int


class IngestOut(BaseModel):
    events_last_hour: int
    per_minute: float = Field(description="events stored per minute over the last hour")
    capped: bool = Field(description="more events than the scan reads: a lower bound")
    minutes: list[MinuteOut] = Field(description="the last 60 minutes, oldest first")


class PipelineOut(BaseModel):
    unresolved_records: int = Field(description="source and account records awaiting identity")
    oldest_unresolved_age_seconds: float | None
    stale_profiles: int = Field(description="profiles awaiting the profiles worker")
    oldest_stale_age_seconds: float | None
    dead_letters_pending: int


class BaseFigures(BaseModel):
    """The figures about the base: one scan of the live profiles (and their complaints)."""

    profiles: int = Field(description="live profiles (not merged away, not deleted)")
    temperature: TemperatureOut
    lifecycle: list[Group]
    activity: ActivityOut
    journey: list[StageOut] = Field(description="awareness to advocacy, then no stage")
    complaints: list[ComplaintChannelOut]


class DashboardOut(BaseFigures):
    generated_at: datetime
    base_computed_at: datetime = Field(
        description="when the figures about the base (profiles to complaints) were computed: "
        "now, or by the profiles worker when scanning every profile per request is too slow"
    )
    base_source: Literal["live", "snapshot"]
    ingest: IngestOut
    pipeline: PipelineOut


_PROFILES_SQL = """
WITH p AS (
    SELECT computed->'temperature'->>'value' AS temp,
           computed->'lifecycle'->>'stage' AS life,
           computed->'journey'->>'stage' AS stage,
           kindred_ts(computed->'journey'->>'entered_at') AS entered,
           kindred_ts(computed->'lead_score'->>'last_interaction_at') AS last_at
    FROM profiles
    WHERE merged_into IS NULL AND NOT deleted
)
SELECT GROUPING(temp) AS g_temp, GROUPING(life) AS g_life, GROUPING(stage) AS g_stage,
       temp, life, stage, count(*) AS n,
       count(*) FILTER (
           WHERE now() - entered > make_interval(days => (CAST(:stuck AS jsonb) ->> stage)::int)
       ) AS stuck,
       count(*) FILTER (WHERE life = ANY(:customer)) AS customers,
       count(*) FILTER (
           WHERE life = ANY(:customer) AND last_at >= now() - interval '30 days'
       ) AS active_30d,
       count(*) FILTER (
           WHERE life = ANY(:customer) AND last_at >= now() - interval '90 days'
       ) AS active_90d
FROM p
GROUP BY GROUPING SETS ((temp), (life), (stage), ())
"""

_COMPLAINTS_SQL = """
SELECT lower(c->>'channel') AS channel,
       count(*) FILTER (WHERE c->>'status' = 'open') AS open,
       count(*) FILTER (
           WHERE c->>'status' = 'open' AND kindred_ts(c->>'deadline_at') < now()
       ) AS overdue,
       count(*) FILTER (
           WHERE c->>'status' = 'closed'
             AND kindred_ts(c->>'closed_at') > kindred_ts(c->>'deadline_at')
       ) AS answered_late
FROM profiles p
CROSS JOIN LATERAL jsonb_array_elements(
    CASE WHEN jsonb_typeof(p.computed->'complaints'->'cases') = 'array'
         THEN p.computed->'complaints'->'cases' ELSE '[]'::jsonb END
) AS c
WHERE p.merged_into IS NULL AND NOT p.deleted
  AND (p.computed->'complaints'->>'total') IS DISTINCT FROM '0'
GROUP BY 1
ORDER BY 1
"""

_INGEST_SQL = """
WITH recent AS (
    SELECT received_at FROM events ORDER BY id DESC LIMIT :cap
)
SELECT date_trunc('minute', received_at) AS minute, count(*) AS n,
       (SELECT count(*) FROM recent) AS scanned
FROM recent
WHERE received_at >= now() - interval '1 hour'
GROUP BY 1
"""

_PIPELINE_SQL = """
SELECT
    (SELECT count(*) FROM source_records WHERE dirty)
        + (SELECT count(*) FROM account_records WHERE dirty) AS unresolved,
    extract(epoch FROM now() - least(
        (SELECT min(updated_at) FROM source_records WHERE dirty),
        (SELECT min(updated_at) FROM account_records WHERE dirty))) AS unresolved_age,
    (SELECT count(*) FROM profiles WHERE stale) AS stale,
    extract(epoch FROM now() - (SELECT min(stale_since) FROM profiles WHERE stale)) AS stale_age,
    (SELECT count(*) FROM dead_letters WHERE replayed_at IS NULL) AS letters
"""


def _share(n: int, total: int) -> float:
    return round(n / total, 4) if total else 0.0


def _temperature(counts: dict[str | None, int], total: int) -> TemperatureOut:
    groups = [
        Group(value=t, profiles=counts.get(t, 0), share=_share(counts.get(t, 0), total))
        for t in TEMPERATURES
    ]
    others = sum(n for v, n in counts.items() if v not in TEMPERATURES)
    if others:
        groups.append(Group(value=None, profiles=others, share=_share(others, total)))
    # stable sort: ties keep the healthy order, so a tie is not called a breach by itself
    order = sorted(TEMPERATURES, key=lambda t: -counts.get(t, 0))
    warm, hot, cold = (counts.get(t, 0) for t in TEMPERATURES)
    healthy = warm > hot > cold
    if not total:
        verdict = "no profiles yet"
    elif healthy:
        verdict = "healthy: warm first, hot second, cold third"
    else:
        verdict = f"not in the healthy order (warm > hot > cold): {' > '.join(order)}"
    return TemperatureOut(groups=groups, order=order, healthy=healthy, verdict=verdict)


def _profile_figures(
    session: Session, config: ProfilesConfig
) -> tuple[int, TemperatureOut, list[Group], ActivityOut, list[StageOut]]:
    stuck_after = config.journey.stuck_after_days
    rows = session.execute(
        text(_PROFILES_SQL),
        {"stuck": json.dumps(stuck_after), "customer": list(CUSTOMER_STAGES)},
    ).mappings()
    temps: dict[str | None, int] = {}
    lives: dict[str | None, int] = {}
    stages: dict[str | None, tuple[int, int]] = {}
    total = customers = active_30 = active_90 = 0
    for r in rows:  # at most a few dozen groups
        if r["g_temp"] and r["g_life"] and r["g_stage"]:
            total, customers = int(r["n"]), int(r["customers"])
            active_30, active_90 = int(r["active_30d"]), int(r["active_90d"])
        elif not r["g_temp"]:
            temps[r["temp"]] = int(r["n"])
        elif not r["g_life"]:
            lives[r["life"]] = int(r["n"])
        else:
            stages[r["stage"]] = (int(r["n"]), int(r["stuck"]))
    known = [v for v in LIFECYCLE if v in lives] + sorted(
        v for v in lives if v is not None and v not in LIFECYCLE
    )
    lifecycle = [Group(value=v, profiles=lives[v], share=_share(lives[v], total)) for v in known]
    if None in lives:
        lifecycle.append(Group(value=None, profiles=lives[None], share=_share(lives[None], total)))
    journey = [
        StageOut(
            stage=s,
            profiles=stages.get(s, (0, 0))[0],
            stuck=stages.get(s, (0, 0))[1],
            stuck_after_days=stuck_after.get(s),
        )
        for s in STAGES
    ]
    if None in stages:
        journey.append(
            StageOut(stage=None, profiles=stages[None][0], stuck=0, stuck_after_days=None)
        )
    activity = ActivityOut(
        customers=customers,
        active_30d=active_30,
        active_90d=active_90,
        share_30d=_share(active_30, customers),
        share_90d=_share(active_90, customers),
    )
    return total, _temperature(temps, total), lifecycle, activity, journey


def _complaints(session: Session, config: ProfilesConfig) -> list[ComplaintChannelOut]:
    cfg = config.complaints
    seen = {
        str(r["channel"] or "unknown"): r for r in session.execute(text(_COMPLAINTS_SQL)).mappings()
    }
    # every channel with a configured deadline, even without complaints, then any other
    channels = list(cfg.deadline_minutes) + sorted(c for c in seen if c not in cfg.deadline_minutes)
    out = []
    for ch in channels:
        r = seen.get(ch)
        out.append(
            ComplaintChannelOut(
                channel=ch,
                deadline_minutes=cfg.deadline_minutes.get(ch, cfg.default_deadline_minutes),
                open=int(r["open"]) if r else 0,
                overdue=int(r["overdue"]) if r else 0,
                answered_late=int(r["answered_late"]) if r else 0,
            )
        )
    return out


def _ingest(session: Session, now: datetime) -> IngestOut:
    rows = session.execute(text(_INGEST_SQL), {"cap": RATE_SCAN_CAP}).all()
    counts = {m: int(n) for m, n, _ in rows}
    scanned = int(rows[0][2]) if rows else 0
    last = sum(counts.values())
    start = now.replace(second=0, microsecond=0)
    minutes = []
    for back in range(59, -1, -1):
        minute = datetime.fromtimestamp(start.timestamp() - back * 60, UTC)
        minutes.append(MinuteOut(minute=minute, events=counts.get(minute, 0)))
    return IngestOut(
        events_last_hour=last,
        per_minute=round(last / 60, 2),
        capped=scanned >= RATE_SCAN_CAP and last >= scanned,
        minutes=minutes,
    )


def _pipeline(session: Session) -> PipelineOut:
    r = session.execute(text(_PIPELINE_SQL)).one()
    return PipelineOut(
        unresolved_records=int(r.unresolved),
        oldest_unresolved_age_seconds=None if r.unresolved_age is None else float(r.unresolved_age),
        stale_profiles=int(r.stale),
        oldest_stale_age_seconds=None if r.stale_age is None else float(r.stale_age),
        dead_letters_pending=int(r.letters),
    )


#: a scan of the base that took less than this is done per request (the figures are live);
#: beyond it the API serves the profiles worker's snapshot
LIVE_BUDGET_MS = 250.0
SNAPSHOT = "base"


def _now(session: Session) -> datetime:
    value: Any = session.execute(text("SELECT now()")).scalar_one()
    return value if isinstance(value, datetime) else datetime.now(UTC)


def base_figures(session: Session, config: ProfilesConfig) -> BaseFigures:
    """One scan of the live profiles: temperature, lifecycle, activity, journey, complaints."""
    total, temperature, lifecycle, activity, journey = _profile_figures(session, config)
    return BaseFigures(
        profiles=total,
        temperature=temperature,
        lifecycle=lifecycle,
        activity=activity,
        journey=journey,
        complaints=_complaints(session, config),
    )


def refresh_dashboard_snapshot(session: Session, config: ProfilesConfig | None = None) -> float:
    """Compute the base's figures and store them as the snapshot (the profiles worker's
    job); returns what the scan took, in ms. The caller commits."""
    started = time.perf_counter()
    figures = base_figures(session, config or load_config(session))
    took_ms = round((time.perf_counter() - started) * 1000, 1)
    values: dict[str, Any] = {
        "figures": figures.model_dump(mode="json"),
        "computed_at": func.now(),
        "took_ms": took_ms,
    }
    session.execute(
        pg_insert(DashboardSnapshot)
        .values(name=SNAPSHOT, **values)
        .on_conflict_do_update(index_elements=["name"], set_=values)
    )
    return took_ms


def _stored_figures(session: Session) -> tuple[BaseFigures, datetime] | None:
    """The snapshot's figures and when they were computed, when scanning per request is too
    slow (the last scan took ``LIVE_BUDGET_MS`` or more) and the stored figures are readable
    (a snapshot stored by an older version is not)."""
    snapshot = session.get(DashboardSnapshot, SNAPSHOT)
    if snapshot is None or snapshot.took_ms < LIVE_BUDGET_MS:
        return None
    try:
        return BaseFigures.model_validate(snapshot.figures), snapshot.computed_at
    except ValueError:
        return None


def dashboard(session: Session) -> DashboardOut:
    """Every figure of the dashboard, read in the session's one transaction. The figures
    about the base are computed now while that is cheap (the last scan took less than
    ``LIVE_BUDGET_MS``, or none was stored yet), else read from the profiles worker's
    snapshot (``base_computed_at`` says when); ingest and pipeline figures are always live."""
    now = _now(session)
    stored = _stored_figures(session)
    if stored is None:
        base, computed_at = base_figures(session, load_config(session)), now
    else:
        base, computed_at = stored
    return DashboardOut(
        generated_at=now,
        base_computed_at=computed_at,
        base_source="live" if stored is None else "snapshot",
        **dict(base),
        ingest=_ingest(session, now),
        pipeline=_pipeline(session),
    )
