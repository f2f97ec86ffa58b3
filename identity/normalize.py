"""Normalisation of identifiers before they are compared or linked.

The email, phone and opaque-id normalisers (and the junk list) live in
``kindred.identifiers``, below ingest, which hashes the same values for suppression; they are
re-exported here unchanged.

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
import unicodedata
from datetime import date

from kindred.identifiers import GMAIL_DOMAINS as GMAIL_DOMAINS
from kindred.identifiers import JUNK_VALUES as JUNK_VALUES
from kindred.identifiers import MAX_EMAIL_LENGTH as MAX_EMAIL_LENGTH
from kindred.identifiers import MAX_IDENTIFIER_LENGTH as MAX_IDENTIFIER_LENGTH
from kindred.identifiers import clean_text as _text
from kindred.identifiers import is_junk as is_junk
from kindred.identifiers import normalise_email as normalise_email
from kindred.identifiers import normalise_id as normalise_id
from kindred.identifiers import normalise_phone as normalise_phone

FREE_MAIL_DOMAINS = frozenset(
    {"gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "yahoo.fr", "yahoo.de",
     "ymail.com", "rocketmail.com", "hotmail.com", "hotmail.co.uk", "hotmail.fr", "hotmail.de",
     "outlook.com", "outlook.de", "live.com", "live.co.uk", "msn.com", "aol.com", "icloud.com",
     "me.com", "mac.com", "mail.ru", "inbox.ru", "list.ru", "bk.ru", "yandex.ru", "yandex.com",
     "ya.ru", "rambler.ru", "gmx.com", "gmx.de", "gmx.net", "web.de", "t-online.de",
     "proton.me", "protonmail.com", "pm.me", "zoho.com", "mail.com", "fastmail.com",
     "tutanota.com", "qq.com", "163.com", "126.com", "orange.fr", "free.fr", "laposte.net",
     "libero.it", "seznam.cz", "wp.pl", "o2.pl", "interia.pl", "comcast.net", "verizon.net",
     "att.net", "sbcglobal.net", "btinternet.com", "naver.com", "ukr.net"}
)  # fmt: skip

ROLE_LOCAL_PARTS = frozenset(
    {"info", "sales", "admin", "support", "contact", "hello", "office", "team", "marketing",
     "billing", "accounts", "noreply", "no-reply", "help", "enquiries", "inquiries", "hr",
     "jobs", "careers", "press", "service", "webmaster", "postmaster", "mail", "reception"}
)  # fmt: skip

_CYRILLIC = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh",
    "з": "z", "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts",
    "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu",
    "я": "ya", "і": "i", "ї": "yi", "є": "ye", "ґ": "g",
}  # fmt: skip
_CYRILLIC_TABLE = str.maketrans(_CYRILLIC)

# Letters that NFKD does not decompose into base + combining mark.
_SPECIAL_LATIN = str.maketrans(
    {"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "đ": "d", "ð": "d", "þ": "th", "ł": "l",
     "ı": "i"}
)  # fmt: skip

NAME_TITLES = frozenset(
    {"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "madam", "dame", "rev", "jr", "sr",
     "ii", "iii", "phd", "md", "esq"}
)  # fmt: skip

NICKNAMES: dict[str, str] = {
    "bob": "robert", "bobby": "robert", "rob": "robert", "robbie": "robert",
    "bill": "william", "billy": "william", "will": "william", "willy": "william",
    "liz": "elizabeth", "lizzie": "elizabeth", "beth": "elizabeth", "betty": "elizabeth",
    "eliza": "elizabeth", "kate": "katherine", "katie": "katherine", "kathy": "katherine",
    "cathy": "katherine", "catherine": "katherine", "kathryn": "katherine",
    "jim": "james", "jimmy": "james", "jamie": "james", "mike": "michael", "mick": "michael",
    "mikey": "michael", "tom": "thomas", "tommy": "thomas", "alex": "alexander",
    "sasha": "alexander", "sacha": "alexander", "aleksandr": "alexander",
    "alexandr": "alexander", "dick": "richard", "rick": "richard", "rich": "richard",
    "dave": "david", "davy": "david", "dan": "daniel", "danny": "daniel", "joe": "joseph",
    "joey": "joseph", "chris": "christopher", "matt": "matthew", "nick": "nicholas",
    "tony": "anthony", "steve": "stephen", "steven": "stephen", "ed": "edward",
    "eddie": "edward", "ted": "edward", "sam": "samuel", "ben": "benjamin", "andy": "andrew",
    "greg": "gregory", "jeff": "jeffrey", "jen": "jennifer", "jenny": "jennifer",
    "sue": "susan", "susie": "susan", "peggy": "margaret", "maggie": "margaret",
    "meg": "margaret", "patty": "patricia", "trish": "patricia", "pat": "patricia",
    "debbie": "deborah", "deb": "deborah", "vicky": "victoria", "pete": "peter",
    "larry": "lawrence", "jack": "john", "johnny": "john", "chuck": "charles",
    "charlie": "charles", "fred": "frederick", "hank": "henry", "harry": "henry",
    "misha": "mikhail", "dima": "dmitry", "dmitriy": "dmitry", "kolya": "nikolay",
    "vanya": "ivan", "seryozha": "sergey", "sergei": "sergey", "natasha": "natalia",
    "natalya": "natalia", "masha": "maria", "mariya": "maria", "katya": "ekaterina",
    "yekaterina": "ekaterina", "lena": "elena", "olya": "olga", "tanya": "tatiana",
    "tatyana": "tatiana", "zhenya": "evgeny", "yevgeny": "evgeny", "evgeniy": "evgeny",
}  # fmt: skip

LEGAL_FORMS = frozenset(
    {"gmbh", "mbh", "ltd", "limited", "llc", "llp", "lp", "inc", "incorporated", "corp",
     "corporation", "co", "company", "plc", "ag", "sa", "sarl", "sas", "srl", "spa", "bv",
     "nv", "oy", "oyj", "ab", "as", "aps", "kg", "ooo", "oao", "ao", "zao", "pao", "ip",
     "pty", "pvt", "kk", "se", "ug"}
)  # fmt: skip

_QUOTES_RE = re.compile("[\"'«»“”„‘’`´]")
_APOSTROPHE_RE = re.compile("['‘’`´]")
_NON_ALNUM_RE = re.compile(r"[^0-9a-z]+")
_SPACES_RE = re.compile(r"\s+")


def fold(value: str) -> str:
    """Lower-case, transliterate Cyrillic to Latin and strip accents (``Ålborg`` -> ``alborg``)."""
    value = value.lower().translate(_CYRILLIC_TABLE).translate(_SPECIAL_LATIN)
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


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
    if value in FREE_MAIL_DOMAINS:
        return True
    # regional variants: yahoo.co.jp, hotmail.es, outlook.fr, gmx.at, proton.ch ...
    head = value.split(".", 1)[0]
    return head in {"yahoo", "hotmail", "outlook", "live", "gmx", "proton", "protonmail", "aol"}


_SECOND_LEVEL = frozenset({"co", "com", "org", "net", "ac", "gov", "edu", "ltd", "plc"})


def organisation_from_domain(domain: str | None) -> str | None:
    """The organisation a corporate email domain names, as one token: ``harborrobotics.com``
    -> ``harborrobotics``, ``mail.acme.co.uk`` -> ``acme``; ``None`` for free-mail
    providers (gmail, yahoo, mail.ru, ...) and malformed domains."""
    if not domain:
        return None
    value = domain.strip().lower().lstrip("@").rstrip(".")
    if "@" in value:
        value = value.rpartition("@")[2]
    if not value or "." not in value or is_free_mail_domain(value):
        return None
    labels = value.split(".")[:-1]
    if len(labels) > 1 and labels[-1] in _SECOND_LEVEL:
        labels = labels[:-1]
    name = _NON_ALNUM_RE.sub("", labels[-1]) if labels else ""
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
    value = _QUOTES_RE.sub(" ", _APOSTROPHE_RE.sub("", fold(value)))
    value = value.replace("&", " and ")
    # "l.l.c." -> "llc", "s.a." -> "sa", but "acme.co" keeps a separator
    value = re.sub(r"\b([a-z])\.(?=[a-z]\.)", r"\1", value)
    value = re.sub(r"\b([a-z])\.(?=\s|$)", r"\1", value)
    tokens = [t for t in _NON_ALNUM_RE.split(value) if t]
    while len(tokens) > 1 and tokens[-1] in LEGAL_FORMS:
        tokens.pop()
    while len(tokens) > 1 and tokens[0] in LEGAL_FORMS:
        tokens.pop(0)
    if len(tokens) == 1 and tokens[0] in LEGAL_FORMS:
        return None
    result = " ".join(tokens)
    return result or None


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
