"""Companies (accounts): names with legal forms, firmographics and the Pareto key accounts."""

from __future__ import annotations

import random
from dataclasses import replace

from samples.demo import pools
from samples.demo.model import Company
from samples.demo.variants import chance, choose, pick, slugify

#: company size is power-law (Lomax): median ~45 employees, 1 in 10 over ~350, a few thousands
_SIZE_ALPHA, _SIZE_SCALE = 1.0, 40.0
MIN_EMPLOYEES, MAX_EMPLOYEES = 5, 20_000


def make_companies(rng: random.Random, n: int) -> list[Company]:
    drafts: list[Company] = []
    names: set[str] = set()
    domains: set[str] = set()
    for i in range(n):
        region = pick(rng, pools.REGION_WEIGHTS)
        place = choose(rng, [p for p in pools.PLACES if p.region == region])
        industry = choose(rng, pools.INDUSTRIES)
        name, stem = _unique_name(rng, place.iso, names)
        domain = _unique_domain(rng, stem, place.tld, industry, domains)
        employees = employee_count(rng)
        revenue = employees * pools.REVENUE_PER_EMPLOYEE[industry] * rng.lognormvariate(0, 0.35)
        drafts.append(
            Company(
                company_id=f"cmp_{i + 1:04d}",
                name=name,
                domain=domain,
                industry=industry,
                employees=employees,
                annual_revenue=float(round(revenue, -3)),
                city=place.city,
                country=place.country,
                region=region,
                technologies=_technologies(rng, place.iso),
                key_account=False,
            )
        )
    keys = key_account_ids(drafts)
    return [replace(c, key_account=True) if c.company_id in keys else c for c in drafts]


def employee_count(rng: random.Random) -> int:
    size = MIN_EMPLOYEES + _SIZE_SCALE * ((1.0 - rng.random()) ** (-1.0 / _SIZE_ALPHA) - 1.0)
    return min(MAX_EMPLOYEES, int(size))


def key_account_ids(companies: list[Company]) -> set[str]:
    """The biggest companies by revenue that together make ~80% of the total (Pareto)."""
    ranked = sorted(companies, key=lambda c: (-c.annual_revenue, c.company_id))
    total = sum(c.annual_revenue for c in ranked)
    keys: set[str] = set()
    running = 0.0
    for c in ranked:
        if running >= 0.8 * total:
            break
        keys.add(c.company_id)
        running += c.annual_revenue
    return keys


_FORMS = sorted({f for forms in pools.LEGAL_FORMS.values() for f in forms}, key=len, reverse=True)


def short_name(name: str) -> str:
    """The name without its legal form, as people write it: "ООО «Ромашка»" -> "Ромашка"."""
    if "«" in name:
        return name[name.index("«") + 1 :].rstrip("»")
    for form in _FORMS:
        for sep in (", ", " "):
            if name.endswith(sep + form):
                return name[: -len(sep + form)]
    return name


def _unique_name(rng: random.Random, iso: str, taken: set[str]) -> tuple[str, str]:
    """A company name with its legal form, and the stem its domain is made from."""
    for attempt in range(50):
        head, tail = choose(rng, pools.NAME_HEADS), choose(rng, pools.NAME_TAILS)
        stem = f"{head} {tail}" if tail[0].isupper() else f"{head}{tail}"
        if attempt > 10:
            stem = f"{stem} {choose(rng, pools.NAME_HEADS)}"
        form = choose(rng, pools.LEGAL_FORMS.get(iso, ("Ltd",)))
        if iso in ("RU", "KZ"):  # ООО «Ромашка», and sometimes a Latin name: АО «Nova Labs»
            if chance(rng, 0.85):
                stem = choose(rng, pools.RU_NAME_WORDS)
                if attempt:
                    stem = f"{stem}-{choose(rng, ('Групп', 'Плюс', 'Центр', 'Холдинг'))}"
            name = f"{form} «{stem}»" if form != "LLP" else f"{stem} {form}"
        elif form.startswith("Inc") and chance(rng, 0.3):
            name = f"{stem}, {form}"
        else:
            name = f"{stem} {form}"
        if name not in taken:
            taken.add(name)
            return name, stem
    raise RuntimeError("ran out of company names; extend the pools")  # pragma: no cover


def _unique_domain(rng: random.Random, stem: str, tld: str, industry: str, taken: set[str]) -> str:
    base = slugify(stem, sep="-" if chance(rng, 0.2) else "")
    candidates = [base, f"{base}-{industry}", f"{base}{industry[:4]}", f"get{base}"]
    candidates += [f"{base}{i}" for i in range(2, 100)]
    for candidate in candidates:
        domain = f"{candidate}.{tld}"
        if domain not in taken:
            taken.add(domain)
            return domain
    raise RuntimeError("ran out of domains")  # pragma: no cover


def _technologies(rng: random.Random, iso: str) -> list[str]:
    pool = pools.RU_TECHNOLOGIES if iso in ("RU", "KZ") else pools.TECHNOLOGIES
    return sorted(rng.sample(pool, rng.randint(2, 6)))
