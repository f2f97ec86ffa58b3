"""Computed traits of one profile, as plain functions of its inputs (no database here).

Each trait explains itself: the value plus the reasons/inputs that produced it. The profiles
worker feeds these functions and stores the result in ``profiles.computed``.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections import Counter as Tally
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from profiles.config import (
    STAGES,
    ComplaintsConfig,
    Counter,
    FitRule,
    LifecycleConfig,
    Match,
    ProfilesConfig,
)
from profiles.traits import ConsentSignal, consent_signal_from_event, derive_consent

COMPUTED_VERSION = 1
#: email events that are something a sender did, not the person: not an interaction
PASSIVE_EVENTS = frozenset(
    {
        "email sent",
        "email delivered",
        "email deferred",
        "email dropped",
        "email bounced",
    }
)
PERSON_TYPES = frozenset({"track", "page", "screen"})


@dataclass(frozen=True)
class TP:
    """A touchpoint as the computations see it."""

    id: int
    occurred_at: datetime
    channel: str
    type: str
    name: str
    source: str
    properties: dict[str, Any] = field(default_factory=dict)
    campaign: dict[str, Any] = field(default_factory=dict)


def page_path(tp: TP) -> str:
    path = tp.properties.get("path")
    if isinstance(path, str) and path:
        return path
    url = tp.properties.get("url")
    if isinstance(url, str) and url:
        try:
            return urlsplit(url).path or "/"
        except ValueError:
            return ""
    return ""


def matches(match: Match, tp: TP) -> bool:
    if match.event is not None and tp.name.lower() not in {e.lower() for e in match.event}:
        return False
    if match.type is not None and tp.type != match.type:
        return False
    if match.channel is not None and tp.channel != match.channel:
        return False
    if match.path_prefix is not None:
        path = page_path(tp).lower()
        if not any(path.startswith(p.lower()) for p in match.path_prefix):
            return False
    if match.property:
        for key, want in match.property.items():
            got = tp.properties.get(key)
            if isinstance(want, str) and isinstance(got, str):
                if got.lower() != want.lower():
                    return False
            elif got != want:
                return False
    return True


def is_interaction(tp: TP) -> bool:
    return tp.type in PERSON_TYPES and tp.name.lower() not in PASSIVE_EVENTS


def _iso(ts: datetime | None) -> str | None:
    return ts.isoformat() if ts is not None else None


def _days(delta: timedelta) -> float:
    return delta.total_seconds() / 86400.0


def _num(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.replace(",", "").replace("_", "").strip())
        except ValueError:
            return None
    return None


# --------------------------------------------------------------------------- lead score


def _field_value(rule: FitRule, traits: dict[str, Any], account: dict[str, Any]) -> Any:
    scope, _, name = rule.field.partition(":")
    source = account if scope == "account" else traits
    return source.get(name)


def _fit_hit(rule: FitRule, value: Any) -> bool:
    if value is None or value == "":
        return False
    if rule.op in ("in", "eq"):
        options = rule.value if isinstance(rule.value, list) else [rule.value]
        text = str(value).strip().lower()
        return any(text == str(o).strip().lower() for o in options)
    if rule.op == "contains_any":
        text = str(value).lower()
        options = rule.value if isinstance(rule.value, list) else [rule.value]
        return any(str(o).lower() in text for o in options)
    number = _num(value)
    if number is None:
        return False
    if rule.op == "gte":
        return number >= float(rule.value)
    if rule.op == "lte":
        return number <= float(rule.value)
    lo, hi = rule.value
    return float(lo) <= number <= float(hi)


def lead_score(
    config: ProfilesConfig,
    *,
    traits: dict[str, Any],
    account: dict[str, Any],
    touchpoints: Sequence[TP],
    now: datetime,
) -> dict[str, Any]:
    cfg = config.lead_score
    breakdown: list[dict[str, Any]] = []
    fit = 0.0
    taken: set[str] = set()
    for rule in cfg.fit:
        value = _field_value(rule, traits, account)
        # one rule per field scores (e.g. decision maker beats influencer, listed first)
        if rule.field in taken or not _fit_hit(rule, value):
            continue
        taken.add(rule.field)
        fit += rule.points
        breakdown.append(
            {
                "kind": "fit",
                "rule": rule.name,
                "points": rule.points,
                "reason": f"{rule.field} = {value!r}",
            }
        )
    behaviour = 0.0
    for brule in cfg.behaviour:
        hits = [tp for tp in touchpoints if matches(brule.match, tp)]
        if not hits:
            continue
        raw = sum(
            brule.points * 0.5 ** (max(0.0, _days(now - tp.occurred_at)) / brule.half_life_days)
            for tp in hits
        )
        points = round(min(brule.max_points, raw), 2)
        if points <= 0:
            continue
        behaviour += points
        last = max(tp.occurred_at for tp in hits)
        breakdown.append(
            {
                "kind": "behaviour",
                "rule": brule.name,
                "points": points,
                "reason": f"{len(hits)} x, last {last.date().isoformat()} "
                f"(half-life {brule.half_life_days:g} d)",
            }
        )
    last_interaction = max(
        (tp.occurred_at for tp in touchpoints if is_interaction(tp)), default=None
    )
    recency = 0.0
    if last_interaction is not None:
        age = _days(now - last_interaction)
        for days, points in sorted(cfg.recency):
            if age <= days:
                recency = points
                breakdown.append(
                    {
                        "kind": "recency",
                        "rule": f"last interaction within {days:g} days",
                        "points": points,
                        "reason": f"last interaction {age:.0f} days ago",
                    }
                )
                break
    score = max(0, min(100, round(fit + behaviour + recency)))
    return {
        "score": score,
        "fit": round(fit, 2),
        "behaviour": round(behaviour + recency, 2),
        "sales_ready": score >= cfg.sales_ready_threshold,
        "breakdown": breakdown,
        "last_interaction_at": _iso(last_interaction),
    }


# --------------------------------------------------------------------------- lifecycle


def _purchases(
    cfg: LifecycleConfig, traits: dict[str, Any], touchpoints: Sequence[TP], stage_at: str | None
) -> tuple[list[datetime], str]:
    times = sorted(tp.occurred_at for tp in touchpoints if matches(cfg.purchase, tp))
    if times:
        return times, "purchase events"
    stage = str(traits.get("lifecycle_stage") or "").strip().lower().replace(" ", "")
    if stage in cfg.customer_stages and stage_at:
        try:
            return [datetime.fromisoformat(stage_at)], "CRM lifecycle stage customer"
        except ValueError:
            pass
    return [], ""


def lifecycle(
    config: ProfilesConfig,
    *,
    traits: dict[str, Any],
    touchpoints: Sequence[TP],
    now: datetime,
    stage_at: str | None,
    score: float,
) -> dict[str, Any]:
    cfg = config.lifecycle
    purchases, basis = _purchases(cfg, traits, touchpoints, stage_at)
    if not purchases:
        crm_stage = str(traits.get("lifecycle_stage") or "").strip().lower().replace(" ", "")
        intent = [tp for tp in touchpoints if matches(cfg.intent, tp)]
        if crm_stage in cfg.prospect_stages:
            return {"stage": "prospect", "reason": f"CRM lifecycle stage {crm_stage}", "orders": 0}
        if intent:
            last = max(tp.occurred_at for tp in intent)
            return {
                "stage": "prospect",
                "reason": f"buying intent: {intent[-1].name} on {last.date().isoformat()}",
                "orders": 0,
            }
        if score >= config.lead_score.warm_threshold:
            return {"stage": "prospect", "reason": f"lead score {score:g}", "orders": 0}
        return {"stage": "new", "reason": "never bought, no buying intent yet", "orders": 0}
    gaps = [_days(b - a) for a, b in itertools.pairwise(purchases)]
    threshold = float(cfg.lapsing_after_days)
    if gaps:
        threshold = min(threshold, max(30.0, 1.5 * statistics.median(gaps)))
    last = purchases[-1]
    since = _days(now - last)
    info: dict[str, Any] = {
        "orders": len(purchases),
        "first_purchase_at": _iso(purchases[0]),
        "last_purchase_at": _iso(last),
        "days_since_last_purchase": round(since, 1),
        "expected_gap_days": round(threshold, 1),
        "basis": basis,
    }
    if since > cfg.inactive_after_days:
        return {
            "stage": "inactive",
            "reason": f"no purchase for {since:.0f} days (> {cfg.inactive_after_days})",
            **info,
        }
    if since > threshold:
        return {
            "stage": "lapsing",
            "reason": f"no purchase for {since:.0f} days (expected within {threshold:.0f})",
            **info,
        }
    if gaps and gaps[-1] > threshold:
        return {
            "stage": "re_acquired",
            "reason": f"bought again after {gaps[-1]:.0f} days without a purchase",
            **info,
        }
    return {"stage": "active_customer", "reason": f"last purchase {since:.0f} days ago", **info}


def temperature(
    config: ProfilesConfig, *, life: dict[str, Any], touchpoints: Sequence[TP], score: float
) -> dict[str, Any]:
    """cold: does not know us yet; warm: knows us, not buying; hot: has bought at least once."""
    if life.get("orders", 0) > 0:
        return {"value": "hot", "reason": f"{life['orders']} purchase(s)"}
    engaged = [
        tp
        for tp in touchpoints
        if is_interaction(tp) and (tp.type != "page" or tp.channel != "web")
    ]
    if engaged:
        return {"value": "warm", "reason": f"{len(engaged)} interactions, e.g. {engaged[-1].name}"}
    if score >= config.lead_score.warm_threshold:
        return {"value": "warm", "reason": f"lead score {score:g}"}
    return {"value": "cold", "reason": "no purchase and no engagement beyond page views"}


# --------------------------------------------------------------------------- journey


def stage_of(config: ProfilesConfig, tp: TP) -> str | None:
    for rule in config.journey.rules:
        if matches(rule.match, tp):
            return rule.stage
    return None


def journey(config: ProfilesConfig, *, touchpoints: Sequence[TP], now: datetime) -> dict[str, Any]:
    reached: dict[str, str] = {}
    best = -1
    entered: datetime | None = None
    for tp in touchpoints:
        stage = stage_of(config, tp)
        if stage is None:
            continue
        reached.setdefault(stage, tp.occurred_at.isoformat())
        rank = STAGES.index(stage)
        if rank > best:
            best, entered = rank, tp.occurred_at
    if best < 0 or entered is None:
        return {"stage": None, "reason": "no touchpoint matches a stage rule"}
    stage = STAGES[best]
    days_in = _days(now - entered)
    limit = config.journey.stuck_after_days.get(stage)
    stuck = limit is not None and days_in > limit
    return {
        "stage": stage,
        "entered_at": entered.isoformat(),
        "days_in_stage": round(days_in, 1),
        "stuck": stuck,
        "stuck_after_days": limit,
        "reached": reached,
        "reason": f"furthest stage reached on {entered.date().isoformat()}"
        + (f"; in it for {days_in:.0f} days > {limit}" if stuck else ""),
    }


# --------------------------------------------------------------------------- complaints


def complaints(
    cfg: ComplaintsConfig, *, touchpoints: Sequence[TP], now: datetime
) -> dict[str, Any]:
    cases: list[dict[str, Any]] = []
    ratings: list[tuple[datetime, float, str]] = []
    for tp in touchpoints:
        if matches(cfg.open, tp):
            channel = str(tp.properties.get("channel") or tp.channel).lower()
            minutes = cfg.deadline_minutes.get(channel, cfg.default_deadline_minutes)
            cases.append(
                {
                    "id": str(tp.properties.get("complaint_id") or f"tp-{tp.id}"),
                    "channel": channel,
                    "type": tp.properties.get("type"),
                    "opened_at": tp.occurred_at,
                    "deadline_at": tp.occurred_at + timedelta(minutes=minutes),
                    "deadline_minutes": minutes,
                    "closed_at": None,
                }
            )
        elif matches(cfg.close, tp):
            ref = tp.properties.get("complaint_id")
            open_cases = [c for c in cases if c["closed_at"] is None]
            target = next((c for c in open_cases if ref and c["id"] == str(ref)), None)
            if target is None and not ref and open_cases:
                target = open_cases[0]
            if target is not None:
                target["closed_at"] = tp.occurred_at
        elif matches(cfg.survey, tp):
            rating = _num(tp.properties.get("rating", tp.properties.get("score")))
            if rating is not None:
                comment = tp.properties.get("comment")
                ratings.append((tp.occurred_at, rating, str(comment) if comment else ""))
    out_cases = []
    open_n = overdue_n = breached_n = 0
    for c in cases:
        end = c["closed_at"] or now
        late = end > c["deadline_at"]
        if c["closed_at"] is None:
            open_n += 1
            overdue_n += int(late)
        else:
            breached_n += int(late)
        out_cases.append(
            {
                **c,
                "opened_at": c["opened_at"].isoformat(),
                "deadline_at": c["deadline_at"].isoformat(),
                "closed_at": _iso(c["closed_at"]),
                "status": "open" if c["closed_at"] is None else "closed",
                "overdue": late,
                "response_minutes": round((c["closed_at"] - c["opened_at"]).total_seconds() / 60, 1)
                if c["closed_at"]
                else None,
            }
        )
    satisfaction: dict[str, Any] | None = None
    if ratings:
        last = ratings[-1]
        satisfaction = {
            "average": round(sum(r for _, r, _ in ratings) / len(ratings), 2),
            "count": len(ratings),
            "last_rating": last[1],
            "last_comment": last[2] or None,
            "last_at": last[0].isoformat(),
        }
    return {
        "total": len(cases),
        "open": open_n,
        "overdue": overdue_n,
        "breached": breached_n,
        "cases": out_cases[-10:],
        "satisfaction": satisfaction,
    }


# --------------------------------------------------------------------------- churn


REASON_TEXT = {
    "days_since_last_activity_per_30": "no activity for {raw:.0f} days",
    "activity_decline": "activity down {pct:.0f}% vs the previous 3 months",
    "purchase_overdue": "last purchase {raw:.0f} days ago",
    "open_complaints": "{raw:.0f} open complaint(s)",
    "overdue_complaints": "{raw:.0f} complaint(s) past their deadline",
    "low_satisfaction": "low satisfaction (average {raw:.1f}/5)",
}


def churn_risk(
    config: ProfilesConfig,
    *,
    life: dict[str, Any],
    cases: dict[str, Any],
    touchpoints: Sequence[TP],
    now: datetime,
) -> dict[str, Any] | None:
    """Probability that a customer stops within the horizon: a logistic score over activity
    decline, recency, overdue purchase, complaints and satisfaction; reasons = the largest
    contributions. None for people who never bought."""
    if not life.get("orders"):
        return None
    cfg = config.churn
    active = [tp.occurred_at for tp in touchpoints if is_interaction(tp)]
    last = max(active, default=None)
    days_idle = _days(now - last) if last else 365.0
    recent = sum(1 for t in active if _days(now - t) <= 30)
    before = sum(1 for t in active if 30 < _days(now - t) <= 120) / 3.0
    decline = max(0.0, 1.0 - recent / before) if before > 0 else 0.0
    since_purchase = float(life.get("days_since_last_purchase") or 0.0)
    expected = float(life.get("expected_gap_days") or config.lifecycle.lapsing_after_days)
    avg = (cases.get("satisfaction") or {}).get("average")
    raw = {
        "days_since_last_activity_per_30": days_idle,
        "activity_decline": decline,
        "purchase_overdue": since_purchase,
        "open_complaints": float(cases.get("open", 0)),
        "overdue_complaints": float(cases.get("overdue", 0)),
        "low_satisfaction": float(avg) if avg is not None else 0.0,
    }
    features = {
        "days_since_last_activity_per_30": min(12.0, days_idle / 30.0),
        "activity_decline": decline,
        "purchase_overdue": min(3.0, since_purchase / max(1.0, expected)),
        "open_complaints": min(3.0, raw["open_complaints"]),
        "overdue_complaints": min(3.0, raw["overdue_complaints"]),
        "low_satisfaction": 1.0 if avg is not None and avg <= 2 else 0.0,
    }
    z = cfg.intercept
    contributions: list[tuple[float, str]] = []
    for name, value in features.items():
        c = cfg.weights.get(name, 0.0) * value
        z += c
        if c > 0:
            contributions.append((c, name))
    probability = 1.0 / (1.0 + math.exp(-z))
    contributions.sort(reverse=True)
    reasons = [
        {
            "factor": name,
            "contribution": round(c, 3),
            "text": REASON_TEXT[name].format(raw=raw[name], pct=decline * 100),
        }
        for c, name in contributions[:3]
    ]
    level = "high" if probability >= 0.5 else "medium" if probability >= 0.2 else "low"
    return {
        "probability": round(probability, 3),
        "level": level,
        "horizon_days": cfg.horizon_days,
        "reasons": reasons,
        "features": {k: round(v, 3) for k, v in features.items()},
    }


# --------------------------------------------------------------------------- counters


def _counter(counter: Counter, touchpoints: Sequence[TP], now: datetime) -> Any:
    hits = [
        tp
        for tp in touchpoints
        if matches(counter.match, tp)
        and (counter.window_days is None or _days(now - tp.occurred_at) <= counter.window_days)
    ]
    if counter.agg == "count":
        return len(hits)
    if counter.agg == "sum":
        total = 0.0
        for tp in hits:
            value = _num(tp.properties.get(counter.property or "value"))
            total += value or 0.0
        return round(total, 2)
    if counter.agg == "most_frequent":
        prop = counter.property or "name"
        values = [
            getattr(tp, prop)
            if prop in ("name", "channel", "type", "source")
            else tp.properties.get(prop)
            for tp in hits
        ]
        tally = Tally(str(v) for v in values if v is not None and v != "")
        return tally.most_common(1)[0][0] if tally else None
    if not hits:
        return None
    chosen = hits[0] if counter.agg == "first" else hits[-1]
    return chosen.occurred_at.isoformat()


def counters(config: ProfilesConfig, *, touchpoints: Sequence[TP], now: datetime) -> dict[str, Any]:
    out: dict[str, Any] = {c.name: _counter(c, touchpoints, now) for c in config.counters}
    out["first_seen"] = _iso(touchpoints[0].occurred_at) if touchpoints else None
    out["last_seen"] = _iso(touchpoints[-1].occurred_at) if touchpoints else None
    out["touchpoints"] = len(touchpoints)
    return out


# --------------------------------------------------------------------------- all together


def compute_all(
    config: ProfilesConfig,
    *,
    traits: dict[str, Any],
    account: dict[str, Any] | None,
    touchpoints: Sequence[TP],
    consent_signals: Sequence[ConsentSignal],
    lifecycle_stage_at: str | None,
    now: datetime,
) -> dict[str, Any]:
    """Every computed trait of one profile. ``touchpoints`` must be in time order."""
    tps = sorted(touchpoints, key=lambda t: (t.occurred_at, t.id))
    score = lead_score(config, traits=traits, account=account or {}, touchpoints=tps, now=now)
    life = lifecycle(
        config,
        traits=traits,
        touchpoints=tps,
        now=now,
        stage_at=lifecycle_stage_at,
        score=score["score"],
    )
    cases = complaints(config.complaints, touchpoints=tps, now=now)
    signals = list(consent_signals)
    for tp in tps:
        if tp.type == "track":
            sig = consent_signal_from_event(tp.name, tp.occurred_at, tp.source, tp.properties)
            if sig is not None:
                signals.append(sig)
    return {
        "version": COMPUTED_VERSION,
        "computed_at": now.isoformat(),
        "lead_score": score,
        "temperature": temperature(config, life=life, touchpoints=tps, score=score["score"]),
        "lifecycle": life,
        "journey": journey(config, touchpoints=tps, now=now),
        "complaints": cases,
        "churn_risk": churn_risk(config, life=life, cases=cases, touchpoints=tps, now=now),
        "consent": derive_consent(signals, config=config.consent),
        "counters": counters(config, touchpoints=tps, now=now),
    }
