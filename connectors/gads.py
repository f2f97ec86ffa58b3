"""Google Ads offline click conversions: the upload CSV (gclid + conversion name/time/value).

The file is Google's "offline conversions" template: an optional first line
``Parameters:TimeZone=Europe/Berlin`` (or ``Parameters:TimeZone=+0100``), then the header
``Google Click ID,Conversion Name,Conversion Time,Conversion Value,Conversion Currency`` (the
API names ``gclid``, ``conversion_action``/``conversion_name``, ``conversion_date_time``...
are accepted too, as are ``gbraid``/``wbraid`` and the enhanced-conversions columns ``Email``
and ``Phone Number``).

Each row is one "Ad Conversion" touchpoint about ``recordKey = "gclid:<click id>"`` with the
click id in ``context.campaign.click_ids`` and as an external id, so identity joins it to the
web visit whose landing URL carried the same ``gclid`` (and to Google lead-form leads).
Re-importing the same file is a no-op (message ids hash the row).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.base import Connector, ConnectorError, ParseResult, Rejection, stable_message_id
from connectors.cells import snake
from connectors.csvfile import CsvRow, in_batches, json_rows, object_rows, open_csv

CONVERSION_EVENT = "Ad Conversion"
COLUMNS: dict[str, str] = {
    **dict.fromkeys(("google_click_id", "gclid", "click_id"), "gclid"),
    "gbraid": "gbraid",
    "wbraid": "wbraid",
    **dict.fromkeys(("conversion_name", "conversion_action", "conversion"), "name"),
    **dict.fromkeys(
        ("conversion_time", "conversion_date_time", "conversion_datetime", "time"), "time"
    ),
    **dict.fromkeys(("conversion_value", "value"), "value"),
    **dict.fromkeys(("conversion_currency", "currency_code", "currency"), "currency"),
    **dict.fromkeys(("order_id", "transaction_id"), "order_id"),
    **dict.fromkeys(("email", "email_address"), "email"),
    **dict.fromkeys(("phone_number", "phone"), "phone"),
}
_TIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S%z",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M%z",
    "%Y-%m-%d %H:%M",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
)
_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")


class GoogleAdsConversionsConnector(Connector):
    name = "gads"
    channel = "ads"
    description = "Google Ads offline click conversions CSV (gclid, conversion name/time/value)"
    files = True
    webhook = True  # a JSON array of rows (header -> value) is accepted too
    identifiers = ("gclid", "gbraid", "wbraid", "email", "phone")
    config_keys = ("timezone",)

    def parse_file(
        self,
        path: Path,
        *,
        source: str,
        config: Mapping[str, Any] | None = None,
        batch_size: int = 1000,
    ) -> Iterator[ParseResult]:
        config = config or {}
        # Google's template is comma-separated: no sniffing (its first line may be a preamble)
        with open_csv(path, encoding=config.get("encoding"), delimiter=",") as csv_file:
            zone = _zone(config.get("timezone"))
            header = csv_file.next_record()
            while header is not None and header and header[0].startswith("Parameters:"):
                for part in ",".join(header)[len("Parameters:") :].split(";"):
                    name, _, value = part.partition("=")
                    if name.strip().lower() == "timezone" and value.strip():
                        zone = _zone(value.strip())
                header = csv_file.next_record()
            if not header:
                return
            plan = [COLUMNS.get(snake(h)) for h in header]
            if "gclid" not in plan and "gbraid" not in plan and "wbraid" not in plan:
                raise ConnectorError(
                    f"{path.name}: no Google Click ID column (expected 'Google Click ID' "
                    "or gclid/gbraid/wbraid)"
                )

            def add(result: ParseResult, record: CsvRow) -> None:
                row = {f: c.strip() for f, c in zip(plan, record.cells, strict=False) if f}
                raw = dict(zip(header, record.cells, strict=False))
                _add(result, record.line, row, raw, source=source, zone=zone)

            yield from in_batches(csv_file, add, batch_size=batch_size)

    def parse_payload(
        self,
        body: bytes,
        *,
        source: str,
        content_type: str | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> ParseResult:
        error = "a conversions payload must be a JSON array of row objects"
        _, items = json_rows(body, error=error)
        zone = _zone((config or {}).get("timezone"))
        result = ParseResult()
        for index, item in object_rows(items, result):
            row = {}
            for header, value in item.items():
                target = COLUMNS.get(snake(str(header)))
                if target and value is not None:
                    row[target] = str(value).strip()
            _add(result, index, row, item, source=source, zone=zone)
        return result


def _zone(value: Any) -> tzinfo:
    if not value:
        return UTC
    text = str(value).strip()
    match = _OFFSET.match(text)
    if match:
        sign = 1 if match.group(1) == "+" else -1
        delta = timedelta(hours=int(match.group(2)), minutes=int(match.group(3)))
        return timezone(sign * delta)
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ConnectorError(f"unknown time zone {text!r}") from err


def parse_time(text: str, zone: tzinfo) -> datetime | None:
    value = text.strip()
    value = re.sub(r"([+-]\d{2}):(\d{2})$", r"\1\2", value)  # "+01:00" -> "+0100"
    for fmt in _TIME_FORMATS:
        try:
            parsed = datetime.strptime(value, fmt)
        except ValueError:
            continue
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


def _add(
    result: ParseResult,
    index: int,
    row: dict[str, str],
    raw: Any,
    *,
    source: str,
    zone: tzinfo,
) -> None:
    click_type = next((k for k in ("gclid", "gbraid", "wbraid") if row.get(k)), None)
    if click_type is None:
        result.rejected.append(Rejection(index, "Google Click ID: empty", raw))
        return
    click_id = row[click_type]
    name = row.get("name")
    if not name:
        result.rejected.append(Rejection(index, "Conversion Name: empty", raw))
        return
    when = parse_time(row.get("time", ""), zone) if row.get("time") else None
    if when is None:
        reason = f"Conversion Time: {row.get('time')!r} is not 'yyyy-mm-dd hh:mm:ss[+zzzz]'"
        result.rejected.append(Rejection(index, reason, raw))
        return
    properties: dict[str, Any] = {"conversion_name": name, click_type: click_id}
    if row.get("value"):
        try:
            properties["value"] = float(row["value"].replace(",", ""))
        except ValueError:
            reason = f"Conversion Value: {row['value']!r} is not a number"
            result.rejected.append(Rejection(index, reason, raw))
            return
    for key in ("currency", "order_id"):
        if row.get(key):
            properties[key] = row[key]
    traits = {k: row[k] for k in ("email", "phone") if row.get(k)}
    event = {
        "type": "track",
        "event": CONVERSION_EVENT,
        "messageId": stable_message_id(source, "gads", click_type, click_id, name, when),
        "source": source,
        "channel": "ads",
        "recordKey": f"{click_type}:{click_id}",
        "timestamp": when,
        "traits": traits,
        "properties": properties,
        "context": {
            "campaign": {"source": "google", "medium": "cpc", "click_ids": {click_type: click_id}},
            "externalIds": [{"id": click_id, "type": click_type, "collection": "users"}],
        },
    }
    result.add(index, event, raw=raw)
