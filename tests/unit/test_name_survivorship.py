"""The golden name: ``name``, ``first_name`` and ``last_name`` survive as one group."""

from __future__ import annotations

from datetime import UTC, datetime

from profiles.config import Survivorship
from profiles.traits import RecordTraits, golden_record

T = datetime(2026, 1, 1, tzinfo=UTC)


def _rec(source: str, key: str, at: str, **traits: str) -> RecordTraits:
    return RecordTraits(source, key, source, dict(traits), {k: {"at": at} for k in traits}, T)


def test_name_parts_come_from_one_record() -> None:
    # the newest record has the full name only; the CRM (older) has first and last:
    # trait by trait the golden record would read "Andy Young" beside "Andrew" "Yung"
    recs = [
        _rec("crm", "c1", "2026-01-01", first_name="Andrew", last_name="Yung"),
        _rec("web", "w1", "2026-03-01", name="Andy Young"),
    ]
    traits, prov = golden_record(recs, survivorship=Survivorship(source_priority=[]))
    assert traits["name"] == "Andy Young"
    assert (traits["first_name"], traits["last_name"]) == ("Andy", "Young")
    assert prov["first_name"]["source"] == "web" and prov["first_name"]["group"] == "name"
    assert prov["first_name"]["overridden"][0]["value"] == "Andrew"


def test_name_derived_from_the_winning_first_and_last() -> None:
    recs = [
        _rec("crm", "c1", "2026-01-01", first_name="Andrew", last_name="Yung"),
        _rec("web", "w1", "2026-03-01", name="Andy Young"),
    ]
    traits, prov = golden_record(recs, survivorship=Survivorship(source_priority=["crm"]))
    assert (traits["first_name"], traits["last_name"]) == ("Andrew", "Yung")
    assert traits["name"] == "Andrew Yung"
    assert prov["name"]["source"] == "crm" and prov["name"]["rule"] == "source_priority"
    assert prov["name"]["overridden"] == [
        {"value": "Andy Young", "source": "web", "at": "2026-03-01"}
    ]


def test_one_record_with_all_three_keeps_them() -> None:
    recs = [
        _rec("crm", "c1", "2026-01-01", name="Ann Lee", first_name="Ann", last_name="Lee"),
        _rec("web", "w1", "2026-03-01", first_name="Annie"),
    ]
    traits, _ = golden_record(recs, survivorship=Survivorship(source_priority=["crm"]))
    assert (traits["name"], traits["first_name"], traits["last_name"]) == ("Ann Lee", "Ann", "Lee")
    traits, _ = golden_record(recs, survivorship=Survivorship(source_priority=[]))
    # the newest record (web) gives the group: its first name, no last name, derived name
    assert traits["first_name"] == "Annie" and traits["name"] == "Annie"
    assert "last_name" not in traits
