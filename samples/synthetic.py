"""Synthetic multi-source person records with ground truth, shaped like a CDP's inputs.

Every record is one person seen through one source; ``true_id`` is the person. Each choice
below is deliberate and mirrors what the four source types of a CDP really deliver.

**People** (about ``n_records / 2.5``): first names drawn Zipf-like from ~200 common US
names (so "james smith" collides as it does in life), last names 45% from the 100 most
common US surnames and 55% synthetic, 2% Russian people (half their records in Cyrillic).
80% are employed at one of ``people / 8`` companies (corporate domain, switchboard phone,
job title); everyone has a unique personal mailbox (free-mail provider) and a unique
mobile; employed people also have a unique work address ``first.last@company`` (a second
namesake at one company gets ``first.last2@``). A person's *primary* address (the one they
signed up with) is the work one for 25% of employed people, else the personal one; the
other is *secondary*. 12% *moved*: half their records carry the new city/postcode. 10%
*changed email*: half their web/ESP records carry an old personal address at another
provider. Records per person: ``1 + Poisson(1.5)`` capped at 8.

Email choice is consistent per source, as in real feeds: web identify and the ESP key
people by the primary address (3% / 5% the secondary); the CRM holds the primary (80%)
or the secondary; lead forms prefill the primary (80%) or the secondary.

**Sources** (share of records) and what each carries:

- ``web`` (30%): identify calls - an email on 93% (the identify trait), a phone on 7%,
  login ``user_id`` (strong id) on 90% of records of people who log in (60%; 85% of those
  who changed address), first name 40%, last name 30%, a geo-IP city on 50% (wrong for
  20% of those); a hit with neither email nor phone is a logged-in page view;
- ``email`` (ESP, 25%): keyed by the subscribed address (always present), a phone on 5%,
  first name 70%, last name 60%;
- ``crm`` (25%): contact id ``crm_id`` (strong id: one per person, never two contacts of
  one person - CRM ids are the system of record), names, email 94%, phone 79% (mobile, or
  the company switchboard on 25%), company 95% and job title 80% of employed contacts,
  city 85%, postcode 70%, birth date 15%;
- ``ads`` (20%): lead forms - email 95%, phone 74%, names 95%, company 60% and title 40%
  of employed people, city 40%, postcode 20%.

Email and phone are missing together on ~1.3% of records only (logged-in web hits, a few
CRM/lead rows), as in real CDP feeds.

**Variations**: case and padding of names, emails and companies; first-name typos on 4% and
last-name typos on 5% of records (one substitution/deletion/transposition, first letter
kept); nicknames (``bob`` for ``robert``) on 12%; five phone formats; ``+tags`` and, for
Gmail, dropped dots; legal-form suffixes on companies; email typos (0.4%) and phone digit
typos (0.3%) that make a value unique; junk placeholders (``test@test.com``,
``000-000-0000``, 0.3% each).

**Shared identifiers used by distinct people** (~2% of people): *households* (1.2% of
people, pairs) share a family Gmail box and a home phone, with the same last name and
address; *role mailboxes* (0.8% of people) put ``info@``/``sales@``... of their company on
CRM and lead records; company *switchboards* appear on 25% of CRM phone values and are
shared by every colleague who gives one.

**Conflicting strong ids**: 0.4% of people have a *namesake* - a different person with the
same first and last name at the same company, each with their own CRM contact (a
different ``crm_id``), sharing the role mailbox and switchboard on their CRM records.
They must never merge.

``generate_people(n, seed=...)`` is deterministic for a seed and vectorised with numpy
(1M records in well under two minutes).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from identity import normalize as nz
from identity.records import canonical_person_frame
from samples.variation import (
    COMPANY_A,
    COMPANY_B,
    FIRST,
    FREE,
    LAST,
    LEGAL,
    ROLE,
    RUSSIAN_FIRST,
    RUSSIAN_LAST,
    SYL_A,
    SYL_B,
    TITLES,
    case,
    nick_reverse,
    or_none,
    pairs,
    phone_format,
    pick,
    typo,
    unique_numbers,
)

STRONG_ID_COLUMNS: tuple[str, ...] = ("crm_id", "user_id")


def generate_people(n_records: int, *, seed: int = 7) -> pd.DataFrame:
    """About ``n_records`` source records of ``n_records / 2.5`` people, with ``true_id``."""
    rng = np.random.default_rng(seed)
    n_people = max(12, int(n_records / 2.5))
    pid = np.arange(n_people)

    # --- people -------------------------------------------------------------------------
    first_pool = np.array(FIRST, dtype=object)
    fw = 1.0 / np.arange(1, len(first_pool) + 1) ** 0.6
    first = first_pool[rng.choice(len(first_pool), n_people, p=fw / fw.sum())]
    syl = np.array([a + b for a in SYL_A.split() for b in SYL_B.split()], dtype=object)
    common = np.array(LAST, dtype=object)
    last = np.where(
        rng.random(n_people) < 0.45,
        common[rng.integers(0, len(common), n_people)],
        syl[rng.integers(0, len(syl), n_people)]
        + np.where(rng.random(n_people) < 0.5, "", syl[rng.integers(0, len(syl), n_people)]),
    ).astype(object)
    russian = rng.random(n_people) < 0.02
    ru_first = np.array(RUSSIAN_FIRST, dtype=object)[rng.integers(0, len(RUSSIAN_FIRST), n_people)]
    ru_last = np.array(RUSSIAN_LAST, dtype=object)[rng.integers(0, len(RUSSIAN_LAST), n_people)]
    first = np.where(russian, ru_first, first).astype(object)
    last = np.where(russian, ru_last, last).astype(object)

    n_comp = max(2, n_people // 8)
    ca, cb = COMPANY_A.split(), COMPANY_B.split()
    comp_word = np.array(
        [f"{ca[i % len(ca)]} {cb[(i // len(ca)) % len(cb)]}" + (f" {i // (len(ca) * len(cb))}"
         if i >= len(ca) * len(cb) else "") for i in range(n_comp)], dtype=object)  # fmt: skip
    comp_domain = np.array([w.replace(" ", "") + ".com" for w in comp_word], dtype=object)
    comp_phone = unique_numbers(n_comp, n_people * 2, rng)
    employed = rng.random(n_people) < 0.8
    company = rng.integers(0, n_comp, n_people)
    title = np.array(TITLES, dtype=object)[rng.integers(0, len(TITLES), n_people)]
    n_city = 3000
    city_names = np.array([f"{a}{b}" for a, b in zip(
        syl[rng.integers(0, len(syl), n_city)], rng.choice(["", " city", "ville", " springs",
                                                             " falls"], n_city), strict=True)],
        dtype=object)  # fmt: skip
    city_zip = np.array([f"{x:05d}" for x in rng.integers(1000, 99999, n_city)], dtype=object)
    city = rng.integers(0, n_city, n_people)
    moved = rng.random(n_people) < 0.12
    city2 = rng.integers(0, n_city, n_people)
    mobile = unique_numbers(n_people, 0, rng)
    birth = (np.datetime64("1950-01-01") + rng.integers(0, 365 * 50, n_people)).astype(str)

    # households (1.2% of people, in pairs): same last name and address, a family mailbox
    # and a home phone used by both
    house = pairs(rng, pid, int(n_people * 0.006))
    last[house[:, 1]] = last[house[:, 0]]
    city[house[:, 1]] = city[house[:, 0]]
    moved[house[:, 1]] = moved[house[:, 0]]
    city2[house[:, 1]] = city2[house[:, 0]]
    in_house = np.zeros(n_people, dtype=bool)
    in_house[house.ravel()] = True
    house_no = np.full(n_people, -1)
    house_no[house[:, 0]] = np.arange(len(house))
    house_no[house[:, 1]] = np.arange(len(house))
    home_phone = np.empty(n_people, dtype=object)
    home_phone[house[:, 0]] = home_phone[house[:, 1]] = unique_numbers(len(house), n_people, rng)

    # namesakes (0.4% of people, in pairs): same name, same company, two CRM contacts
    free = pid[~in_house & employed]
    twins = pairs(rng, free, int(n_people * 0.002))
    first[twins[:, 1]] = first[twins[:, 0]]
    last[twins[:, 1]] = last[twins[:, 0]]
    russian[twins[:, 1]] = russian[twins[:, 0]]
    company[twins[:, 1]] = company[twins[:, 0]]
    namesake = np.zeros(n_people, dtype=bool)
    namesake[twins.ravel()] = True
    role_user = namesake | (employed & ~in_house & (rng.random(n_people) < 0.008))

    latin_first = np.array([nz.fold(x) for x in first], dtype=object)
    latin_last = np.array([nz.fold(x) for x in last], dtype=object)
    lf, ll = pd.Series(latin_first), pd.Series(latin_last)
    house_email = np.asarray(
        np.where(
            in_house,
            ll + "family" + pd.Series(house_no % 1000, dtype=str) + "@gmail.com",
            None,
        ),
        dtype=object,
    )

    # mailboxes: unique personal (free-mail), old personal (another provider), work
    free_dom = np.array(FREE, dtype=object)
    dom_i = rng.integers(0, len(FREE), n_people)
    style = rng.integers(0, 3, n_people)
    num = pd.Series(pid, dtype=str)
    local = np.where(style == 0, lf + "." + ll + num,
                     np.where(style == 1, lf.str[0] + ll + num, lf + ll + "_" + num))  # fmt: skip
    personal_email = (pd.Series(local, dtype=object) + "@" + free_dom[dom_i]).to_numpy()
    old_dom = free_dom[(dom_i + 1 + rng.integers(0, len(FREE) - 1, n_people)) % len(FREE)]
    old_email = (lf + ll + num + "@" + old_dom).to_numpy()
    changed = rng.random(n_people) < 0.10
    key = pd.DataFrame({"f": lf, "l": ll, "c": company})
    dup = key.groupby(["f", "l", "c"], sort=False).cumcount().to_numpy()
    work_local = lf + "." + ll + np.where(dup > 0, pd.Series(dup + 1, dtype=str), "")
    work_email = np.asarray(
        np.where(employed, work_local + "@" + comp_domain[company], None), dtype=object
    )
    role_email = np.array(ROLE, dtype=object)[company % len(ROLE)] + "@" + comp_domain[company]

    # 60% of people log in on the web; people who changed their address mostly did it in
    # their account (85%), so their login ties the old and new address together
    identified = rng.random(n_people) < np.where(changed, 0.85, 0.6)

    # --- records ------------------------------------------------------------------------
    k = np.minimum(1 + rng.poisson(1.5, n_people), 8)
    k[namesake] = np.maximum(k[namesake], 2)
    rec_p = np.repeat(pid, k)
    n = len(rec_p)
    src = pick(rng, n, {"web": 0.30, "email": 0.25, "crm": 0.25, "ads": 0.20})
    first_rec = np.concatenate([[0], np.cumsum(k)[:-1]])
    src[first_rec[namesake]] = "crm"  # each namesake is a CRM contact of their own
    is_web, is_esp, is_crm, is_ads = src == "web", src == "email", src == "crm", src == "ads"
    r = rng.random((n, 12))

    # contact pattern per record: e = email only, p = phone only, b = both, n = neither
    pattern = np.empty(n, dtype=object)
    for name, mask, probs in (
        ("web", is_web, {"e": 0.88, "b": 0.03, "p": 0.04, "n": 0.05}),
        ("email", is_esp, {"e": 0.95, "b": 0.05}),
        ("crm", is_crm, {"e": 0.20, "b": 0.74, "p": 0.05, "n": 0.01}),
        ("ads", is_ads, {"e": 0.25, "b": 0.70, "p": 0.04, "n": 0.01}),
    ):
        del name
        pattern[mask] = pick(rng, int(mask.sum()), probs)
    # a web hit with neither email nor phone is a logged-in page view: only for people
    # who log in (it carries their user_id)
    pattern[is_web & (pattern == "n") & ~identified[rec_p]] = "e"
    has_email = (pattern == "e") | (pattern == "b")
    has_phone = (pattern == "p") | (pattern == "b")

    # names
    cyr = russian[rec_p] & (r[:, 0] < 0.5)
    f_name = np.where(cyr, first[rec_p], latin_first[rec_p]).astype(object)
    l_name = np.where(cyr, last[rec_p], latin_last[rec_p]).astype(object)
    rev = nick_reverse()
    for i in np.flatnonzero(r[:, 1] < 0.12).tolist():
        opts = rev.get(f_name[i])
        if opts:
            f_name[i] = opts[i % len(opts)]
    typo(rng, f_name, 0.04)
    typo(rng, l_name, 0.05)
    f_ser = case(rng, pd.Series(f_name, dtype=object))
    l_ser = case(rng, pd.Series(l_name, dtype=object))
    has_first = (
        (is_crm & (r[:, 2] < 0.97))
        | (is_ads & (r[:, 2] < 0.95))
        | (is_web & (r[:, 2] < 0.4))
        | (is_esp & (r[:, 2] < 0.7))
    )
    has_last = (
        is_crm
        | (is_ads & (r[:, 3] < 0.95))
        | (is_web & (r[:, 3] < 0.3))
        | (is_esp & (r[:, 3] < 0.6))
    )

    # email per record. Each person has a *primary* address - the one they signed up
    # with (the work address for 25% of employed people, else the personal one) - and, if
    # employed, a *secondary* one (the other). Sources are consistent, as in real feeds:
    # web identify and the ESP carry the primary address (the account / subscription
    # key; 3-5% the secondary); the CRM holds the primary (80%) or the secondary; lead
    # forms prefill the primary address (80%) or the secondary.
    emp = employed[rec_p]
    work_primary = employed & (rng.random(n_people) < 0.25)
    primary = np.where(work_primary, work_email, personal_email).astype(object)
    secondary = np.where(
        employed, np.where(work_primary, personal_email, work_email), personal_email
    ).astype(object)
    use_secondary = (
        (is_web & (r[:, 4] < 0.03))
        | (is_esp & (r[:, 4] < 0.05))
        | (is_ads & (r[:, 4] < 0.20))
        | (is_crm & (r[:, 4] < 0.20))
    )
    email = np.where(use_secondary, secondary[rec_p], primary[rec_p]).astype(object)
    # changed address: half the web/ESP records of those people still carry the old one
    use_old = changed[rec_p] & (is_web | is_esp) & ~use_secondary & (r[:, 5] < 0.5)
    email[use_old] = old_email[rec_p][use_old]
    use_house = in_house[rec_p] & ~is_crm & (r[:, 6] < 0.4)
    email[use_house] = house_email[rec_p][use_house]
    use_role = role_user[rec_p] & (is_crm | is_ads) & (r[:, 6] < 0.6)
    email[use_role] = role_email[rec_p][use_role]
    # variations: gmail dots dropped, +tags, case, typos, junk
    gm = np.char.endswith(email.astype(str), "@gmail.com") & (r[:, 7] < 0.3)
    email[gm] = np.array(
        [e.split("@")[0].replace(".", "") + "@gmail.com" for e in email[gm]], dtype=object
    )
    tag = r[:, 7] > 0.96
    email[tag] = np.char.replace(email[tag].astype(str), "@", "+news@", count=1).astype(object)
    upper = (r[:, 8] < 0.08) | ((r[:, 8] > 0.5) & (r[:, 8] < 0.52))
    email[upper] = np.char.upper(email[upper].astype(str)).astype(object)
    email_typo = rng.random(n) < 0.004
    email[email_typo] = np.array([_swap_one(e, i) for i, e in enumerate(email[email_typo])],
                                 dtype=object)  # fmt: skip
    email = or_none(has_email, email)
    email[has_email & (rng.random(n) < 0.003)] = "test@test.com"

    # phone per record: mobile, company switchboard (CRM/ads), home phone (households)
    r2 = rng.random((n, 6))
    ph = mobile[rec_p].copy()
    switch = emp & ((is_crm & (r2[:, 0] < 0.25)) | (is_ads & (r2[:, 0] < 0.1)))
    switch |= namesake[rec_p] & is_crm & (r2[:, 0] < 0.5)
    ph[switch] = comp_phone[company[rec_p]][switch]
    home = in_house[rec_p] & (r2[:, 1] < 0.3)
    ph[home] = home_phone[rec_p][home]
    phone_typo = r2[:, 2] < 0.003
    ph[phone_typo] = np.array(
        [p[:-1] + str((int(p[-1]) + 3) % 10) for p in ph[phone_typo]], dtype=object
    )
    phone = or_none(has_phone, phone_format(rng, ph))
    phone[has_phone & (r2[:, 3] < 0.003)] = "000-000-0000"

    comp_raw = (
        comp_word[company[rec_p]] + np.array(LEGAL, dtype=object)[rng.integers(0, len(LEGAL), n)]
    )
    comp_ser = case(rng, pd.Series(comp_raw, dtype=object))
    has_comp = emp & ((is_crm & (r2[:, 4] < 0.95)) | (is_ads & (r2[:, 4] < 0.6)))
    has_title = emp & ((is_crm & (r2[:, 5] < 0.8)) | (is_ads & (r2[:, 5] < 0.4)))
    new_addr = moved[rec_p] & (r[:, 9] < 0.5)
    city_idx = np.where(new_addr, city2[rec_p], city[rec_p])
    geo_wrong = is_web & (r[:, 10] < 0.2)
    city_idx[geo_wrong] = rng.integers(0, n_city, int(geo_wrong.sum()))
    has_city = (
        (is_crm & (r[:, 11] < 0.85)) | (is_web & (r[:, 11] < 0.5)) | (is_ads & (r[:, 11] < 0.4))
    )
    has_zip = (is_crm & (r[:, 9] > 0.3)) | (is_ads & (r[:, 10] > 0.8))
    has_birth = is_crm & (r2[:, 5] > 0.85)

    crm_id = np.where(is_crm, "C" + pd.Series(rec_p, dtype=str), None)
    web_uid = identified[rec_p] & is_web & (r2[:, 2] > 0.1)
    user_id = np.where(
        web_uid,
        "u_" + pd.Series(rec_p * 7919 % 1_000_003, dtype=str) + "_" + pd.Series(rec_p, dtype=str),
        None,
    )

    out = pd.DataFrame(
        {
            "record_id": np.char.add("r", np.arange(n).astype(str)).astype(object),
            "source": src,
            "first_name": f_ser.where(has_first, None).to_numpy(),
            "last_name": l_ser.where(has_last, None).to_numpy(),
            "email": email,
            "phone": phone,
            "company": comp_ser.where(has_comp, None).to_numpy(),
            "job_title": or_none(has_title, title[rec_p]),
            "city": or_none(has_city, city_names[city_idx]),
            "postcode": or_none(has_zip, city_zip[city_idx]),
            "birth_date": or_none(has_birth, birth[rec_p]),
            "crm_id": crm_id,
            "user_id": user_id,
            "true_id": pd.Series(rec_p, dtype=str).to_numpy(),
        }
    )
    order = rng.permutation(n)
    return out.iloc[order].reset_index(drop=True)


def _swap_one(email: str, i: int) -> str:
    """An email typo: two adjacent letters of the local part swapped."""
    local, _, domain = email.partition("@")
    if len(local) < 3:
        return email
    j = 1 + i % (len(local) - 2)
    return local[:j] + local[j + 1] + local[j] + local[j + 2 :] + "@" + domain


SYNTHETIC_MAPPING = {
    "first_name": "first_name",
    "last_name": "last_name",
    "email": "email",
    "phone": "phone",
    "company": "company",
    "job_title": "job_title",
    "city": "city",
    "postcode": "postcode",
    "birth_date": "birth_date",
}


def to_canonical(raw: pd.DataFrame) -> pd.DataFrame:
    """The canonical person frame of ``generate_people`` output (strong ids kept)."""
    frame = canonical_person_frame(
        raw,
        mapping=SYNTHETIC_MAPPING,
        id_column="record_id",
        keep_columns={"crm_id": "crm_id", "user_id": "user_id", "source": "source"},
    )
    frame["true_id"] = raw["true_id"].to_numpy()
    return frame
