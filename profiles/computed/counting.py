"""Configured counters over touchpoints (count, sum, most frequent, first, last)."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from profiles.computed.touchpoints import TP, in_days, iso, matches, to_number
from profiles.config import Counter, ProfilesConfig


def _counter(counter: Counter, touchpoints: Sequence[TP], now: datetime) -> Any:
    hits = [
        tp
        for tp in touchpoints
        if matches(counter.match, tp)
        and (counter.window_days is None or in_days(now - tp.occurred_at) <= counter.window_days)
    ]
    if counter.agg == "count":
        return len(hits)
    if counter.agg == "sum":
        total = 0.0
        for tp in hits:
            value = to_number(tp.properties.get(counter.property or "value"))
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
    out["first_seen"] = iso(touchpoints[0].occurred_at) if touchpoints else None
    out["last_seen"] = iso(touchpoints[-1].occurred_at) if touchpoints else None
    out["touchpoints"] = len(touchpoints)
    return out
