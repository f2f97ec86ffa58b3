"""Email connector: the SendGrid Event Webhook.

SendGrid POSTs a JSON array of delivery and engagement events. Each becomes a ``track`` event
named after Segment's email spec ("Email Delivered", "Email Opened", ...), keyed to the
recipient by ``recordKey = "email:<lower-cased address>"``. Custom args (``unique_args`` /
``custom_args``), which SendGrid puts at the top level of each event, become properties.

Unsubscribes and spam reports withdraw email consent (resubscribes give it back): see
:mod:`connectors.consent`. When the source config holds the signed webhook's
``verification_key`` (the base64 public key SendGrid shows), every request must carry a valid
ECDSA signature, and its signed timestamp must be fresh: within ``max_age_seconds`` (default
10 minutes, :data:`connectors.signatures.SENDGRID_MAX_AGE_S`), so a captured delivery cannot be
replayed later; one replayed inside the window is a no-op (message ids derive from
``sg_event_id``).

Also here: the first-party email-open pixel (:func:`pixel_open_event`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from connectors.base import (
    Connector,
    ConnectorError,
    ParseResult,
    Rejection,
    load_json_items,
    stable_message_id,
)
from connectors.campaign import attribution_from_url
from connectors.consent import with_consent
from connectors.events import Event, InvalidEvent, parse_event
from connectors.signatures import SENDGRID_MAX_AGE_S, verify_sendgrid

#: SendGrid ``event`` -> Segment email-spec event name
EVENT_NAMES: dict[str, str] = {
    "processed": "Email Sent",
    "dropped": "Email Dropped",
    "delivered": "Email Delivered",
    "deferred": "Email Deferred",
    "bounce": "Email Bounced",
    "open": "Email Opened",
    "click": "Email Link Clicked",
    "spamreport": "Email Marked as Spam",
    "unsubscribe": "Unsubscribed",
    "group_unsubscribe": "Unsubscribed",
    "group_resubscribe": "Resubscribed",
}
#: SendGrid events that change email consent, and to what
CONSENT: dict[str, bool] = {
    "unsubscribe": False,
    "group_unsubscribe": False,
    "spamreport": False,
    "group_resubscribe": True,
}

#: SendGrid field -> property name (Segment's email spec where it has one)
PROPERTY_NAMES: dict[str, str] = {
    "sg_message_id": "email_id",
    "url": "link_url",
    "reason": "reason",
    "status": "status",
    "response": "response",
    "attempt": "attempt",
    "type": "bounce_type",
    "bounce_classification": "bounce_classification",
    "asm_group_id": "asm_group_id",
    "marketing_campaign_id": "campaign_id",
    "marketing_campaign_name": "campaign_name",
    "sg_machine_open": "machine_open",
    "smtp-id": "smtp_id",
    "sg_template_id": "template_id",
    "sg_template_name": "template_name",
}

#: fields that are SendGrid's own; every other top-level key is a custom arg
_RESERVED = frozenset(
    {
        *PROPERTY_NAMES,
        "email",
        "timestamp",
        "event",
        "sg_event_id",
        "category",
        "useragent",
        "ip",
        "tls",
        "cert_err",
        "pool",
        "url_offset",
        "unique_args",
        "custom_args",
    }
)


class SendGridConnector(Connector):
    name = "sendgrid"
    channel = "email"
    description = "SendGrid Event Webhook (delivery and engagement events, signed or not)"
    webhook = True
    identifiers = ("email",)
    traits = ("email", "email_consent")
    config_keys = ("verification_key", "max_age_seconds")

    def verify(self, *, headers: Mapping[str, str], body: bytes, config: Mapping[str, Any]) -> None:
        key = config.get("verification_key") or config.get("public_key")
        if not key:
            return
        verify_sendgrid(
            public_key=str(key),
            headers=headers,
            body=body,
            max_age_seconds=_window(config.get("max_age_seconds")),
        )

    def parse_payload(
        self,
        body: bytes,
        *,
        source: str,
        content_type: str | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> ParseResult:
        error = "a SendGrid Event Webhook body must be a JSON array of events"
        items = load_json_items(body, error=error)  # a single event posted by hand: tolerated
        result = ParseResult()
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                result.rejected.append(Rejection(index, "an event must be a JSON object", item))
                continue
            event, problem = _to_event(item, source=source)
            if event is None:
                result.rejected.append(Rejection(index, problem, item))
            elif item.get("event") in CONSENT:
                for data in with_consent(event, granted=CONSENT[item["event"]]):
                    result.add(index, data, raw=item)
            else:
                result.add(index, event, raw=item)
        return result


def _window(value: Any) -> float:
    """The source's replay window: a positive number of seconds, else the default (a window
    can be widened, never switched off)."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return SENDGRID_MAX_AGE_S
    return seconds if seconds > 0 and seconds == seconds else SENDGRID_MAX_AGE_S


