"""Synthetic multi-source person records with ground truth.

People are seen through four sources with the fields each really carries:

- ``web``: login ``user_id`` (strong id) for identified visitors, email, sometimes a first
  name, a geo-IP city;
- ``email`` (ESP): the subscribed address, sometimes names;
- ``crm``: contact id ``crm_id`` (strong id), names, work email, phone (mobile or the
  company switchboard), company, job title, city, postcode, sometimes a birth date;
- ``ads``: lead-form names, email, phone, company, title.

Real-data variation: case and spacing, one-character typos, nicknames (bob/robert), phone
formats, ``+tags`` and Gmail dots, missing fields, moved addresses, Cyrillic spellings, junk
placeholders. Shared identifiers used by distinct people: household mailboxes and home
phones (same surname and address), role mailboxes (``info@``/``sales@`` of a company),
company switchboard phones; and *namesakes*: two different people with the same name at the
same company sharing the role mailbox, each with their own CRM contact id - they must never
merge.

``generate_people(n, seed=...)`` is deterministic for a seed and vectorised with numpy
(1M records in well under two minutes).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from identity import normalize as nz
from identity.records import canonical_person_frame

STRONG_ID_COLUMNS: tuple[str, ...] = ("crm_id", "user_id")


def _or_none(mask: np.ndarray[Any, Any], values: Any) -> np.ndarray[Any, Any]:
    """``values`` where ``mask``, else None (object array)."""
    out = np.empty(len(mask), dtype=object)
    out[mask] = np.asarray(values, dtype=object)[mask]
    return out


def _words(text: str, sep: str | None = None) -> list[str]:
    return [w.strip() for w in text.split(sep) if w.strip()]


_FIRST = _words(
    "james john robert michael william david richard joseph thomas charles christopher "
    "daniel matthew anthony mark donald steven paul andrew joshua kenneth kevin brian "
    "george timothy ronald edward jason jeffrey ryan jacob gary nicholas eric jonathan "
    "stephen larry justin scott brandon benjamin samuel gregory alexander frank patrick "
    "raymond jack dennis jerry tyler aaron jose adam nathan henry douglas zachary peter "
    "kyle noah ethan jeremy walter christian keith roger terry austin sean gerald carl "
    "harold dylan arthur lawrence jordan jesse bryan billy bruce gabriel joe logan alan "
    "juan albert willie elijah wayne randy mary patricia jennifer linda elizabeth barbara "
    "susan jessica sarah karen lisa nancy betty sandra margaret ashley kimberly emily "
    "donna michelle carol amanda melissa deborah stephanie dorothy rebecca sharon laura "
    "cynthia amy kathleen angela shirley brenda emma anna pamela nicole samantha katherine "
    "christine helen debra rachel carolyn janet maria olivia heather diane julie joyce "
    "victoria ruth virginia lauren kelly christina joan evelyn judith andrea hannah megan "
    "cheryl jacqueline martha madison teresa gloria sara janice ann kathryn abigail sophia "
    "frances jean alice judy isabella julia grace amber denise danielle marilyn beverly "
    "charlotte natalie theresa diana brittany doris kayla alexis lori marie "
)
_RUSSIAN_FIRST = _words(
    "Александр Дмитрий Сергей Андрей Алексей Иван Михаил Наталья Елена Ольга Татьяна Мария "
    "Анна Ирина "
)
_RUSSIAN_LAST = _words(
    "Иванов Смирнов Кузнецов Попов Васильев Петров Соколов Михайлов Новиков Федоров "
    "Морозов Волков Лебедев Козлов "
)
_LAST = _words(
    "smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez "
    "lopez gonzalez wilson anderson thomas taylor moore jackson martin lee perez thompson "
    "white harris sanchez clark ramirez lewis robinson walker young allen king wright "
    "scott torres nguyen hill flores green adams nelson baker hall rivera campbell "
    "mitchell carter roberts gomez phillips evans turner diaz parker cruz edwards collins "
    "reyes stewart morris morales murphy cook rogers gutierrez ortiz morgan cooper "
    "peterson bailey reed kelly howard ramos kim cox ward richardson watson brooks chavez "
    "wood james bennett gray mendoza ruiz hughes price alvarez castillo sanders patel "
    "myers long ross foster jimenez "
)
_SYL_A = "bar ber bor cal car dan del dor fal fer gal gar hal har kel ken lan lar mal mar nor " \
    "pel per ral ren sal sel tal ter val ven wal wen zel kor bran stal gren"  # fmt: skip
_SYL_B = "ton son ley man berg field ford wood well land stein sky ridge more worth ham by " \
    "dale win ger ner ick ard ett ine ova enko ski sen strom holm"  # fmt: skip
_COMPANY_A = "acme global united pioneer summit apex vertex nova blue red green silver golden " \
    "north south east west alpha delta omega prime bright clear rapid smart first metro " \
    "urban coastal harbor river mountain"  # fmt: skip
_COMPANY_B = "systems solutions logistics foods media labs analytics partners holdings " \
    "consulting software energy health capital dynamics networks industries retail " \
    "robotics finance"  # fmt: skip
_LEGAL = ["", " Inc.", " LLC", " Ltd", " GmbH", " Corp", ", Inc.", " Co."]
_TITLES = _words(
    "ceo;cto;cfo;vp marketing;vp sales;marketing manager;sales manager;account executive;"
    "software engineer;data analyst;product manager;hr manager;office manager;consultant;"
    "director of operations;head of growth;designer;accountant",
    sep=";",
)
_FREE = ["gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "aol.com", "icloud.com"]
_ROLE = ["info", "sales", "contact", "office"]


def _nick_reverse() -> dict[str, list[str]]:
    rev: dict[str, list[str]] = {}
    for nick, canon in nz.NICKNAMES.items():
        if len(nick) > 2:
            rev.setdefault(canon, []).append(nick)
    return rev


def _typo(rng: np.random.Generator, values: np.ndarray[Any, Any], share: float) -> None:
    """In place: one random edit (substitute, delete, transpose) in ``share`` of values."""
    idx = np.flatnonzero(rng.random(len(values)) < share)
    kinds = rng.integers(0, 3, len(idx))
    pos = rng.random(len(idx))
    letters = rng.integers(97, 123, len(idx))
    for i, k, p, ch in zip(
        idx.tolist(), kinds.tolist(), pos.tolist(), letters.tolist(), strict=True
    ):
        s = values[i]
        if not isinstance(s, str) or len(s) < 4:
            continue
        j = 1 + int(p * (len(s) - 2))  # keep the first letter
        if k == 0:
            values[i] = s[:j] + chr(ch) + s[j + 1 :]
        elif k == 1:
            values[i] = s[:j] + s[j + 1 :]
        else:
            values[i] = s[: j - 1] + s[j] + s[j - 1] + s[j + 1 :] if j < len(s) else s


def _case(rng: np.random.Generator, values: pd.Series) -> pd.Series:
    """Random case/spacing variants: lower, UPPER, Title, padded."""
    r = rng.random(len(values))
    out = values.copy()
    out[r < 0.15] = values[r < 0.15].str.upper()
    mid = (r >= 0.15) & (r < 0.75)
    out[mid] = values[mid].str.title()
    pad = r >= 0.95
    out[pad] = "  " + values[pad] + " "
    return out


def _phone_format(rng: np.random.Generator, digits: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    d = pd.Series(digits, dtype=object)
    a, b, c = d.str[:3], d.str[3:6], d.str[6:]
    fmt = rng.integers(0, 5, len(d))
    out = np.where(fmt == 0, "(" + a + ") " + b + "-" + c,
          np.where(fmt == 1, a + "-" + b + "-" + c,
          np.where(fmt == 2, "+1 " + a + " " + b + " " + c,
          np.where(fmt == 3, d, "1." + a + "." + b + "." + c))))  # fmt: skip
    return np.asarray(out, dtype=object)


def generate_people(n_records: int, *, seed: int = 7) -> pd.DataFrame:
    """About ``n_records`` source records of ``n_records / 2.4`` people, with ``true_id``."""
    rng = np.random.default_rng(seed)
    n_people = max(10, int(n_records / 2.4))
    pid = np.arange(n_people)

    # --- people -------------------------------------------------------------------------
    first_pool = np.array(_FIRST, dtype=object)
    fw = 1.0 / np.arange(1, len(first_pool) + 1) ** 0.6
    first = first_pool[rng.choice(len(first_pool), n_people, p=fw / fw.sum())]
    syl = np.array([a + b for a in _SYL_A.split() for b in _SYL_B.split()], dtype=object)
    common = np.array(_LAST, dtype=object)
    last = np.where(
        rng.random(n_people) < 0.45,
        common[rng.integers(0, len(common), n_people)],
        syl[rng.integers(0, len(syl), n_people)]
        + np.where(rng.random(n_people) < 0.5, "", syl[rng.integers(0, len(syl), n_people)]),
    ).astype(object)
    russian = rng.random(n_people) < 0.02
    ru_first = np.array(_RUSSIAN_FIRST, dtype=object)[
        rng.integers(0, len(_RUSSIAN_FIRST), n_people)
    ]
    ru_last = np.array(_RUSSIAN_LAST, dtype=object)[rng.integers(0, len(_RUSSIAN_LAST), n_people)]
    first = np.where(russian, ru_first, first).astype(object)
    last = np.where(russian, ru_last, last).astype(object)
    latin_first = np.array([nz.fold(x) for x in first], dtype=object)
    latin_last = np.array([nz.fold(x) for x in last], dtype=object)

    n_comp = max(5, n_people // 8)
    ca, cb = _COMPANY_A.split(), _COMPANY_B.split()
    comp_word = np.array(
        [f"{ca[i % len(ca)]} {cb[(i // len(ca)) % len(cb)]}" + (f" {i // (len(ca) * len(cb))}"
         if i >= len(ca) * len(cb) else "") for i in range(n_comp)], dtype=object)  # fmt: skip
    comp_domain = np.array([w.replace(" ", "") + ".com" for w in comp_word], dtype=object)
    comp_phone = np.array(
        [f"{x:010d}" for x in rng.integers(2_000_000_000, 9_999_999_999, n_comp)], dtype=object
    )
    company = rng.integers(0, n_comp, n_people)
    title = np.array(_TITLES, dtype=object)[rng.integers(0, len(_TITLES), n_people)]
    n_city = 3000
    city_names = np.array([f"{a}{b}" for a, b in zip(
        syl[rng.integers(0, len(syl), n_city)], rng.choice(["", " city", "ville", " springs",
                                                             " falls"], n_city), strict=True)],
        dtype=object)  # fmt: skip
    city_zip = np.array([f"{x:05d}" for x in rng.integers(1000, 99999, n_city)], dtype=object)
    city = rng.integers(0, n_city, n_people)
    moved = rng.random(n_people) < 0.12
    city2 = rng.integers(0, n_city, n_people)
    mobile = np.array(
        [f"{x:010d}" for x in rng.integers(2_000_000_000, 9_999_999_999, n_people)], dtype=object
    )
    birth = (np.datetime64("1950-01-01") + rng.integers(0, 365 * 50, n_people)).astype(str)

    # personal email: first.last / flast / firstlast + person-specific digits
    style = rng.integers(0, 3, n_people)
    digits = pd.Series(pid % 997, dtype=str)
    lf, ll = pd.Series(latin_first), pd.Series(latin_last)
    local = np.where(style == 0, lf + "." + ll + digits,
                     np.where(style == 1, lf.str[0] + ll + digits, lf + ll + digits))  # fmt: skip
    personal_email = (
        pd.Series(local, dtype=object)
        + "@"
        + np.array(_FREE, dtype=object)[rng.integers(0, len(_FREE), n_people)]
    )
    work_email = lf + "." + ll + "@" + comp_domain[company]

    # households: 10% of people share a family mailbox and home phone with 1-3 others
    household = np.full(n_people, -1)
    n_house = int(n_people * 0.04)
    heads = rng.choice(n_people, n_house, replace=False)
    members_per = rng.integers(2, 4, n_house)
    house_email = np.empty(n_people, dtype=object)
    house_phone = np.empty(n_people, dtype=object)
    cursor = rng.permutation(n_people)
    c = 0
    for h, (head, m) in enumerate(zip(heads.tolist(), members_per.tolist(), strict=True)):
        group = [head]
        while len(group) < m and c < n_people:
            cand = int(cursor[c])
            c += 1
            if cand != head and household[cand] < 0 and cand not in heads:
                group.append(cand)
        for g in group:
            household[g] = h
            last[g], latin_last[g] = last[head], latin_last[head]
            city[g] = city[head]
        house_email[group] = f"{latin_last[head]}family{h % 1000}@gmail.com"
        house_phone[group] = f"{rng.integers(2_000_000_000, 9_999_999_999):010d}"
    in_house = household >= 0

    # namesakes: 1% of people get a same-name colleague (distinct person, own CRM id)
    n_twin = int(n_people * 0.01)
    src_twins = rng.choice(n_people, n_twin, replace=False)
    dst_twins = rng.choice(n_people, n_twin, replace=False)
    ok = (src_twins != dst_twins) & ~np.isin(dst_twins, src_twins)
    src_twins, dst_twins = src_twins[ok], dst_twins[ok]
    first[dst_twins], last[dst_twins] = first[src_twins], last[src_twins]
    latin_first[dst_twins], latin_last[dst_twins] = latin_first[src_twins], latin_last[src_twins]
    company[dst_twins] = company[src_twins]
    city[dst_twins] = city[src_twins]
    work_email = pd.Series(latin_first) + "." + pd.Series(latin_last) + "@" + comp_domain[company]
    namesake = np.zeros(n_people, dtype=bool)
    namesake[src_twins] = True
    namesake[dst_twins] = True
    # namesakes share the same work mailbox form; make both use the role mailbox in CRM
    role_user = (rng.random(n_people) < 0.06) | namesake

    identified = rng.random(n_people) < 0.6

    # --- records ------------------------------------------------------------------------
    k = np.minimum(1 + rng.poisson(1.4, n_people), 8)
    k[namesake] = np.maximum(k[namesake], 2)
    rec_p = np.repeat(pid, k)
    n = len(rec_p)
    src = rng.choice(
        np.array(["web", "email", "crm", "ads"], dtype=object), n, p=[0.3, 0.25, 0.25, 0.2]
    )
    # every namesake has a CRM record: it is what makes them distinguishable
    first_rec = np.concatenate([[0], np.cumsum(k)[:-1]])
    src[first_rec[namesake]] = "crm"
    r = rng.random((n, 8))
    is_web, is_esp, is_crm, is_ads = src == "web", src == "email", src == "crm", src == "ads"

    f_name = latin_first[rec_p].copy()
    cyr = russian[rec_p] & (r[:, 0] < 0.5)
    f_name[cyr] = first[rec_p][cyr]
    rev = _nick_reverse()
    nick_idx = np.flatnonzero(r[:, 1] < 0.12)
    for i in nick_idx.tolist():
        opts = rev.get(f_name[i])
        if opts:
            f_name[i] = opts[i % len(opts)]
    l_name = latin_last[rec_p].copy()
    l_name[cyr] = last[rec_p][cyr]
    _typo(rng, f_name, 0.04)
    _typo(rng, l_name, 0.05)
    f_ser = _case(rng, pd.Series(f_name, dtype=object))
    l_ser = _case(rng, pd.Series(l_name, dtype=object))
    has_first = (is_crm | is_ads) | (is_web & (r[:, 2] < 0.6)) | (is_esp & (r[:, 2] < 0.9))
    has_last = (
        is_crm
        | (is_ads & (r[:, 3] < 0.95))
        | (is_web & (r[:, 3] < 0.5))
        | (is_esp & (r[:, 3] < 0.8))
    )

    # email choice per record
    pe = personal_email.to_numpy()[rec_p]
    we = work_email.to_numpy()[rec_p]
    he = house_email[rec_p]
    role_email = (
        np.array(_ROLE, dtype=object)[rec_p % len(_ROLE)] + "@" + comp_domain[company[rec_p]]
    )
    pick = r[:, 4]
    email = np.where((is_crm & (pick < 0.5)) | (is_ads & (pick < 0.3)), we, pe).astype(object)
    use_house = in_house[rec_p] & (r[:, 5] < 0.5) & ~is_crm
    email[use_house] = he[use_house]
    use_role = role_user[rec_p] & (is_crm | is_ads) & (r[:, 5] < 0.7)
    email[use_role] = role_email[use_role]
    # variations: +tags, gmail dots, case, junk
    tag = r[:, 6] < 0.05
    email[tag] = np.char.replace(email[tag].astype(str), "@", "+news@", count=1).astype(object)
    upper = r[:, 6] > 0.9
    email[upper] = np.char.upper(email[upper].astype(str)).astype(object)
    has_email = (
        is_esp
        | (is_web & (r[:, 7] < 0.8))
        | (is_crm & (r[:, 7] < 0.9))
        | (is_ads & (r[:, 7] < 0.95))
    )
    email = _or_none(has_email, email)
    junk = rng.random(n) < 0.005
    email[junk] = "test@test.com"

    # phone
    r2 = rng.random((n, 6))
    ph = mobile[rec_p].copy()
    switch = is_crm & (r2[:, 0] < 0.3)
    ph[switch] = comp_phone[company[rec_p]][switch]
    home = in_house[rec_p] & (r2[:, 0] > 0.8)
    ph[home] = house_phone[rec_p][home]
    has_phone = (is_crm & (r2[:, 1] < 0.8)) | (is_ads & (r2[:, 1] < 0.6))
    phone = _or_none(has_phone, _phone_format(rng, ph))
    phone[has_phone & (r2[:, 2] < 0.005)] = "000-000-0000"

    comp_raw = (
        comp_word[company[rec_p]] + np.array(_LEGAL, dtype=object)[rng.integers(0, len(_LEGAL), n)]
    )
    comp_ser = _case(rng, pd.Series(comp_raw, dtype=object))
    has_comp = (is_crm & (r2[:, 3] < 0.95)) | (is_ads & (r2[:, 3] < 0.7))
    has_title = (is_crm & (r2[:, 4] < 0.8)) | (is_ads & (r2[:, 4] < 0.5))
    city_idx = np.where(moved[rec_p] & (r2[:, 5] < 0.4), city2[rec_p], city[rec_p])
    has_city = is_crm & (r[:, 0] < 0.8) | (is_web & (r[:, 1] > 0.5)) | (is_ads & (r[:, 2] > 0.5))
    has_zip = is_crm & (r[:, 3] > 0.3)
    has_birth = is_crm & (r2[:, 5] > 0.8)

    crm_id = np.where(is_crm, "C" + pd.Series(rec_p, dtype=str), None)
    web_uid = identified[rec_p] & is_web & (r2[:, 2] > 0.3)
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
            "job_title": _or_none(has_title, title[rec_p]),
            "city": _or_none(has_city, city_names[city_idx]),
            "postcode": _or_none(has_zip, city_zip[city_idx]),
            "birth_date": _or_none(has_birth, birth[rec_p]),
            "crm_id": crm_id,
            "user_id": user_id,
            "true_id": pd.Series(rec_p, dtype=str).to_numpy(),
        }
    )
    order = rng.permutation(n)
    return out.iloc[order].reset_index(drop=True)


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
