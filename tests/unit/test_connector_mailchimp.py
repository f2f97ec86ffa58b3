"""Mailchimp audience webhooks (form-encoded ``type`` + ``data[...]``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.base import ConnectorError, ParseResult
from connectors.mailchimp import MailchimpConnector, encode_form, parse_form
from connectors.registry import get_connector

FIRED = "2026-03-26 21:35:57"


def post(kind: str, **data: Any) -> ParseResult:
    body = encode_form({"type": kind, "fired_at": FIRED, "data": data})
    return MailchimpConnector().parse_payload(
        body, source="mc", content_type="application/x-www-form-urlencoded"
    )


MERGES = {"EMAIL": "Ann@Example.com", "FNAME": "Ann", "LNAME": "Lee", "PHONE": "+44 20 7946 0000"}


class TestForm:
    def test_nested_keys(self) -> None:
        body = b"type=profile&data%5Bmerges%5D%5BFNAME%5D=Ann&data[email]=a%40b.c&data[id]="
        assert parse_form(body) == {
            "type": "profile",
            "data": {"merges": {"FNAME": "Ann"}, "email": "a@b.c", "id": ""},
        }

    def test_round_trip(self) -> None:
        notification = {"type": "subscribe", "data": {"merges": {"FNAME": "Ä"}, "email": "x@y.z"}}
        assert parse_form(encode_form(notification)) == notification


class TestTypes:
    def test_subscribe(self) -> None:
        result = post(
            "subscribe",
            id="8a25ff1d98",
            list_id="a6b5da1054",
            email="Ann@Example.com",
            email_type="html",
            merges={**MERGES, "INTERESTS": "Group1,Group2"},
            ip_opt="10.20.10.30",
        )
        identify, track, consent = result.events
        assert identify.type == "identify"
        assert identify.record_key == "email:ann@example.com"
        assert identify.traits["first_name"] == "Ann"
        assert identify.traits["phone"] == "+44 20 7946 0000"
        assert identify.traits["interests"] == ["Group1", "Group2"]
        assert identify.traits["mailchimp_id"] == "8a25ff1d98"
        assert identify.timestamp == datetime(2026, 3, 26, 21, 35, 57, tzinfo=UTC)
        assert identify.context.ip == "10.20.10.30"
        assert (track.event, track.properties["list_id"]) == ("Subscribed", "a6b5da1054")
        assert track.properties["consent"] == {"email": True}
        assert consent.traits == {"email": "Ann@Example.com", "email_consent": True}

    def test_unsubscribe_withdraws_consent(self) -> None:
        track, consent = post(
            "unsubscribe",
            action="unsub",
            reason="manual",
            id="8a25ff1d98",
            list_id="a6b5da1054",
            email="ann@example.com",
            campaign_id="cb398d21d2",
        ).events
        assert track.event == "Unsubscribed"
        assert track.properties == {
            "list_id": "a6b5da1054",
            "reason": "manual",
            "action": "unsub",
            "campaign_id": "cb398d21d2",
            "consent": {"email": False},
        }
        assert consent.traits["email_consent"] is False

    def test_profile(self) -> None:
        (identify,) = post(
            "profile", id="x", list_id="l", email="ann@example.com", merges=MERGES
        ).events
        assert identify.traits["last_name"] == "Lee"

    def test_upemail_links_old_and_new(self) -> None:
        (identify,) = post(
            "upemail",
            list_id="l",
            new_id="51aa6610c9",
            new_email="new@example.com",
            old_email="old@example.com",
        ).events
        assert identify.record_key == "email:new@example.com"
        assert identify.traits["previous_email"] == "old@example.com"
        ext = identify.context.external_ids
        assert ext is not None and ext[0].id == "old@example.com" and ext[0].type == "email"

    @pytest.mark.parametrize(
        ("reason", "name", "events"),
        [
            ("hard", "Email Bounced", 1),
            ("abuse", "Email Marked as Spam", 2),
        ],
    )
    def test_cleaned(self, reason: str, name: str, events: int) -> None:
        result = post("cleaned", list_id="l", campaign_id="c", reason=reason, email="a@b.io")
        assert result.events[0].event == name
        assert len(result.events) == events

    def test_campaign_is_acknowledged_without_events(self) -> None:
        result = post(
            "campaign",
            id="5aa2102003",
            subject="Test Campaign Subject",
            status="sent",
            reason="",
            list_id="a6b5da1054",
        )
        assert result.events == [] and result.rejected == []
        assert "5aa2102003" in result.notes[0]

    def test_same_notification_same_ids(self) -> None:
        first = [e.message_id for e in post("profile", email="a@b.io", list_id="l").events]
        assert first == [e.message_id for e in post("profile", email="a@b.io", list_id="l").events]


class TestBadInput:
    def test_unknown_type_and_missing_email(self) -> None:
        assert "unknown" in post("bogus", email="a@b.io").rejected[0].reason
        assert "email" in post("subscribe", list_id="l").rejected[0].reason

    def test_bad_fired_at(self) -> None:
        body = encode_form(
            {"type": "profile", "fired_at": "yesterday", "data": {"email": "a@b.io"}}
        )
        assert (
            "fired_at" in MailchimpConnector().parse_payload(body, source="mc").rejected[0].reason
        )

    def test_not_a_form(self) -> None:
        with pytest.raises(ConnectorError):
            MailchimpConnector().parse_payload(b"\xff\xfe", source="mc")

    def test_validation_ping(self) -> None:
        reply = get_connector("mailchimp").handshake(params={}, config={})
        assert reply.status_code == 200
