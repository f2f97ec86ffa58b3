"""The plain North American shapes `normalise_phone` answers without phonenumbers give what
phonenumbers gives, for every region and every shape the fast path accepts or nearly accepts."""

from __future__ import annotations

import random

import phonenumbers
import pytest

from kindred.identifiers import normalise_phone


def _slow(value: str, region: str) -> str | None:
    """normalise_phone's answer through phonenumbers alone."""
    value = value.strip()
    if value.startswith("00"):
        value = "+" + value[2:]
    try:
        parsed = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    e164: str = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return None if len(set(e164[1:][-7:])) == 1 else e164


def _shapes(rng: random.Random) -> list[str]:
    area = str(rng.randrange(100, 1000))
    exchange = f"{rng.randrange(1000):03d}"
    line = f"{rng.randrange(10000):04d}"
    sep = rng.choice(["", " ", "-", ".", "  ", "/"])
    return [
        f"{area}{sep}{exchange}{sep}{line}",
        f"({area}){sep}{exchange}-{line}",
        f"({area}) {exchange} {line}",
        f"+1{sep}{area}{sep}{exchange}{sep}{line}",
        f"1{sep}{area}{sep}{exchange}{sep}{line}",
        f"+1 ({area}) {exchange}-{line}",
        f"001 {area} {exchange} {line}",
        f"+{rng.choice(['44', '7', '33', '49', '12'])}{sep}{area}{exchange}{line}",
        f"{area}{exchange}{line}{rng.randrange(10)}",
        f"{area}{exchange}{line[:3]}",
        f"{area}-{exchange}-{line} x12",
        f"{area}{exchange}0000000"[:10],
        f"{area}{exchange[:1]}{'7' * 6}",
    ]


@pytest.mark.parametrize("region", ["US", "CA", "GB", "DE", "us", "RU"])
def test_the_fast_path_agrees_with_phonenumbers(region: str) -> None:
    rng = random.Random(region)
    checked = 0
    for _ in range(400):
        for value in _shapes(rng):
            assert normalise_phone(value, default_region=region) == _slow(value, region.upper()), (
                value,
                region,
            )
            checked += 1
    assert checked == 400 * 13


def test_known_answers() -> None:
    assert normalise_phone("(212) 555-0114") == "+12125550114"
    assert normalise_phone("+1 212 555 0114", default_region="GB") == "+12125550114"
    assert normalise_phone("212 555 0114", default_region="GB") != "+12125550114"
    assert normalise_phone("212-777-7777") is None  # a placeholder
