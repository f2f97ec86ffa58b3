"""Person-record sets of shapes Kindred was not tuned on, with ground truth, for the
identity evaluation suite (``bench.identity_suite``). Each generator returns raw,
un-normalised records: ``record_id``, ``true_id`` (the person) and the columns the shape
carries, as text with ``None`` for a missing value, in shuffled order. All are deterministic
for a seed and independent of Kindred's own tables (their own nickname list and error
models), so that the suite does not measure Kindred against its own mirror.

**names_dob** (``names_dob(n)``): ``first_name``, ``surname``, ``dob`` (``YYYY-MM-DD``),
nothing else - no email, phone or id, as in registers of births, patients or members. About
one record in ten is a duplicate (``n / 10`` duplicate records of randomly chosen people, so
a few people have two). People: first names Zipf-like from ~200 common names, surnames 45%
from the 100 commonest, else syllable compounds (so common name pairs collide, as they do);
birth dates uniform 1940-2005. A duplicate differs from its original by, independently:
nickname 15% (else a first-name typo 15%), surname typo 15%, first name missing 4% or an
initial 3%, surname missing 3%, first/last name swapped 4%; birth date with day and month
swapped 8% (only where both are <= 12, so it stays a valid date), one digit wrong 8%,
missing 8%. Why: the deterministic rules behind Splink's prior (name + date) find few of
these pairs, which is how the prior collapses (issue 11).

**historical** (``historical(n)``): transcribed historical person records, shaped like
Splink's ``historical_50k``: ``first_name``, ``surname``, ``dob``, ``birth_place``,
``postcode_fake`` (UK-style), ``occupation``. People ``n / 2.5``, each with
``1 + Poisson(1.5)`` records (max 8); born 1700-1950. Every record is a transcription, with
independently: OCR-like character confusions (``rn``->``m``, ``m``->``rn``, ``l``->``1``,
``0``->``o``, ``cl``->``d``, ``e``->``c``, ``h``->``b``, ``u``->``ii`` ...) on 12% of first
names, 15% of surnames and 8% of birth places; keyboard typos on 5% / 8% of first names /
surnames; a name variant 8%; first and last name swapped 5%; birth dates impossible 7%
(month 13-99, e.g. ``1861-71-11``), day and month swapped 8% (impossible when the day is
over 12), an OCR digit confusion 5%, missing 15%; postcode of another address 10%, one
character wrong 5%; missing first name 5%, surname 3%, birth place 35%, postcode 35%,
occupation 40% (about 30% of the descriptive values missing). Why: blocking on exact
names or exact dates loses these pairs; impossible dates must keep their usable parts.
Tens of thousands of records at full size (``n=50_000``); 20,000 in the suite by default.

**crm** (``crm_export(n)``, in ``samples.crm_shape``): see that module.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from samples.variation import FIRST, LAST, SYL_A, SYL_B, typo, words

#: A few given-name variants (nickname, short form), independent of Kindred's own table.
NAME_VARIANTS: dict[str, list[str]] = {
    "william": ["bill", "will", "billy"], "robert": ["bob", "rob", "bobby"],
    "richard": ["rick", "dick", "rich"], "james": ["jim", "jimmy", "jamie"],
    "john": ["jack", "johnny"], "michael": ["mike", "mick"], "thomas": ["tom", "tommy"],
    "charles": ["charlie", "chuck"], "joseph": ["joe", "joey"], "daniel": ["dan", "danny"],
    "matthew": ["matt"], "anthony": ["tony"], "christopher": ["chris", "kit"],
    "elizabeth": ["liz", "beth", "betty", "eliza"], "margaret": ["maggie", "peggy", "meg"],
    "katherine": ["kate", "kathy", "katie"], "jennifer": ["jen", "jenny"],
    "patricia": ["pat", "patty", "trish"], "susan": ["sue", "susie"], "deborah": ["debbie"],
    "rebecca": ["becky"], "samantha": ["sam"], "alexander": ["alex", "sandy"],
    "edward": ["ed", "ted", "ned"], "stephen": ["steve"], "steven": ["steve"],
    "nicholas": ["nick"], "benjamin": ["ben"], "samuel": ["sam"], "andrew": ["andy", "drew"],
    "timothy": ["tim"], "kenneth": ["ken"], "donald": ["don"], "ronald": ["ron"],
    "gregory": ["greg"], "jonathan": ["jon"], "victoria": ["vicky"], "dorothy": ["dot"],
    "frances": ["fran"], "henry": ["harry", "hal"], "mary": ["molly", "polly"],
}  # fmt: skip

#: OCR-like confusions (source -> misread), tried in random order; the first that applies.
OCR_CONFUSIONS: tuple[tuple[str, str], ...] = (
    ("rn", "m"), ("m", "rn"), ("l", "1"), ("o", "0"), ("cl", "d"), ("d", "cl"), ("e", "c"),
    ("h", "b"), ("u", "ii"), ("n", "u"), ("a", "o"), ("i", "l"), ("t", "f"), ("vv", "w"),
)  # fmt: skip
DIGIT_CONFUSIONS = {"1": "7", "7": "1", "0": "6", "6": "0", "3": "8", "8": "3", "5": "6"}

PLACES_TEXT = (
    "london manchester liverpool leeds bristol sheffield birmingham glasgow edinburgh york "
    "bath norwich exeter cardiff swansea dublin cork belfast derby leicester nottingham hull "
    "plymouth oxford cambridge durham lancaster chester coventry bradford"
)
PLACES = words(PLACES_TEXT)
OCCUPATIONS = words(
    "farmer;labourer;clergyman;politician;soldier;merchant;weaver;teacher;physician;lawyer;"
    "painter;writer;engineer;sailor;miner;tailor;blacksmith;servant;banker;architect;poet;"
    "actor;composer;shoemaker;carpenter;baker;brewer;printer;surgeon;judge",
    sep=";",
)


def person_pool(
    rng: np.random.Generator, n: int, *, born: tuple[str, str] = ("1940-01-01", "2005-12-31")
) -> pd.DataFrame:
    """``n`` people: ``first``, ``last`` (Zipf-like common names, else compounds) and
    ``dob`` (uniform in ``born``, as ``YYYY-MM-DD``)."""
    pool = np.array(FIRST, dtype=object)
    w = 1.0 / np.arange(1, len(pool) + 1) ** 0.6
    first = pool[rng.choice(len(pool), n, p=w / w.sum())]
    syl = np.array([a + b for a in SYL_A.split() for b in SYL_B.split()], dtype=object)
    common = np.array(LAST, dtype=object)
    compound = syl[rng.integers(0, len(syl), n)] + np.where(
        rng.random(n) < 0.5, "", syl[rng.integers(0, len(syl), n)]
    )
    last = np.where(rng.random(n) < 0.45, common[rng.integers(0, len(common), n)], compound)
    lo, hi = np.datetime64(born[0]), np.datetime64(born[1])
    days = int((hi - lo).astype(int))
    dob = (lo + rng.integers(0, days + 1, n)).astype(str).astype(object)
    return pd.DataFrame({"first": first.astype(object), "last": last.astype(object), "dob": dob})


def share(rng: np.random.Generator, n: int, p: float) -> np.ndarray[Any, Any]:
    """A boolean mask selecting about ``p`` of ``n`` rows."""
    return rng.random(n) < p


def blank(values: np.ndarray[Any, Any], mask: np.ndarray[Any, Any]) -> None:
    """In place: ``None`` where ``mask``."""
    values[mask] = None


def variant_name(rng: np.random.Generator, values: np.ndarray[Any, Any], p: float) -> None:
    """In place: a nickname or short form for about ``p`` of the names that have one."""
    for i in np.flatnonzero(rng.random(len(values)) < p).tolist():
        options = NAME_VARIANTS.get(str(values[i]))
        if options:
            values[i] = options[int(rng.integers(0, len(options)))]


def ocr(rng: np.random.Generator, values: np.ndarray[Any, Any], p: float) -> None:
    """In place: one OCR-like confusion (``OCR_CONFUSIONS``) in about ``p`` of the values."""
    for i in np.flatnonzero(rng.random(len(values)) < p).tolist():
        s = values[i]
        if not isinstance(s, str):
            continue
        for k in rng.permutation(len(OCR_CONFUSIONS)).tolist():
            src, dst = OCR_CONFUSIONS[k]
            at = [j for j in range(len(s)) if s.startswith(src, j)]
            if at:
                j = at[int(rng.integers(0, len(at)))]
                values[i] = s[:j] + dst + s[j + len(src) :]
                break


def swap_columns(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any], mask: Any) -> None:
    """In place: exchange ``a`` and ``b`` where ``mask``."""
    tmp = a[mask].copy()
    a[mask] = b[mask]
    b[mask] = tmp


def swap_day_month(dates: np.ndarray[Any, Any], mask: Any, *, valid_only: bool) -> None:
    """In place: ``YYYY-MM-DD`` -> ``YYYY-DD-MM`` where ``mask`` (with ``valid_only``, only
    where the day is a possible month and differs from it)."""
    for i in np.flatnonzero(mask).tolist():
        s = dates[i]
        if not isinstance(s, str) or len(s) != 10:
            continue
        y, m, d = s[:4], s[5:7], s[8:]
        if valid_only and (int(d) > 12 or d == m):
            continue
        dates[i] = f"{y}-{d}-{m}"


def wrong_digit(
    rng: np.random.Generator, dates: np.ndarray[Any, Any], mask: Any, *, ocr_like: bool
) -> None:
    """In place: one digit of the date changed where ``mask`` (an OCR confusion of
    ``DIGIT_CONFUSIONS`` with ``ocr_like``, else any other digit); the result may be an
    impossible date."""
    for i in np.flatnonzero(mask).tolist():
        s = dates[i]
        if not isinstance(s, str):
            continue
        pos = [
            j for j, ch in enumerate(s) if ch.isdigit() and (not ocr_like or ch in DIGIT_CONFUSIONS)
        ]
        if not pos:
            continue
        j = pos[int(rng.integers(0, len(pos)))]
        new = (
            DIGIT_CONFUSIONS[s[j]] if ocr_like else str((int(s[j]) + int(rng.integers(1, 10))) % 10)
        )
        dates[i] = s[:j] + new + s[j + 1 :]


def finish(rng: np.random.Generator, columns: dict[str, Any], true_id: Any) -> pd.DataFrame:
    """The records in shuffled order with ``record_id`` and ``true_id`` first."""
    frame = pd.DataFrame({k: np.asarray(v, dtype=object) for k, v in columns.items()})
    frame.insert(0, "true_id", np.asarray(true_id).astype(str).astype(object))
    frame = frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)
    frame.insert(0, "record_id", [f"r{i}" for i in range(len(frame))])
    return frame.astype(object).where(frame.notna(), None)


def names_dob(n_records: int, *, seed: int = 11) -> pd.DataFrame:
    """About ``n_records`` records of names and birth dates, one in ten a duplicate."""
    rng = np.random.default_rng(seed)
    n_dups = max(1, round(n_records / 10))
    n_people = max(2, n_records - n_dups)
    people = person_pool(rng, n_people)
    parent = rng.integers(0, n_people, n_dups)
    first = people["first"].to_numpy().copy()
    last = people["last"].to_numpy().copy()
    dob = people["dob"].to_numpy().copy()
    df, dl, dd = first[parent].copy(), last[parent].copy(), dob[parent].copy()
    k = n_dups
    nick = share(rng, k, 0.15)
    nicked = df.copy()
    variant_name(rng, nicked, 1.0)
    changed = nick & (nicked != df)
    df[changed] = nicked[changed]
    plain = df.copy()
    typo(rng, plain, 0.15)
    df[~changed] = plain[~changed]
    typo(rng, dl, 0.15)
    initial = share(rng, k, 0.03)
    df[initial] = np.array([str(x)[:1] for x in df[initial]], dtype=object)
    swap_columns(df, dl, share(rng, k, 0.04))
    blank(df, share(rng, k, 0.04))
    blank(dl, share(rng, k, 0.03))
    swap_day_month(dd, share(rng, k, 0.08), valid_only=True)
    wrong_digit(rng, dd, share(rng, k, 0.08), ocr_like=False)
    blank(dd, share(rng, k, 0.08))
    cols = {
        "first_name": np.concatenate([first, df]),
        "surname": np.concatenate([last, dl]),
        "dob": np.concatenate([dob, dd]),
    }
    return finish(rng, cols, np.concatenate([np.arange(n_people), parent]))


def _postcodes(rng: np.random.Generator, count: int) -> np.ndarray[Any, Any]:
    area = np.array(["AB", "B", "BS", "CB", "DE", "E", "EH", "G", "L", "LS", "M", "N", "NE",
                     "NW", "OX", "S", "SE", "SW", "TQ", "W", "YO"], dtype=object)  # fmt: skip
    letters = np.array(list("ABDEFGHJLNPQRSTUWXYZ"), dtype=object)
    a = area[rng.integers(0, len(area), count)]
    d = rng.integers(1, 30, count).astype(str)
    s = rng.integers(0, 10, count).astype(str)
    u = (
        letters[rng.integers(0, len(letters), count)]
        + letters[rng.integers(0, len(letters), count)]
    )
    return np.asarray(a + d + " " + s + u, dtype=object)


def historical(n_records: int, *, seed: int = 13) -> pd.DataFrame:
    """About ``n_records`` transcribed historical person records (see the module docs)."""
    rng = np.random.default_rng(seed)
    n_people = max(2, int(n_records / 2.5))
    people = person_pool(rng, n_people, born=("1700-01-01", "1950-12-31"))
    counts = np.minimum(1 + rng.poisson(1.5, n_people), 8)
    pid = np.repeat(np.arange(n_people), counts)
    k = len(pid)
    pw = 1.0 / np.arange(1, len(PLACES) + 1)
    place = np.array(PLACES, dtype=object)[rng.choice(len(PLACES), n_people, p=pw / pw.sum())]
    ow = 1.0 / np.arange(1, len(OCCUPATIONS) + 1) ** 0.8
    job = np.array(OCCUPATIONS, dtype=object)[
        rng.choice(len(OCCUPATIONS), n_people, p=ow / ow.sum())
    ]
    codes = _postcodes(rng, max(4, n_people // 2))
    home = codes[rng.integers(0, len(codes), n_people)]
    first = people["first"].to_numpy()[pid].copy()
    last = people["last"].to_numpy()[pid].copy()
    dob = people["dob"].to_numpy()[pid].copy()
    born = place[pid].copy()
    post = home[pid].copy()
    occ = job[pid].copy()
    ocr(rng, first, 0.12)
    ocr(rng, last, 0.15)
    ocr(rng, born, 0.08)
    typo(rng, first, 0.05)
    typo(rng, last, 0.08)
    variant_name(rng, first, 0.08)
    swap_columns(first, last, share(rng, k, 0.05))
    bad = np.flatnonzero(share(rng, k, 0.07))
    months = rng.integers(13, 100, len(bad))
    for i, m in zip(bad.tolist(), months.tolist(), strict=True):
        dob[i] = f"{dob[i][:4]}-{m:02d}-{dob[i][8:]}"
    swap_day_month(dob, share(rng, k, 0.08), valid_only=False)
    wrong_digit(rng, dob, share(rng, k, 0.05), ocr_like=True)
    moved = share(rng, k, 0.10)
    post[moved] = codes[rng.integers(0, len(codes), int(moved.sum()))]
    typo_pc = np.flatnonzero(share(rng, k, 0.05))
    for i in typo_pc.tolist():
        s = str(post[i])
        j = int(rng.integers(0, len(s)))
        if s[j] != " ":
            post[i] = s[:j] + ("X" if s[j] != "X" else "Y") + s[j + 1 :]
    for values, p in ((first, 0.05), (last, 0.03), (dob, 0.15), (born, 0.35), (post, 0.35),
                      (occ, 0.40)):  # fmt: skip
        blank(values, share(rng, k, p))
    cols = {
        "first_name": first,
        "surname": last,
        "dob": dob,
        "birth_place": born,
        "postcode_fake": post,
        "occupation": occ,
    }
    return finish(rng, cols, pid)
