"""A reproducible sample world: companies, people, and what each channel saw of them.

``generate_world`` builds companies and people, then lets every channel (web, email, CRM,
ads) emit its vendor payloads with the mess real data has — addresses in other cases,
phones in local formats, nicknames, typos, missing fields. ``Person.identifiers`` is the
ground truth of who is behind which identifier, so identity resolution can be checked.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

from samples.demo.ads import lead_payloads
from samples.demo.companies import make_companies
from samples.demo.crm import crm_exports
from samples.demo.model import Company, DemoWorld, Person
from samples.demo.people import make_profiles
from samples.demo.segment import MAX_BATCH_BYTES, segment_events_for_bench, to_batches
from samples.demo.sendgrid import sendgrid_payloads
from samples.demo.variants import DEFAULT_NOW, paused_gc
from samples.demo.web import web_messages

__all__ = [
    "DEFAULT_NOW",
    "Company",
    "DemoWorld",
    "Person",
    "generate_world",
    "segment_events_for_bench",
]


def generate_world(
    *, companies: int = 300, people: int = 3000, seed: int = 7, now: datetime | None = None
) -> DemoWorld:
    """The same arguments give the same world, byte for byte.

    ``now`` is the end of the ~18 months of history (default: a fixed date, so the output is
    reproducible); naive datetimes are taken as UTC.
    """
    if companies < 1 or people < 0:
        raise ValueError("need at least one company and a non-negative number of people")
    now = DEFAULT_NOW if now is None else now
    now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    with paused_gc():
        return _generate(random.Random(seed), companies, people, now)


def _generate(rng: random.Random, companies: int, people: int, now: datetime) -> DemoWorld:
    firms = make_companies(rng, companies)
    profiles = make_profiles(rng, firms, people, now)
    # the order matters: ads reuse the gclids of web visits
    web = web_messages(rng, profiles)
    segment_batches = to_batches(rng, web, batch_size=100, max_bytes=MAX_BATCH_BYTES)
    sendgrid = sendgrid_payloads(rng, profiles, now)
    contacts_csv, companies_csv = crm_exports(rng, firms, profiles, now)
    leads = lead_payloads(rng, profiles)
    return DemoWorld(
        companies=firms,
        people=[p.to_person() for p in profiles],
        segment_batches=segment_batches,
        sendgrid_payloads=sendgrid,
        crm_contacts_csv=contacts_csv,
        crm_companies_csv=companies_csv,
        lead_payloads=leads,
    )
