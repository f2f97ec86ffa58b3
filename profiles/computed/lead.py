"""The lead score: fit (who they are), behaviour (what they did, decaying) and recency."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from profiles.computed.touchpoints import TP, in_days, is_interaction, iso, matches, to_number
from profiles.config import FitRule, ProfilesConfig


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
    number = to_number(value)
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
            brule.points * 0.5 ** (max(0.0, in_days(now - tp.occurred_at)) / brule.half_life_days)
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
        age = in_days(now - last_interaction)
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
        "last_interaction_at": iso(last_interaction),
    }
