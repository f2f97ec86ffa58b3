"""Google Ads lead forms: the lead form webhook body (``lead_id``, ``user_column_data``,
``gcl_id``, ...)."""

from __future__ import annotations

from typing import Any

from connectors.ads.lead import Lead, new_lead, present, text_value
from connectors.cells import snake

#: Google ``column_id`` -> canonical field
GOOGLE_COLUMNS: dict[str, str] = {
    "FULL_NAME": "full_name",
    "FIRST_NAME": "first_name",
    "LAST_NAME": "last_name",
    "EMAIL": "email",
    "WORK_EMAIL": "work_email",
    "PHONE_NUMBER": "phone",
    "WORK_PHONE": "work_phone",
    "COMPANY_NAME": "company",
    "JOB_TITLE": "job_title",
    "CITY": "city",
    "POSTAL_CODE": "postcode",
    "COUNTRY": "country",
}
#: early Google payloads had no column_id, only a column_name
_GOOGLE_NAMES: dict[str, str] = {
    "full_name": "full_name",
    "first_name": "first_name",
    "last_name": "last_name",
    "user_email": "email",
    "email": "email",
    "user_phone": "phone",
    "phone_number": "phone",
    "postal_code": "postcode",
    "company_name": "company",
    "job_title": "job_title",
    "city": "city",
    "country": "country",
}


def google_lead(item: dict[str, Any]) -> tuple[Lead | None, str]:
    lead, problem = new_lead(
        item, platform="google", vendor="Google", id_key="lead_id", time_key="lead_submit_time"
    )
    if lead is None:
        return None, problem
    columns = item.get("user_column_data") or []
    if not isinstance(columns, list):
        return None, "user_column_data: must be an array of {column_id, string_value}"
    for column in columns:
        if not isinstance(column, dict):
            continue
        value = text_value(column.get("string_value"))
        if not value:
            continue
        column_id = column.get("column_id")
        column_name = column.get("column_name")
        canonical = GOOGLE_COLUMNS.get(str(column_id).upper()) if column_id else None
        if canonical is None and not column_id and isinstance(column_name, str):
            canonical = _GOOGLE_NAMES.get(snake(column_name))
        if canonical:
            lead.fields.setdefault(canonical, value)
        else:
            lead.answers[str(column_name or column_id)] = value
    click_id = text_value(item.get("gcl_id"))
    lead.properties = present(
        lead_id=lead.lead_id,
        form_id=text_value(item.get("form_id")),
        campaign_id=text_value(item.get("campaign_id")),
        adgroup_id=text_value(item.get("adgroup_id")),
        creative_id=text_value(item.get("creative_id")),
        asset_group_id=text_value(item.get("asset_group_id")),
        lead_stage=item.get("lead_stage"),
        api_version=item.get("api_version"),
        is_test=item.get("is_test"),
        platform="google",
    )
    lead.campaign = present(source="google", medium="cpc")
    if click_id:
        lead.campaign["click_ids"] = {"gclid": click_id}
        lead.external_ids.append({"id": click_id, "type": "gclid", "collection": "users"})
    return lead, ""
