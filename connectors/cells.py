"""The values of export cells: header keys, numbers and dates as CRMs and ESPs write them."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_DATE_FORMATS = (
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
)


def snake(header: str) -> str:
    """``"Country/Region"`` -> ``country_region``; keeps non-Latin letters (``"Город"``)."""
    return re.sub(r"[\W_]+", "_", header.strip().lower()).strip("_")


def parse_int(value: str) -> int | None:
    number = parse_float(value)
    return int(number) if number is not None and number == int(number) else None


def parse_float(value: str) -> float | None:
    """A number written with separators or a currency sign (``"$1,200"``, ``"1 200"``);
    None for text, NaN and infinity."""
    cleaned = re.sub(r"[\s,_$€£¥\u00a0]", "", value)
    try:
        number = float(cleaned)
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def parse_date(value: str | None) -> datetime | None:
    """Export dates: ISO 8601, unix seconds/ms, US and European day orders."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit() and len(text) in (10, 13):  # unix seconds / milliseconds
        seconds = int(text) / (1000 if len(text) == 13 else 1)
        return datetime.fromtimestamp(seconds, UTC)
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        for fmt in _DATE_FORMATS:
            try:
                parsed = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
    if parsed is None:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
