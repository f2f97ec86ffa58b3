"""Complaints (cases with channel deadlines) and satisfaction ratings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from profiles.computed.touchpoints import TP, iso, matches, to_number
from profiles.config import ComplaintsConfig


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
            rating = to_number(tp.properties.get("rating", tp.properties.get("score")))
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
                "closed_at": iso(c["closed_at"]),
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
