"""CRM connector: CSV exports of contacts, companies, deals and activities.

Header presets cover HubSpot, Salesforce (Lead / Contact / Account / Opportunity and activity
report columns), amoCRM and Bitrix24 (Russian headers); ``config["preset"]`` picks one when a
header means different things in two CRMs, and ``config["mapping_file"]`` names a JSON file
``{"kind": ..., "preset": ..., "mapping": {"Header": "field"}, "delimiter": ..., "encoding":
...}`` (the generic mapping option; keys set directly in the config win).

Each contact row becomes an ``identify`` event about ``recordKey = "contact:<id>"``; each
company row a ``group`` event with ``groupId = "crm:<id>"``. A deal row is a touchpoint on its
contact: track "Deal Stage Changed" (message id from deal id + stage, so re-importing the same
stage is a no-op and a new stage is a new touchpoint), plus "Deal Won"/"Deal Lost" when the
stage says so. An activity row (call, meeting, demo, complaint, email, note, task) is a track
on its contact ("Call Logged", "Meeting Held", "Demo Held", "Complaint Submitted", ...).

Headers match case-, space- and punctuation-insensitively (``"E-mail"``, ``"Email
Address"`` and ``email_address`` are all the email column); ``config["mapping"]`` overrides
the defaults; columns nobody mapped are kept as custom traits under their snake_cased header.
Message ids hash the source, kind and row, so importing the same file twice is a no-op while
an edited row is a new event.
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
    csv_read_errors,
    load_json,
    stable_message_id,
)

KINDS: tuple[str, ...] = ("contacts", "companies", "deals", "activities")
PRESETS: tuple[str, ...] = ("hubspot", "salesforce", "amocrm", "bitrix24")
DELIMITERS: tuple[str, ...] = (",", ";", "\t")

#: normalised header -> canonical field, per kind (the first non-empty column of a field wins)
CONTACT_COLUMNS: dict[str, str] = {
    **dict.fromkeys(
        ("record_id", "contact_id", "id", "contact_record_id", "lead_id", "id_контакта"), "id"
    ),
    # Salesforce / amoCRM / Bitrix24
    **dict.fromkeys(("имя",), "first_name"),
    **dict.fromkeys(("фамилия",), "last_name"),
    **dict.fromkeys(
        ("email", "рабочий_email", "рабочий_e_mail", "личный_email", "e_mail_контакта"),
        "email",
    ),
    **dict.fromkeys(
        ("телефон", "рабочий_телефон", "мобильный_телефон", "мобильный", "work_phone"), "phone"
    ),
    **dict.fromkeys(("должность",), "job_title"),
    **dict.fromkeys(
        ("компания", "название_компании", "company_account", "account_name"), "company"
    ),
    **dict.fromkeys(("account_id", "id_компании"), "company_id"),
    **dict.fromkeys(("город", "mailing_city"), "city"),
    **dict.fromkeys(("страна", "mailing_country"), "country"),
    **dict.fromkeys(("lead_source", "источник", "источник_лида"), "lead_source"),
    **dict.fromkeys(("дата_создания",), "created_at"),
    **dict.fromkeys(("дата_изменения",), "updated_at"),
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
    **dict.fromkeys(
        ("record_id", "company_id", "id", "company_record_id", "account_id", "id_компании"), "id"
    ),
    **dict.fromkeys(
        ("account_name", "название_компании", "наименование", "название", "компания"), "name"
    ),
    **dict.fromkeys(("web", "сайт", "корпоративный_сайт", "веб_сайт"), "domain"),
    **dict.fromkeys(("отрасль", "сфера_деятельности"), "industry"),
    **dict.fromkeys(
        ("количество_сотрудников", "кол_во_сотрудников", "число_сотрудников"), "employees"
    ),
    **dict.fromkeys(("годовой_доход", "годовой_оборот"), "annual_revenue"),
    **dict.fromkeys(("город", "billing_city"), "city"),
    **dict.fromkeys(("страна", "billing_country"), "country"),
    **dict.fromkeys(("дата_создания",), "created_at"),
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
DEAL_COLUMNS: dict[str, str] = {
    **dict.fromkeys(("record_id", "deal_id", "id", "opportunity_id", "id_сделки"), "id"),
    **dict.fromkeys(
        ("deal_name", "dealname", "name", "opportunity_name", "название_сделки", "название"),
        "name",
    ),
    **dict.fromkeys(
        (
            "deal_stage",
            "dealstage",
            "stage",
            "этап_сделки",
            "этап",
            "стадия_сделки",
            "стадия",
            "статус",
        ),
        "stage",
    ),
    **dict.fromkeys(("amount", "бюджет", "сумма", "amount_converted", "deal_amount"), "amount"),
    **dict.fromkeys(("currency", "валюта", "opportunity_currency"), "currency"),
    **dict.fromkeys(("pipeline", "воронка", "направление"), "pipeline"),
    **dict.fromkeys(
        ("close_date", "closedate", "дата_закрытия", "предполагаемая_дата_закрытия"),
        "close_date",
    ),
    **dict.fromkeys(
        (
            "associated_contact_id",
            "associated_contact_ids",
            "contact_id",
            "primary_contact_id",
            "id_контакта",
            "контакт_id",
            "id_основного_контакта",
        ),
        "contact_id",
    ),
    **dict.fromkeys(
        (
            "contact_email",
            "email",
            "e_mail",
            "email_контакта",
            "e_mail_контакта",
            "рабочий_email_контакт",
            "рабочий_email",
        ),
        "contact_email",
    ),
    **dict.fromkeys(
        (
            "associated_company_id",
            "associated_company_ids",
            "account_id",
            "company_id",
            "id_компании",
        ),
        "company_id",
    ),
    **dict.fromkeys(
        (
            "last_stage_change_date",
            "stage_changed_at",
            "дата_изменения_этапа",
            "last_modified_date",
            "lastmodifieddate",
            "дата_изменения",
            "updated_at",
        ),
        "updated_at",
    ),
    **dict.fromkeys(("create_date", "created_date", "createdate", "дата_создания"), "created_at"),
    **dict.fromkeys(("probability", "probability", "вероятность"), "probability"),
}
ACTIVITY_COLUMNS: dict[str, str] = {
    **dict.fromkeys(("record_id", "activity_id", "id", "task_id", "event_id", "id_дела"), "id"),
    **dict.fromkeys(
        (
            "activity_type",
            "type",
            "task_subtype",
            "event_subtype",
            "тип",
            "тип_дела",
            "тип_активности",
            "тип_события",
        ),
        "type",
    ),
    **dict.fromkeys(
        ("subject", "title", "activity_subject", "тема", "название", "описание"), "subject"
    ),
    **dict.fromkeys(
        (
            "activity_date",
            "date",
            "due_date",
            "start_date",
            "дата",
            "дата_начала",
            "дата_события",
            "create_date",
            "created_date",
            "дата_создания",
            "timestamp",
        ),
        "date",
    ),
    **dict.fromkeys(
        (
            "associated_contact_id",
            "associated_contact_ids",
            "contact_id",
            "name_id",
            "who_id",
            "id_контакта",
            "контакт_id",
        ),
        "contact_id",
    ),
    **dict.fromkeys(
        ("contact_email", "email", "e_mail", "email_контакта", "e_mail_контакта"), "contact_email"
    ),
    **dict.fromkeys(
        ("outcome", "result", "call_result", "status", "результат", "статус"), "outcome"
    ),
    **dict.fromkeys(("duration", "call_duration", "длительность"), "duration"),
    **dict.fromkeys(("channel", "канал"), "via"),
    **dict.fromkeys(("associated_deal_id", "deal_id", "opportunity_id", "id_сделки"), "deal_id"),
}
#: header meanings that differ per CRM (applied over the tables above with config preset)
PRESET_COLUMNS: dict[str, dict[str, dict[str, str]]] = {
    "hubspot": {},
    "salesforce": {
        "contacts": {"account_id": "company_id", "name": "full_name"},
        "deals": {"account_name": "company", "stage": "stage", "contact_id": "contact_id"},
        "activities": {"name_id": "contact_id", "related_to_id": "deal_id"},
    },
    "amocrm": {
        "contacts": {"полное_имя": "full_name", "имя": "first_name"},
        "deals": {"статус": "stage", "основной_контакт": "contact_name"},
    },
    "bitrix24": {
        "contacts": {"отчество": "middle_name"},
        "deals": {"стадия_сделки": "stage", "контакт": "contact_name"},
    },
}
_COLUMNS = {
    "contacts": CONTACT_COLUMNS,
    "companies": COMPANY_COLUMNS,
    "deals": DEAL_COLUMNS,
    "activities": ACTIVITY_COLUMNS,
}
#: mapping targets accepted as names for a canonical field
_TARGET_ALIASES = {
    "contacts": {"crm_contact_id": "id", "crm_company_id": "company_id"},
    "companies": {"crm_company_id": "id"},
    "deals": {"crm_deal_id": "id", "crm_contact_id": "contact_id", "email": "contact_email"},
    "activities": {"crm_contact_id": "contact_id", "email": "contact_email"},
}
_DEAL_SIGNALS = frozenset(
    {
        "deal_stage",
        "dealstage",
        "opportunity_id",
        "opportunity_name",
        "deal_name",
        "этап_сделки",
        "стадия_сделки",
        "название_сделки",
        "id_сделки",
        "deal_id",
        "stage",
    }
)
_ACTIVITY_SIGNALS = frozenset(
    {
        "activity_type",
        "activity_id",
        "task_subtype",
        "event_subtype",
        "тип_дела",
        "тип_активности",
        "activity_date",
        "call_duration",
        "id_дела",
    }
)
#: activity type (snake-cased, English and Russian) -> track event name
ACTIVITY_EVENTS: dict[str, str] = {
    **dict.fromkeys(
        ("call", "calls", "phone_call", "звонок", "входящий_звонок", "исходящий_звонок"),
        "Call Logged",
    ),
    **dict.fromkeys(("meeting", "meetings", "event", "встреча"), "Meeting Held"),
    **dict.fromkeys(
        ("demo", "demonstration", "product_demo", "демо", "демонстрация", "презентация"),
        "Demo Held",
    ),
    **dict.fromkeys(
        ("complaint", "complaints", "жалоба", "претензия", "рекламация"), "Complaint Submitted"
    ),
    **dict.fromkeys(("email", "e_mail", "письмо", "emails"), "Sales Email Logged"),
    **dict.fromkeys(("note", "notes", "заметка", "примечание", "комментарий"), "Note Added"),
    **dict.fromkeys(("task", "tasks", "to_do", "задача", "дело"), "Task Completed"),
}
WON_STAGES = frozenset(
    {
        "closedwon",
        "closed_won",
        "won",
        "успешно_реализовано",
        "сделка_успешна",
        "успешная_сделка",
        "сделка_заключена",
        "выиграна",
    }
)
LOST_STAGES = frozenset(
    {
        "closedlost",
        "closed_lost",
        "lost",
        "закрыто_и_не_реализовано",
        "сделка_провалена",
        "проиграна",
        "провал",
    }
)
#: headers that only a contacts file has (auto-detection)
_CONTACT_SIGNALS = frozenset(
    h for h, f in CONTACT_COLUMNS.items() if f in ("email", "first_name", "last_name", "job_title")
) | {"contact_id"}
_COMPANY_SIGNALS = frozenset(
    h
    for h, f in COMPANY_COLUMNS.items()
    if f in ("name", "domain", "industry", "employees", "annual_revenue")
) | {"company_id"}
_SINGULAR = {
    "contacts": "contact",
    "companies": "company",
    "deals": "deal",
    "activities": "activity",
}

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
        encoding = str(config.get("encoding") or "utf-8-sig")
        try:
            fallback_ts = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            handle = path.open(encoding=encoding, newline="")
        except OSError as err:
            raise ConnectorError(f"cannot read {path}: {err.strerror or err}") from err
        with handle, csv_read_errors(path, encoding=encoding):
            first_line = handle.readline()
            handle.seek(0)
            delimiter = str(config.get("delimiter") or sniff_delimiter(first_line))
            reader = csv.reader(handle, delimiter=delimiter)
            headers = next(reader, None)
            if not headers:
                return
            kind = _kind(config, headers)
            plan = _plan(headers, kind, config.get("mapping"), config.get("preset"))
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
        data = load_json(body)  # bad or too deeply nested JSON -> ConnectorError
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
        plan = _plan(headers, kind, config.get("mapping"), config.get("preset"))
        for index, item in enumerate(data):
            if not isinstance(item, dict):
                result.rejected.append(Rejection(index, "a row must be a JSON object", item))
                continue
            row = {str(k): _cell(v) for k, v in item.items()}
            _add_row(result, index, row, plan, kind, source, None)
        return result


# --------------------------------------------------------------------------- parsing


def with_mapping_file(config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` with the settings of its ``mapping_file`` (a JSON object) filled in: keys set
    in the config itself win, ``mapping`` entries are merged."""
    merged = dict(config)
    name = config.get("mapping_file")
    if not name:
        return merged
    try:
        loaded = json.loads(Path(str(name)).read_text(encoding="utf-8"))
    except OSError as err:
        raise ConnectorError(f"cannot read mapping file {name}: {err.strerror or err}") from err
    except ValueError as err:
        raise ConnectorError(f"mapping file {name} is not JSON: {err}") from err
    if not isinstance(loaded, dict):
        raise ConnectorError(f"mapping file {name} must hold a JSON object")
    unknown = set(loaded) - {"kind", "preset", "mapping", "delimiter", "encoding"}
    if unknown:
        raise ConnectorError(f"mapping file {name}: unknown keys {sorted(unknown)}")
    for key, value in loaded.items():
        if key == "mapping" and isinstance(value, dict):
            own = config.get("mapping") if isinstance(config.get("mapping"), Mapping) else {}
            merged["mapping"] = {**value, **dict(own or {})}
        else:
            merged.setdefault(key, value)
    return merged


