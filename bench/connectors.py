"""`kindred bench connectors`: parse throughput per built-in connector (events/s), as JSON.

Each connector parses ``events`` synthetic items in its vendor's native shape, in realistic
request sizes (a Segment batch of 250 messages, SendGrid arrays of 1,000 events, one
Mailchimp notification per request, HubSpot arrays of 100, lead arrays of 50) or as one CSV
file. Only parsing and validation into canonical events is timed: no HTTP, Kafka or database.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from connectors.base import Connector, ParseResult
from connectors.mailchimp import encode_form
from connectors.registry import get_connector

SOURCE = "bench"


def _chunks(n: int, size: int) -> Iterator[range]:
    for start in range(0, n, size):
        yield range(start, min(n, start + size))


def _web(n: int) -> list[bytes]:
    bodies = []
    for chunk in _chunks(n, 250):
        batch = [
            {
                "type": ("page", "identify", "track")[i % 3],
                "messageId": f"m-{i}",
                "anonymousId": f"anon-{i // 3}",
                "userId": f"u-{i // 3}" if i % 3 else None,
                "event": "Demo Requested",
                "name": "Pricing",
                "traits": {"email": f"user{i // 3}@example.com"},
                "properties": {"plan": "team"},
                "context": {"page": {"url": f"https://ex.com/p?utm_source=g&gclid=c{i}"}},
                "timestamp": "2026-11-01T10:00:00Z",
            }
            for i in chunk
        ]
        bodies.append(json.dumps({"batch": batch, "sentAt": "2026-11-01T10:00:01Z"}).encode())
    return bodies


def _sendgrid(n: int) -> list[bytes]:
    kinds = ("processed", "delivered", "open", "click", "bounce", "unsubscribe")
    return [
        json.dumps(
            [
                {
                    "email": f"user{i}@example.com",
                    "timestamp": 1_795_000_000 + i,
                    "event": kinds[i % len(kinds)],
                    "sg_event_id": f"sg-{i}",
                    "sg_message_id": f"msg-{i // 10}",
                    "category": ["newsletter"],
                    "url": "https://ex.com/?utm_campaign=nov",
                }
                for i in chunk
            ]
        ).encode()
        for chunk in _chunks(n, 1000)
    ]


def _mailchimp(n: int) -> list[bytes]:
    return [
        encode_form(
            {
                "type": "subscribe" if i % 2 else "profile",
                "fired_at": "2026-11-01 10:00:00",
                "data": {
                    "id": f"id{i}",
                    "list_id": "a6b5da1054",
                    "email": f"user{i}@example.com",
                    "email_type": "html",
                    "merges": {"EMAIL": f"user{i}@example.com", "FNAME": "Ann", "LNAME": "Lee"},
                },
            }
        )
        for i in range(n)
    ]


def _hubspot(n: int) -> list[bytes]:
    return [
        json.dumps(
            [
                {
                    "eventId": i,
                    "subscriptionId": 1,
                    "portalId": 62515,
                    "occurredAt": 1_795_000_000_000 + i,
                    "subscriptionType": "contact.propertyChange",
                    "attemptNumber": 0,
                    "objectId": 1000 + i,
                    "changeSource": "CRM",
                    "propertyName": "email",
                    "propertyValue": f"user{i}@example.com",
                }
                for i in chunk
            ]
        ).encode()
        for chunk in _chunks(n, 100)
    ]


def _leadform(n: int) -> list[bytes]:
    return [
        json.dumps(
            [
                {
                    "id": f"{10**15 + i}",
                    "created_time": "2026-11-20T10:15:30+0000",
                    "form_id": "98765",
                    "campaign_name": "Winter",
                    "field_data": [
                        {"name": "email", "values": [f"user{i}@example.com"]},
                        {"name": "full_name", "values": ["Ann Lee"]},
                    ],
                }
                for i in chunk
            ]
        ).encode()
        for chunk in _chunks(n, 50)
    ]


def _csv(header: str, row: Callable[[int], str], n: int, directory: Path, name: str) -> Path:
    path = directory / name
    with path.open("w", encoding="utf-8") as handle:
        handle.write(header + "\n")
        for i in range(n):
            handle.write(row(i) + "\n")
    return path


def _time_payloads(connector: Connector, bodies: list[bytes], content_type: str) -> ParseResult:
    total = ParseResult()
    for body in bodies:
        total.extend(connector.parse_payload(body, source=SOURCE, content_type=content_type))
    return total


def _time_file(connector: Connector, path: Path) -> ParseResult:
    total = ParseResult()
    for result in connector.parse_file(path, source=SOURCE):
        total.extend(result)
    return total


def run(*, events: int) -> dict[str, Any]:
    report: dict[str, Any] = {"items_per_connector": events, "connectors": {}}
    with tempfile.TemporaryDirectory(prefix="kindred-bench-") as tmp:
        directory = Path(tmp)
        files = {
            "crm": _csv(
                "Record ID,First Name,Last Name,Email,Phone Number,Associated Company ID",
                lambda i: f"{i},Ann,Lee,user{i}@example.com,+1415555{i % 10000:04d},{i % 97}",
                events,
                directory,
                "contacts.csv",
            ),
            "esp": _csv(
                "Email;Действие;Дата;Выпуск;Ссылка",
                lambda i: (
                    f"user{i}@example.ru;{('открытие', 'переход', 'доставлено')[i % 3]};"
                    f"2026-11-01 10:{i % 60:02d};Ноябрь;https://ex.ru/?utm_source=sendsay"
                ),
                events,
                directory,
                "activity.csv",
            ),
            "gads": _csv(
                "Google Click ID,Conversion Name,Conversion Time,Conversion Value,"
                "Conversion Currency",
                lambda i: f"Cj0KCQ{i:08d},Purchase,2026-11-01 10:00:00+0100,{i % 500}.00,EUR",
                events,
                directory,
                "conversions.csv",
            ),
        }
        payloads: dict[str, tuple[list[bytes], str]] = {
            "web": (_web(events), "application/json"),
            "sendgrid": (_sendgrid(events), "application/json"),
            "mailchimp": (_mailchimp(events), "application/x-www-form-urlencoded"),
            "hubspot": (_hubspot(events), "application/json"),
            "leadform": (_leadform(events), "application/json"),
        }
        for name in ("web", "sendgrid", "mailchimp", "hubspot", "leadform", "crm", "esp", "gads"):
            connector = get_connector(name)
            started = time.perf_counter()
            if name in payloads:
                bodies, content_type = payloads[name]
                result = _time_payloads(connector, bodies, content_type)
            else:
                result = _time_file(connector, files[name])
            seconds = time.perf_counter() - started
            report["connectors"][name] = {
                "items": events,
                "events": len(result.events),
                "rejected": len(result.rejected),
                "seconds": round(seconds, 3),
                "items_per_s": round(events / seconds) if seconds else None,
                "events_per_s": round(len(result.events) / seconds) if seconds else None,
            }
    return report
