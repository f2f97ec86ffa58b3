"""A CRM-export shape with ground truth, for the identity evaluation suite.

**crm** (``crm_export(n)``): the contacts table of a B2B CRM exported over the years and
merged from several systems: ``first_name``, ``last_name``, ``company``, ``job_title``,
``email`` (a work address), ``phone``, ``city``; no contact id survives the merge. People
``n / 1.6``, each with ``1 + Poisson(0.6)`` records (max 5), in time order. People work at
one of ``people / 6`` companies (sizes Zipf-like, so big employers have many namesakes);
each company has one address pattern (``first.last``, ``flast``, ``firstl`` or ``first``
at its domain, ``.com``/``.io``/``.co.uk``) and a switchboard.

Over time: each later record is, with probability 0.3, after a *job change* (kept for the
records after it): another company, another title, the new company's work address, and a
new city for half of them. So one person's records carry different work emails - a
different email is not a different person - while the mobile stays. Per record: the work
email 85%, a personal free-mail address (one per person) 10%, none 5%; phone the person's
mobile 75% in one of five formats (``(555) 123-4567``, ``555-123-4567``, ``+1 555 123
4567``, ``5551234567``, ``1.555.123.4567``), the company switchboard 10% (shared by
colleagues: a phone shared by different people), none 15%; nickname 10%, first-name typo
3%, last-name typo 3%, names in mixed case; company with a legal form (``Inc.``, ``LLC``,
``Ltd`` ...) and mixed case; job title abbreviated or spelled out 20% (``vp`` /
``vice president``, ``mgr`` / ``manager``); city 70%. Why: CRM merges are where a CDP
must link on names + company + phone while emails change, and must not link colleagues
who share a switchboard.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from samples.people_shapes import blank, finish, person_pool, share, variant_name
from samples.variation import (
    COMPANY_A,
    COMPANY_B,
    FREE,
    LEGAL,
    SYL_A,
    SYL_B,
    TITLES,
    case,
    phone_format,
    typo,
    unique_numbers,
)

_TITLE_FORMS = (("vp ", "vice president "), ("manager", "mgr"), ("director", "dir."),
                ("head of ", "head "), ("engineer", "eng."))  # fmt: skip
_PATTERNS = ("first.last", "flast", "firstl", "first")
_TLDS = (".com", ".io", ".co.uk")


def _address(pattern: str, first: str, last: str, domain: str) -> str:
    local = {
        "first.last": f"{first}.{last}",
        "flast": f"{first[:1]}{last}",
        "firstl": f"{first}{last[:1]}",
        "first": first,
    }[pattern]
    return f"{local}@{domain}"


def crm_export(n_records: int, *, seed: int = 17) -> pd.DataFrame:
    """About ``n_records`` CRM contact records (see the module docs)."""
    rng = np.random.default_rng(seed)
    n_people = max(4, int(n_records / 1.6))
    people = person_pool(rng, n_people)
    n_comp = max(2, n_people // 6)
    ca, cb = COMPANY_A.split(), COMPANY_B.split()
    names = [
        f"{ca[i % len(ca)]} {cb[(i // len(ca)) % len(cb)]}"
        + (f" {i // (len(ca) * len(cb))}" if i >= len(ca) * len(cb) else "")
        for i in range(n_comp)
    ]
    tlds = rng.integers(0, len(_TLDS), n_comp)
    domain = [nm.replace(" ", "") + _TLDS[t] for nm, t in zip(names, tlds.tolist(), strict=True)]
    pattern = rng.integers(0, len(_PATTERNS), n_comp).tolist()
    switchboard = unique_numbers(n_comp, n_people, rng)
    cw = 1.0 / np.arange(1, n_comp + 1) ** 0.8
    cw /= cw.sum()
    cities = np.array(sorted({a + b for a in SYL_A.split() for b in SYL_B.split()}), dtype=object)
    mobile = unique_numbers(n_people, 0, rng)
    free = np.array(FREE, dtype=object)[rng.integers(0, len(FREE), n_people)]
    counts = np.minimum(1 + rng.poisson(0.6, n_people), 5).tolist()
    first_true = people["first"].tolist()
    last_true = people["last"].tolist()
    rec: dict[str, list[Any]] = {k: [] for k in ("pid", "comp", "title", "city")}
    for p, count in enumerate(counts):
        at = int(rng.choice(n_comp, p=cw))
        role = TITLES[int(rng.integers(0, len(TITLES)))]
        town = cities[int(rng.integers(0, len(cities)))]
        for k in range(count):
            if k and rng.random() < 0.3:
                at = (at + 1 + int(rng.integers(0, n_comp - 1))) % n_comp
                role = TITLES[int(rng.integers(0, len(TITLES)))]
                if rng.random() < 0.5:
                    town = cities[int(rng.integers(0, len(cities)))]
            rec["pid"].append(p)
            rec["comp"].append(at)
            rec["title"].append(role)
            rec["city"].append(town)
    pid = np.array(rec["pid"])
    comp = np.array(rec["comp"])
    n = len(pid)
    work = np.array(
        [
            _address(_PATTERNS[pattern[c]], first_true[p], last_true[p], domain[c])
            for p, c in zip(pid.tolist(), comp.tolist(), strict=True)
        ],
        dtype=object,
    )
    personal = np.array(
        [f"{first_true[p]}.{last_true[p]}{p % 97}@{free[p]}" for p in pid.tolist()], dtype=object
    )
    r = rng.random(n)
    email = np.where(r < 0.85, work, personal).astype(object)
    blank(email, r >= 0.95)
    r = rng.random(n)
    digits = np.where(r < 0.75, mobile[pid], switchboard[comp]).astype(object)
    phone = phone_format(rng, digits)
    blank(phone, r >= 0.85)
    first = np.array([first_true[p] for p in pid.tolist()], dtype=object)
    last = np.array([last_true[p] for p in pid.tolist()], dtype=object)
    variant_name(rng, first, 0.10)
    typo(rng, first, 0.03)
    typo(rng, last, 0.03)
    first = case(rng, pd.Series(first, dtype=object)).to_numpy(dtype=object)
    last = case(rng, pd.Series(last, dtype=object)).to_numpy(dtype=object)
    legal = np.array(LEGAL, dtype=object)[rng.integers(0, len(LEGAL), n)]
    company = pd.Series([names[c] for c in comp.tolist()], dtype=object) + legal
    company = case(rng, company).to_numpy(dtype=object)
    title = np.array(rec["title"], dtype=object)
    for i in np.flatnonzero(share(rng, n, 0.20)).tolist():
        for long, short in _TITLE_FORMS:
            if long in title[i]:
                title[i] = title[i].replace(long, short)
                break
            if short in title[i]:
                title[i] = title[i].replace(short, long)
                break
    city = np.array(rec["city"], dtype=object)
    blank(city, ~share(rng, n, 0.70))
    cols = {
        "first_name": first,
        "last_name": last,
        "company": company,
        "job_title": title,
        "email": email,
        "phone": phone,
        "city": city,
    }
    return finish(rng, cols, pid)
