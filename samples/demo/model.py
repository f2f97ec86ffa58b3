"""The demo world's public records (re-exported by :mod:`samples.demo.world`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Company:
    company_id: str
    name: str  # with its legal form: "Northwind Inc", "ООО «Ромашка»"
    domain: str
    industry: str
    employees: int
    annual_revenue: float  # USD
    city: str
    country: str
    region: str  # EMEA | NA | APAC | CIS
    technologies: list[str]
    key_account: bool  # among the top companies that make ~80% of total revenue


@dataclass(frozen=True)
class Person:
    person_id: str
    first_name: str
    last_name: str
    email: str  # canonical: lower case, no spaces
    phone: str | None
    job_title: str
    role: str  # decision_maker | influencer | end_user
    company_id: str
    city: str
    temperature: str  # hot | warm | cold
    channels: list[str]  # the channels this person really appears in, in web/email/crm/ads order
    #: ground truth per channel: web -> userId and anonymousIds, email -> address (canonical),
    #: crm -> contact Record IDs, ads -> lead ids
    identifiers: dict[str, list[str]]


@dataclass(frozen=True)
class DemoWorld:
    companies: list[Company]
    people: list[Person]
    #: Segment HTTP API ``/v1/batch`` bodies: ``{"batch": [...], "sentAt": iso}``
    segment_batches: list[dict[str, Any]]
    #: SendGrid Event Webhook bodies (JSON arrays of at most 500 events)
    sendgrid_payloads: list[list[dict[str, Any]]]
    crm_contacts_csv: str
    crm_companies_csv: str
    #: one Facebook Lead Ads lead or Google Ads lead form body per item
    lead_payloads: list[dict[str, Any]]
