"""Small helpers: ids, timestamps, transliteration, and the messy variants real data has.

Every function that makes a choice takes the caller's ``random.Random`` so the world is
reproducible from its seed.
"""

from __future__ import annotations

import gc
import random
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import NamedTuple, TypeVar

from samples.demo.pools import CYRILLIC_TO_LATIN

T = TypeVar("T")

DEFAULT_NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@contextmanager
def paused_gc() -> Iterator[None]:
    """Hold the cyclic garbage collector while building many small dicts (it halves the time;
    nothing built here forms reference cycles)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


def new_uuid(rng: random.Random) -> str:
    """A version 4 UUID drawn from ``rng`` (as ``str(uuid.UUID(int=bits, version=4))``)."""
    h = f"{(rng.getrandbits(128) & _UUID4_CLEAR) | _UUID4_SET:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def iso_z(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a ``Z``, as Segment's libraries send it."""
    utc = moment.astimezone(UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="milliseconds") + "Z"


def between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A moment uniformly between ``start`` and ``end`` (``start`` when the range is empty)."""
    span = (end - start).total_seconds()
    if span <= 0:
        return start
    return start + timedelta(seconds=rng.uniform(0, span))


def pick(rng: random.Random, weights: Mapping[T, float]) -> T:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def chance(rng: random.Random, p: float) -> bool:
    return rng.random() < p


def choose(rng: random.Random, items: Sequence[T]) -> T:
    return items[int(rng.random() * len(items))]


def translit(text: str) -> str:
    """Lower-case ASCII transliteration (Cyrillic and Latin accents)."""
    return "".join(CYRILLIC_TO_LATIN.get(ch, ch) for ch in text.lower())


def slugify(text: str, sep: str = "") -> str:
    words = "".join(ch if ch.isascii() and ch.isalnum() else " " for ch in translit(text)).split()
    return sep.join(words)


def typo(rng: random.Random, word: str) -> str:
    """One keyboard slip: a swapped, dropped or doubled letter (keeps the first letter)."""
    if len(word) < 4:
        return word + word[-1]
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(3)
    if kind == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == 1:
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


def messy_email(rng: random.Random, email: str) -> str:
    """The same address as a person or a sales rep might type it."""
    local, _, domain = email.partition("@")
    kind = rng.randrange(5)
    if kind == 0:
        return f"  {_title_parts(local)}@{domain.capitalize()} "
    if kind == 1:
        return email.upper()
    if kind == 2:
        return f"{_title_parts(local)}@{domain}"
    if kind == 3:
        return f"{email} "
    return f"{local}@{domain.capitalize()}"


def _title_parts(local: str) -> str:
    for sep in "._-":
        if sep in local:
            return sep.join(p.capitalize() for p in local.split(sep))
    return local.capitalize()


class Phone(NamedTuple):
    iso: str
    cc: str  # country calling code, no "+"
    national: str  # national significant number, digits only

    @property
    def e164(self) -> str:
        return f"+{self.cc}{self.national}"


_NANP_AREAS = {"US": ("415", "212", "512", "312", "617", "206", "650"), "CA": ("416", "647")}
_CODES = {"GB": "44", "DE": "49", "FR": "33", "NL": "31", "ES": "34", "RU": "7", "KZ": "7"}
_CODES |= {"SG": "65", "JP": "81", "AU": "61", "IN": "91", "US": "1", "CA": "1"}


def make_phone(rng: random.Random, iso: str) -> Phone:
    digits = "".join(rng.choices("0123456789", k=7))
    if iso in _NANP_AREAS:  # 555-01xx is reserved for fiction
        national = choose(rng, _NANP_AREAS[iso]) + "55501" + digits[:2]
    elif iso == "RU":
        national = choose(rng, ("916", "903", "926", "985", "999", "921")) + digits
    elif iso == "KZ":
        national = choose(rng, ("701", "705", "777")) + digits
    elif iso == "DE":
        national = choose(rng, ("30", "89", "40", "221")) + digits
    elif iso == "GB":
        national = "2079460" + digits[:3]
    elif iso == "FR":
        national = choose(rng, ("1", "6", "4")) + digits + digits[:1]
    else:
        national = choose(rng, ("8", "9", "6")) + digits + digits[:1]
    return Phone(iso, _CODES.get(iso, "1"), national)


def format_phone(rng: random.Random, phone: Phone) -> str:
    """One of the ways people write this number in its country."""
    n, cc = phone.national, phone.cc
    if cc == "1":
        styles = [
            f"+1 ({n[:3]}) {n[3:6]}-{n[6:]}",
            f"{n[:3]}.{n[3:6]}.{n[6:]}",
            f"({n[:3]}) {n[3:6]}-{n[6:]}",
            f"{n[:3]}-{n[3:6]}-{n[6:]}",
            phone.e164,
        ]
    elif cc == "7":
        styles = [
            f"+7 {n[:3]} {n[3:6]}-{n[6:8]}-{n[8:]}",
            f"8 ({n[:3]}) {n[3:6]}-{n[6:8]}-{n[8:]}",
            f"8-{n[:3]}-{n[3:6]}-{n[6:8]}-{n[8:]}",
            phone.e164,
        ]
    elif cc == "49":
        area = n[:3] if n.startswith("221") else n[:2]
        rest = n[len(area) :]
        styles = [f"+49 {area} {rest}", f"0{area} {rest}", f"+49 (0){area} {rest}", phone.e164]
    elif cc == "44":
        styles = [f"+44 20 {n[2:6]} {n[6:]}", f"020 {n[2:6]} {n[6:]}", phone.e164]
    elif cc == "33":
        pairs = " ".join(n[i : i + 2] for i in range(1, 9, 2))
        styles = [f"+33 {n[0]} {pairs}", f"0{n[0]} {pairs}", phone.e164]
    else:
        styles = [f"+{cc} {n[:4]} {n[4:]}", phone.e164, f"00{cc} {n}"]
    return choose(rng, styles)


_TOKEN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"


def token(rng: random.Random, length: int, alphabet: str = _TOKEN_ALPHABET) -> str:
    """A random opaque id such as a gclid or an sg_event_id."""
    return "".join(rng.choices(alphabet, k=length))


def digits(rng: random.Random, length: int) -> str:
    """A numeric id string that does not start with 0 (Facebook, HubSpot ids)."""
    return str(rng.randint(1, 9)) + "".join(rng.choices("0123456789", k=length - 1))
