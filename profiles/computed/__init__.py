"""Computed traits of one profile, as plain functions of its inputs (no database here).

Each trait explains itself: the value plus the reasons/inputs that produced it. The profiles
worker feeds these functions and stores the result in ``profiles.computed``. One module per
trait family: ``lead``, ``customer`` (lifecycle, temperature), ``journeys``, ``care``
(complaints), ``churn``, ``counting``; ``touchpoints`` holds what they share.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from profiles.computed.care import complaints
from profiles.computed.churn import churn_risk
from profiles.computed.counting import counters
from profiles.computed.customer import lifecycle, temperature
from profiles.computed.journeys import journey, stage_of
from profiles.computed.lead import lead_score
from profiles.computed.touchpoints import TP
from profiles.config import ProfilesConfig
from profiles.traits import ConsentSignal, consent_signal_from_event, derive_consent

COMPUTED_VERSION = 1

__all__ = [
    "COMPUTED_VERSION",
    "TP",
    "churn_risk",
    "complaints",
    "compute_all",
    "counters",
    "journey",
    "lead_score",
    "lifecycle",
    "stage_of",
    "temperature",
]


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
