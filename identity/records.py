"""The canonical person-record frame that the Splink model and the resolver consume.

One row per source record, every value already normalised (``identity.normalize``), missing
values as ``None``. Columns (all ``object`` dtype holding ``str | None``):

``unique_id`` (required, unique), ``first_name`` (nickname-canonical), ``last_name``,
``full_name`` (``first last``), ``email`` (policy-normalised), ``email_local``,
``email_domain``, ``phone`` (E.164), ``company``, ``org_key`` (the organisation as one
token: the company name without spaces, else the corporate email domain's name -
``Harbor Robotics`` and ``ann@harborrobotics.com`` both give ``harborrobotics``),
``job_title``, ``city``, ``postcode``, ``birth_date`` (``YYYY-MM-DD``), ``birth_year``
(``YYYY``), ``birth_month`` (``MM``), ``birth_day`` (``DD``), ``address`` (the street
number and the address lines 1 joined); optional, present only when a column is mapped to
them: ``middle_name``, ``address_2``, ``state``, ``country``, ``birth_place``,
``occupation``, ``gender`` (``m``/``f`` or the normalised text), ``national_id``; and
``source_dataset``, ``true_id`` (benchmarks only) and any strong-id columns (CRM contact
id, userId) that the caller keeps (``keep_columns``).

Birth dates (``parse_birth_date``): the date parts are kept whether or not the whole date
is possible. ``1861-71-11`` has no ``birth_date`` but ``birth_year`` 1861 and
``birth_day`` 11; ``1861-13-05`` (day and month swapped: 13..31 in the month slot, 1..12 in
the day slot) is read as ``1861-05-13``. A part is kept when plausible: year 1800..this
year, month 1..12, day 1..31.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

import pandas as pd

from identity import normalize as nz
from identity.headers import INPUT_FIELDS as INPUT_FIELDS
from identity.headers import JOINED_FIELDS
from identity.headers import guess_id_column as guess_id_column
from identity.headers import guess_mapping as guess_mapping
from identity.headers import header_key as header_key

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
    "birth_year",
    "birth_month",
    "birth_day",
    "address",
)

#: The canonical columns each input field feeds (for reporting what a column is used as).
FIELD_COLUMNS: dict[str, tuple[str, ...]] = {
    "first_name": ("first_name", "full_name"),
    "last_name": ("last_name", "full_name"),
    "full_name": ("full_name", "first_name", "last_name"),
    "email": ("email", "email_local", "email_domain", "org_key"),
    "company": ("company", "org_key"),
    "street_number": ("address",),
    "country": ("country", "phone"),
    **{f: ("birth_date", "birth_year", "birth_month", "birth_day")
       for f in ("birth_date", "birth_year", "birth_month", "birth_day")},
}  # fmt: skip

_GENDERS = {
    **dict.fromkeys(("m", "male", "man", "masculine", "mannlich", "mann", "h", "homme",
                     "masculin", "hombre", "masculino", "maschio", "uomo", "м", "муж",
                     "мужской", "мужчина"), "m"),
    **dict.fromkeys(("f", "female", "woman", "feminine", "w", "weiblich", "frau", "femme",
                     "feminin", "mujer", "femenino", "femmina", "donna", "vrouw", "ж", "жен",
                     "женский", "женщина"), "f"),
}  # fmt: skip

#: Optional input fields copied into a column of the same name, with their normaliser.
_OPTIONAL: dict[str, Callable[[Any], str | None]] = {
    "middle_name": nz.normalise_name,
    "address_2": nz.normalise_text,
    "state": nz.normalise_text,
    "country": nz.normalise_text,
    "birth_place": nz.normalise_city,
    "occupation": nz.normalise_text,
    "gender": lambda v: _GENDERS.get(header_key(v)) or nz.normalise_text(v),
    "national_id": nz.normalise_id,
}

#: The birth columns, in the order of ``BirthDate``.
BIRTH_COLUMNS = ("birth_date", "birth_year", "birth_month", "birth_day")
BirthDate = tuple[str | None, str | None, str | None, str | None]
_NO_DATE: BirthDate = (None, None, None, None)


def birth_from_parts(year: int | None, month: int | None, day: int | None) -> BirthDate:
    """``(birth_date, year, month, day)`` from numeric parts: the plausible parts, swapped
    day and month put back, and the whole date when it exists."""
    if month is not None and day is not None and 13 <= month <= 31 and 1 <= day <= 12:
        month, day = day, month
    y = year if year is not None and 1800 <= year <= date.today().year else None
    m = month if month is not None and 1 <= month <= 12 else None
    d = day if day is not None and 1 <= day <= 31 else None
    whole = None
    if y is not None and m is not None and d is not None:
        try:
            whole = date(y, m, d).isoformat()
        except ValueError:
            whole = None
    return (
        whole,
        None if y is None else f"{y:04d}",
        None if m is None else f"{m:02d}",
        None if d is None else f"{d:02d}",
    )


def parse_birth_date(raw: object) -> BirthDate:
    """``(birth_date, year, month, day)`` of one raw value. Layouts: those of
    ``normalise_date`` (``YYYY-MM-DD``, ``YYYY/MM/DD``, ``YYYYMMDD``, ``DD.MM.YYYY``) and a
    bare year. A valid date is ``normalise_date``'s reading; otherwise ``birth_from_parts``."""
    whole = nz.normalise_date(None if raw is None else str(raw))
    if whole is not None:
        return whole, whole[:4], whole[5:7], whole[8:10]
    text = str(raw).strip().split("T", 1)[0].split(" ", 1)[0] if raw is not None else ""
    slots = re.split(r"[-/.]", text)
    if not all(s.isdigit() for s in slots):
        return _NO_DATE
    if len(slots) == 1 and len(text) == 8:
        slots = [text[:4], text[4:6], text[6:]]
    if len(slots) == 1 and len(text) == 4:
        return birth_from_parts(int(text), None, None)
    if len(slots) != 3:
        return _NO_DATE
    if len(slots[0]) == 4:
        y, m, d = slots
    elif len(slots[2]) == 4:
        d, m, y = slots
    else:
        return _NO_DATE
    return birth_from_parts(int(y), int(m), int(d))


