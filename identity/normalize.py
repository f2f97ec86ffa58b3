"""Normalisation of identifiers before they are compared or linked.

Every function is deterministic and returns ``None`` for a value that cannot be used
(empty, malformed, or a known junk placeholder).
"""

from __future__ import annotations

import re

import phonenumbers

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

JUNK_VALUES = frozenset(
    {"", "null", "none", "nil", "n/a", "na", "undefined", "unknown", "-", "test", "0", "000000",
     "0000000", "00000000", "0000000000", "1234567890", "test@test.com", "test@example.com",
     "noemail@noemail.com", "no@email.com", "none@none.com", "email@email.com", "a@a.com"}
)


def is_junk(value: str | None) -> bool:
    return value is None or value.strip().lower() in JUNK_VALUES


def normalise_email(raw: str | None) -> str | None:
    """Lower-case, trim, drop a ``mailto:`` prefix; reject malformed and junk addresses."""
    if raw is None:
        return None
    value = str(raw).strip().lower()
    if value.startswith("mailto:"):
        value = value[7:]
    if not _EMAIL_RE.match(value) or is_junk(value):
        return None
    return value


def normalise_phone(raw: str | None, *, default_region: str = "US") -> str | None:
    """E.164 (``+14155550100``), using ``default_region`` for numbers without a country code."""
    if raw is None:
        return None
    value = str(raw).strip()
    if is_junk(value) or not re.search(r"\d", value):
        return None
    if value.startswith("00"):
        value = "+" + value[2:]
    try:
        parsed = phonenumbers.parse(value, default_region.upper())
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    digits = e164[1:]
    if len(set(digits[-7:])) == 1:  # 0000000, 1111111: placeholders
        return None
    return e164


def normalise_id(raw: str | None) -> str | None:
    """Opaque ids (userId, anonymousId, CRM ids): trimmed; junk placeholders rejected."""
    if raw is None:
        return None
    value = str(raw).strip()
    return None if is_junk(value) else value
