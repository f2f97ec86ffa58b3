"""The lead-form connector: Facebook Lead Ads and Google Ads lead form webhooks."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.ads import LeadFormConnector, lead_traits
from connectors.base import ConnectorError, ParseResult
from connectors.registry import get_connector


def facebook_lead(**extra: Any) -> dict[str, Any]:
    lead: dict[str, Any] = {
        "id": "1234567890123456",
        "created_time": "2026-11-20T10:15:30+0000",
        "ad_id": "23850000000000001",
        "ad_name": "Winter demo - carousel",
        "adset_id": "23850000000000002",
        "adset_name": "DACH decision makers",
        "campaign_id": "23850000000000003",
        "campaign_name": "Winter Demo 2026",
        "form_id": "987654321",
        "platform": "ig",
        "is_organic": False,
        "field_data": [
            {"name": "email", "values": ["mara.schulz@example.de"]},
            {"name": "first_name", "values": ["Mara"]},
            {"name": "last_name", "values": ["Schulz"]},
            {"name": "phone_number", "values": ["+4915112345678"]},
            {"name": "company_name", "values": ["Schulz Logistik"]},
            {"name": "job_title", "values": ["COO"]},
            {"name": "city", "values": ["Hamburg"]},
            {"name": "zip_code", "values": ["20095"]},
            {"name": "country", "values": ["DE"]},
            {"name": "how_many_trucks?", "values": ["10-50"]},
            {"name": "interests", "values": ["tracking", "billing"]},
        ],
    }
    lead.update(extra)
    return lead


def google_lead(**extra: Any) -> dict[str, Any]:
    lead: dict[str, Any] = {
        "lead_id": "TeSter-123-ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "api_version": "1.0",
        "form_id": 40000000001,
        "campaign_id": 20000000002,
        "adgroup_id": 130000000003,
        "creative_id": 600000000004,
        "gcl_id": "EAIaIQobChMI-test",
        "google_key": "s3cr3t-key",
        "is_test": True,
        "lead_submit_time": "2026-11-21T08:00:00Z",
        "user_column_data": [
            {
                "column_name": "Full Name",
                "string_value": "Luis Garcia Lopez",
                "column_id": "FULL_NAME",
            },
            {
                "column_name": "Work Email",
                "string_value": "luis@example.es",
                "column_id": "WORK_EMAIL",
            },
            {
                "column_name": "Phone",
                "string_value": "+34 600 000 000",
                "column_id": "PHONE_NUMBER",
            },
            {"column_name": "Postal code", "string_value": "28001", "column_id": "POSTAL_CODE"},
            {"column_name": "Company", "string_value": "Garcia SL", "column_id": "COMPANY_NAME"},
            {"column_name": "Country", "string_value": "ES", "column_id": "COUNTRY"},
            {"column_name": "Budget?", "string_value": "5k", "column_id": "budget_q"},
        ],
    }
    lead.update(extra)
    return lead


def parse(data: Any) -> ParseResult:
    return LeadFormConnector().parse_payload(json.dumps(data).encode(), source="leads")


class TestRegistry:
    def test_registered(self) -> None:
        assert isinstance(get_connector("leadform"), LeadFormConnector)
        assert isinstance(get_connector("ads"), LeadFormConnector)
        assert (LeadFormConnector.channel, LeadFormConnector.webhook) == ("ads", True)


class TestFacebook:
    def test_identify_and_submitted(self) -> None:
        result = parse(facebook_lead())
        assert result.rejected == []
        identify, submitted = result.events
        key = "lead:fb:1234567890123456"
        assert (identify.type, submitted.type) == ("identify", "track")
        assert identify.record_key == submitted.record_key == key
        assert identify.message_id == f"{key}:identify"
        assert submitted.message_id == f"{key}:submitted"
        assert {identify.channel, submitted.channel} == {"ads"}
        assert identify.user_id is None
        assert identify.timestamp == datetime(2026, 11, 20, 10, 15, 30, tzinfo=UTC)
        assert identify.traits == {
            "first_name": "Mara",
            "last_name": "Schulz",
            "email": "mara.schulz@example.de",
            "phone": "+4915112345678",
            "company": "Schulz Logistik",
            "job_title": "COO",
            "city": "Hamburg",
            "postcode": "20095",
            "country": "DE",
        }
        assert submitted.event == "Lead Form Submitted"
        assert submitted.properties == {
            "lead_id": "1234567890123456",
            "form_id": "987654321",
            "ad_id": "23850000000000001",
            "ad_name": "Winter demo - carousel",
            "adset_id": "23850000000000002",
            "adset_name": "DACH decision makers",
            "campaign_id": "23850000000000003",
            "campaign_name": "Winter Demo 2026",
            "platform": "facebook",
            "publisher_platform": "ig",
            "is_organic": False,
            "answers": {"how_many_trucks?": "10-50", "interests": ["tracking", "billing"]},
        }
        campaign = submitted.context.campaign
        assert campaign is not None
        assert (campaign.name, campaign.source, campaign.medium) == (
            "Winter Demo 2026",
            "facebook",
            "paid_social",
        )
        assert submitted.context.external_ids is None

    def test_full_name_is_split(self) -> None:
        lead = facebook_lead(
            field_data=[
                {"name": "full_name", "values": ["Mara Louise Schulz"]},
                {"name": "email", "values": ["m@example.de"]},
            ]
        )
        traits = parse(lead).events[0].traits
        assert traits["first_name"] == "Mara"
        assert traits["last_name"] == "Louise Schulz"
        assert traits["name"] == "Mara Louise Schulz"

    def test_organic_lead(self) -> None:
        lead = facebook_lead(is_organic=True, ad_id=None, campaign_name=None)
        submitted = parse(lead).events[1]
        assert submitted.context.campaign is not None
        assert submitted.context.campaign.medium == "organic_social"
        assert submitted.context.campaign.name is None
        assert "ad_id" not in submitted.properties

    def test_unix_created_time(self) -> None:
        event = parse(facebook_lead(created_time=1_795_000_000)).events[0]
        assert event.timestamp == datetime.fromtimestamp(1_795_000_000, UTC)


class TestGoogle:
    def test_identify_and_submitted(self) -> None:
        identify, submitted = parse(google_lead()).events
        key = "lead:google:TeSter-123-ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        assert identify.record_key == key
        assert identify.message_id == f"{key}:identify"
        assert submitted.message_id == f"{key}:submitted"
        assert identify.timestamp == datetime(2026, 11, 21, 8, tzinfo=UTC)
        assert identify.traits == {
            "first_name": "Luis",
            "last_name": "Garcia Lopez",
            "name": "Luis Garcia Lopez",
            "email": "luis@example.es",
            "phone": "+34 600 000 000",
            "company": "Garcia SL",
            "postcode": "28001",
            "country": "ES",
        }
        assert submitted.properties == {
            "lead_id": "TeSter-123-ABCDEFGHIJKLMNOPQRSTUVWXYZ",
            "form_id": "40000000001",
            "campaign_id": "20000000002",
            "adgroup_id": "130000000003",
            "creative_id": "600000000004",
            "api_version": "1.0",
            "is_test": True,
            "platform": "google",
            "answers": {"Budget?": "5k"},
        }
        for event in (identify, submitted):
            campaign = event.context.campaign
            assert campaign is not None
            assert (campaign.source, campaign.medium) == ("google", "cpc")
            assert campaign.model_extra == {"click_ids": {"gclid": "EAIaIQobChMI-test"}}
            assert event.context.external_ids is not None
            assert [(x.type, x.id) for x in event.context.external_ids] == [
                ("gclid", "EAIaIQobChMI-test")
            ]

    def test_google_key_is_never_stored(self) -> None:
        for event in parse(google_lead()).events:
            assert b"s3cr3t-key" not in event.to_bytes()

    def test_personal_email_wins_and_work_email_is_kept(self) -> None:
        traits = lead_traits({"email": "me@home.example", "work_email": "me@corp.example"})
        assert traits == {"email": "me@home.example", "work_email": "me@corp.example"}

    def test_without_click_id(self) -> None:
        identify, _ = parse(google_lead(gcl_id=None)).events
        assert identify.context.external_ids is None
        assert identify.context.campaign is not None
        assert identify.context.campaign.model_extra == {}

    def test_legacy_column_names(self) -> None:
        lead = google_lead(
            user_column_data=[
                {"column_name": "User Email", "string_value": "old@example.com"},
                {"column_name": "Full Name", "string_value": "Old Style"},
            ]
        )
        traits = parse(lead).events[0].traits
        assert (traits["email"], traits["first_name"], traits["last_name"]) == (
            "old@example.com",
            "Old",
            "Style",
        )


class TestBatchAndRejections:
    def test_mixed_array_with_bad_leads(self) -> None:
        result = parse(
            [
                facebook_lead(),
                facebook_lead(id=None),
                google_lead(user_column_data=[{"column_id": "CITY", "string_value": "Madrid"}]),
                {"object": "page", "entry": [{"changes": [{"field": "leadgen"}]}]},
                42,
                google_lead(lead_id=""),
                facebook_lead(created_time="last tuesday"),
                google_lead(),
            ]
        )
        assert [e.record_key for e in result.events] == [
            "lead:fb:1234567890123456",
            "lead:fb:1234567890123456",
            "lead:google:TeSter-123-ABCDEFGHIJKLMNOPQRSTUVWXYZ",
            "lead:google:TeSter-123-ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        ]
        reasons = {r.index: r.reason for r in result.rejected}
        assert list(reasons) == [1, 2, 3, 4, 5, 6]
        assert reasons[1].startswith("id")
        assert "no email, phone or name" in reasons[2]
        assert "leadgen_id" in reasons[3]
        assert "JSON object" in reasons[4]
        assert reasons[5].startswith("lead_id")
        assert reasons[6].startswith("created_time")

    def test_deterministic_ids(self) -> None:
        first = [e.message_id for e in parse([facebook_lead(), google_lead()]).events]
        again = [e.message_id for e in parse([facebook_lead(), google_lead()]).events]
        assert first == again
        assert len(set(first)) == 4

    def test_phone_only_lead_is_accepted(self) -> None:
        lead = facebook_lead(field_data=[{"name": "phone_number", "values": ["+4930123456"]}])
        assert parse(lead).events[0].traits == {"phone": "+4930123456"}

    def test_bad_json(self) -> None:
        with pytest.raises(ConnectorError) as err:
            LeadFormConnector().parse_payload(b"{", source="leads")
        assert err.value.code == "invalid_json"

    @pytest.mark.parametrize("data", ["lead", 5, None])
    def test_body_must_be_object_or_array(self, data: Any) -> None:
        with pytest.raises(ConnectorError) as err:
            parse(data)
        assert err.value.status_code == 400