def _int_or_none(value: object) -> int | None:
    text = str(value).strip().split(".", 1)[0] if value is not None else ""
    return int(text) if text.isdigit() else None


def _birth_columns(
    whole: pd.Series, year: pd.Series, month: pd.Series, day: pd.Series
) -> list[pd.Series]:
    """The four birth columns from a date column and split year/month/day columns: a valid
    date from either wins whole; otherwise each part from the date column, else the split."""
    lookup = {v: parse_birth_date(v) for v in whole.dropna().unique()}
    cols = [
        whole.map({v: t[i] for v, t in lookup.items()}).astype(object).where(whole.notna(), None)
        for i in range(4)
    ]
    split = (year.notna() | month.notna() | day.notna()).to_numpy()
    if not split.any():
        return cols
    parts = [
        birth_from_parts(_int_or_none(y), _int_or_none(m), _int_or_none(d))
        for y, m, d in zip(year[split], month[split], day[split], strict=True)
    ]
    other = [pd.Series([None] * len(whole), dtype=object) for _ in range(4)]
    for i in range(4):
        other[i].iloc[split.nonzero()[0]] = [p[i] for p in parts]
    use_other = cols[0].isna() & other[0].notna()
    return [
        c.where(~use_other, o).where(c.notna() | use_other, o).astype(object)
        for c, o in zip(cols, other, strict=True)
    ]


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


def _halves(series: pd.Series, sep: str, *, right: bool = False) -> tuple[pd.Series, pd.Series]:
    """Each value split once at ``sep`` (from the right with ``right``); works on 0 rows."""
    if series.empty:
        return _none(0), _none(0)
    split = series.str.rsplit if right else series.str.split
    parts = split(sep, n=1, expand=True)
    second = parts[1] if parts.shape[1] > 1 else _none(len(series))
    return parts[0].astype(object), second.astype(object)


def _field_values(raw: pd.DataFrame, mapping: Mapping[str, str]) -> dict[str, pd.Series]:
    """Per input field, its values: the joined text of its columns for a joined field
    (street number + address lines), else the first non-empty of its columns."""
    by_field: dict[str, pd.Series] = {}
    for src, field in mapping.items():
        if field not in INPUT_FIELDS:
            raise ValueError(f"unknown field {field!r} for column {src!r}")
        col = raw[src].astype(object).where(raw[src].notna(), None)
        if field not in by_field:
            by_field[field] = col
        elif field in JOINED_FIELDS:
            joined = (by_field[field].fillna("") + " " + col.fillna("")).str.strip()
            by_field[field] = joined.where(joined != "", None)
        else:
            by_field[field] = by_field[field].where(by_field[field].notna(), col)
    if "street_number" in by_field:
        number, street = by_field.pop("street_number"), by_field.get("address")
        if street is None:
            street = _none(len(raw))
        joined = (number.fillna("") + " " + street.fillna("")).str.strip()
        by_field["address"] = joined.where(joined != "", None)
    return by_field


def canonical_person_frame(
    raw: pd.DataFrame,
    *,
    mapping: Mapping[str, str],
    id_column: str | None = None,
    default_region: str = "US",
    keep_columns: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Normalise ``raw`` (columns named by ``mapping``: raw header -> input field; several
    headers may name one field: address columns are joined, others fill each other's gaps)
    into the canonical frame. ``id_column`` gives ``unique_id`` (row numbers when ``None``);
    ``keep_columns`` (raw header -> output name) copies extra columns through as trimmed
    strings, e.g. strong ids ``{"crm_id": "crm_id"}`` or ``{"source": "source_dataset"}``.
    Zero rows give an empty frame with every column."""
    n = len(raw)
    raw = raw.reset_index(drop=True)
    by_field = _field_values(raw, mapping)

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
        sf, sl = _halves(split.fillna("|"), "|")
        sf = sf.replace("", None).map(nz.canonical_first_name, na_action="ignore")
        sl = sl.replace("", None)
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
    local, domain = _halves(email.fillna("@"), "@", right=True)
    local = local.where(email.notna(), None)
    # a role mailbox's local part ("info") says nothing about a person
    role = local.isin(nz.ROLE_LOCAL_PARTS)
    out["email_local"] = local.where(~role, None).astype(object)
    out["email_domain"] = domain.where(email.notna(), None).astype(object)

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
    birth = _birth_columns(
        get("birth_date"), get("birth_year"), get("birth_month"), get("birth_day")
    )
    for name, values in zip(BIRTH_COLUMNS, birth, strict=True):
        out[name] = values.to_numpy(dtype=object)
    for name, fn in _OPTIONAL.items():
        if name in by_field:
            out[name] = _map_unique(get(name), fn)

    for src, name in (keep_columns or {}).items():
        col = raw[src].astype(object).where(raw[src].notna(), None)
        out[name] = _map_unique(col, nz.normalise_id)
    for col in out.columns:
        out[col] = out[col].astype(object).where(out[col].notna(), None)
    return out
