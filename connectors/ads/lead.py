"""A lead-form lead in vendor-neutral form, and the events every lead becomes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

SUBMITTED_EVENT = "Lead Form Submitted"
_TRAITS = ("first_name", "last_name", "email", "phone", "company", "job_title", "city")


@dataclass
class Lead:
    """A lead in vendor-neutral form, before it becomes events."""

    platform: str  # "fb" | "google": the recordKey / messageId namespace
    lead_id: str
    fields: dict[str, str] = field(default_factory=dict)  # canonical field -> answer
    answers: dict[str, Any] = field(default_factory=dict)  # custom questions
    properties: dict[str, Any] = field(default_factory=dict)
    campaign: dict[str, Any] = field(default_factory=dict)
    external_ids: list[dict[str, str]] = field(default_factory=list)
    timestamp: datetime | None = None


def new_lead(
    item: Mapping[str, Any], *, platform: str, vendor: str, id_key: str, time_key: str
) -> tuple[Lead | None, str]:
    """The lead ``item`` is, with its id (``item[id_key]``) and time (``item[time_key]``, if
    any) and nothing else yet; None and why when either is unusable."""
    lead_id = text_value(item.get(id_key))
    if not lead_id:
        return None, f"{id_key}: missing (the {vendor} lead id)"
    timestamp = None
    if item.get(time_key) is not None:
        timestamp = parse_time(item[time_key])
        if timestamp is None:
            return None, f"{time_key}: not a date-time: {item[time_key]!r}"
    return Lead(platform, lead_id, timestamp=timestamp), ""


def lead_events(lead: Lead, *, source: str) -> list[dict[str, Any]]:
    """The lead's ``identify`` (its answers as traits) and its "Lead Form Submitted" track."""
    record_key = f"lead:{lead.platform}:{lead.lead_id}"
    context: dict[str, Any] = {"campaign": lead.campaign}
    if lead.external_ids:
        context["externalIds"] = lead.external_ids
    common = {
        "source": source,
        "channel": "ads",
        "userId": None,
        "recordKey": record_key,
        "timestamp": lead.timestamp,
        "context": context,
    }
    properties = dict(lead.properties)
    if lead.answers:
        properties["answers"] = lead.answers
    return [
        {
            **common,
            "type": "identify",
            "messageId": f"{record_key}:identify",
            "traits": lead_traits(lead.fields),
        },
        {
            **common,
            "type": "track",
            "event": SUBMITTED_EVENT,
            "messageId": f"{record_key}:submitted",
            "properties": properties,
        },
    ]


def lead_traits(fields: Mapping[str, str]) -> dict[str, Any]:
    """Canonical answers -> traits: the personal address/phone win over the work ones (which
    are kept too when they differ); a full name fills first/last when those are absent."""
    traits: dict[str, Any] = {k: fields[k] for k in _TRAITS if fields.get(k)}
    for personal, work in (("email", "work_email"), ("phone", "work_phone")):
        if fields.get(work):
            if personal not in traits:
                traits[personal] = fields[work]
            elif traits[personal] != fields[work]:
                traits[work] = fields[work]
    if fields.get("postcode"):
        traits["postcode"] = fields["postcode"]
    if fields.get("country"):
        traits["country"] = fields["country"]
    full_name = fields.get("full_name")
    if full_name:
        traits["name"] = full_name
        first, _, last = full_name.strip().partition(" ")
        if "first_name" not in traits and "last_name" not in traits:
            traits["first_name"] = first
            if last.strip():
                traits["last_name"] = last.strip()
    return traits


def present(**values: Any) -> dict[str, Any]:
    """The values that are there (not None, not empty)."""
    return {k: v for k, v in values.items() if v is not None and v != ""}


def text_value(value: Any) -> str | None:
    """Ids and answers as strings (Google sends int64 ids as JSON numbers)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float | str):
        text = str(value).strip()
        return text or None
    return None


def parse_time(value: Any) -> datetime | None:
    """Facebook's ``2026-11-20T10:15:30+0000``, ISO 8601, or unix seconds."""
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float):
            return datetime.fromtimestamp(value, UTC)
        if isinstance(value, str):
            text = value.strip()
            if text.isdigit():
                return datetime.fromtimestamp(int(text), UTC)
            parsed = datetime.fromisoformat(text)
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
    except (ValueError, OverflowError, OSError):
        return None
    return None
