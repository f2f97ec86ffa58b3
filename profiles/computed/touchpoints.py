"""Touchpoints as the computations see them, and the predicates every computed trait shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from profiles.config import Match

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


def iso(ts: datetime | None) -> str | None:
    return ts.isoformat() if ts is not None else None


def in_days(delta: timedelta) -> float:
    return delta.total_seconds() / 86400.0


def to_number(value: Any) -> float | None:
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
