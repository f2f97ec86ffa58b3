"""Mailchimp audience (list) webhooks.

Mailchimp POSTs ``application/x-www-form-urlencoded`` bodies: ``type``, ``fired_at``
(``YYYY-MM-DD HH:MM:SS``, UTC) and ``data[...]`` fields with nested keys such as
``data[merges][FNAME]``. It first sends a GET to the URL and expects a 200 (the validation
ping). Mailchimp does not sign webhooks: the source's write key in the URL authenticates.

- ``subscribe``   -> identify (merge fields as traits, ``email_consent: true``) and
  track "Subscribed" with ``properties.consent = {"email": true}``;
- ``unsubscribe`` -> track "Unsubscribed" (reason, campaign) with consent false, and the
  consent identify;
- ``profile``     -> identify with the updated merge fields;
- ``upemail``     -> identify about the new address that also carries the old one as an
  external id (so identity joins the two records);
- ``cleaned``     -> track "Email Bounced" (``reason: hard``) or "Email Marked as Spam"
  (``reason: abuse``, which also withdraws consent);
- ``campaign``    -> a campaign was sent to the whole audience: no recipient, so no event; it
  is acknowledged in the response ``notes`` (per-recipient activity comes from reports/CSV).

Records are keyed ``email:<lower-cased address>`` like the SendGrid connector's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from connectors.base import (
    Connector,
    ConnectorError,
    HandshakeReply,
    ParseResult,
    Rejection,
    load_json,
    stable_message_id,
)
from connectors.consent import CONSENT_TRAIT, with_consent

TYPES = ("subscribe", "unsubscribe", "profile", "upemail", "cleaned", "campaign")
#: Mailchimp default merge tags -> trait
MERGE_TRAITS = {
    "EMAIL": "email",
    "FNAME": "first_name",
    "LNAME": "last_name",
    "PHONE": "phone",
    "BIRTHDAY": "birthday",
    "COMPANY": "company",
}
_KEY = re.compile(r"([^\[\]]+)|\[([^\[\]]*)\]")


def parse_form(body: bytes) -> dict[str, Any]:
    """``a[b][c]=v`` form fields as nested dicts (PHP-style, as Mailchimp sends them)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConnectorError(f"form body is not UTF-8: {err.reason}") from err
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text.strip()))
    except ValueError as err:
        raise ConnectorError(f"body is not a form-encoded Mailchimp webhook: {err}") from err
    out: dict[str, Any] = {}
    for name, value in pairs:
        parts = [m.group(1) or m.group(2) for m in _KEY.finditer(name)]
        if not parts:
            continue
        node = out
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[parts[-1]] = value
    return out