def sniff_delimiter(line: str) -> str:
    """The candidate delimiter that splits the header line most often (ties: comma)."""
    counts = {d: len(next(csv.reader([line], delimiter=d), [])) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] > 1 else ","


_KIND_ALIASES = {
    "contact": "contacts",
    "company": "companies",
    "deal": "deals",
    "activity": "activities",
    "leads": "contacts",
    "lead": "contacts",
    "accounts": "companies",
    "account": "companies",
    "opportunities": "deals",
    "opportunity": "deals",
}


def _kind(config: Mapping[str, Any], headers: list[str]) -> str:
    wanted = config.get("kind")
    if wanted is not None:
        kind = _KIND_ALIASES.get(str(wanted), str(wanted))
        if kind not in KINDS:
            raise ConnectorError(f"config kind must be one of {', '.join(KINDS)}; not {wanted!r}")
        return kind
    normalised = {snake(h) for h in headers}
    mapping = config.get("mapping")
    if isinstance(mapping, Mapping):
        normalised |= {snake(str(v)) for v in mapping.values() if v}
    if normalised & _DEAL_SIGNALS:
        return "deals"
    if normalised & _ACTIVITY_SIGNALS:
        return "activities"
    if normalised & _CONTACT_SIGNALS:
        return "contacts"
    if normalised & _COMPANY_SIGNALS:
        return "companies"
    raise ConnectorError(
        "cannot tell whether this file holds contacts, companies, deals or activities; "
        "set config kind"
    )


