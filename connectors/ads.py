"""Ads connector: lead-form submissions from Facebook (Meta) Lead Ads and Google Ads.

The body is one lead or a JSON array of leads, in either vendor's shape:

- Facebook: a lead as the Graph API returns it (``id``, ``created_time``, ``field_data``, ad
  and campaign ids). The leadgen *webhook notification* only carries ids; fetch the lead and
  post that.
- Google: the lead form webhook body (``lead_id``, ``user_column_data``, ``gcl_id``, ...).

Each lead yields an ``identify`` (the person's answers as traits) and a ``track``
"Lead Form Submitted" (the ad, form and campaign), both about
``recordKey = "lead:<fb|google>:<lead id>"`` and with message ids derived from the lead id,
so a redelivered lead is a no-op. Google's ``google_key`` is a shared secret and is never
copied into events.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connectors.base import Connector, ConnectorError, ParseResult, Rejection, load_json

SUBMITTED_EVENT = "Lead Form Submitted"

#: Facebook standard question keys -> canonical field
FACEBOOK_FIELDS: dict[str, str] = {
    "email": "email",
    "work_email": "work_email",
    "full_name": "full_name",
    "first_name": "first_name",
    "last_name": "last_name",
    "phone_number": "phone",
    "phone": "phone",
    "work_phone_number": "work_phone",
    "company_name": "company",
    "job_title": "job_title",
    "city": "city",
    "zip_code": "postcode",
    "post_code": "postcode",
    "postal_code": "postcode",
    "country": "country",
}
#: Google ``column_id`` -> canonical field
GOOGLE_COLUMNS: dict[str, str] = {
    "FULL_NAME": "full_name",
    "FIRST_NAME": "first_name",
    "LAST_NAME": "last_name",
    "EMAIL": "email",
    "WORK_EMAIL": "work_email",
    "PHONE_NUMBER": "phone",
    "WORK_PHONE": "work_phone",
    "COMPANY_NAME": "company",
    "JOB_TITLE": "job_title",
    "CITY": "city",
    "POSTAL_CODE": "postcode",
    "COUNTRY": "country",
}
#: early Google payloads had no column_id, only a column_name
_GOOGLE_NAMES: dict[str, str] = {
    "full_name": "full_name",
    "first_name": "first_name",
    "last_name": "last_name",
    "user_email": "email",
    "email": "email",
    "user_phone": "phone",
    "phone_number": "phone",
    "postal_code": "postcode",
    "company_name": "company",
    "job_title": "job_title",
    "city": "city",
    "country": "country",
}
_TRAITS = ("first_name", "last_name", "email", "phone", "company", "job_title", "city")


@dataclass
class _Lead:
    """A lead in vendor-neutral form, before it becomes events."""

    platform: str  # "fb" | "google": the recordKey / messageId namespace
    lead_id: str
    fields: dict[str, str] = field(default_factory=dict)  # canonical field -> answer
    answers: dict[str, Any] = field(default_factory=dict)  # custom questions
    properties: dict[str, Any] = field(default_factory=dict)
    campaign: dict[str, Any] = field(default_factory=dict)
    external_ids: list[dict[str, str]] = field(default_factory=list)
    timestamp: datetime | None = None


class LeadFormConnector(Connector):
    name = "leadform"
    channel = "ads"
    description = "Lead-form submissions from Facebook Lead Ads and Google Ads lead forms"
    webhook = True

    def parse_payload(
        self,
        body: bytes,
        *,
        source: str,
        content_type: str | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> ParseResult:
        try:
            data = load_json(body)
        except RecursionError as err:
            raise ConnectorError("body is nested too deeply", code="invalid_json") from err
        items = [data] if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise ConnectorError("a lead payload must be a JSON object or an array of leads")
        result = ParseResult()
        for index, item in enumerate(items):
            lead, problem = _read_lead(item)
            if lead is None:
                result.rejected.append(Rejection(index, problem, item))
                continue
            for event in _events(lead, source=source):
                result.add(index, event, raw=item)
        return result


def _read_lead(item: Any) -> tuple[_Lead | None, str]:
    if not isinstance(item, dict):
        return None, "a lead must be a JSON object"
    if "user_column_data" in item or "lead_id" in item:
        lead, problem = _google_lead(item)
    elif "field_data" in item or "id" in item:
        lead, problem = _facebook_lead(item)
    elif "entry" in item:
        return None, (
            "a Facebook leadgen webhook notification carries only ids; fetch the lead from the "
            "Graph API and post that"
        )
    else:
        return None, "not a lead: expected Facebook `field_data` or Google `user_column_data`"
    if lead is None:
        return None, problem
    fields = lead.fields
    if not any(fields.get(k) for k in ("email", "work_email", "phone", "work_phone")) and not any(
        fields.get(k) for k in ("full_name", "first_name", "last_name")
    ):
        return None, "lead has no email, phone or name"
    return lead, ""


def _facebook_lead(item: dict[str, Any]) -> tuple[_Lead | None, str]:
    lead_id = _text(item.get("id"))
    if not lead_id:
        return None, "id: missing (the Facebook lead id)"
    timestamp = None
    if item.get("created_time") is not None:
        timestamp = _parse_time(item["created_time"])
        if timestamp is None:
            return None, f"created_time: not a date-time: {item['created_time']!r}"
    lead = _Lead("fb", lead_id, timestamp=timestamp)
    field_data = item.get("field_data") or []
    if not isinstance(field_data, list):
        return None, "field_data: must be an array of {name, values}"
    for answer in field_data:
        if not isinstance(answer, dict) or not isinstance(answer.get("name"), str):
            continue
        raw = answer.get("values")
        values = [str(v) for v in raw if v not in (None, "")] if isinstance(raw, list) else []
        if not values:
            continue
        key = _key(answer["name"])
        if key in FACEBOOK_FIELDS:
            lead.fields.setdefault(FACEBOOK_FIELDS[key], values[0].strip())
        else:
            lead.answers[answer["name"]] = values[0] if len(values) == 1 else values
    organic = item.get("is_organic") is True
    lead.properties = _present(
        lead_id=lead_id,
        form_id=_text(item.get("form_id")),
        ad_id=_text(item.get("ad_id")),
        ad_name=item.get("ad_name"),
        adset_id=_text(item.get("adset_id")),
        adset_name=item.get("adset_name"),
        campaign_id=_text(item.get("campaign_id")),
        campaign_name=item.get("campaign_name"),
        platform="facebook",
        publisher_platform=item.get("platform"),  # "fb", "ig", ...
        is_organic=item.get("is_organic"),
    )
    lead.campaign = _present(
        name=item.get("campaign_name"),
        source="facebook",
        medium="organic_social" if organic else "paid_social",
    )
    return lead, ""


def _google_lead(item: dict[str, Any]) -> tuple[_Lead | None, str]:
    lead_id = _text(item.get("lead_id"))
    if not lead_id:
        return None, "lead_id: missing (the Google lead id)"
    timestamp = None
    if item.get("lead_submit_time") is not None:
        timestamp = _parse_time(item["lead_submit_time"])
        if timestamp is None:
            return None, f"lead_submit_time: not a date-time: {item['lead_submit_time']!r}"
    lead = _Lead("google", lead_id, timestamp=timestamp)
    columns = item.get("user_column_data") or []
    if not isinstance(columns, list):
        return None, "user_column_data: must be an array of {column_id, string_value}"
    for column in columns:
        if not isinstance(column, dict):
            continue
        value = _text(column.get("string_value"))
        if not value:
            continue
        column_id = column.get("column_id")
        column_name = column.get("column_name")
        canonical = GOOGLE_COLUMNS.get(str(column_id).upper()) if column_id else None
        if canonical is None and not column_id and isinstance(column_name, str):
            canonical = _GOOGLE_NAMES.get(_key(column_name))
        if canonical:
            lead.fields.setdefault(canonical, value)
        else:
            lead.answers[str(column_name or column_id)] = value
    click_id = _text(item.get("gcl_id"))
    lead.properties = _present(
        lead_id=lead_id,
        form_id=_text(item.get("form_id")),
        campaign_id=_text(item.get("campaign_id")),
        adgroup_id=_text(item.get("adgroup_id")),
        creative_id=_text(item.get("creative_id")),
        asset_group_id=_text(item.get("asset_group_id")),
        lead_stage=item.get("lead_stage"),
        api_version=item.get("api_version"),
        is_test=item.get("is_test"),
        platform="google",
    )
    lead.campaign = _present(source="google", medium="cpc")
    if click_id:
        lead.campaign["click_ids"] = {"gclid": click_id}
        lead.external_ids.append({"id": click_id, "type": "gclid", "collection": "users"})
    return lead, ""


def _events(lead: _Lead, *, source: str) -> list[dict[str, Any]]:
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


def _present(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None and v != ""}


def _key(name: str) -> str:
    return re.sub(r"[\W_]+", "_", name.strip().lower()).strip("_")


def _text(value: Any) -> str | None:
    """Ids and answers as strings (Google sends int64 ids as JSON numbers)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float | str):
        text = str(value).strip()
        return text or None
    return None


def _parse_time(value: Any) -> datetime | None:
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
