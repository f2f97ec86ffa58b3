"""Configuration of golden records, computed traits and segments: plain data with defaults.

Everything marketing may want to tune (source priority, lead-score rules, lifecycle windows,
journey-stage rules, complaint deadlines, churn weights, counters) is one JSON document per
section, stored in ``profiles_settings`` and validated here. What is not stored uses the
defaults below. ``load_config`` reads it once per unit of work; the worker passes it on.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from kindred.errors import Unprocessable
from kindred.models import ProfilesSetting

STAGES = ("awareness", "consideration", "conversion", "service", "advocacy")
CHANNELS = ("email", "sms", "ads")
# Job-title words that mark a decision maker: the lead score's fit rule and the demo's
# "decision makers" segment both use this one list.
DECISION_MAKER_TITLES = (
    "chief",
    "ceo",
    "cto",
    "cmo",
    "cfo",
    "vp",
    "vice president",
    "head",
    "director",
    "founder",
    "owner",
    "managing",
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Match(_Frozen):
    """Which touchpoints a rule is about. Every given field must match (case-insensitive)."""

    event: list[str] | None = None  # touchpoint names (track event names, "Viewed <title>")
    type: str | None = None  # track | page | identify | ...
    channel: str | None = None  # web | email | crm | ads
    path_prefix: list[str] | None = None  # page path (properties.path or the URL's path)
    property: dict[str, Any] | None = None  # properties that must equal these values


class Survivorship(_Frozen):
    #: sources (by name, or by channel) in order of trust; unlisted sources come last
    source_priority: list[str] = ["crm", "web", "ads", "email"]
    #: per-trait overrides of the order, e.g. {"job_title": ["crm"]}
    trait_priority: dict[str, list[str]] = {}


class FitRule(_Frozen):
    name: str
    #: ``trait:NAME`` (golden record) or ``account:NAME`` (the account's traits)
    field: str
    op: Literal["in", "eq", "gte", "lte", "between", "contains_any"]
    value: Any
    points: float


class BehaviourRule(_Frozen):
    name: str
    match: Match
    points: float  # per matching touchpoint, before decay
    max_points: float
    half_life_days: float = 30.0


class LeadScoreConfig(_Frozen):
    fit: list[FitRule]
    behaviour: list[BehaviourRule]
    #: [days, points]: points for the most recent interaction, first bracket that fits
    recency: list[tuple[float, float]] = [(7, 15), (30, 10), (90, 5)]
    sales_ready_threshold: float = 60
    warm_threshold: float = 25


class LifecycleConfig(_Frozen):
    purchase: Match = Match(event=["Order Completed", "Deal Won", "Closed Won", "Opportunity Won"])
    #: CRM lifecycle stages that mean "customer" (trait ``lifecycle_stage``)
    customer_stages: list[str] = ["customer", "evangelist"]
    prospect_stages: list[str] = [
        "lead",
        "marketingqualifiedlead",
        "salesqualifiedlead",
        "opportunity",
        "mql",
        "sql",
    ]
    intent: Match = Match(
        event=["Demo Requested", "Trial Started", "Lead Form Submitted", "Viewed Pricing"]
    )
    lapsing_after_days: int = 180
    inactive_after_days: int = 365


class StageRule(_Frozen):
    match: Match
    stage: Literal["awareness", "consideration", "conversion", "service", "advocacy"]


class JourneyConfig(_Frozen):
    rules: list[StageRule]
    #: a profile is "stuck" when it stayed in a stage longer than this (days)
    stuck_after_days: dict[str, int] = {"awareness": 90, "consideration": 45, "conversion": 60}


class ComplaintsConfig(_Frozen):
    open: Match = Match(event=["Complaint Submitted"])
    close: Match = Match(
        event=["Complaint Resolved", "Complaint Responded", "Ticket Solved", "Ticket Replied"]
    )
    survey: Match = Match(event=["Survey Submitted", "NPS Submitted", "CSAT Submitted"])
    #: response deadline per complaint channel, minutes
    deadline_minutes: dict[str, int] = {
        "phone": 5,
        "chat": 5,
        "messenger": 60,
        "social": 60,
        "email": 1440,
        "web": 1440,
    }
    default_deadline_minutes: int = 1440


class ChurnConfig(_Frozen):
    """Logistic score: p = 1 / (1 + exp(-(intercept + sum(weight * feature))))."""

    intercept: float = -3.0
    weights: dict[str, float] = {
        "days_since_last_activity_per_30": 0.45,
        "activity_decline": 1.2,  # 1 - (last 30 days / average 30 days of the 90 before)
        "purchase_overdue": 1.0,  # days since last purchase / lapsing window
        "open_complaints": 0.8,
        "overdue_complaints": 0.7,
        "low_satisfaction": 1.0,  # average rating <= 2 of 5
    }
    horizon_days: int = 90


class Counter(_Frozen):
    name: str
    match: Match = Match()
    window_days: int | None = None
    agg: Literal["count", "sum", "most_frequent", "first", "last"] = "count"
    property: str | None = None  # for sum / most_frequent (``name`` for the event name)


class AccountsConfig(_Frozen):
    engaged_days: int = 90
    key_account_revenue_share: float = 0.8


class ScheduleConfig(_Frozen):
    #: computed traits older than this are recomputed (recency decays without events)
    recompute_after_seconds: int = 3600
    #: time-based segments are fully re-evaluated this often
    segment_refresh_seconds: int = 60
    #: every segment is fully re-evaluated at least this often (safety net)
    full_refresh_seconds: int = 3600
    accounts_refresh_seconds: int = 300
    #: the dashboard's figures about the base are recomputed this often (at least ten times
    #: what one computation takes, so it never costs more than a tenth of a connection)
    dashboard_refresh_seconds: int = 60


class ConsentConfig(_Frozen):
    #: consent when nothing was said: "granted" (opt-out regimes) or "denied" (opt-in)
    default: Literal["granted", "denied"] = "granted"


class ProfilesConfig(_Frozen):
    survivorship: Survivorship = Survivorship()
    lead_score: LeadScoreConfig = Field(default_factory=lambda: _default_lead_score())
    lifecycle: LifecycleConfig = LifecycleConfig()
    journey: JourneyConfig = Field(default_factory=lambda: _default_journey())
    complaints: ComplaintsConfig = ComplaintsConfig()
    churn: ChurnConfig = ChurnConfig()
    counters: list[Counter] = Field(default_factory=lambda: _default_counters())
    accounts: AccountsConfig = AccountsConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    consent: ConsentConfig = ConsentConfig()


DEFAULT_LEAD_SCORE = LeadScoreConfig(
    fit=[
        FitRule(
            name="target industry",
            field="account:industry",
            op="in",
            value=["manufacturing", "logistics", "retail", "software", "healthcare"],
            points=15,
        ),
        FitRule(
            name="company size 50-5000",
            field="account:employees",
            op="between",
            value=[50, 5000],
            points=15,
        ),
        FitRule(
            name="annual revenue >= 10M",
            field="account:annual_revenue",
            op="gte",
            value=10_000_000,
            points=10,
        ),
        FitRule(
            name="decision maker title",
            field="trait:job_title",
            op="contains_any",
            value=list(DECISION_MAKER_TITLES),
            points=15,
        ),
        FitRule(
            name="influencer title",
            field="trait:job_title",
            op="contains_any",
            value=["manager", "lead"],
            points=7,
        ),
        FitRule(
            name="target region",
            field="trait:country",
            op="in",
            value=["us", "united states", "usa", "gb", "uk", "united kingdom", "de", "germany"],
            points=5,
        ),
    ],
    behaviour=[
        BehaviourRule(
            name="pricing page views",
            match=Match(type="page", path_prefix=["/pricing"]),
            points=5,
            max_points=15,
        ),
        BehaviourRule(
            name="demo",
            match=Match(event=["Demo Requested"], path_prefix=None),
            points=20,
            max_points=20,
            half_life_days=45,
        ),
        BehaviourRule(
            name="downloads",
            match=Match(event=["Whitepaper Downloaded", "Report Downloaded"]),
            points=8,
            max_points=16,
        ),
        BehaviourRule(
            name="webinar attendance",
            match=Match(event=["Webinar Attended"]),
            points=10,
            max_points=20,
            half_life_days=60,
        ),
        BehaviourRule(
            name="email engagement",
            match=Match(event=["Email Opened", "Email Link Clicked"]),
            points=1,
            max_points=10,
            half_life_days=21,
        ),
        BehaviourRule(
            name="trial / signup",
            match=Match(event=["Trial Started", "Signed Up"]),
            points=10,
            max_points=10,
            half_life_days=45,
        ),
    ],
)

DEFAULT_JOURNEY = JourneyConfig(
    rules=[
        StageRule(
            match=Match(event=["Review Submitted", "Referral Sent", "Referral Made"]),
            stage="advocacy",
        ),
        StageRule(
            match=Match(
                event=[
                    "Complaint Submitted",
                    "Complaint Resolved",
                    "Survey Submitted",
                    "Ticket Created",
                    "Onboarding Started",
                ]
            ),
            stage="service",
        ),
        StageRule(
            match=Match(type="page", path_prefix=["/support", "/docs", "/account"]), stage="service"
        ),
        StageRule(
            match=Match(event=["Order Completed", "Deal Won", "Closed Won"]), stage="conversion"
        ),
        StageRule(match=Match(type="page", path_prefix=["/checkout"]), stage="conversion"),
        StageRule(
            match=Match(
                event=[
                    "Demo Requested",
                    "Trial Started",
                    "Signed Up",
                    "Webinar Attended",
                    "Webinar Registered",
                    "Whitepaper Downloaded",
                    "Lead Form Submitted",
                ]
            ),
            stage="consideration",
        ),
        StageRule(
            match=Match(
                type="page",
                path_prefix=[
                    "/pricing",
                    "/case-studies",
                    "/demo",
                    "/product",
                    "/webinars",
                    "/whitepapers",
                ],
            ),
            stage="consideration",
        ),
        StageRule(match=Match(type="page"), stage="awareness"),
        StageRule(match=Match(channel="email"), stage="awareness"),
        StageRule(match=Match(channel="ads"), stage="awareness"),
    ]
)

DEFAULT_COUNTERS = (
    Counter(name="events_7d", window_days=7),
    Counter(name="events_30d", window_days=30),
    Counter(name="events_90d", window_days=90),
    Counter(name="page_views_30d", match=Match(type="page"), window_days=30),
    Counter(name="email_opens_90d", match=Match(event=["Email Opened"]), window_days=90),
    Counter(name="email_clicks_90d", match=Match(event=["Email Link Clicked"]), window_days=90),
    Counter(name="downloads", match=Match(event=["Whitepaper Downloaded", "Report Downloaded"])),
    Counter(name="webinars_attended", match=Match(event=["Webinar Attended"])),
    Counter(name="orders", match=Match(event=["Order Completed"])),
    Counter(
        name="revenue_total", match=Match(event=["Order Completed"]), agg="sum", property="revenue"
    ),
    Counter(name="top_event_90d", window_days=90, agg="most_frequent", property="name"),
    Counter(name="top_channel", agg="most_frequent", property="channel"),
    Counter(name="first_order_at", match=Match(event=["Order Completed"]), agg="first"),
    Counter(name="last_order_at", match=Match(event=["Order Completed"]), agg="last"),
)

SECTIONS = tuple(ProfilesConfig.model_fields)


def _default_lead_score() -> LeadScoreConfig:
    return DEFAULT_LEAD_SCORE


def _default_journey() -> JourneyConfig:
    return DEFAULT_JOURNEY


def _default_counters() -> list[Counter]:
    return list(DEFAULT_COUNTERS)


def load_config(session: Session) -> ProfilesConfig:
    """Stored sections over the defaults. A stored section that no longer validates is an
    operator error: it is reported, not silently ignored."""
    stored: dict[str, Any] = dict(
        session.execute(select(ProfilesSetting.name, ProfilesSetting.value)).tuples().all()
    )
    if not stored:
        return ProfilesConfig()
    return parse_config({k: v for k, v in stored.items() if k in SECTIONS})


def parse_config(data: dict[str, Any]) -> ProfilesConfig:
    try:
        return ProfilesConfig.model_validate(data)
    except ValidationError as err:
        problems = [
            {"path": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in err.errors()
        ]
        raise Unprocessable(
            "invalid profiles configuration: "
            + "; ".join(f"{p['path']}: {p['message']}" for p in problems),
            details=problems,
        ) from err


def save_config(session: Session, *, sections: dict[str, Any]) -> ProfilesConfig:
    """Validate and store whole sections (every problem reported at once)."""
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        raise Unprocessable(
            f"unknown configuration sections {unknown}; known: {list(SECTIONS)}",
            details=[{"path": u, "message": "unknown section"} for u in unknown],
        )
    current = load_config(session).model_dump(mode="json")
    current.update(sections)
    config = parse_config(current)
    for name in sections:
        dumped = config.model_dump(mode="json")[name]
        session.execute(
            pg_insert(ProfilesSetting)
            .values(name=name, value=dumped)
            .on_conflict_do_update(index_elements=[ProfilesSetting.name], set_={"value": dumped})
        )
    session.flush()
    return config