def _plan(headers: list[str], kind: str, mapping: Any, preset: Any = None) -> list[_Column]:
    """Where each column goes: a canonical field or a custom trait; mapped to None: dropped."""
    defaults = dict(_COLUMNS[kind])
    if preset is not None:
        name = str(preset).lower()
        if name not in PRESET_COLUMNS:
            raise ConnectorError(f"unknown CRM preset {preset!r}; known: {', '.join(PRESETS)}")
        defaults.update(PRESET_COLUMNS[name].get(kind, {}))
    aliases = _TARGET_ALIASES[kind]
    canonical = set(defaults.values()) | {"full_name", "contact_name", "company", "middle_name"}
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
    if kind == "activities":
        return plan  # activities without an id column get one from the row
    if kind == "deals" and not any(c.field == "id" and c.canonical for c in plan):
        raise ConnectorError(
            "no deal id column: expected Record ID, Deal ID, Opportunity ID or ID "
            "(or map one with config mapping)"
        )
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
    if kind == "activities":
        data = _activity_event(index, fields, custom, source, row, result)
        if data is not None:
            data.setdefault("timestamp", parse_date(fields.get("date")) or fallback_ts)
            result.add(index, data, raw=row)
        return
    record_id = fields.get("id")
    if not record_id:
        id_columns = [c.header for c in plan if c.field == "id" and c.canonical]
        reason = f"missing {_SINGULAR[kind]} id: "
        reason += f"column {' / '.join(repr(h) for h in id_columns)} is empty"
        result.rejected.append(Rejection(index, reason, row))
        return
    timestamp = (
        parse_date(fields.get("updated_at")) or parse_date(fields.get("created_at")) or fallback_ts
    )
    if kind == "deals":
        for data in _deal_events(index, record_id, fields, custom, source, row, result):
            data.update(source=source, channel="crm")
            data.setdefault("timestamp", timestamp)
            result.add(index, data, raw=row)
        return
    build = _contact_event if kind == "contacts" else _company_event
    data = build(record_id, fields, custom)
    data.update(
        messageId=stable_message_id(source, kind, row),
        source=source,
        channel="crm",
        timestamp=parse_date(fields.get("updated_at"))
        or parse_date(fields.get("created_at"))
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
        "lead_source",
        "middle_name",
    ):
        if name in fields:
            traits[name] = fields[name]
    if "full_name" in fields:
        traits["name"] = fields["full_name"]
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


