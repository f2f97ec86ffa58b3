"""Journey stages: the stage of one touchpoint, and the furthest stage a person reached."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from profiles.computed.touchpoints import TP, in_days, matches
from profiles.config import STAGES, ProfilesConfig


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
    days_in = in_days(now - entered)
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