class MailchimpConnector(Connector):
    name = "mailchimp"
    channel = "email"
    description = "Mailchimp audience webhooks (subscribe, unsubscribe, profile, upemail, ...)"
    webhook = True
    identifiers = ("email", "mailchimp_id")
    traits = ("email", "first_name", "last_name", "phone", "company", CONSENT_TRAIT)

    def handshake(self, *, params: Mapping[str, str], config: Mapping[str, Any]) -> HandshakeReply:
        """Mailchimp checks the URL with a plain GET and wants a 200."""
        return HandshakeReply(body="")

    def parse_payload(
        self,
        body: bytes,
        *,
        source: str,
        content_type: str | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> ParseResult:
        stripped = body.lstrip()
        if stripped.startswith((b"{", b"[")):
            # a JSON re-post of the same fields (DLQ replays, hand-made tests)
            data = load_json(body)
            items = data if isinstance(data, list) else [data]
        else:
            items = [parse_form(body)]
        result = ParseResult()
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                result.rejected.append(Rejection(index, "a notification must be an object", item))
                continue
            _add(result, index, item, source=source)
        return result

    def replay_item(
        self, raw: Any, *, source: str, config: Mapping[str, Any] | None = None
    ) -> ParseResult:
        return self.parse_payload(json.dumps(raw).encode(), source=source, config=config)


def encode_form(notification: Mapping[str, Any]) -> bytes:
    """The inverse of :func:`parse_form` (tests, benchmarks, docs)."""
    pairs: list[tuple[str, str]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for key, inner in value.items():
                walk(f"{prefix}[{key}]" if prefix else str(key), inner)
        else:
            pairs.append((prefix, "" if value is None else str(value)))

    walk("", notification)
    return urlencode(pairs).encode()


def _add(result: ParseResult, index: int, item: dict[str, Any], *, source: str) -> None:
    kind = item.get("type")
    data = item.get("data")
    if kind not in TYPES:
        reason = f"type: unknown Mailchimp webhook type {kind!r}; expected one of {TYPES}"
        result.rejected.append(Rejection(index, reason, item))
        return
    if not isinstance(data, dict):
        result.rejected.append(Rejection(index, "data: missing (data[...] fields)", item))
        return
    fired_at = _fired_at(item.get("fired_at"))
    if item.get("fired_at") and fired_at is None:
        reason = f"fired_at: expected 'YYYY-MM-DD HH:MM:SS', got {item.get('fired_at')!r}"
        result.rejected.append(Rejection(index, reason, item))
        return
    if kind == "campaign":
        result.notes.append(
            f"item {index}: campaign {data.get('id')!r} ({data.get('status') or 'sent'}) to list "
            f"{data.get('list_id')!r} acknowledged; it names no recipient, so no event"
        )
        return
    email_field = "new_email" if kind == "upemail" else "email"
    email = data.get(email_field)
    if not isinstance(email, str) or "@" not in email:
        reason = f"data[{email_field}]: missing or not an email address"
        result.rejected.append(Rejection(index, reason, item))
        return
    email = email.strip()
    list_id = data.get("list_id")
    base: dict[str, Any] = {
        "source": source,
        "channel": "email",
        "recordKey": "email:" + email.lower(),
        "timestamp": fired_at,
        "context": _context(data),
    }
    message_id = stable_message_id(source, "mailchimp", item)
    properties = {k: v for k, v in {"list_id": list_id}.items() if v}
    events: list[dict[str, Any]] = []
    if kind in ("subscribe", "profile"):
        traits = _merge_traits(data, email)
        if data.get("id"):
            traits["mailchimp_id"] = data["id"]
        if kind == "subscribe":
            track = {
                **base,
                "type": "track",
                "event": "Subscribed",
                "messageId": f"{message_id}:track",
                "traits": {"email": email},
                "properties": {**properties, "email_type": data.get("email_type")},
            }
            events.extend(with_consent(track, granted=True))
        events.insert(0, {**base, "type": "identify", "messageId": message_id, "traits": traits})
    elif kind == "unsubscribe":
        track = {
            **base,
            "type": "track",
            "event": "Unsubscribed",
            "messageId": message_id,
            "traits": {"email": email},
            "properties": {
                **properties,
                **{k: data[k] for k in ("reason", "action", "campaign_id") if data.get(k)},
            },
        }
        events.extend(with_consent(track, granted=False))
    elif kind == "upemail":
        old = data.get("old_email")
        context = dict(base["context"])
        if isinstance(old, str) and old.strip():
            context["externalIds"] = [{"id": old.strip(), "type": "email", "collection": "users"}]
        events.append(
            {
                **base,
                "context": context,
                "type": "identify",
                "messageId": message_id,
                "traits": {
                    "email": email,
                    **({"previous_email": old.strip()} if isinstance(old, str) else {}),
                    **({"mailchimp_id": data["new_id"]} if data.get("new_id") else {}),
                },
            }
        )
    else:  # cleaned
        reason = str(data.get("reason") or "")
        track = {
            **base,
            "type": "track",
            "event": "Email Marked as Spam" if reason == "abuse" else "Email Bounced",
            "messageId": message_id,
            "traits": {"email": email},
            "properties": {
                **properties,
                "reason": reason or None,
                "bounce_type": "hard" if reason == "hard" else None,
                "campaign_id": data.get("campaign_id") or None,
            },
        }
        track["properties"] = {k: v for k, v in track["properties"].items() if v is not None}
        events.extend(with_consent(track, granted=False) if reason == "abuse" else [track])
    for event in events:
        result.add(index, event, raw=item)


def _merge_traits(data: dict[str, Any], email: str) -> dict[str, Any]:
    traits: dict[str, Any] = {"email": email}
    merges = data.get("merges")
    if isinstance(merges, dict):
        for tag, value in merges.items():
            if value in (None, "") or isinstance(value, dict) or str(tag).upper() == "INTERESTS":
                continue
            name = MERGE_TRAITS.get(str(tag).upper(), f"mc_{str(tag).lower()}")
            traits.setdefault(name, value)
        groups = merges.get("INTERESTS")
        if isinstance(groups, str) and groups:
            traits["interests"] = [g.strip() for g in groups.split(",") if g.strip()]
    if data.get("email_type"):
        traits["email_format"] = data["email_type"]
    return traits


def _context(data: dict[str, Any]) -> dict[str, Any]:
    ip = data.get("ip_opt") or data.get("ip_signup")
    return {"ip": ip} if isinstance(ip, str) and ip else {}


def _fired_at(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        parsed = datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