def _person_ref(
    index: int,
    fields: dict[str, str],
    row: dict[str, str],
    result: ParseResult,
    what: str,
) -> dict[str, Any] | None:
    """The contact a deal/activity row is about: its CRM id, else its email; None: rejected."""
    contact_id = (fields.get("contact_id") or "").split(";")[0].split(",")[0].strip()
    if contact_id:
        return {
            "recordKey": "contact:" + contact_id,
            "context": {
                "externalIds": [{"id": contact_id, "type": "crm_contact_id", "collection": "users"}]
            },
        }
    email = (fields.get("contact_email") or "").strip()
    if "@" in email:
        return {"recordKey": "email:" + email.lower(), "traits": {"email": email}, "context": {}}
    reason = f"{what} names no contact: the contact id / contact email column is empty"
    result.rejected.append(Rejection(index, reason, row))
    return None


def _deal_events(
    index: int,
    record_id: str,
    fields: dict[str, str],
    custom: dict[str, str],
    source: str,
    row: dict[str, str],
    result: ParseResult,
) -> list[dict[str, Any]]:
    ref = _person_ref(index, fields, row, result, "deal")
    if ref is None:
        return []
    stage = fields.get("stage")
    if not stage:
        result.rejected.append(Rejection(index, "deal stage is empty", row))
        return []
    properties: dict[str, Any] = {**custom, "deal_id": record_id, "stage": stage}
    for name in ("name", "pipeline", "currency", "contact_name", "company"):
        if fields.get(name):
            properties["deal_name" if name == "name" else name] = fields[name]
    for name in ("amount", "probability"):
        if fields.get(name):
            number = _parse_float(fields[name])
            properties[name] = number if number is not None else fields[name]
    close = parse_date(fields.get("close_date"))
    if close:
        properties["close_date"] = close.isoformat()
    if fields.get("company_id"):
        properties["company_id"] = fields["company_id"]
        ref["context"]["groupId"] = "crm:" + fields["company_id"]
    # one touchpoint per (deal, stage): re-importing the same stage changes nothing
    base = {**ref, "type": "track", "properties": properties}
    events = [
        {
            **base,
            "event": "Deal Stage Changed",
            "messageId": stable_message_id(source, "deal-stage", record_id, stage),
        }
    ]
    outcome = snake(stage)
    if outcome in WON_STAGES or outcome in LOST_STAGES:
        won = outcome in WON_STAGES
        events.append(
            {
                **base,
                "event": "Deal Won" if won else "Deal Lost",
                "messageId": stable_message_id(source, "deal-outcome", record_id, won),
                **({"timestamp": close} if close else {}),
            }
        )
    return events


