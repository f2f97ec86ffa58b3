"""Ads connector: lead-form submissions from Facebook (Meta) Lead Ads and Google Ads.

The body is one lead or a JSON array of leads, in either vendor's shape:

- Facebook: a lead as the Graph API returns it (``id``, ``created_time``, ``field_data``, ad
  and campaign ids), or a row of the Leads Center / Ads Manager CSV export
  (``kindred import leadform leads.csv``; UTF-16 tab-separated files included).
- Facebook's leadgen *webhook notification* (``{"object": "page", "entry": [{"changes":
  [{"field": "leadgen", "value": {"leadgen_id", "form_id", "ad_id", ...}}]}]}``) only carries
  ids: it becomes the "Lead Form Submitted" track of ``lead:fb:<leadgen_id>`` (same message id
  as the full lead's, so it counts once); the answers arrive when the lead object (Graph API)
  or the CSV export is posted/imported. With ``app_secret`` in the source config the
  ``X-Hub-Signature-256`` header is required and checked. Meta signs no timestamp, so a
  captured notification has no replay window to fall out of: a replay is harmless because
  the events' message ids derive from the lead id (it changes nothing), and the URL's write
  key still has to match. ``verify_token`` answers the GET
  subscription handshake (``hub.mode=subscribe``, ``hub.verify_token``, ``hub.challenge``).
- Google: the lead form webhook body (``lead_id``, ``user_column_data``, ``gcl_id``, ...).

Each lead yields an ``identify`` (the person's answers as traits) and a ``track``
"Lead Form Submitted" (the ad, form and campaign), both about
``recordKey = "lead:<fb|google>:<lead id>"`` and with message ids derived from the lead id,
so a redelivered lead is a no-op. Google's ``google_key`` is a shared secret and is never
copied into events.
"""

from __future__ import annotations

import csv
import hmac
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.base import (
    Connector,
    ConnectorError,
    HandshakeReply,
    ParseResult,
    Rejection,
    load_json,
)
from connectors.signatures import verify_hub_signature_256

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
    description = (
        "Facebook Lead Ads (lead objects, leadgen webhook, CSV export) and Google Ads lead forms"
    )
    webhook = True
    files = True
    identifiers = ("email", "phone", "gclid")
    traits = ("first_name", "last_name", "name", "email", "phone", "company", "job_title", "city")
    config_keys = ("app_secret", "verify_token")

    def verify(self, *, headers: Mapping[str, str], body: bytes, config: Mapping[str, Any]) -> None:
        secret = config.get("app_secret")
        if secret:
            verify_hub_signature_256(app_secret=str(secret), headers=headers, body=body)

    def handshake(self, *, params: Mapping[str, str], config: Mapping[str, Any]) -> HandshakeReply:
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
            raise ConnectorError(
                "hub.verify_token does not match", status_code=403, code="forbidden"
            )
        challenge = params.get("hub.challenge")
        if not challenge:
            raise ConnectorError("hub.challenge is missing", code="bad_handshake")
        return HandshakeReply(body=challenge)

    def replay_item(
        self, raw: Any, *, source: str, config: Mapping[str, Any] | None = None
    ) -> ParseResult:
        if isinstance(raw, dict) and not {"field_data", "user_column_data", "entry"} & set(raw):
            raw = _facebook_row(raw)  # a row of a CSV export
        return super().replay_item(raw, source=source, config=config)

    def parse_file(
        self,
        path: Path,
        *,
        source: str,
        config: Mapping[str, Any] | None = None,
        batch_size: int = 1000,
    ) -> Iterator[ParseResult]:
        """A Facebook leads CSV export: one lead per row."""
        try:
            raw = path.read_bytes()
        except OSError as err:
            raise ConnectorError(f"cannot read {path}: {err.strerror or err}") from err
        text = _decode(raw, path.name, (config or {}).get("encoding"))
        first = text.split("\n", 1)[0]
        delimiter = "\t" if first.count("\t") > first.count(",") else ","
        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
        result = ParseResult()
        try:
            for row in reader:
                line = reader.line_num
                if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
                    continue
                item = _facebook_row(row)
                lead, problem = _read_lead(item)
                if lead is None:
                    result.rejected.append(Rejection(line, problem, row))
                else:
                    for event in _events(lead, source=source):
                        result.add(line, event, raw=row)
                if len(result.events) + len(result.rejected) >= batch_size:
                    yield result
                    result = ParseResult()
        except csv.Error as err:
            raise ConnectorError(f"{path.name}: malformed CSV: {err}") from err
        if result.events or result.rejected:
            yield result

    def parse_payload(
        self,
        body: bytes,
        *,
        source: str,
        content_type: str | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> ParseResult:
        data = load_json(body)  # bad or too deeply nested JSON -> ConnectorError
        items = [data] if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise ConnectorError("a lead payload must be a JSON object or an array of leads")
        result = ParseResult()
        for index, item in enumerate(items):
            lead, problem = _read_lead(item)
            if lead is None and problem is _NOTIFICATION:
                _notification(result, index, item, source=source)
                continue
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
        return None, _NOTIFICATION
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


_NOTIFICATION = "facebook leadgen notification"
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


def _decode(raw: bytes, name: str, encoding: Any) -> str:
    if encoding:
        candidates = [str(encoding)]
    elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates = ["utf-16"]
    else:
        candidates = ["utf-8-sig"]
    for candidate in candidates:
        try:
            return raw.decode(candidate)
        except (UnicodeDecodeError, LookupError):
            continue
    raise ConnectorError(f"{name} is not {candidates[0]} text; set config encoding")


def _facebook_row(row: Mapping[str, Any]) -> dict[str, Any]:
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


def _notification(result: ParseResult, index: int, item: dict[str, Any], *, source: str) -> None:
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
            lead_id = _text(value.get("leadgen_id")) if isinstance(value, dict) else None
            if not isinstance(value, dict) or not lead_id:
                reason = "leadgen change without value.leadgen_id"
                result.rejected.append(Rejection(index, reason, item))
                continue
            found = True
            created = value.get("created_time")
            lead = _Lead("fb", lead_id, timestamp=_parse_time(created) if created else None)
            lead.properties = _present(
                lead_id=lead_id,
                form_id=_text(value.get("form_id")),
                ad_id=_text(value.get("ad_id")),
                adset_id=_text(value.get("adgroup_id")),
                page_id=_text(value.get("page_id")),
                platform="facebook",
            )
            lead.campaign = {"source": "facebook", "medium": "paid_social"}
            result.add(index, _events(lead, source=source)[1], raw=item)
    if not found and not any(r.index == index for r in result.rejected):
        result.notes.append(f"item {index}: a Facebook notification with no leadgen change")


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
