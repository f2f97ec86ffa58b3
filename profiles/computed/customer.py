"""Lifecycle (new, prospect, active, lapsing, inactive, re-acquired) and temperature."""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from profiles.computed.touchpoints import TP, in_days, is_interaction, iso, matches
from profiles.config import LifecycleConfig, ProfilesConfig


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
    gaps = [in_days(b - a) for a, b in itertools.pairwise(purchases)]
    threshold = float(cfg.lapsing_after_days)
    if gaps:
        threshold = min(threshold, max(30.0, 1.5 * statistics.median(gaps)))
    last = purchases[-1]
    since = in_days(now - last)
    info: dict[str, Any] = {
        "orders": len(purchases),
        "first_purchase_at": iso(purchases[0]),
        "last_purchase_at": iso(last),
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
