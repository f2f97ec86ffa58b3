"""HubSpot-style CRM exports: contacts.csv and companies.csv."""

from __future__ import annotations

import csv
import io
import random
from datetime import datetime, timedelta

from samples.demo.companies import short_name
from samples.demo.model import Company
from samples.demo.people import Profile
from samples.demo.variants import between, chance, choose, digits, messy_email, pick

CONTACT_HEADER = (
    "Record ID", "First Name", "Last Name", "Email", "Phone Number", "Job Title", "Company Name",
    "Associated Company ID", "City", "Country/Region", "Lifecycle Stage", "Lead Status",
    "Create Date", "Last Modified Date",
)  # fmt: skip
COMPANY_HEADER = (
    "Record ID", "Company name", "Company Domain Name", "Industry", "Number of Employees",
    "Annual Revenue", "City", "Country/Region", "Create Date",
)  # fmt: skip
STAGES: dict[str, dict[str, float]] = {
    "hot": {"customer": 0.85, "evangelist": 0.15},
    "warm": {
        "lead": 0.3,
        "marketingqualifiedlead": 0.3,
        "salesqualifiedlead": 0.25,
        "opportunity": 0.15,
    },
    "cold": {"subscriber": 0.5, "lead": 0.5},
}
LEAD_STATUSES = (
    "NEW", "OPEN", "IN_PROGRESS", "ATTEMPTED_TO_CONTACT", "CONNECTED", "OPEN_DEAL",
    "UNQUALIFIED", "BAD_TIMING",
)  # fmt: skip


def crm_exports(
    rng: random.Random, companies: list[Company], profiles: list[Profile], now: datetime
) -> tuple[str, str]:
    """(contacts CSV, companies CSV); contact and company Record IDs are numeric strings."""
    crm_people = [p for p in profiles if "crm" in p.planned]
    linked = {p.company.company_id for p in crm_people}
    in_crm = [c for c in companies if c.company_id in linked or chance(rng, 0.5)]
    company_ids = {c.company_id: digits(rng, 10) for c in in_crm}
    contacts: list[list[str]] = []
    next_id = rng.randint(501, 5000)
    for p in crm_people:
        copies = 2 if chance(rng, 0.04) else 1  # a duplicate record typed in by another rep
        for copy in range(copies):
            next_id += rng.randint(1, 7)
            p.add_id("crm", str(next_id))
            contacts.append(_contact(rng, p, str(next_id), company_ids, now, duplicate=copy > 0))
    if crm_people:  # one broken row, as real exports have: no Record ID
        contacts.append(["", *_contact(rng, choose(rng, crm_people), "", company_ids, now)[1:]])
    return _csv(CONTACT_HEADER, contacts), _csv(
        COMPANY_HEADER, [_company(rng, c, company_ids[c.company_id], now) for c in in_crm]
    )


def _contact(
    rng: random.Random,
    p: Profile,
    record_id: str,
    company_ids: dict[str, str],
    now: datetime,
    *,
    duplicate: bool = False,
) -> list[str]:
    roll = rng.random()
    if duplicate:
        email = "" if roll < 0.3 else messy_email(rng, p.email)
    else:
        email = p.email if roll < 0.72 else "" if roll < 0.77 else messy_email(rng, p.email)
    company = p.company.name if chance(rng, 0.85) else short_name(p.company.name)
    created = between(rng, p.first_touch, p.purchases[0] if p.purchases else p.last_touch)
    modified = between(rng, created, now)
    status = "" if p.temperature == "hot" and chance(rng, 0.7) else choose(rng, LEAD_STATUSES)
    return [
        record_id,
        p.first_name_variant(rng, 0.5 if duplicate else 0.15),
        p.last_name_variant(rng, 0.2 if duplicate else 0.03),
        email,
        (p.phone_variant(rng) or "") if chance(rng, 0.85) else "",
        p.job_title if chance(rng, 0.8) else "",
        company,
        company_ids.get(p.company.company_id, "") if chance(rng, 0.92) else "",
        p.city if chance(rng, 0.9) else "",
        p.company.country,
        pick(rng, STAGES[p.temperature]),
        status,
        f"{created:%Y-%m-%d %H:%M}",
        f"{modified:%Y-%m-%d %H:%M}",
    ]


def _company(rng: random.Random, c: Company, record_id: str, now: datetime) -> list[str]:
    domain = pick(
        rng,
        {c.domain: 0.8, f"www.{c.domain}": 0.1, f"https://{c.domain}/": 0.05, "": 0.05},
    )
    return [
        record_id,
        c.name,
        domain,
        c.industry.title(),
        "" if chance(rng, 0.05) else str(c.employees),
        "" if chance(rng, 0.1) else str(int(c.annual_revenue)),
        c.city,
        c.country,
        f"{between(rng, now - timedelta(days=3 * 365), now):%Y-%m-%d %H:%M}",
    ]


def _csv(header: tuple[str, ...], rows: list[list[str]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()
