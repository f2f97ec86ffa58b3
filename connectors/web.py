"""Web connector: the Segment HTTP Tracking API (``/v1/batch``, ``/v1/track``, ...).

The collector endpoints hand the (already gunzipped) request body here. Existing Segment and
RudderStack SDKs work unchanged: we accept a batch body or a single call, merge batch-level
``context``, correct client clock skew the way Segment does, fill ``context.campaign`` from
UTM parameters and click ids, and enforce Segment's size limits (32 KB per message, 500 KB
per request).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError

from connectors.base import (
    Connector,
    ConnectorError,
    ParseResult,
    Rejection,
    load_json,
    stable_message_id,
)
from connectors.campaign import attribution_from_url, merge_campaign

MAX_MESSAGE_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
CALL_TYPES: tuple[str, ...] = ("identify", "track", "page", "screen", "group", "alias")

_DATETIME: TypeAdapter[datetime] = TypeAdapter(datetime)


def write_key_from_body(body: bytes) -> str | None:
    """The ``writeKey`` a body carries (Segment allows it instead of Basic auth), else None.
    Never raises: a body that is not JSON, or too large, simply has no key."""
    if len(body) > MAX_BATCH_BYTES:
        return None
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if isinstance(data, dict):
        key = data.get("writeKey")
        if isinstance(key, str) and key.strip():
            return key.strip()
    return None


class WebConnector(Connector):
    name = "web"
    channel = "web"
    description = "Segment-compatible HTTP Tracking API (analytics.js, mobile and server SDKs)"
    webhook = False  # the collector endpoints (/v1/batch, /v1/track, ...) call it directly
    identifiers = ("user_id", "anonymous_id", "email", "phone")
    config_keys = ("rate_limit",)

    def replay_item(
        self, raw: Any, *, source: str, config: Mapping[str, Any] | None = None
    ) -> ParseResult:
        body = json.dumps({"batch": [raw]}, ensure_ascii=False, default=str).encode()
        return self.parse_payload(body, source=source, config=config, call_type="batch")

    def parse_payload(
        self,
        body: bytes,
        *,
        source: str,
        content_type: str | None = None,
        config: Mapping[str, Any] | None = None,
        call_type: str | None = None,
        received_at: datetime | None = None,
    ) -> ParseResult:
        """Parse a batch body or a single call. ``call_type`` (from the endpoint path) forces
        the type of a single call; ``"batch"`` or None with a ``batch`` key means a batch."""
        if call_type is not None and call_type not in (*CALL_TYPES, "batch"):
            raise ConnectorError(f"unknown call type {call_type!r}", code="unknown_call_type")
        if len(body) > MAX_BATCH_BYTES:
            raise ConnectorError(
                f"request body is {len(body)} bytes; the limit is {MAX_BATCH_BYTES // 1024} KB",
                status_code=413,
                code="payload_too_large",
            )
        data = load_json(body)  # bad or too deeply nested JSON -> ConnectorError
        if not isinstance(data, dict):
            raise ConnectorError("the body must be a JSON object")

        received = _as_utc(received_at or datetime.now(UTC))
        batch_context: dict[str, Any] = {}
        batch_sent_at: Any = None
        if call_type == "batch" or (call_type is None and "batch" in data):
            messages = data.get("batch")
            if not isinstance(messages, list):
                raise ConnectorError("`batch` must be a JSON array of messages")
            context = data.get("context")
            if context is not None and not isinstance(context, dict):
                raise ConnectorError("batch-level `context` must be a JSON object")
            batch_context = context or {}
            batch_sent_at = data.get("sentAt")
        else:
            messages = [data if call_type is None else {**data, "type": call_type}]

        result = ParseResult()
        for index, message in enumerate(messages):
            if not isinstance(message, dict):
                result.rejected.append(
                    Rejection(index, f"batch[{index}]: a message must be a JSON object", message)
                )
                continue
            compact = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
            size = len(compact.encode("utf-8", "surrogatepass"))
            if size > MAX_MESSAGE_BYTES:
                reason = f"message is {size} bytes; the limit is {MAX_MESSAGE_BYTES // 1024} KB"
                result.rejected.append(Rejection(index, reason, message))
                continue
            event = _to_event(
                message,
                source=source,
                batch_context=batch_context,
                batch_sent_at=batch_sent_at,
                received_at=received,
            )
            result.add(index, event, raw=message)
        return result


def _to_event(
    message: dict[str, Any],
    *,
    source: str,
    batch_context: dict[str, Any],
    batch_sent_at: Any,
    received_at: datetime,
) -> dict[str, Any]:
    """One Segment message as canonical Event data (still to be validated)."""
    out = dict(message)
    out.pop("writeKey", None)  # a credential, not event data
    # Segment messages are keyed by userId/anonymousId; a client may not claim another
    # source's record.
    out.pop("recordKey", None)
    sdk_channel = out.get("channel")  # Segment's "browser" / "server" / "mobile"
    out["source"] = source
    out["channel"] = "web"

    message_id = out.get("messageId")
    if message_id is None or (isinstance(message_id, str) and not message_id.strip()):
        identity = {k: v for k, v in message.items() if k != "writeKey"}
        out["messageId"] = stable_message_id(source, identity)

    context = out.get("context")
    if context is None:
        context = {}
    if isinstance(context, dict):  # anything else is left for validation to report
        context = _deep_merge(batch_context, context)
        if isinstance(sdk_channel, str) and sdk_channel != "web":
            context.setdefault("channel", sdk_channel)
        _add_attribution(context, out)
    out["context"] = context

    if out.get("sentAt") is None and batch_sent_at is not None:
        out["sentAt"] = batch_sent_at
    _correct_timestamp(out, received_at)
    return out


def _correct_timestamp(out: dict[str, Any], received_at: datetime) -> None:
    """Segment's clock-skew correction: timestamp = receivedAt - (sentAt - timestamp).

    The client's clock is used for the *interval* between the event and sending only, so a
    device whose clock is hours off still gets a server-time timestamp. A message with only
    ``originalTimestamp`` (RudderStack SDKs) is corrected the same way. Unparseable values are
    left alone so that validation rejects the message naming the field."""
    out["receivedAt"] = received_at
    has_timestamp = out.get("timestamp") is not None
    raw_client_ts = out.get("timestamp") if has_timestamp else out.get("originalTimestamp")
    if raw_client_ts is None:
        out["timestamp"] = received_at
        return
    client_ts = _parse_datetime(raw_client_ts)
    sent_at = _parse_datetime(out.get("sentAt"))
    if client_ts is None:
        return
    if sent_at is None:
        out["timestamp"] = client_ts
        return
    try:
        out["timestamp"] = received_at - (sent_at - client_ts)
    except OverflowError:  # a clock at year 1 or 9999: validation refuses it, naming the field
        out["timestamp"] = client_ts
    if out.get("originalTimestamp") is None:
        out["originalTimestamp"] = raw_client_ts


def _add_attribution(context: dict[str, Any], message: dict[str, Any]) -> None:
    """Fill ``context.campaign`` from the page URL (and ``properties.url`` of page calls)."""
    campaign = context.get("campaign")
    if campaign is not None and not isinstance(campaign, dict):
        return  # validation will report it
    urls: list[Any] = []
    page = context.get("page")
    if isinstance(page, dict):
        urls.append(page.get("url"))
    properties = message.get("properties")
    if message.get("type") == "page" and isinstance(properties, dict):
        urls.append(properties.get("url"))
    for url in urls:
        campaign = merge_campaign(campaign, attribution_from_url(url))
    if campaign is not None:
        context["campaign"] = campaign


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` on top of ``base``, recursing into nested objects (override wins)."""
    merged = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            merged[key] = _deep_merge(current, value)
        else:
            merged[key] = value
    return merged


def _parse_datetime(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        return _as_utc(_DATETIME.validate_python(value))
    except ValidationError:
        return None


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
