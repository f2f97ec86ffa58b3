"""Generic ESP CSV exports: subscribers and campaign activity, with header presets.

Two kinds of file (``config["kind"]``, else detected from the header):

- ``subscribers``: one row per address (email, names, phone, status, lists, dates) -> an
  ``identify`` about ``recordKey = "email:<address>"``; an ``unsubscribed``/``blocked``/spam
  status also emits "Unsubscribed" with consent withdrawn (:mod:`connectors.consent`), an
  active one sets ``email_consent: true``;
- ``activity``: one row per recipient event of a campaign (email, action, time, campaign,
  link) -> a ``track`` named after Segment's email spec ("Email Delivered", "Email Opened",
  "Email Link Clicked", "Email Bounced", "Unsubscribed", "Email Marked as Spam").

Presets (``config["preset"]``): ``generic`` (English headers), ``unisender`` and ``sendsay``
(the Russian column names and action values of those ESPs' exports); the default ``auto``
knows all of them. ``config["mapping"]`` ({"Header": "field"}) maps anything else; unmapped
columns become custom traits/properties under their snake_cased header.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from connectors.base import Connector, ConnectorError, ParseResult, Rejection, stable_message_id
from connectors.campaign import attribution_from_url
from connectors.cells import parse_date, snake
from connectors.consent import with_consent
from connectors.csvfile import (
    NOT_AN_OBJECT,
    CsvRow,
    in_batches,
    json_rows,
    object_rows,
    open_csv,
)

KINDS = ("subscribers", "activity")

_GENERIC_SUBSCRIBERS = {
    **dict.fromkeys(("email", "email_address", "e_mail", "address"), "email"),
    **dict.fromkeys(("first_name", "firstname", "fname"), "first_name"),
    **dict.fromkeys(("last_name", "lastname", "lname"), "last_name"),
    **dict.fromkeys(("name", "full_name"), "name"),
    **dict.fromkeys(("phone", "phone_number", "mobile"), "phone"),
    **dict.fromkeys(("status", "email_status", "subscription_status", "member_rating"), "status"),
    **dict.fromkeys(("lists", "list", "email_list_ids", "list_ids", "tags"), "lists"),
    **dict.fromkeys(
        ("subscribed_at", "optin_time", "email_subscribe_times", "created_at", "added_at"),
        "subscribed_at",
    ),
    **dict.fromkeys(("unsubscribed_at", "unsub_time"), "unsubscribed_at"),
    **dict.fromkeys(("id", "subscriber_id", "contact_id"), "id"),
}
_GENERIC_ACTIVITY = {
    **dict.fromkeys(("email", "email_address", "recipient", "address"), "email"),
    **dict.fromkeys(("event", "action", "activity", "status", "result"), "action"),
    **dict.fromkeys(("time", "timestamp", "date", "event_time", "datetime"), "time"),
    **dict.fromkeys(("campaign", "campaign_name", "subject", "mailing"), "campaign"),
    **dict.fromkeys(("campaign_id", "mailing_id", "message_id"), "campaign_id"),
    **dict.fromkeys(("url", "link", "link_url"), "url"),
    **dict.fromkeys(("reason", "bounce_reason", "error"), "reason"),
}
_UNISENDER_SUBSCRIBERS = {
    **dict.fromkeys(("email", "e_mail", "адрес", "адрес_email"), "email"),
    "имя": "name",
    **dict.fromkeys(("телефон", "phone"), "phone"),
    **dict.fromkeys(("статус", "статус_email", "email_status"), "status"),
    **dict.fromkeys(("списки", "список", "email_list_ids"), "lists"),
    **dict.fromkeys(("дата_добавления", "дата_подписки", "email_add_time"), "subscribed_at"),
    "дата_отписки": "unsubscribed_at",
}
_UNISENDER_ACTIVITY = {
    **dict.fromkeys(("email", "e_mail", "адрес"), "email"),
    **dict.fromkeys(("статус", "результат", "результат_доставки", "событие"), "action"),
    **dict.fromkeys(("время", "дата", "дата_и_время", "время_события"), "time"),
    **dict.fromkeys(("рассылка", "название_рассылки", "тема", "тема_письма"), "campaign"),
    **dict.fromkeys(("id_рассылки", "номер_рассылки"), "campaign_id"),
    **dict.fromkeys(("ссылка", "url"), "url"),
    **dict.fromkeys(("причина", "ошибка"), "reason"),
}
_SENDSAY_SUBSCRIBERS = {
    **dict.fromkeys(("email", "адрес", "e_mail", "адрес_подписчика"), "email"),
    "имя": "first_name",
    "фамилия": "last_name",
    **dict.fromkeys(("телефон", "мобильный_телефон"), "phone"),
    **dict.fromkeys(("состояние", "статус"), "status"),
    **dict.fromkeys(("группы", "группа", "списки"), "lists"),
    **dict.fromkeys(("дата_подписки", "дата_создания", "дата_регистрации"), "subscribed_at"),
    "дата_отписки": "unsubscribed_at",
}
_SENDSAY_ACTIVITY = {
    **dict.fromkeys(("email", "адрес", "адрес_подписчика"), "email"),
    **dict.fromkeys(("действие", "событие", "тип_события"), "action"),
    **dict.fromkeys(("дата", "время", "дата_события", "дата_и_время"), "time"),
    **dict.fromkeys(("выпуск", "рассылка", "название_выпуска", "тема"), "campaign"),
    **dict.fromkeys(("id_выпуска", "номер_выпуска"), "campaign_id"),
    **dict.fromkeys(("ссылка", "url"), "url"),
    **dict.fromkeys(("причина", "ошибка"), "reason"),
}
PRESETS: dict[str, dict[str, dict[str, str]]] = {
    "generic": {"subscribers": _GENERIC_SUBSCRIBERS, "activity": _GENERIC_ACTIVITY},
    "unisender": {"subscribers": _UNISENDER_SUBSCRIBERS, "activity": _UNISENDER_ACTIVITY},
    "sendsay": {"subscribers": _SENDSAY_SUBSCRIBERS, "activity": _SENDSAY_ACTIVITY},
}
PRESETS["auto"] = {
    kind: {
        header: field
        for preset in ("generic", "unisender", "sendsay")
        for header, field in PRESETS[preset][kind].items()
    }
    for kind in KINDS
}

#: action values (lower-cased, English and Russian) -> event name
ACTIONS: dict[str, str] = {
    **dict.fromkeys(("sent", "send", "processed", "отправлено", "отправлен"), "Email Sent"),
    **dict.fromkeys(("delivered", "delivery", "доставлено", "доставлен"), "Email Delivered"),
    **dict.fromkeys(
        ("opened", "open", "read", "открыто", "открыл", "открытие", "прочитано", "прочтение"),
        "Email Opened",
    ),
    **dict.fromkeys(
        (
            "clicked",
            "click",
            "link_clicked",
            "переход",
            "переход_по_ссылке",
            "перешёл_по_ссылке",
            "перешел_по_ссылке",
            "клик",
        ),
        "Email Link Clicked",
    ),
    **dict.fromkeys(
        (
            "bounced",
            "bounce",
            "hard_bounce",
            "soft_bounce",
            "failed",
            "не_доставлено",
            "недоставка",
            "ошибка_доставки",
        ),
        "Email Bounced",
    ),
    **dict.fromkeys(
        ("unsubscribed", "unsubscribe", "отписался", "отписка", "отписан"), "Unsubscribed"
    ),
    **dict.fromkeys(
        ("spam", "spamreport", "complaint", "abuse", "жалоба", "жалоба_на_спам", "спам"),
        "Email Marked as Spam",
    ),
}
#: subscriber status values (snake-cased) that mean "no email consent" / "consent"
NO_CONSENT = frozenset(
    {
        "unsubscribed",
        "blocked",
        "cleaned",
        "spam",
        "complained",
        "отписан",
        "отписался",
        "заблокирован",
        "жалоба_на_спам",
        "спам",
    }
)
CONSENTED = frozenset(
    {"active", "subscribed", "confirmed", "активен", "активный", "подписан", "подтверждён"}
)
_CONSENT_EVENTS = {"Unsubscribed": False, "Email Marked as Spam": False}
_ACTIVITY_SIGNALS = frozenset(
    h for preset in PRESETS.values() for h, f in preset["activity"].items() if f == "action"
) - {"status", "статус"}


class EspCsvConnector(Connector):
    name = "esp"
    channel = "email"
    description = "ESP CSV exports: subscribers and campaign activity (presets: UniSender, Sendsay)"
    files = True
    identifiers = ("email", "phone")
    traits = ("email", "first_name", "last_name", "name", "phone", "lists", "email_consent")
    config_keys = ("kind", "preset", "mapping", "delimiter", "encoding")

    def parse_file(
        self,
        path: Path,
        *,
        source: str,
        config: Mapping[str, Any] | None = None,
        batch_size: int = 1000,
    ) -> Iterator[ParseResult]:
        config = config or {}
        encoding, delimiter = config.get("encoding"), config.get("delimiter")
        with open_csv(path, encoding=encoding, delimiter=delimiter) as csv_file:
            headers = csv_file.next_record()
            if not headers:
                return
            kind, plan = _plan(headers, config)

            def add(result: ParseResult, row: CsvRow) -> None:
                raw = dict(zip(headers, row.cells, strict=False))
                _add(
                    result, row.line, raw, plan, kind, source=source, fallback=csv_file.modified_at
                )

            yield from in_batches(csv_file, add, batch_size=batch_size)

    def parse_payload(
        self,
        body: bytes,
        *,
        source: str,
        content_type: str | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> ParseResult:
        """A JSON array of row objects (header -> value): API pushes and DLQ replays."""
        error = "an ESP payload must be a JSON array of row objects"
        headers, items = json_rows(body, error=error)
        result = ParseResult()
        if not headers:
            for index, item in enumerate(items):
                result.rejected.append(Rejection(index, NOT_AN_OBJECT, item))
            return result
        kind, plan = _plan(headers, config or {})
        for index, item in object_rows(items, result):
            raw = {str(k): "" if v is None else str(v) for k, v in item.items()}
            _add(result, index, raw, plan, kind, source=source, fallback=None)
        return result


def _plan(headers: list[str], config: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    """(kind, header -> field) for this file."""
    preset_name = str(config.get("preset") or "auto").lower()
    if preset_name not in PRESETS:
        known = ", ".join(sorted(PRESETS))
        raise ConnectorError(f"unknown ESP preset {preset_name!r}; known: {known}")
    preset = PRESETS[preset_name]
    normalised = [snake(h) for h in headers]
    kind = config.get("kind")
    if kind is None:
        kind = "activity" if set(normalised) & _ACTIVITY_SIGNALS else "subscribers"
    if kind not in KINDS:
        raise ConnectorError(f"config kind must be 'subscribers' or 'activity', not {kind!r}")
    mapping = config.get("mapping") or {}
    if not isinstance(mapping, Mapping):
        raise ConnectorError('config mapping must be an object {"Header": "field"}')
    overrides = {snake(str(k)): v for k, v in mapping.items()}
    plan: dict[str, str] = {}
    for header, key in zip(headers, normalised, strict=True):
        if key in overrides:
            if overrides[key]:
                plan[header] = str(overrides[key])
        elif key in preset[kind]:
            plan[header] = preset[kind][key]
        elif key:
            plan[header] = "custom:" + key
    if "email" not in plan.values():
        raise ConnectorError(
            f"no email column in the {kind} file (headers: {', '.join(headers)}); map one with "
            'config mapping {"<header>": "email"}'
        )
    if kind == "activity" and "action" not in plan.values():
        raise ConnectorError("no action/event column in the activity file; map one to 'action'")
    return str(kind), plan


def _add(
    result: ParseResult,
    index: int,
    raw: dict[str, str],
    plan: dict[str, str],
    kind: str,
    *,
    source: str,
    fallback: datetime | None,
) -> None:
    fields: dict[str, str] = {}
    custom: dict[str, str] = {}
    for header, target in plan.items():
        value = (raw.get(header) or "").strip()
        if not value:
            continue
        if target.startswith("custom:"):
            custom[target[len("custom:") :]] = value
        else:
            fields.setdefault(target, value)
    email = fields.get("email", "")
    if "@" not in email:
        reason = "email: empty" if not email else f"email: {email!r} is not an address"
        result.rejected.append(Rejection(index, reason, raw))
        return
    row = _Row(index, raw, fields, custom, "email:" + email.lower(), source, fallback)
    (_subscriber if kind == "subscribers" else _activity)(result, row)


@dataclass(frozen=True)
class _Row:
    """A row of an ESP file (or payload), read: its cells by field, about one address."""

    index: int
    raw: dict[str, str]
    fields: dict[str, str]
    custom: dict[str, str]  # custom traits/properties by snake-cased header
    record_key: str
    source: str
    fallback: datetime | None  # the time of rows that carry none


def _subscriber(result: ParseResult, row: _Row) -> None:
    fields = row.fields
    traits: dict[str, Any] = dict(row.custom)
    for name in ("email", "first_name", "last_name", "name", "phone", "status"):
        if name in fields:
            traits[name if name != "status" else "email_status"] = fields[name]
    if fields.get("lists"):
        traits["lists"] = [p.strip() for p in fields["lists"].replace(";", ",").split(",") if p]
    status = snake(fields.get("status", ""))
    subscribed = parse_date(fields.get("subscribed_at"))
    when = subscribed or row.fallback
    if subscribed:
        traits["subscribed_at"] = subscribed.isoformat()
    if status in CONSENTED:
        traits["email_consent"] = True
    base = {
        "source": row.source,
        "channel": "email",
        "recordKey": row.record_key,
        "timestamp": when,
    }
    message_id = stable_message_id(row.source, "esp-subscriber", row.raw)
    identify = {**base, "type": "identify", "messageId": message_id, "traits": traits}
    result.add(row.index, identify, row.raw)
    if status in NO_CONSENT:
        unsubscribed = parse_date(fields.get("unsubscribed_at")) or when
        track = {
            **base,
            "timestamp": unsubscribed,
            "type": "track",
            "event": "Unsubscribed",
            # one per address and status: re-importing the export does not repeat it
            "messageId": stable_message_id(row.source, "esp-unsub", row.record_key, status),
            "traits": {"email": fields["email"]},
            "properties": {"status": fields.get("status"), "reason": "esp_export_status"},
        }
        for event in with_consent(track, granted=False):
            result.add(row.index, event, row.raw)


def _activity(result: ParseResult, row: _Row) -> None:
    fields = row.fields
    action = fields.get("action", "")
    event_name = ACTIONS.get(snake(action))
    if event_name is None:
        reason = f"action: unknown value {action!r} (map it, or use sent/delivered/opened/...)"
        result.rejected.append(Rejection(row.index, reason, row.raw))
        return
    when = parse_date(fields.get("time")) if fields.get("time") else None
    if fields.get("time") and when is None:
        reason = f"time: not a date-time: {fields['time']!r}"
        result.rejected.append(Rejection(row.index, reason, row.raw))
        return
    properties: dict[str, Any] = dict(row.custom)
    for name, prop in (
        ("campaign", "campaign_name"),
        ("campaign_id", "campaign_id"),
        ("url", "link_url"),
        ("reason", "reason"),
    ):
        if fields.get(name):
            properties[prop] = fields[name]
    context: dict[str, Any] = {}
    if event_name == "Email Link Clicked":
        attribution = attribution_from_url(fields.get("url"))
        if attribution:
            context["campaign"] = attribution
    track = {
        "type": "track",
        "event": event_name,
        "messageId": stable_message_id(row.source, "esp-activity", row.raw),
        "source": row.source,
        "channel": "email",
        "recordKey": row.record_key,
        "timestamp": when or row.fallback,
        "traits": {"email": fields["email"]},
        "properties": properties,
        "context": context,
    }
    events = (
        with_consent(track, granted=_CONSENT_EVENTS[event_name])
        if event_name in _CONSENT_EVENTS
        else [track]
    )
    for event in events:
        result.add(row.index, event, row.raw)
