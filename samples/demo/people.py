"""People (contacts): names, titles, emails, phones, temperature and their purchase history.

A :class:`Profile` is the mutable working copy of one person while the channel builders run;
they record the identifiers they emit on it, and :meth:`Profile.to_person` freezes it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from samples.demo import pools
from samples.demo.model import Company, Person
from samples.demo.variants import (
    Phone,
    between,
    chance,
    choose,
    format_phone,
    make_phone,
    pick,
    slugify,
    typo,
)

CHANNEL_ORDER = ("web", "email", "crm", "ads")
TEMPERATURES = {"hot": 0.20, "warm": 0.45, "cold": 0.35}
#: P(person appears in channel | temperature)
CHANNEL_ODDS: dict[str, dict[str, float]] = {
    "web": {"hot": 0.85, "warm": 0.70, "cold": 0.55},
    "email": {"hot": 0.85, "warm": 0.85, "cold": 0.55},
    "crm": {"hot": 0.90, "warm": 0.65, "cold": 0.40},
    "ads": {"hot": 0.15, "warm": 0.20, "cold": 0.25},
}
HISTORY_DAYS = 540  # ~18 months
_EMAIL_PATTERNS = ("first.last", "flast", "first", "first_last", "firstl")
_PLACES = {p.city: p for p in pools.PLACES}


@dataclass
class Profile:
    person_id: str
    first_name: str
    last_name: str
    nickname: str | None
    culture: str  # en | de | fr | ru
    email: str  # canonical
    phone: Phone | None
    phone_text: str | None
    job_title: str
    role: str
    company: Company
    city: str
    iso: str
    temperature: str
    status: str  # prospect | active | reacquired | lapsing | inactive
    first_touch: datetime
    last_touch: datetime
    purchases: list[datetime]
    planned: set[str]
    identifiers: dict[str, list[str]] = field(default_factory=dict)
    gclids: list[tuple[datetime, str]] = field(default_factory=list)

    def add_id(self, channel: str, value: str) -> None:
        ids = self.identifiers.setdefault(channel, [])
        if value not in ids:
            ids.append(value)

    def first_name_variant(self, rng: random.Random, p_nick: float = 0.3) -> str:
        return self.nickname if self.nickname and chance(rng, p_nick) else self.first_name

    def last_name_variant(self, rng: random.Random, p_typo: float = 0.03) -> str:
        return typo(rng, self.last_name) if chance(rng, p_typo) else self.last_name

    def phone_variant(self, rng: random.Random) -> str | None:
        return format_phone(rng, self.phone) if self.phone else None

    def to_person(self) -> Person:
        return Person(
            person_id=self.person_id,
            first_name=self.first_name,
            last_name=self.last_name,
            email=self.email,
            phone=self.phone_text,
            job_title=self.job_title,
            role=self.role,
            company_id=self.company.company_id,
            city=self.city,
            temperature=self.temperature,
            channels=[c for c in CHANNEL_ORDER if self.identifiers.get(c)],
            identifiers={
                c: list(self.identifiers[c]) for c in CHANNEL_ORDER if self.identifiers.get(c)
            },
        )


def make_profiles(
    rng: random.Random, companies: list[Company], n: int, now: datetime
) -> list[Profile]:
    weights = [c.employees**0.5 for c in companies]
    patterns = {c.company_id: choose(rng, _EMAIL_PATTERNS) for c in companies}
    taken: set[str] = set()
    profiles = []
    for i in range(n):
        company = rng.choices(companies, weights=weights)[0]
        profiles.append(_profile(rng, i, company, patterns[company.company_id], taken, now))
    return profiles


def _profile(
    rng: random.Random, i: int, company: Company, pattern: str, taken: set[str], now: datetime
) -> Profile:
    place = _PLACES[company.city]
    culture = _culture(rng, place.iso)
    first, last = _name(rng, culture)
    role = pick(rng, pools.ROLE_WEIGHTS)
    titles = pools.RU_JOB_TITLES if culture == "ru" and chance(rng, 0.6) else pools.JOB_TITLES
    if chance(rng, 0.85):
        city = place.city
    else:
        city = choose(rng, [p.city for p in pools.PLACES if p.iso == place.iso])
    temperature = pick(rng, TEMPERATURES)
    status, purchases, first_touch, last_touch = _history(rng, temperature, now)
    phone = None if chance(rng, 0.2) else make_phone(rng, place.iso)
    planned = {ch for ch, odds in CHANNEL_ODDS.items() if chance(rng, odds[temperature])}
    return Profile(
        person_id=f"per_{i + 1:05d}",
        first_name=first,
        last_name=last,
        nickname=pools.NICKNAMES.get(first),
        culture=culture,
        email=_email(rng, first, last, culture, company.domain, pattern, taken),
        phone=phone,
        phone_text=format_phone(rng, phone) if phone else None,
        job_title=choose(rng, titles[role]),
        role=role,
        company=company,
        city=city,
        iso=place.iso,
        temperature=temperature,
        status=status,
        first_touch=first_touch,
        last_touch=last_touch,
        purchases=purchases,
        planned=planned or {choose(rng, ("email", "web", "crm"))},
    )


def _culture(rng: random.Random, iso: str) -> str:
    home = {"RU": "ru", "KZ": "ru", "DE": "de", "FR": "fr"}.get(iso)
    if home and chance(rng, 0.8 if home == "ru" else 0.6):
        return home
    return pick(rng, {"en": 0.85, "de": 0.05, "fr": 0.05, "ru": 0.05})


def _name(rng: random.Random, culture: str) -> tuple[str, str]:
    first = choose(rng, pools.FIRST_NAMES[culture])
    if culture == "ru":
        last = choose(rng, pools.RU_LAST_NAMES)
        return first, last + "а" if first in pools.RU_FEMALE else last
    return first, choose(rng, pools.LAST_NAMES[culture])


def _email(
    rng: random.Random,
    first: str,
    last: str,
    culture: str,
    domain: str,
    pattern: str,
    taken: set[str],
) -> str:
    f, la = slugify(first), slugify(last)
    if chance(rng, 0.15):  # a personal address instead of the work one
        domain = choose(rng, pools.FREE_MAIL[culture])
        year = rng.randint(70, 99)
        local = choose(
            rng, (f"{f}.{la}", f"{f}{la}{year}", f"{f[0]}{la}{year}", f"{f}.{la}.{year}")
        )
    else:
        local = {
            "first.last": f"{f}.{la}",
            "flast": f"{f[0]}{la}",
            "first": f,
            "first_last": f"{f}_{la}",
            "firstl": f"{f}{la[0]}",
        }[pattern]
    email = f"{local}@{domain}"
    n = 2
    while email in taken:
        email = f"{local}{n}@{domain}"
        n += 1
    taken.add(email)
    return email


def _history(
    rng: random.Random, temperature: str, now: datetime
) -> tuple[str, list[datetime], datetime, datetime]:
    """Lifecycle status, purchase times, first and last touch."""
    earliest = now - timedelta(days=HISTORY_DAYS)
    days = timedelta(days=1)
    if temperature != "hot":
        first = between(rng, earliest, now - 10 * days)
        horizon = 400 if temperature == "warm" else 60
        last = between(rng, first, min(now - days, first + horizon * days))
        return "prospect", [], first, last
    status = pick(rng, {"active": 0.47, "reacquired": 0.08, "lapsing": 0.25, "inactive": 0.2})
    window = {
        "active": (180, 3),
        "reacquired": (90, 3),
        "lapsing": (365, 185),
        "inactive": (500, 370),
    }[status]
    last_buy = between(rng, now - window[0] * days, now - window[1] * days)
    purchases = [last_buy]
    for _ in range(rng.randint(0, 3 if status == "active" else 1)):
        purchases.insert(0, purchases[0] - rng.uniform(30, 120) * days)
    if status == "reacquired":
        purchases.insert(0, between(rng, now - 500 * days, now - 400 * days))
    purchases = [p for p in purchases if p > earliest + 7 * days] or [last_buy]
    first = max(earliest, purchases[0] - rng.uniform(14, 120) * days)
    after = {"active": 60, "reacquired": 60, "lapsing": 60, "inactive": 30}[status]
    last = min(now - days, last_buy + rng.uniform(0, after) * days)
    return status, purchases, first, last
