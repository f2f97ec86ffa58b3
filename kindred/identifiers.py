"""Normalisation of the identifiers that must compare equal below the identity layer.

Identity (``identity.normalize``) links records on these values; ingest hashes the same values
to drop suppressed people's events (``ingest.suppression``), and ingest may not import
identity, so the email, phone and opaque-id normalisers live here, once, and
``identity.normalize`` re-exports them. ``domain_of_url`` is the one reading of a web domain
(from a URL, a bare domain or an address) for the connectors, ingest and identity: the
registrable domain under the public-suffix list that ``tldextract`` ships (``shop.acme.co.uk``
-> ``acme.co.uk``), read from the bundled snapshot and never fetched.

Email policy (``normalise_email``): lower-case and trim; drop a ``mailto:`` prefix;
strip a ``+tag`` from the local part for *every* provider (``ann+news@acme.com`` ->
``ann@acme.com``: sub-addressing is how people filter mail, not a different person);
map ``googlemail.com`` to ``gmail.com`` and, for Gmail only, remove dots from the
local part (Gmail ignores them; other providers do not).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import phonenumbers
import tldextract

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DIGITS_RE = re.compile(r"\d")
#: a North American number written plainly: optional +1 / 1, an area code not starting with
#: 0 or 1, separators of one space, dot or dash, brackets round the area code
_NANP_RE = re.compile(r"(\+?1[ .-]?)?(?:\(([2-9]\d\d)\)|([2-9]\d\d))[ .-]?(\d{3})[ .-]?(\d{4})")
_NANP_REGIONS = frozenset({"US", "CA"})

JUNK_VALUES = frozenset(
    {"", "null", "none", "nil", "n/a", "na", "undefined", "unknown", "-", "test", "0", "000000",
     "0000000", "00000000", "0000000000", "1234567890", "test@test.com", "test@example.com",
     "noemail@noemail.com", "no@email.com", "none@none.com", "email@email.com", "a@a.com",
     "nan", "?", "--", "x", "xx", "xxx"}
)  # fmt: skip

GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})

# No URLs and no cache: the public-suffix list is the snapshot bundled with the pinned package,
# so nothing is fetched or written at run time. Private suffixes count (``acme.github.io`` is
# acme's, not GitHub's).
_SUFFIXES = tldextract.TLDExtract(
    suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True, include_psl_private_domains=True
)

#: RFC 5321: a forward-path is at most 256 octets including the angle brackets
MAX_EMAIL_LENGTH = 254
#: no real id, click id or phone number is longer; a longer value is noise or an attack, and
#: PostgreSQL's btree rows hold ~2,700 bytes (identifiers are indexed by value)
MAX_IDENTIFIER_LENGTH = 500


def is_junk(value: str | None) -> bool:
    return value is None or value.strip().lower() in JUNK_VALUES


def clean_text(raw: object) -> str | None:
    """``raw`` as a stripped string, or ``None`` for missing values (None, NaN, junk)."""
    if raw is None:
        return None
    if isinstance(raw, float) and raw != raw:  # NaN from pandas
        return None
    value = str(raw).strip()
    return None if is_junk(value) else value


def identifier_text(raw: object, *, max_length: int = MAX_IDENTIFIER_LENGTH) -> str | None:
    """``clean_text`` for identifiers: also ``None`` (not an identifier, treated as absent) when
    longer than ``max_length`` or holding what PostgreSQL text cannot store (NUL, a lone
    surrogate), so one hostile value never fails the resolver's writes."""
    value = clean_text(raw)
    if value is None or len(value) > max_length or "\x00" in value:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return value


def normalise_email(raw: str | None) -> str | None:
    """Canonical address under the module's email policy; ``None`` if malformed or junk, or
    longer than ``MAX_EMAIL_LENGTH`` (RFC 5321)."""
    value = identifier_text(raw, max_length=MAX_IDENTIFIER_LENGTH)
    if value is None:
        return None
    value = value.lower().replace(" ", "")
    if value.startswith("mailto:"):
        value = value[7:]
    if len(value) > MAX_EMAIL_LENGTH or not _EMAIL_RE.match(value) or is_junk(value):
        return None
    local, _, domain = value.rpartition("@")
    domain = domain.rstrip(".")
    local = local.split("+", 1)[0]
    if domain in GMAIL_DOMAINS:
        domain = "gmail.com"
        local = local.replace(".", "")
    if not local:
        return None
    value = f"{local}@{domain}"
    return None if is_junk(value) else value


def normalise_phone(raw: str | None, *, default_region: str = "US") -> str | None:
    """E.164 (``+14155550100``), using ``default_region`` for numbers without a country code."""
    value = identifier_text(raw)
    if value is None or not _DIGITS_RE.search(value):
        return None
    if value.startswith("00"):
        value = "+" + value[2:]
    nanp = _NANP_RE.fullmatch(value)
    if nanp is not None and (value[0] == "+" or default_region.upper() in _NANP_REGIONS):
        # what phonenumbers gives for these (tests/unit/test_phone_fast_path.py), at a
        # twentieth of the cost: parsing is most of a batch's normalisation
        digits = (nanp[2] or nanp[3]) + nanp[4] + nanp[5]
        return None if len(set(digits[-7:])) == 1 else "+1" + digits
    try:
        parsed = phonenumbers.parse(value, default_region.upper())
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    e164: str = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    digits = e164[1:]
    if len(set(digits[-7:])) == 1:  # 0000000, 1111111: placeholders
        return None
    return e164


def normalise_id(raw: str | None) -> str | None:
    """Opaque ids (userId, anonymousId, CRM ids): trimmed; junk placeholders, values longer
    than ``MAX_IDENTIFIER_LENGTH`` and values PostgreSQL cannot store rejected."""
    return identifier_text(raw)


def registrable_domain(host: str) -> str | None:
    """The registrable domain of a host name (``mail.acme.co.uk`` -> ``acme.co.uk``,
    ``acme.github.io`` -> itself); ``None`` when the host is not under a public suffix
    (``localhost``, an IP address, ``co.uk`` alone)."""
    return _SUFFIXES.extract_str(host).top_domain_under_public_suffix or None


def domain_of_url(value: object) -> str | None:
    """The registrable web domain a URL, a bare domain or an email address names, lower-cased:
    ``"https://www.Acme.com:8080/about"``, ``"shop.acme.com"`` and ``"Ann@mail.Acme.com"`` ->
    ``acme.com``; ``"acme.co.uk"`` stays whole (an address under the email policy first, so
    ``googlemail.com`` -> ``gmail.com``). A host under no public suffix (``intranet.local``, an
    IP address) is kept as it is, without ``www.``, port or trailing dot. ``None`` when there is
    no host with a dot."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().lower()
    if "@" in text and "://" not in text:
        email = normalise_email(text)
        host = email.rpartition("@")[2] if email else ""
    else:
        try:
            host = urlsplit(text if "://" in text else "//" + text).hostname or ""
        except ValueError:  # e.g. an unclosed IPv6 bracket
            return None
    host = host.rstrip(".").removeprefix("www.")
    if "." not in host:
        return None
    return registrable_domain(host) or host
