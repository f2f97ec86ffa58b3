"""Facebook (Meta) Lead Ads: Graph API lead objects, leadgen webhook notifications, rows of
the Leads Center CSV export, and the subscription handshake."""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from typing import Any

from connectors.ads.lead import Lead, lead_events, new_lead, parse_time, present, text_value
from connectors.base import ConnectorError, HandshakeReply, ParseResult, Rejection
from connectors.cells import snake

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
#: what reading a leadgen webhook notification as a lead says (it names no person)
NOTIFICATION = "facebook leadgen notification"
#: Facebook CSV exports prefix ids and phones with a type tag: "l:123", "ag:456", "p:+49..."
_FB_PREFIX = re.compile(r"^(?:l|ag|as|c|f|p):")
_FB_META = (
    "id",
    "created_time",
    "ad_id",
    "ad_name",
    "adset_id",
    "adset_name",
    "campaign_id",
    "campaign_name",
    "form_id",
    "form_name",
    "is_organic",
    "platform",
)


def facebook_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A CSV export row as the Graph API lead object it was exported from."""
    item: dict[str, Any] = {"field_data": []}
    for header, value in row.items():
        if header is None or not isinstance(value, str):
            continue
        key, text = header.strip(), value.strip()
        if not text:
            continue
        text = _FB_PREFIX.sub("", text)
        if key in _FB_META:
            item[key] = (
                {"true": True, "false": False}.get(text.lower(), text)
                if (key == "is_organic")
                else text
            )
        else:
            item["field_data"].append({"name": key, "values": [text]})
    item.setdefault("id", None)
    return item


def facebook_notification(
    result: ParseResult, index: int, item: dict[str, Any], *, source: str
) -> None:
    """A leadgen webhook notification: one "Lead Form Submitted" per leadgen change."""
    entries = item.get("entry")
    if not isinstance(entries, list):
        result.rejected.append(Rejection(index, "entry: must be an array", item))
        return
    found = False
    for entry in entries:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        for change in changes if isinstance(changes, list) else []:
            if not isinstance(change, dict) or change.get("field") != "leadgen":
                continue
            value = change.get("value")
            lead_id = text_value(value.get("leadgen_id")) if isinstance(value, dict) else None
            if not isinstance(value, dict) or not lead_id:
                reason = "leadgen change without value.leadgen_id"
                result.rejected.append(Rejection(index, reason, item))
                continue
            found = True
            created = value.get("created_time")
            lead = Lead("fb", lead_id, timestamp=parse_time(created) if created else None)
            lead.properties = present(
                lead_id=lead_id,
                form_id=text_value(value.get("form_id")),
                ad_id=text_value(value.get("ad_id")),
                adset_id=text_value(value.get("adgroup_id")),
                page_id=text_value(value.get("page_id")),
                platform="facebook",
            )
            lead.campaign = {"source": "facebook", "medium": "paid_social"}
            result.add(index, lead_events(lead, source=source)[1], raw=item)
    if not found and not any(r.index == index for r in result.rejected):
        result.notes.append(f"item {index}: a Facebook notification with no leadgen change")


def facebook_lead(item: dict[str, Any]) -> tuple[Lead | None, str]:
    lead, problem = new_lead(
        item, platform="fb", vendor="Facebook", id_key="id", time_key="created_time"
    )
    if lead is None:
        return None, problem
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
        key = snake(answer["name"])
        if key in FACEBOOK_FIELDS:
            lead.fields.setdefault(FACEBOOK_FIELDS[key], values[0].strip())
        else:
            lead.answers[answer["name"]] = values[0] if len(values) == 1 else values
    organic = item.get("is_organic") is True
    lead.properties = present(
        lead_id=lead.lead_id,
        form_id=text_value(item.get("form_id")),
        ad_id=text_value(item.get("ad_id")),
        ad_name=item.get("ad_name"),
        adset_id=text_value(item.get("adset_id")),
        adset_name=item.get("adset_name"),
        campaign_id=text_value(item.get("campaign_id")),
        campaign_name=item.get("campaign_name"),
        platform="facebook",
        publisher_platform=item.get("platform"),  # "fb", "ig", ...
        is_organic=item.get("is_organic"),
    )
    lead.campaign = present(
        name=item.get("campaign_name"),
        source="facebook",
        medium="organic_social" if organic else "paid_social",
    )
    return lead, ""


def subscription_handshake(
    *, params: Mapping[str, str], config: Mapping[str, Any]
) -> HandshakeReply:
    """Facebook's subscription check: echo ``hub.challenge`` when the token matches."""
    if params.get("hub.mode") != "subscribe":
        raise ConnectorError("hub.mode must be 'subscribe'", code="bad_handshake")
    expected = config.get("verify_token")
    given = params.get("hub.verify_token") or ""
    if not expected:
        raise ConnectorError(
            "the source has no verify_token configured", status_code=403, code="forbidden"
        )
    if not hmac.compare_digest(str(expected).encode(), given.encode()):
        raise ConnectorError("hub.verify_token does not match", status_code=403, code="forbidden")
    challenge = params.get("hub.challenge")
    if not challenge:
        raise ConnectorError("hub.challenge is missing", code="bad_handshake")
    return HandshakeReply(body=challenge)
