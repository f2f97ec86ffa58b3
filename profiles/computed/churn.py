"""Churn risk of a customer: a logistic score whose largest contributions are the reasons."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from profiles.computed.touchpoints import TP, in_days, is_interaction
from profiles.config import ProfilesConfig

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
    days_idle = in_days(now - last) if last else 365.0
    recent = sum(1 for t in active if in_days(now - t) <= 30)
    before = sum(1 for t in active if 30 < in_days(now - t) <= 120) / 3.0
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
