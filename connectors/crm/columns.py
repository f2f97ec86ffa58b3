"""The CRM column tables: header aliases per kind of file and per CRM, the signals that tell
the kinds apart, activity types and deal stages (headers and values snake-cased)."""

from __future__ import annotations

KINDS: tuple[str, ...] = ("contacts", "companies", "deals", "activities")
PRESETS: tuple[str, ...] = ("hubspot", "salesforce", "amocrm", "bitrix24")

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
COLUMNS = {
    "contacts": CONTACT_COLUMNS,
    "companies": COMPANY_COLUMNS,
    "deals": DEAL_COLUMNS,
    "activities": ACTIVITY_COLUMNS,
}
#: mapping targets accepted as names for a canonical field
TARGET_ALIASES = {
    "contacts": {"crm_contact_id": "id", "crm_company_id": "company_id"},
    "companies": {"crm_company_id": "id"},
    "deals": {"crm_deal_id": "id", "crm_contact_id": "contact_id", "email": "contact_email"},
    "activities": {"crm_contact_id": "contact_id", "email": "contact_email"},
}
DEAL_SIGNALS = frozenset(
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
ACTIVITY_SIGNALS = frozenset(
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
CONTACT_SIGNALS = frozenset(
    h for h, f in CONTACT_COLUMNS.items() if f in ("email", "first_name", "last_name", "job_title")
) | {"contact_id"}
COMPANY_SIGNALS = frozenset(
    h
    for h, f in COMPANY_COLUMNS.items()
    if f in ("name", "domain", "industry", "employees", "annual_revenue")
) | {"company_id"}
SINGULAR = {
    "contacts": "contact",
    "companies": "company",
    "deals": "deal",
    "activities": "activity",
}
KIND_ALIASES = {
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
