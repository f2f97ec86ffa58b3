"""The lead-form connector: either vendor's leads, posted as JSON or imported as CSV."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from connectors.ads.facebook import (
    NOTIFICATION,
    facebook_lead,
    facebook_notification,
    facebook_row,
    subscription_handshake,
)
from connectors.ads.google import google_lead
from connectors.ads.lead import Lead, lead_events
from connectors.base import (
    Connector,
    HandshakeReply,
    ParseResult,
    Rejection,
    load_json_items,
)
from connectors.csvfile import CsvRow, in_batches, open_csv
from connectors.signatures import verify_hub_signature_256


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
        return subscription_handshake(params=params, config=config)

    def replay_item(
        self, raw: Any, *, source: str, config: Mapping[str, Any] | None = None
    ) -> ParseResult:
        if isinstance(raw, dict) and not {"field_data", "user_column_data", "entry"} & set(raw):
            raw = facebook_row(raw)  # a row of a CSV export
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
        config = config or {}
        with open_csv(path, encoding=config.get("encoding")) as csv_file:
            headers = csv_file.next_record()
            if not headers:
                return

            def add(result: ParseResult, record: CsvRow) -> None:
                row = dict(zip(headers, record.cells, strict=False))
                if not any(value.strip() for value in row.values()):
                    return  # values only in cells beyond the header
                lead, problem = _read_lead(facebook_row(row))
                if lead is None:
                    result.rejected.append(Rejection(record.line, problem, row))
                else:
                    for event in lead_events(lead, source=source):
                        result.add(record.line, event, raw=row)

            yield from in_batches(csv_file, add, batch_size=batch_size)

    def parse_payload(
        self,
        body: bytes,
        *,
        source: str,
        content_type: str | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> ParseResult:
        error = "a lead payload must be a JSON object or an array of leads"
        items = load_json_items(body, error=error)
        result = ParseResult()
        for index, item in enumerate(items):
            lead, problem = _read_lead(item)
            if lead is None and problem is NOTIFICATION:
                facebook_notification(result, index, item, source=source)
                continue
            if lead is None:
                result.rejected.append(Rejection(index, problem, item))
                continue
            for event in lead_events(lead, source=source):
                result.add(index, event, raw=item)
        return result


def _read_lead(item: Any) -> tuple[Lead | None, str]:
    if not isinstance(item, dict):
        return None, "a lead must be a JSON object"
    if "user_column_data" in item or "lead_id" in item:
        lead, problem = google_lead(item)
    elif "field_data" in item or "id" in item:
        lead, problem = facebook_lead(item)
    elif "entry" in item:
        return None, NOTIFICATION
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