def _activity_event(
    index: int,
    fields: dict[str, str],
    custom: dict[str, str],
    source: str,
    row: dict[str, str],
    result: ParseResult,
) -> dict[str, Any] | None:
    kind = fields.get("type", "")
    name = ACTIVITY_EVENTS.get(snake(kind))
    if name is None:
        known = "call, meeting, demo, complaint, email, note, task"
        reason = f"activity type {kind!r} is not one of {known} (or their Russian names)"
        result.rejected.append(Rejection(index, reason, row))
        return None
    ref = _person_ref(index, fields, row, result, "activity")
    if ref is None:
        return None
    properties: dict[str, Any] = {**custom, "activity_type": kind}
    for field_name in ("subject", "outcome", "via", "deal_id", "id"):
        if fields.get(field_name):
            properties["activity_id" if field_name == "id" else field_name] = fields[field_name]
    if fields.get("duration"):
        number = _parse_float(fields["duration"])
        properties["duration"] = number if number is not None else fields["duration"]
    when = parse_date(fields.get("date"))
    if fields.get("date") and when is None:
        result.rejected.append(Rejection(index, f"date: not a date: {fields['date']!r}", row))
        return None
    identity = fields.get("id") or row
    return {
        **ref,
        "type": "track",
        "event": name,
        "source": source,
        "channel": "crm",
        "messageId": stable_message_id(source, "activity", identity),
        "properties": properties,
        **({"timestamp": when} if when else {}),
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
            parsed = parse_date(raw)
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


def parse_date(value: str | None) -> datetime | None:
    """CRM export dates: ISO 8601, unix seconds/ms, US and European day orders."""
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