def _to_event(item: dict[str, Any], *, source: str) -> tuple[dict[str, Any] | None, str]:
    """Canonical Event data for one SendGrid event, or (None, why not)."""
    email = item.get("email")
    if not isinstance(email, str) or not email.strip():
        return None, "email: missing (every SendGrid event names its recipient)"
    kind = item.get("event")
    if not isinstance(kind, str) or kind not in EVENT_NAMES:
        return None, f"event: unknown SendGrid event type {kind!r}"
    timestamp: datetime | None = None
    raw_ts = item.get("timestamp")
    if raw_ts is not None:
        timestamp = _from_unix(raw_ts)
        if timestamp is None:
            return None, f"timestamp: expected unix seconds, got {raw_ts!r}"

    properties: dict[str, Any] = {}
    for field, prop in PROPERTY_NAMES.items():
        if item.get(field) is not None:
            properties[prop] = item[field]
    category = item.get("category")
    if category is not None:
        properties["category"] = [category] if isinstance(category, str) else category
    if kind in ("group_unsubscribe", "group_resubscribe") and "asm_group_id" in properties:
        properties["list_id"] = properties["asm_group_id"]
    for key, value in _custom_args(item).items():
        properties.setdefault(key, value)

    context: dict[str, Any] = {}
    if isinstance(item.get("ip"), str):
        context["ip"] = item["ip"]
    if isinstance(item.get("useragent"), str):
        context["userAgent"] = item["useragent"]
    if kind == "click":
        attribution = attribution_from_url(item.get("url"))
        if attribution:
            context["campaign"] = attribution

    event_id = item.get("sg_event_id")
    message_id = event_id if isinstance(event_id, str) and event_id else None
    return {
        "type": "track",
        "event": EVENT_NAMES[kind],
        "messageId": message_id or stable_message_id(source, item),
        "source": source,
        "channel": "email",
        "userId": None,
        "recordKey": "email:" + email.strip().lower(),
        "traits": {"email": email},
        "properties": properties,
        "context": context,
        "timestamp": timestamp,
    }, ""


def _custom_args(item: dict[str, Any]) -> dict[str, Any]:
    """Custom args: top-level keys SendGrid does not own, plus a nested ``unique_args`` /
    ``custom_args`` object if an older integration sent one."""
    found: dict[str, Any] = {}
    for nested in ("unique_args", "custom_args"):
        value = item.get(nested)
        if isinstance(value, dict):
            found.update(value)
    for key, value in item.items():
        if key not in _RESERVED:
            found[key] = value
    return found


def _from_unix(value: Any) -> datetime | None:
    if isinstance(value, bool):
        return None
    try:
        seconds = float(value)
        return datetime.fromtimestamp(seconds, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def pixel_open_event(
    *,
    source: str,
    email: str,
    campaign: str | None,
    received_at: datetime,
    user_agent: str | None = None,
    ip: str | None = None,
) -> Event:
    """The "Email Opened" event of a first-party open pixel (``GET /v1/pixel.gif``).

    Mail clients and image proxies fetch a pixel several times: loads within the same minute
    share one message id, so they count once."""
    address = email.strip()
    if "@" not in address or len(address) > 320:
        raise ConnectorError(f"e: {email!r} is not an email address", code="bad_email")
    minute = received_at.replace(second=0, microsecond=0)
    context: dict[str, Any] = {"library": {"name": "kindred-pixel"}}
    if ip:
        context["ip"] = ip
    if user_agent:
        context["userAgent"] = user_agent
    properties: dict[str, Any] = {"email_type": "pixel"}
    if campaign:
        properties["campaign_id"] = campaign
        context["campaign"] = {"name": campaign, "source": "email", "medium": "email"}
    data = {
        "type": "track",
        "event": "Email Opened",
        "messageId": stable_message_id(
            source, "pixel", address.lower(), campaign, minute.isoformat()
        ),
        "source": source,
        "channel": "email",
        "recordKey": "email:" + address.lower(),
        "traits": {"email": address},
        "properties": properties,
        "context": context,
        "timestamp": received_at,
    }
    try:
        return parse_event(data)
    except InvalidEvent as err:
        raise ConnectorError(err.reason) from err
