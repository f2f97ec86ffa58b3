"""The SendGrid Event Webhook connector."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.base import ConnectorError, ParseResult
from connectors.email import CONSENT, EVENT_NAMES, SendGridConnector
from connectors.registry import get_connector

TS = 1_795_000_000  # 2026-11-18T...
MSG = "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0"


def sg_event(kind: str, **extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "email": "Ann.Lee@Example.com",
        "timestamp": TS,
        "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        "event": kind,
        "category": "newsletter",
        "sg_event_id": f"evt-{kind}",
        "sg_message_id": MSG,
    }
    item.update(extra)
    return item


def parse(items: Any) -> ParseResult:
    return SendGridConnector().parse_payload(json.dumps(items).encode(), source="sg-prod")


class TestRegistry:
    def test_registered_under_name_and_alias(self) -> None:
        assert isinstance(get_connector("sendgrid"), SendGridConnector)
        assert isinstance(get_connector("email"), SendGridConnector)
        assert SendGridConnector.channel == "email"
        assert SendGridConnector.webhook is True


class TestEventTypes:
    @pytest.mark.parametrize(
        ("kind", "name"),
        [
            ("processed", "Email Sent"),
            ("dropped", "Email Dropped"),
            ("delivered", "Email Delivered"),
            ("deferred", "Email Deferred"),
            ("bounce", "Email Bounced"),
            ("open", "Email Opened"),
            ("click", "Email Link Clicked"),
            ("spamreport", "Email Marked as Spam"),
            ("unsubscribe", "Unsubscribed"),
            ("group_unsubscribe", "Unsubscribed"),
            ("group_resubscribe", "Resubscribed"),
        ],
    )
    def test_each_event_maps_to_the_email_spec(self, kind: str, name: str) -> None:
        result = parse([sg_event(kind)])
        assert result.rejected == []
        event = result.events[0]
        assert len(result.events) == (2 if kind in CONSENT else 1)
        assert event.type == "track"
        assert event.event == name
        assert event.channel == "email"
        assert event.source == "sg-prod"
        assert event.user_id is None
        assert event.record_key == "email:ann.lee@example.com"
        assert event.traits == {"email": "Ann.Lee@Example.com"}
        assert event.message_id == f"evt-{kind}"
        assert event.timestamp == datetime.fromtimestamp(TS, UTC)
        assert event.properties["email_id"] == MSG
        assert event.properties["category"] == ["newsletter"]

    def test_every_documented_type_is_covered(self) -> None:
        assert len(EVENT_NAMES) == 11


class TestProperties:
    def test_bounce(self) -> None:
        item = sg_event(
            "bounce",
            reason="550 5.1.1 The email account does not exist",
            status="5.1.1",
            type="bounce",
            bounce_classification="Invalid Address",
            category=["welcome", "onboarding"],
        )
        props = parse([item]).events[0].properties
        assert props["reason"] == "550 5.1.1 The email account does not exist"
        assert props["status"] == "5.1.1"
        assert props["bounce_type"] == "bounce"
        assert props["bounce_classification"] == "Invalid Address"
        assert props["category"] == ["welcome", "onboarding"]
        assert props["smtp_id"] == "<14c5d75ce93.dfd.64b469@ismtpd-555>"

    def test_blocked_bounce(self) -> None:
        event = parse([sg_event("bounce", type="blocked")]).events[0]
        assert event.event == "Email Bounced"
        assert event.properties["bounce_type"] == "blocked"

    def test_open_carries_ip_and_user_agent(self) -> None:
        item = sg_event(
            "open", ip="203.0.113.7", useragent="Mozilla/5.0 (iPhone)", sg_machine_open=False
        )
        event = parse([item]).events[0]
        assert event.context.ip == "203.0.113.7"
        assert event.context.user_agent == "Mozilla/5.0 (iPhone)"
        assert event.properties["machine_open"] is False
        assert event.context.campaign is None

    def test_click_parses_link_attribution(self) -> None:
        url = "https://shop.example.com/sale?utm_source=sendgrid&utm_medium=email&utm_campaign=bf26"
        item = sg_event("click", url=url, url_offset={"index": 0, "type": "html"})
        event = parse([item]).events[0]
        assert event.properties["link_url"] == url
        assert "url_offset" not in event.properties
        campaign = event.context.campaign
        assert campaign is not None
        assert (campaign.name, campaign.source, campaign.medium) == ("bf26", "sendgrid", "email")

    def test_group_unsubscribe_carries_the_list(self) -> None:
        event = parse([sg_event("group_unsubscribe", asm_group_id=42)]).events[0]
        assert event.event == "Unsubscribed"
        assert event.properties["asm_group_id"] == 42
        assert event.properties["list_id"] == 42

    def test_marketing_campaign_fields(self) -> None:
        item = sg_event("delivered", marketing_campaign_id=12, marketing_campaign_name="Nov")
        props = parse([item]).events[0].properties
        assert (props["campaign_id"], props["campaign_name"]) == (12, "Nov")

    def test_custom_args_become_properties(self) -> None:
        item = sg_event(
            "delivered",
            customer_id="c-981",
            purchase="PO1452297845",
            unique_args={"order_ref": "R-1"},
            reason="custom arg may not override",
        )
        props = parse([item]).events[0].properties
        assert props["customer_id"] == "c-981"
        assert props["purchase"] == "PO1452297845"
        assert props["order_ref"] == "R-1"
        assert props["reason"] == "custom arg may not override"  # SendGrid's own field
        assert "email" not in props and "timestamp" not in props and "event" not in props

    def test_null_category_and_missing_optional_fields(self) -> None:
        item = {"email": "b@example.com", "event": "open", "category": None, "ip": None}
        event = parse([item]).events[0]
        assert "category" not in event.properties
        assert event.context.ip is None
        assert event.timestamp is None


class TestMessageIds:
    def test_without_sg_event_id_the_id_is_deterministic(self) -> None:
        item = sg_event("open")
        del item["sg_event_id"]
        first = parse([item]).events[0].message_id
        assert len(first) == 32
        assert parse([item]).events[0].message_id == first
        other = parse([{**item, "timestamp": TS + 1}]).events[0].message_id
        assert other != first


class TestRejections:
    def test_bad_items_are_rejected_and_siblings_kept(self) -> None:
        result = parse(
            [
                sg_event("delivered"),
                {"timestamp": TS, "event": "open"},
                sg_event("teleported"),
                "nope",
                sg_event("open", email="   "),
                sg_event("open", timestamp="yesterday"),
                sg_event("click"),
            ]
        )
        assert [e.event for e in result.events] == ["Email Delivered", "Email Link Clicked"]
        reasons = {r.index: r.reason for r in result.rejected}
        assert list(reasons) == [1, 2, 3, 4, 5]
        assert reasons[1].startswith("email")
        assert "teleported" in reasons[2] and reasons[2].startswith("event")
        assert "JSON object" in reasons[3]
        assert reasons[4].startswith("email")
        assert reasons[5].startswith("timestamp")

    def test_bad_json(self) -> None:
        with pytest.raises(ConnectorError) as err:
            SendGridConnector().parse_payload(b"[{", source="sg")
        assert err.value.code == "invalid_json"

    def test_body_must_be_an_array(self) -> None:
        with pytest.raises(ConnectorError) as err:
            parse("delivered")
        assert err.value.status_code == 400

    def test_a_single_object_is_tolerated(self) -> None:
        assert [e.event for e in parse(sg_event("open")).events] == ["Email Opened"]


class TestConsent:
    @pytest.mark.parametrize(
        ("kind", "granted"),
        [
            ("unsubscribe", False),
            ("group_unsubscribe", False),
            ("spamreport", False),
            ("group_resubscribe", True),
        ],
    )
    def test_consent_on_the_track_and_as_an_identify_trait(self, kind: str, granted: bool) -> None:
        track, identify = parse([sg_event(kind)]).events
        assert track.properties["consent"] == {"email": granted}
        assert identify.type == "identify"
        assert identify.record_key == track.record_key == "email:ann.lee@example.com"
        assert identify.traits == {"email": "Ann.Lee@Example.com", "email_consent": granted}
        assert identify.message_id == f"{track.message_id}:consent"

    def test_opens_carry_no_consent(self) -> None:
        (event,) = parse([sg_event("open")]).events
        assert "consent" not in event.properties
