"""CRM rows as events: contacts (identify), companies (group), deals and activities (track)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from connectors.base import ParseResult, Rejection, stable_message_id
from connectors.cells import parse_date, parse_float, parse_int, snake
from connectors.crm.columns import ACTIVITY_EVENTS, LOST_STAGES, SINGULAR, WON_STAGES
from connectors.crm.mapping import Column
from kindred.identifiers import domain_of_url


def add_row(
    result: ParseResult,
    index: int,
    row: dict[str, str],
    plan: list[Column],
    kind: str,
    source: str,
    fallback_ts: datetime | None,
) -> None:
    fields: dict[str, str] = {}
    custom: dict[str, str] = {}
    for column in plan:
        value = (row.get(column.header) or "").strip()
        if not value:
            continue
        target = fields if column.canonical else custom
        target.setdefault(column.field, value)
    if kind == "activities":
        data = _activity_event(index, fields, custom, source, row, result)
        if data is not None:
            data.setdefault("timestamp", parse_date(fields.get("date")) or fallback_ts)
            result.add(index, data, raw=row)
        return
    record_id = fields.get("id")
    if not record_id:
        id_columns = [c.header for c in plan if c.field == "id" and c.canonical]
        reason = f"missing {SINGULAR[kind]} id: "
        reason += f"column {' / '.join(repr(h) for h in id_columns)} is empty"
        result.rejected.append(Rejection(index, reason, row))
        return
    timestamp = (
        parse_date(fields.get("updated_at")) or parse_date(fields.get("created_at")) or fallback_ts
    )
    if kind == "deals":
        for data in _deal_events(index, record_id, fields, custom, source, row, result):
            data.update(source=source, channel="crm")
            data.setdefault("timestamp", timestamp)
            result.add(index, data, raw=row)
        return
    build = _contact_event if kind == "contacts" else _company_event
    data = build(record_id, fields, custom)
    data.update(
        messageId=stable_message_id(source, kind, row),
        source=source,
        channel="crm",
        timestamp=timestamp,
    )
    result.add(index, data, raw=row)


def _contact_event(
    record_id: str, fields: dict[str, str], custom: dict[str, str]
) -> dict[str, Any]:
    traits: dict[str, Any] = dict(custom)
    traits["crm_contact_id"] = record_id
    for name in (
        "first_name",
        "last_name",
        "email",
        "phone",
        "job_title",
        "company",
        "city",
        "country",
        "lifecycle_stage",
        "lead_status",
        "lead_source",
        "middle_name",
    ):
        if name in fields:
            traits[name] = fields[name]
    if "full_name" in fields:
        traits["name"] = fields["full_name"]
    _add_dates(traits, fields)
    context: dict[str, Any] = {
        "externalIds": [{"id": record_id, "type": "crm_contact_id", "collection": "users"}]
    }
    company_id = fields.get("company_id")
    if company_id:
        traits["crm_company_id"] = company_id
        context["groupId"] = "crm:" + company_id
    return {
        "type": "identify",
        "userId": None,
        "recordKey": "contact:" + record_id,
        "traits": traits,
        "context": context,
    }


def _person_ref(
    index: int,
    fields: dict[str, str],
    row: dict[str, str],
    result: ParseResult,
    what: str,
) -> dict[str, Any] | None:
    """The contact a deal/activity row is about: its CRM id, else its email; None: rejected."""
    contact_id = (fields.get("contact_id") or "").split(";")[0].split(",")[0].strip()
    if contact_id:
        return {
            "recordKey": "contact:" + contact_id,
            "context": {
                "externalIds": [{"id": contact_id, "type": "crm_contact_id", "collection": "users"}]
            },
        }
    email = (fields.get("contact_email") or "").strip()
    if "@" in email:
        return {"recordKey": "email:" + email.lower(), "traits": {"email": email}, "context": {}}
    reason = f"{what} names no contact: the contact id / contact email column is empty"
    result.rejected.append(Rejection(index, reason, row))
    return None


def _deal_events(
    index: int,
    record_id: str,
    fields: dict[str, str],
    custom: dict[str, str],
    source: str,
    row: dict[str, str],
    result: ParseResult,
) -> list[dict[str, Any]]:
    ref = _person_ref(index, fields, row, result, "deal")
    if ref is None:
        return []
    stage = fields.get("stage")
    if not stage:
        result.rejected.append(Rejection(index, "deal stage is empty", row))
        return []
    properties: dict[str, Any] = {**custom, "deal_id": record_id, "stage": stage}
    for name in ("name", "pipeline", "currency", "contact_name", "company"):
        if fields.get(name):
            properties["deal_name" if name == "name" else name] = fields[name]
    for name in ("amount", "probability"):
        if fields.get(name):
            number = parse_float(fields[name])
            properties[name] = number if number is not None else fields[name]
    close = parse_date(fields.get("close_date"))
    if close:
        properties["close_date"] = close.isoformat()
    if fields.get("company_id"):
        properties["company_id"] = fields["company_id"]
        ref["context"]["groupId"] = "crm:" + fields["company_id"]
    # one touchpoint per (deal, stage): re-importing the same stage changes nothing
    base = {**ref, "type": "track", "properties": properties}
    events = [
        {
            **base,
            "event": "Deal Stage Changed",
            "messageId": stable_message_id(source, "deal-stage", record_id, stage),
        }
    ]
    outcome = snake(stage)
    if outcome in WON_STAGES or outcome in LOST_STAGES:
        won = outcome in WON_STAGES
        events.append(
            {
                **base,
                "event": "Deal Won" if won else "Deal Lost",
                "messageId": stable_message_id(source, "deal-outcome", record_id, won),
                **({"timestamp": close} if close else {}),
            }
        )
    return events


def _activity_event(
    index: int,
    fields: dict[str, str],
    custom: dict[str, str],
    source: str,
    row: dict[str, str],
    result: ParseResult,
) -> dict[str, Any] | None:
    kind = fields.get("type", "")
    name = ACTIVITY_EVENTS.get(snake(kind))
    if name is None:
        known = "call, meeting, demo, complaint, email, note, task"
        reason = f"activity type {kind!r} is not one of {known} (or their Russian names)"
        result.rejected.append(Rejection(index, reason, row))
        return None
    ref = _person_ref(index, fields, row, result, "activity")
    if ref is None:
        return None
    properties: dict[str, Any] = {**custom, "activity_type": kind}
    for field_name in ("subject", "outcome", "via", "deal_id", "id"):
        if fields.get(field_name):
            properties["activity_id" if field_name == "id" else field_name] = fields[field_name]
    if fields.get("duration"):
        number = parse_float(fields["duration"])
        properties["duration"] = number if number is not None else fields["duration"]
    when = parse_date(fields.get("date"))
    if fields.get("date") and when is None:
        result.rejected.append(Rejection(index, f"date: not a date: {fields['date']!r}", row))
        return None
    identity = fields.get("id") or row
    return {
        **ref,
        "type": "track",
        "event": name,
        "source": source,
        "channel": "crm",
        "messageId": stable_message_id(source, "activity", identity),
        "properties": properties,
        **({"timestamp": when} if when else {}),
    }


def _company_event(
    record_id: str, fields: dict[str, str], custom: dict[str, str]
) -> dict[str, Any]:
    traits: dict[str, Any] = dict(custom)
    traits["crm_company_id"] = record_id
    for name in ("name", "industry", "city", "country"):
        if name in fields:
            traits[name] = fields[name]
    raw_domain = fields.get("domain")
    if raw_domain:
        traits["domain"] = domain_of_url(raw_domain) or raw_domain
    for name, parse in (("employees", parse_int), ("annual_revenue", parse_float)):
        raw = fields.get(name)
        if raw is None:
            continue
        number = parse(raw)
        if number is None:
            traits[f"{name}_raw"] = raw  # e.g. "51-200": keep it, but not as a number
        else:
            traits[name] = number
    _add_dates(traits, fields)
    return {
        "type": "group",
        "groupId": "crm:" + record_id,
        "traits": traits,
        "context": {
            "externalIds": [{"id": record_id, "type": "crm_company_id", "collection": "accounts"}]
        },
    }


def _add_dates(traits: dict[str, Any], fields: dict[str, str]) -> None:
    for name in ("created_at", "updated_at"):
        raw = fields.get(name)
        if raw:
            parsed = parse_date(raw)
            traits[name] = parsed.isoformat() if parsed else raw
