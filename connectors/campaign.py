"""Marketing attribution from URLs: UTM parameters and ad click ids.

Shared by the web connector (page URLs), the email connector (clicked links) and the ads
connector. The result is shaped like Segment's ``context.campaign`` object, with the click ids
under ``click_ids`` (``Campaign`` allows extra keys).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

#: UTM query parameter -> ``context.campaign`` field (Segment's naming)
UTM_FIELDS: dict[str, str] = {
    "utm_campaign": "name",
    "utm_source": "source",
    "utm_medium": "medium",
    "utm_term": "term",
    "utm_content": "content",
}

#: ad-platform click ids recognised in landing-page URLs
CLICK_ID_PARAMS: tuple[str, ...] = (
    "gclid",
    "fbclid",
    "yclid",
    "msclkid",
    "gbraid",
    "wbraid",
    "ttclid",
    "li_fat_id",
)


def attribution_from_url(url: str | None) -> dict[str, Any]:
    """UTM fields and click ids found in ``url``'s query string.

    Returns e.g. ``{"source": "google", "medium": "cpc", "click_ids": {"gclid": "abc"}}``;
    an empty dict when the URL carries none (or is not a string). Parameter names match
    case-insensitively; the first non-blank value of a repeated parameter wins.
    """
    if not isinstance(url, str) or not url:
        return {}
    try:
        query = urlsplit(url.strip()).query
    except ValueError:  # e.g. a malformed IPv6 host
        return {}
    if not query:
        return {}
    found: dict[str, Any] = {}
    click_ids: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=False):
        name, value = key.strip().lower(), value.strip()
        if not value:
            continue
        if name in UTM_FIELDS:
            found.setdefault(UTM_FIELDS[name], value)
        elif name in CLICK_ID_PARAMS:
            click_ids.setdefault(name, value)
    if click_ids:
        found["click_ids"] = click_ids
    return found


def merge_campaign(
    existing: dict[str, Any] | None, attribution: dict[str, Any]
) -> dict[str, Any] | None:
    """``existing`` (a ``context.campaign`` object, possibly None) with ``attribution`` filled
    in where a field is absent: what the sender set always wins. Returns None when there is
    nothing to set and nothing was there."""
    if not attribution:
        return existing
    merged = dict(existing or {})
    for key, value in attribution.items():
        if key == "click_ids":
            current = merged.get("click_ids")
            ids = dict(current) if isinstance(current, dict) else {}
            for name, click_id in value.items():
                ids.setdefault(name, click_id)
            merged["click_ids"] = ids
        elif merged.get(key) in (None, ""):
            merged[key] = value
    return merged
