"""Google Ads offline click conversions CSV."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from connectors.base import ConnectorError, ParseResult
from connectors.gads import GoogleAdsConversionsConnector

TEMPLATE = (
    "Parameters:TimeZone=Europe/Berlin\n"
    "Google Click ID,Conversion Name,Conversion Time,Conversion Value,Conversion Currency\n"
    "Cj0KCQiA-first,Purchase,2026-11-01 10:00:00,120.50,EUR\n"
    "Cj0KCQiA-second,Signed Contract,2026-11-02 15:30:00+0100,5000,EUR\n"
    ",Purchase,2026-11-01 10:00:00,1,EUR\n"
    "Cj0K-x,Purchase,yesterday,1,EUR\n"
)


def load(tmp_path: Path, text: str) -> ParseResult:
    path = tmp_path / "conversions.csv"
    path.write_text(text, encoding="utf-8")
    total = ParseResult()
    for result in GoogleAdsConversionsConnector().parse_file(path, source="gads"):
        total.extend(result)
    return total


def test_template_rows_become_conversion_touchpoints(tmp_path: Path) -> None:
    result = load(tmp_path, TEMPLATE)
    first, second = result.events
    assert first.event == "Ad Conversion"
    assert first.record_key == "gclid:Cj0KCQiA-first"
    assert first.properties == {
        "conversion_name": "Purchase",
        "gclid": "Cj0KCQiA-first",
        "value": 120.5,
        "currency": "EUR",
    }
    assert first.timestamp == datetime(2026, 11, 1, 9, 0, tzinfo=UTC)  # Berlin (CET) -> UTC
    assert second.timestamp == datetime(2026, 11, 2, 15, 30, tzinfo=timezone(timedelta(hours=1)))
    assert first.context.campaign is not None
    assert first.context.campaign.model_extra == {"click_ids": {"gclid": "Cj0KCQiA-first"}}
    assert [r.index for r in result.rejected] == [5, 6]


def test_api_column_names_as_json_rows() -> None:
    rows = [
        {
            "gclid": "abc",
            "conversion_action": "Lead",
            "conversion_date_time": "2026-11-01 10:00:00+00:00",
            "email": "a@b.io",
        }
    ]
    result = GoogleAdsConversionsConnector().parse_payload(json.dumps(rows).encode(), source="g")
    (event,) = result.events
    assert event.traits == {"email": "a@b.io"}


def test_no_click_id_column(tmp_path: Path) -> None:
    with pytest.raises(ConnectorError, match="Click ID"):
        load(tmp_path, "Email,Conversion Name\na@b.io,Lead\n")


def test_unknown_time_zone(tmp_path: Path) -> None:
    with pytest.raises(ConnectorError, match="time zone"):
        load(tmp_path, "Parameters:TimeZone=Mars/Olympus\nGoogle Click ID\nx\n")
