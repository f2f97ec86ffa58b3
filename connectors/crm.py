"""CRM connector: CSV exports of contacts and companies (HubSpot-style headers by default).

Each contact row becomes an ``identify`` event about ``recordKey = "contact:<id>"``; each
company row a ``group`` event with ``groupId = "crm:<id>"``. Headers match case-, space- and
punctuation-insensitively (``"E-mail"``, ``"Email Address"`` and ``email_address`` are all the
email column); ``config["mapping"]`` overrides the defaults; columns nobody mapped are kept as
custom traits under their snake_cased header. Message ids hash the source, kind and row, so
importing the same file twice is a no-op while an edited row is a new event.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from connectors.base import (
    Connector,
    ConnectorError,
    ParseResult,
    Rejection,
    load_json,
    stable_message_id,
)

KINDS: tuple[str, ...] = ("contacts", "companies")
DELIMITERS: tuple[str, ...] = (",", ";", "\t")

#: normalised header -> canonical field, per kind (the first non-empty column of a field wins)
CONTACT_COLUMNS: dict[str, str] = {
    **dict.fromkeys(("record_id", "contact_id", "id", "contact_record_id"), "id"),
    **dict.fromkeys(("first_name", "firstname", "given_name"), "first_name"),
    **dict.fromkeys(("last_name", "lastname", "surname", "family_name"), "last_name"),
    **dict.fromkeys(
        ("email", "e_mail", "email_address", "e_mail_address", "emailaddress"), "email"
    ),
    **dict.fromkeys(
        ("phone_number", "phone", "mobile_phone_number", "mobile_phone", "mobile", "telephone"),
        "phone",
    ),
    **dict.fromkeys(("job_title", "jobtitle", "title"), "job_title"),
    **dict.fromkeys(("company_name", "company", "organization", "organisation"), "company"),
    **dict.fromkeys(
        (
            "associated_company_id",
            "associated_company_id_primary",
            "associated_company_ids",
            "company_id",
        ),
        "company_id",
    ),
    "city": "city",
    **dict.fromkeys(("country_region", "country"), "country"),
    **dict.fromkeys(("lifecycle_stage", "lifecyclestage"), "lifecycle_stage"),
    **dict.fromkeys(("lead_status", "hs_lead_status"), "lead_status"),
    **dict.fromkeys(("create_date", "created_date", "created_at", "createdate"), "created_at"),
    **dict.fromkeys(
        ("last_modified_date", "lastmodifieddate", "last_modified", "updated_at"), "updated_at"
    ),
}
COMPANY_COLUMNS: dict[str, str] = {
    **dict.fromkeys(("record_id", "company_id", "id", "company_record_id"), "id"),
    **dict.fromkeys(("company_name", "name", "company"), "name"),
    **dict.fromkeys(
        ("company_domain_name", "domain", "domain_name", "website_url", "website", "url"),
        "domain",
    ),
    "industry": "industry",
    **dict.fromkeys(
        ("number_of_employees", "employees", "employee_count", "numberofemployees"), "employees"
    ),
    **dict.fromkeys(("annual_revenue", "annualrevenue", "revenue"), "annual_revenue"),
    "city": "city",
    **dict.fromkeys(("country_region", "country"), "country"),
    **dict.fromkeys(("create_date", "created_date", "created_at", "createdate"), "created_at"),
    **dict.fromkeys(
        ("last_modified_date", "lastmodifieddate", "last_modified", "updated_at"), "updated_at"
    ),
}
_COLUMNS = {"contacts": CONTACT_COLUMNS, "companies": COMPANY_COLUMNS}
#: mapping targets accepted as names for a canonical field
_TARGET_ALIASES = {
    "contacts": {"crm_contact_id": "id", "crm_company_id": "company_id"},
    "companies": {"crm_company_id": "id"},
}
#: headers that only a contacts file has (auto-detection)
_CONTACT_SIGNALS = frozenset(
    h for h, f in CONTACT_COLUMNS.items() if f in ("email", "first_name", "last_name", "job_title")
) | {"contact_id"}
_COMPANY_SIGNALS = frozenset(
    h
    for h, f in COMPANY_COLUMNS.items()
    if f in ("name", "domain", "industry", "employees", "annual_revenue")
) | {"company_id"}
_SINGULAR = {"contacts": "contact", "companies": "company"}

_DATE_FORMATS = (
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
)


def snake(header: str) -> str:
    """``"Country/Region"`` -> ``country_region``; keeps non-Latin letters (``"Город"``)."""
    return re.sub(r"[\W_]+", "_", header.strip().lower()).strip("_")


@dataclass(frozen=True)
class _Column:
    header: str
    field: str  # canonical field, or the custom trait name
    canonical: bool


class CrmCsvConnector(Connector):
    name = "crm"
    channel = "crm"
    description = "CRM contacts and companies from CSV exports (HubSpot-style headers)"
    files = True
    webhook = False

    def parse_file(
        self,
        path: Path,
        *,
        source: str,
        config: Mapping[str, Any] | None = None,
        batch_size: int = 1000,
    ) -> Iterator[ParseResult]:
        config = config or {}
        encoding = str(config.get("encoding") or "utf-8-sig")
        try:
            fallback_ts = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            handle = path.open(encoding=encoding, newline="")
        except OSError as err:
            raise ConnectorError(f"cannot read {path}: {err.strerror or err}") from err
        with handle:
            try:
                first_line = handle.readline()
                handle.seek(0)
                delimiter = str(config.get("delimiter") or _sniff_delimiter(first_line))
                reader = csv.reader(handle, delimiter=delimiter)
                headers = next(reader, None)
                if not headers:
                    return
                kind = _kind(config, headers)
                plan = _plan(headers, kind, config.get("mapping"))
                result = ParseResult()
                line = reader.line_num
                for cells in reader:
                    start, line = line + 1, reader.line_num
                    if not any(c.strip() for c in cells):
                        continue
                    if len(cells) > len(headers) and any(c.strip() for c in cells[len(headers) :]):
                        reason = (
                            f"line {start} has {len(cells)} cells but the header has "
                            f"{len(headers)} (is a value with {delimiter!r} unquoted?)"
                        )
                        result.rejected.append(Rejection(start, reason, cells))
                    else:
                        row = dict(zip(headers, cells, strict=False))
                        _add_row(result, start, row, plan, kind, source, fallback_ts)
                    if len(result.events) + len(result.rejected) >= batch_size:
                        yield result
                        result = ParseResult()
                if result.events or result.rejected:
                    yield result
            except UnicodeDecodeError as err:
                raise ConnectorError(
                    f"{path.name} is not {encoding} text ({err.reason}); "
                    "set config encoding, e.g. cp1251"
                ) from err
            except csv.Error as err:
                raise ConnectorError(f"{path.name}: malformed CSV: {err}") from err

    def parse_payload(
        self,
        body: bytes,
        *,
        source: str,
        content_type: str | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> ParseResult:
        """A JSON array of row objects (header -> value), e.g. from an API import."""
        config = config or {}
        try:
            data = load_json(body)
        except RecursionError as err:
            raise ConnectorError("body is nested too deeply", code="invalid_json") from err
        if not isinstance(data, list):
            raise ConnectorError("a CRM payload must be a JSON array of row objects")
        headers: list[str] = []
        for item in data:
            if isinstance(item, dict):
                headers.extend(str(k) for k in item if str(k) not in headers)
        result = ParseResult()
        if not headers:
            for index, item in enumerate(data):
                result.rejected.append(Rejection(index, "a row must be a JSON object", item))
            return result
        kind = _kind(config, headers)
        plan = _plan(headers, kind, config.get("mapping"))
        for index, item in enumerate(data):
            if not isinstance(item, dict):
                result.rejected.append(Rejection(index, "a row must be a JSON object", item))
                continue
            row = {str(k): _cell(v) for k, v in item.items()}
            _add_row(result, index, row, plan, kind, source, None)
        return result


# --------------------------------------------------------------------------- parsing


def _sniff_delimiter(line: str) -> str:
    """The candidate delimiter that splits the header line most often (ties: comma)."""
    counts = {d: len(next(csv.reader([line], delimiter=d), [])) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] > 1 else ","


def _kind(config: Mapping[str, Any], headers: list[str]) -> str:
    wanted = config.get("kind")
    if wanted is not None:
        kind = {"contact": "contacts", "company": "companies"}.get(str(wanted), str(wanted))
        if kind not in KINDS:
            raise ConnectorError(f"config kind must be 'contacts' or 'companies', not {wanted!r}")
        return kind
    normalised = {snake(h) for h in headers}
    mapping = config.get("mapping")
    if isinstance(mapping, Mapping):
        normalised |= {snake(str(v)) for v in mapping.values() if v}
    if normalised & _CONTACT_SIGNALS:
        return "contacts"
    if normalised & _COMPANY_SIGNALS:
        return "companies"
    raise ConnectorError(
        "cannot tell whether this file holds contacts or companies; set config kind"
    )


def _plan(headers: list[str], kind: str, mapping: Any) -> list[_Column]:
    """Where each column goes: a canonical field or a custom trait; mapped to None: dropped."""
    defaults = _COLUMNS[kind]
    aliases = _TARGET_ALIASES[kind]
    canonical = set(defaults.values())
    overrides: dict[str, Any] = {}
    if mapping is not None:
        if not isinstance(mapping, Mapping):
            raise ConnectorError('config mapping must be an object {"Header": "field"}')
        overrides = {snake(str(k)): v for k, v in mapping.items()}
    plan: list[_Column] = []
    for header in headers:
        key = snake(header)
        if key in overrides:
            target = overrides[key]
            if not target:
                continue
            field = aliases.get(str(target), str(target))
            plan.append(_Column(header, field, field in canonical))
        elif key in defaults:
            plan.append(_Column(header, defaults[key], True))
        elif key:
            plan.append(_Column(header, key, False))
    if not any(c.field == "id" and c.canonical for c in plan):
        expected = (
            "Record ID, Contact ID or id" if kind == "contacts" else "Record ID or Company ID"
        )
        raise ConnectorError(
            f"no {_SINGULAR[kind]} id column: expected one of "
            f"{expected} (or map one with config mapping)"
        )
    return plan


def _add_row(
    result: ParseResult,
    index: int,
    row: dict[str, str],
    plan: list[_Column],
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
    record_id = fields.get("id")
    if not record_id:
        id_columns = [c.header for c in plan if c.field == "id" and c.canonical]
        reason = f"missing {_SINGULAR[kind]} id: "
        reason += f"column {' / '.join(repr(h) for h in id_columns)} is empty"
        result.rejected.append(Rejection(index, reason, row))
        return
    build = _contact_event if kind == "contacts" else _company_event
    data = build(record_id, fields, custom)
    data.update(
        messageId=stable_message_id(source, kind, row),
        source=source,
        channel="crm",
        timestamp=_parse_date(fields.get("updated_at"))
        or _parse_date(fields.get("created_at"))
        or fallback_ts,
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
    ):
        if name in fields:
            traits[name] = fields[name]
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
        traits["domain"] = bare_domain(raw_domain) or raw_domain
    for name, parse in (("employees", _parse_int), ("annual_revenue", _parse_float)):
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
            parsed = _parse_date(raw)
            traits[name] = parsed.isoformat() if parsed else raw


# --------------------------------------------------------------------------- values


def bare_domain(value: str) -> str | None:
    """``"https://www.Acme.com/about"`` -> ``acme.com``; None when there is no host."""
    text = value.strip().lower()
    if not text:
        return None
    try:
        host = urlsplit(text if "://" in text else "//" + text).hostname
    except ValueError:
        return None
    if not host:
        return None
    host = host.rstrip(".")
    return host[4:] if host.startswith("www.") else host


def _parse_int(value: str) -> int | None:
    number = _parse_float(value)
    return int(number) if number is not None and number == int(number) else None


def _parse_float(value: str) -> float | None:
    cleaned = re.sub(r"[\s,_$€£¥\u00a0]", "", value)
    try:
        number = float(cleaned)
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    text = value.strip()
    if text.isdigit() and len(text) in (10, 13):  # unix seconds / milliseconds
        seconds = int(text) / (1000 if len(text) == 13 else 1)
        return datetime.fromtimestamp(seconds, UTC)
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        for fmt in _DATE_FORMATS:
            try:
                parsed = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
    if parsed is None:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
