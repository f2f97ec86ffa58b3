"""Email consent from unsubscribes, spam reports and (re)subscriptions.

A consent change is emitted twice, so that both consumers get it in the shape they read:

- on the ``track`` event itself, ``properties.consent = {"email": <bool>}`` (the journey);
- as an ``identify`` about the same record with ``traits.email_consent = <bool>`` (the
  profile: the latest value by event time wins, like every trait). Its message id is the
  track's plus ``:consent``, so a redelivery is still a no-op.
"""

from __future__ import annotations

from typing import Any

CONSENT_TRAIT = "email_consent"


def with_consent(track: dict[str, Any], *, granted: bool) -> list[dict[str, Any]]:
    """The track event (with ``properties.consent``) and its consent identify."""
    properties = dict(track.get("properties") or {})
    properties["consent"] = {"email": granted}
    track = {**track, "properties": properties}
    traits = {k: v for k, v in (track.get("traits") or {}).items() if k == "email"}
    traits[CONSENT_TRAIT] = granted
    identify: dict[str, Any] = {
        key: track[key]
        for key in ("source", "channel", "userId", "anonymousId", "recordKey", "timestamp")
        if key in track
    }
    identify.update(
        type="identify",
        messageId=f"{track['messageId']}:consent",
        traits=traits,
        context={k: v for k, v in (track.get("context") or {}).items() if k != "campaign"},
    )
    return [track, identify]
