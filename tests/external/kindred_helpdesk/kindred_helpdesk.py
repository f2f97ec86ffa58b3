"""A support-desk connector that lives in its own distribution (``kindred-helpdesk``).

Kindred finds it through the entry point in this package's pyproject.toml::

    [project.entry-points."kindred.connectors"]
    helpdesk = "kindred_helpdesk:HelpdeskConnector"

Payload: a JSON ticket or array of tickets as a help desk's webhook sends them::

    {"id": "T-1001", "status": "open", "via": "phone", "category": "billing",
     "subject": "Charged twice", "created_at": "2026-11-20T09:00:00Z",
     "requester": {"email": "ann@example.com", "name": "Ann Lee", "phone": "+44 20 7946 0000"}}

An open ticket is the touchpoint "Complaint Submitted"; a solved/closed one "Complaint
Resolved" (with the time to resolution), both on channel ``support`` about the requester.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from connectors.base import Connector, ConnectorError, ParseResult, Rejection, load_json

OPEN = {"new", "open", "pending", "hold"}
RESOLVED = {"solved", "closed", "resolved"}
#: first-response expectations per channel, in seconds (the practice Kindred's users follow)
RESPONSE_TARGETS = {"phone": 300, "social": 3600, "messenger": 3600, "email": 86400}


class HelpdeskConnector(Connector):
    name = "helpdesk"
    channel = "support"
    description = "Support-desk tickets (complaints) from a help desk webhook"
    webhook = True
    identifiers = ("email", "phone")
    traits = ("email", "name", "phone")

    def parse_payload(
        self,
        body: bytes,
        *,
        source: str,
        content_type: str | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> ParseResult:
        data = load_json(body)
        items = [data] if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise ConnectorError("a helpdesk payload must be a ticket object or an array")
        result = ParseResult()
        for index, ticket in enumerate(items):
            event, problem = _event(ticket, source=source)
            if event is None:
                result.rejected.append(Rejection(index, problem, ticket))
            else:
                result.add(index, event, raw=ticket)
        return result


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _event(ticket: Any, *, source: str) -> tuple[dict[str, Any] | None, str]:
    if not isinstance(ticket, dict):
        return None, "a ticket must be a JSON object"
    ticket_id = ticket.get("id")
    if not isinstance(ticket_id, str | int) or isinstance(ticket_id, bool) or not str(ticket_id):
        return None, "id: missing"
    status = str(ticket.get("status") or "").lower()
    if status not in OPEN | RESOLVED:
        return None, f"status: {ticket.get('status')!r} is not open/pending/solved/closed"
    requester = ticket.get("requester")
    if not isinstance(requester, dict):
        return None, "requester: missing"
    traits = {k: requester[k] for k in ("email", "name", "phone") if requester.get(k)}
    key = traits.get("email") or traits.get("phone")
    if not isinstance(key, str):
        return None, "requester: needs an email or a phone"
    created = _time(ticket.get("created_at"))
    resolved_at = _time(ticket.get("resolved_at"))
    via = str(ticket.get("via") or "email")
    properties: dict[str, Any] = {
        "ticket_id": str(ticket_id),
        "via": via,
        "category": ticket.get("category"),
        "subject": ticket.get("subject"),
        "response_target_s": RESPONSE_TARGETS.get(via),
    }
    resolved = status in RESOLVED
    if resolved and created and resolved_at:
        properties["resolution_s"] = int((resolved_at - created).total_seconds())
    return {
        "type": "track",
        "event": "Complaint Resolved" if resolved else "Complaint Submitted",
        "messageId": f"helpdesk:{ticket_id}:{'resolved' if resolved else 'submitted'}",
        "source": source,
        "channel": "support",
        "recordKey": "requester:" + key.strip().lower(),
        "traits": traits,
        "properties": {k: v for k, v in properties.items() if v is not None},
        "timestamp": (resolved_at if resolved else created) or None,
    }, ""
