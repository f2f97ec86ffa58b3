"""The CRM connector: CSV files (the one CSV reader) and JSON arrays of rows."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from connectors.base import Connector, ParseResult, Rejection
from connectors.crm.mapping import detect_kind, plan_columns, with_mapping_file
from connectors.crm.rows import add_row
from connectors.csvfile import (
    NOT_AN_OBJECT,
    CsvRow,
    in_batches,
    json_rows,
    object_rows,
    open_csv,
)


class CrmCsvConnector(Connector):
    name = "crm"
    channel = "crm"
    description = (
        "CRM CSV exports: contacts, companies, deals, activities (HubSpot, Salesforce, "
        "amoCRM, Bitrix24)"
    )
    files = True
    webhook = False
    identifiers = ("crm_contact_id", "email", "phone")
    traits = ("first_name", "last_name", "email", "phone", "job_title", "company", "city")
    config_keys = ("kind", "preset", "mapping", "mapping_file", "delimiter", "encoding")

    def parse_file(
        self,
        path: Path,
        *,
        source: str,
        config: Mapping[str, Any] | None = None,
        batch_size: int = 1000,
    ) -> Iterator[ParseResult]:
        config = with_mapping_file(config or {})
        encoding, delimiter = config.get("encoding"), config.get("delimiter")
        with open_csv(path, encoding=encoding, delimiter=delimiter) as csv_file:
            headers = csv_file.next_record()
            if not headers:
                return
            kind = detect_kind(config, headers)
            plan = plan_columns(headers, kind, config.get("mapping"), config.get("preset"))

            def add(result: ParseResult, row: CsvRow) -> None:
                cells = row.cells
                if len(cells) > len(headers) and any(c.strip() for c in cells[len(headers) :]):
                    reason = (
                        f"line {row.line} has {len(cells)} cells but the header has "
                        f"{len(headers)} (is a value with {csv_file.delimiter!r} unquoted?)"
                    )
                    result.rejected.append(Rejection(row.line, reason, cells))
                else:
                    values = dict(zip(headers, cells, strict=False))
                    add_row(result, row.line, values, plan, kind, source, csv_file.modified_at)

            yield from in_batches(csv_file, add, batch_size=batch_size)

    def parse_payload(
        self,
        body: bytes,
        *,
        source: str,
        content_type: str | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> ParseResult:
        """A JSON array of row objects (header -> value), e.g. from an API import."""
        config = with_mapping_file(config or {})
        headers, items = json_rows(body, error="a CRM payload must be a JSON array of row objects")
        result = ParseResult()
        if not headers:
            result.rejected.extend(
                Rejection(i, NOT_AN_OBJECT, item) for i, item in enumerate(items)
            )
            return result
        kind = detect_kind(config, headers)
        plan = plan_columns(headers, kind, config.get("mapping"), config.get("preset"))
        for index, item in object_rows(items, result):
            row = {str(k): _cell(v) for k, v in item.items()}
            add_row(result, index, row, plan, kind, source, None)
        return result


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
