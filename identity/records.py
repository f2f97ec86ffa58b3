"""The canonical person-record frame that the Splink model and the resolver consume.

One row per source record, every value already normalised (``identity.normalize``), missing
values as ``None``. Columns (all ``object`` dtype holding ``str | None``):

``unique_id`` (required, unique), ``first_name`` (nickname-canonical), ``last_name``,
``full_name`` (``first last``), ``email`` (policy-normalised), ``email_local``,
``email_domain``, ``phone`` (E.164), ``company``, ``org_key`` (the organisation as one
token: the company name without spaces, else the corporate email domain's name -
``Harbor Robotics`` and ``ann@harborrobotics.com`` both give ``harborrobotics``),
``job_title``, ``city``, ``postcode``,
``birth_date`` (``YYYY-MM-DD``), ``address``; optional ``national_id``, ``source_dataset``,
``true_id`` (benchmarks only) and any strong-id columns (CRM contact id, userId) that the
caller names when resolving.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from identity import normalize as nz

CANONICAL_COLUMNS: tuple[str, ...] = (
    "unique_id",
    "first_name",
    "last_name",
    "full_name",
    "email",
    "email_local",
    "email_domain",
    "phone",
    "company",
    "org_key",
    "job_title",
    "city",
    "postcode",
    "birth_date",
    "address",
)

#: Fields a raw column may be mapped to (``--map SRC=FIELD``).
INPUT_FIELDS: tuple[str, ...] = (
    "first_name",
    "middle_name",
    "last_name",
    "full_name",
    "email",
    "phone",
    "company",
    "job_title",
    "address",
    "city",
    "postcode",
    "country",
    "birth_date",
    "birth_year",
    "birth_month",
    "birth_day",
    "gender",
)

#: Header spellings recognised when no explicit mapping is given (compared after
#: lower-casing and removing spaces, dashes, underscores and dots).
HEADER_ALIASES: dict[str, str] = {
    **{k: "first_name" for k in ("firstname", "first", "givenname", "forename", "fname", "name1",
                                 "vorname", "imya", "имя")},
    **{k: "middle_name" for k in ("middlename", "middle", "mname", "patronymic", "otchestvo")},
    **{k: "last_name" for k in ("lastname", "last", "surname", "familyname", "lname", "name2",
                                "nachname", "familiya", "фамилия")},
    **{k: "full_name" for k in ("fullname", "name", "contactname", "personname", "displayname",
                                "fio", "фио")},
    **{k: "email" for k in ("email", "emailaddress", "mail", "email1", "primaryemail",
                            "workemail", "почта")},
    **{k: "phone" for k in ("phone", "phonenumber", "telephone", "tel", "mobile", "mobilephone",
                            "cell", "cellphone", "phone1", "телефон")},
    **{k: "company" for k in ("company", "companyname", "organisation", "organization", "org",
                              "account", "accountname", "employer", "firm", "компания")},
    **{k: "job_title" for k in ("jobtitle", "title", "position", "role", "jobrole",
                                "должность")},
    **{k: "address" for k in ("address", "street", "streetaddress", "address1", "addressline1",
                              "адрес")},
    **{k: "city" for k in ("city", "town", "locality", "suburb", "город")},
    **{k: "postcode" for k in ("postcode", "zip", "zipcode", "postalcode", "postal", "индекс")},
    **{k: "country" for k in ("country", "countrycode", "страна")},
    **{k: "birth_date" for k in ("birthdate", "dob", "dateofbirth", "birthday")},
    **{k: "birth_year" for k in ("birthyear", "yearofbirth", "yob")},
    **{k: "birth_month" for k in ("birthmonth",)},
    **{k: "birth_day" for k in ("birthday_day", "birthdayofmonth")},
    **{k: "gender" for k in ("gender", "sex")},
}  # fmt: skip

_ID_ALIASES = ("id", "uniqueid", "recid", "recordid", "contactid", "customerid", "userid", "uid")


def header_key(name: str) -> str:
    return "".join(ch for ch in str(name).lower() if ch not in " -_.")


def guess_mapping(columns: list[str]) -> dict[str, str]:
    """Map recognised raw headers to canonical input fields (first header wins per field)."""
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for col in columns:
        field = HEADER_ALIASES.get(header_key(col))
        if field and field not in taken:
            mapping[col] = field
            taken.add(field)
    return mapping


def guess_id_column(columns: list[str]) -> str | None:
    keys = {header_key(c): c for c in columns}
    for alias in _ID_ALIASES:
        if alias in keys:
            return keys[alias]
    return None


def _map_unique(series: pd.Series, fn: Callable[[Any], str | None]) -> pd.Series:
    """Apply ``fn`` once per distinct value (real data repeats values heavily)."""
    values = series.dropna().unique()
    lookup = {v: fn(v) for v in values}
    return series.map(lookup).astype(object).where(series.notna(), None)


def org_keys(company: pd.Series, domain: pd.Series) -> pd.Series:
    """Per record, its organisation as one token: the normalised company without spaces,
    else the name of a corporate (not free-mail) email domain."""
    from_company = company.astype(object).where(company.notna(), None).str.replace(" ", "")
    from_domain = _map_unique(domain, nz.organisation_from_domain)
    out = from_company.where(from_company.notna() & (from_company != ""), from_domain)
    return out.astype(object).where(out.notna(), None)


def _none(frame_len: int) -> pd.Series:
    return pd.Series([None] * frame_len, dtype=object)


def canonical_person_frame(
    raw: pd.DataFrame,
    *,
    mapping: Mapping[str, str],
    id_column: str | None = None,
    default_region: str = "US",
    keep_columns: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Normalise ``raw`` (columns named by ``mapping``: raw header -> input field) into the
    canonical frame. ``id_column`` gives ``unique_id`` (row numbers when ``None``);
    ``keep_columns`` (raw header -> output name) copies extra columns through as trimmed
    strings, e.g. strong ids ``{"crm_id": "crm_id"}`` or ``{"source": "source_dataset"}``."""
    n = len(raw)
    raw = raw.reset_index(drop=True)
    by_field: dict[str, pd.Series] = {}
    for src, field in mapping.items():
        if field not in INPUT_FIELDS:
            raise ValueError(f"unknown field {field!r} for column {src!r}")
        by_field[field] = raw[src].astype(object).where(raw[src].notna(), None)

    def get(field: str) -> pd.Series:
        return by_field.get(field, _none(n))

    out = pd.DataFrame(index=range(n))
    if id_column is None:
        out["unique_id"] = [str(i) for i in range(n)]
    else:
        out["unique_id"] = raw[id_column].astype(str).str.strip().to_numpy()

    first = _map_unique(get("first_name"), nz.normalise_first_name)
    last = _map_unique(get("last_name"), nz.normalise_name)
    if "full_name" in by_field:
        split = _map_unique(
            get("full_name"), lambda v: "|".join(x or "" for x in nz.split_full_name(v))
        )
        parts = split.fillna("|").str.split("|", n=1, expand=True)
        sf = parts[0].replace("", None).map(nz.canonical_first_name, na_action="ignore")
        sl = parts[1].replace("", None)
        first = first.where(first.notna(), sf.astype(object))
        last = last.where(last.notna(), sl.astype(object))
    first = first.astype(object).where(first.notna(), None)
    last = last.astype(object).where(last.notna(), None)
    out["first_name"] = first
    out["last_name"] = last
    full = (first.fillna("") + " " + last.fillna("")).str.strip()
    out["full_name"] = full.where(full != "", None)

    email = _map_unique(get("email"), nz.normalise_email)
    out["email"] = email
    parts = email.fillna("@").str.rsplit("@", n=1, expand=True)
    local = parts[0].where(email.notna(), None)
    # a role mailbox's local part ("info") says nothing about a person
    role = local.isin(nz.ROLE_LOCAL_PARTS)
    out["email_local"] = local.where(~role, None).astype(object)
    out["email_domain"] = parts[1].where(email.notna(), None).astype(object)

    phone_raw = get("phone")
    if "country" in by_field:
        country = get("country").fillna("").astype(str).str.strip().str.upper()
        region = country.where(country.str.len() == 2, default_region)
        key = phone_raw.astype(str) + "\x00" + region
        key = key.where(phone_raw.notna(), None)
        out["phone"] = _map_unique(
            key,
            lambda k: nz.normalise_phone(k.split("\x00")[0], default_region=k.split("\x00")[1]),
        )
    else:
        out["phone"] = _map_unique(
            phone_raw, lambda v: nz.normalise_phone(v, default_region=default_region)
        )
    out["company"] = _map_unique(get("company"), nz.normalise_company)
    out["org_key"] = org_keys(out["company"], out["email_domain"])
    out["job_title"] = _map_unique(get("job_title"), nz.normalise_text)
    out["city"] = _map_unique(get("city"), nz.normalise_city)
    out["postcode"] = _map_unique(get("postcode"), nz.normalise_postcode)
    out["address"] = _map_unique(get("address"), nz.normalise_text)

    birth = _map_unique(get("birth_date"), nz.normalise_date)
    if "birth_year" in by_field:
        ymd = (
            get("birth_year").astype(str).str.split(".").str[0]
            + "-"
            + get("birth_month").fillna(1).astype(str).str.split(".").str[0]
            + "-"
            + get("birth_day").fillna(1).astype(str).str.split(".").str[0]
        ).where(get("birth_year").notna(), None)
        birth = birth.where(birth.notna(), _map_unique(ymd, nz.normalise_date))
    out["birth_date"] = birth

    for src, name in (keep_columns or {}).items():
        col = raw[src].astype(object).where(raw[src].notna(), None)
        out[name] = _map_unique(col, nz.normalise_id)
    for col in out.columns:
        out[col] = out[col].astype(object).where(out[col].notna(), None)
    return out
