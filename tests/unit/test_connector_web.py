"""The web connector: Segment HTTP Tracking API bodies -> canonical events."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.base import ConnectorError, ParseResult
from connectors.campaign import attribution_from_url, merge_campaign
from connectors.registry import get_connector
from connectors.web import (
    MAX_BATCH_BYTES,
    MAX_MESSAGE_BYTES,
    WebConnector,
    write_key_from_body,
)

RECEIVED = datetime(2026, 11, 20, 12, 0, 10, tzinfo=UTC)


def body(data: Any) -> bytes:
    return json.dumps(data).encode()


def parse(data: Any, **kwargs: Any) -> ParseResult:
    kwargs.setdefault("received_at", RECEIVED)
    return WebConnector().parse_payload(body(data), source="site", **kwargs)


def every_call() -> list[dict[str, Any]]:
    return [
        {"type": "identify", "messageId": "m-identify", "userId": "u1", "traits": {"plan": "pro"}},
        {"type": "track", "messageId": "m-track", "userId": "u1", "event": "Signed Up"},
        {"type": "page", "messageId": "m-page", "anonymousId": "a1", "name": "Pricing"},
        {"type": "screen", "messageId": "m-screen", "anonymousId": "a1", "name": "Home"},
        {"type": "group", "messageId": "m-group", "userId": "u1", "groupId": "acme"},
        {"type": "alias", "messageId": "m-alias", "previousId": "a1", "userId": "u1"},
    ]


class TestRegistry:
    def test_builtin_names_and_aliases(self) -> None:
        assert isinstance(get_connector("web"), WebConnector)
        assert isinstance(get_connector("segment"), WebConnector)
        assert WebConnector.channel == "web"
        assert WebConnector.webhook is False


class TestBatch:
    def test_every_call_type(self) -> None:
        result = parse({"batch": every_call(), "writeKey": "wk_secret"})
        assert result.rejected == []
        assert [e.type for e in result.events] == [
            "identify",
            "track",
            "page",
            "screen",
            "group",
            "alias",
        ]
        assert [e.message_id for e in result.events] == [
            "m-identify",
            "m-track",
            "m-page",
            "m-screen",
            "m-group",
            "m-alias",
        ]
        assert {e.source for e in result.events} == {"site"}
        assert {e.channel for e in result.events} == {"web"}
        track = result.events[1]
        assert track.event == "Signed Up"
        assert result.events[4].group_id == "acme"
        assert result.events[5].previous_id == "a1"
        assert all("writeKey" not in e.to_bytes().decode() for e in result.events)

    def test_batch_context_is_merged_under_message_context(self) -> None:
        result = parse(
            {
                "batch": [
                    {
                        "type": "track",
                        "event": "Clicked",
                        "userId": "u1",
                        "context": {"ip": "10.0.0.2", "library": {"version": "2.0"}},
                    },
                    {"type": "track", "event": "Clicked", "userId": "u2"},
                ],
                "context": {
                    "ip": "10.0.0.1",
                    "userAgent": "Mozilla/5.0",
                    "library": {"name": "analytics-python", "version": "1.0"},
                },
            }
        )
        first, second = result.events
        assert first.context.ip == "10.0.0.2"
        assert first.context.user_agent == "Mozilla/5.0"
        assert first.context.model_extra == {
            "library": {"name": "analytics-python", "version": "2.0"}
        }
        assert second.context.ip == "10.0.0.1"

    def test_invalid_messages_are_rejected_and_siblings_kept(self) -> None:
        result = parse(
            {
                "batch": [
                    {"type": "track", "userId": "u1", "event": "Good"},
                    {"type": "track", "userId": "u1"},
                    "not an object",
                    {"type": "alias", "userId": "u1"},
                    {"type": "explode", "userId": "u1"},
                    {"type": "identify", "traits": {"email": "x@example.com"}},
                    {"type": "track", "userId": "u1", "event": "Also good"},
                ]
            }
        )
        assert [e.event for e in result.events] == ["Good", "Also good"]
        reasons = {r.index: r.reason for r in result.rejected}
        assert list(reasons) == [1, 2, 3, 4, 5]
        assert "event" in reasons[1]
        assert "JSON object" in reasons[2]
        assert "previousId" in reasons[3]
        assert reasons[4].startswith("type")
        assert "userId" in reasons[5]
        assert result.rejected[0].raw == {"type": "track", "userId": "u1"}

    def test_batch_must_be_a_list(self) -> None:
        with pytest.raises(ConnectorError) as err:
            parse({"batch": {"type": "track"}})
        assert err.value.status_code == 400
        assert "batch" in err.value.message

    def test_batch_call_type_without_batch_key(self) -> None:
        with pytest.raises(ConnectorError):
            parse({"type": "track", "userId": "u1", "event": "E"}, call_type="batch")


class TestSingleCall:
    def test_call_type_forces_the_type(self) -> None:
        result = parse({"userId": "u1", "event": "Order Completed"}, call_type="track")
        (event,) = result.events
        assert event.type == "track"
        assert event.event == "Order Completed"

        page = parse({"userId": "u1", "type": "track", "name": "Docs"}, call_type="page")
        assert page.events[0].type == "page"

    def test_untyped_body_without_call_type_is_rejected(self) -> None:
        result = parse({"userId": "u1", "event": "E"})
        assert result.events == []
        assert result.rejected[0].index == 0
        assert result.rejected[0].reason.startswith("type")

    def test_unknown_call_type(self) -> None:
        with pytest.raises(ConnectorError) as err:
            parse({"userId": "u1"}, call_type="purchase")
        assert err.value.code == "unknown_call_type"

    def test_write_key_and_record_key_are_not_kept(self) -> None:
        result = parse(
            {"userId": "u1", "event": "E", "writeKey": "wk_1", "recordKey": "contact:9"},
            call_type="track",
        )
        (event,) = result.events
        assert event.record_key is None
        assert event.person_key == "user:u1"
        assert b"wk_1" not in event.to_bytes()

    def test_sdk_channel_is_kept_in_context(self) -> None:
        result = parse({"userId": "u1", "event": "E", "channel": "server"}, call_type="track")
        event = result.events[0]
        assert event.channel == "web"
        assert event.context.model_extra == {"channel": "server"}


class TestNulls:
    def test_explicit_nulls_are_accepted(self) -> None:
        result = parse(
            {
                "type": "track",
                "event": "Viewed",
                "userId": None,
                "anonymousId": "anon-7",
                "context": None,
                "properties": None,
                "traits": None,
                "timestamp": None,
                "sentAt": None,
                "messageId": None,
            }
        )
        (event,) = result.events
        assert event.user_id is None
        assert event.person_key == "anon:anon-7"
        assert event.properties == {}
        assert event.timestamp == RECEIVED
        assert len(event.message_id) == 32

    def test_traits_at_root_and_in_context(self) -> None:
        result = parse(
            {
                "type": "identify",
                "userId": "u1",
                "traits": {"email": "root@example.com"},
                "context": {"traits": {"email": "ctx@example.com", "plan": "pro"}},
            }
        )
        event = result.events[0]
        assert event.traits == {"email": "root@example.com"}
        assert event.context.traits == {"email": "ctx@example.com", "plan": "pro"}
        assert event.all_traits == {"email": "root@example.com", "plan": "pro"}

    def test_numeric_user_id_becomes_a_string(self) -> None:
        result = parse({"type": "identify", "userId": 42})
        assert result.events[0].user_id == "42"


class TestMessageIds:
    def test_generated_ids_are_deterministic(self) -> None:
        data = {"batch": [{"type": "track", "userId": "u1", "event": "E"}]}
        first = parse(data).events[0].message_id
        again = parse(data, received_at=datetime(2027, 1, 1, tzinfo=UTC)).events[0].message_id
        assert first == again
        assert len(first) == 32
        other = parse({"batch": [{"type": "track", "userId": "u2", "event": "E"}]})
        assert other.events[0].message_id != first

    def test_write_key_does_not_change_the_id(self) -> None:
        a = parse({"type": "track", "userId": "u1", "event": "E", "writeKey": "k1"})
        b = parse({"type": "track", "userId": "u1", "event": "E", "writeKey": "k2"})
        assert a.events[0].message_id == b.events[0].message_id

    def test_sent_ids_are_kept(self) -> None:
        result = parse({"type": "track", "userId": "u1", "event": "E", "messageId": "ajs-1"})
        assert result.events[0].message_id == "ajs-1"


class TestClockSkew:
    def test_timestamp_is_corrected_by_the_send_delay(self) -> None:
        # the device clock is ~2 h slow: it says the event happened 5 s before sending
        result = parse(
            {
                "batch": [
                    {
                        "type": "track",
                        "userId": "u1",
                        "event": "E",
                        "timestamp": "2026-11-20T10:00:00Z",
                    }
                ],
                "sentAt": "2026-11-20T10:00:05Z",
            }
        )
        event = result.events[0]
        assert event.timestamp == datetime(2026, 11, 20, 12, 0, 5, tzinfo=UTC)
        assert event.original_timestamp == datetime(2026, 11, 20, 10, 0, 0, tzinfo=UTC)
        assert event.sent_at == datetime(2026, 11, 20, 10, 0, 5, tzinfo=UTC)
        assert event.received_at == RECEIVED

    def test_message_sent_at_wins_over_batch_sent_at(self) -> None:
        result = parse(
            {
                "batch": [
                    {
                        "type": "track",
                        "userId": "u1",
                        "event": "E",
                        "timestamp": "2026-11-20T10:00:00+00:00",
                        "sentAt": "2026-11-20T10:01:00+00:00",
                    }
                ],
                "sentAt": "2026-11-20T10:00:05Z",
            }
        )
        assert result.events[0].timestamp == datetime(2026, 11, 20, 11, 59, 10, tzinfo=UTC)

    def test_given_original_timestamp_is_kept(self) -> None:
        result = parse(
            {
                "type": "track",
                "userId": "u1",
                "event": "E",
                "timestamp": "2026-11-20T10:00:00Z",
                "originalTimestamp": "2026-11-20T09:59:59Z",
                "sentAt": "2026-11-20T10:00:00Z",
            }
        )
        event = result.events[0]
        assert event.timestamp == RECEIVED
        assert event.original_timestamp == datetime(2026, 11, 20, 9, 59, 59, tzinfo=UTC)

    def test_original_timestamp_alone_is_corrected(self) -> None:
        result = parse(
            {
                "type": "track",
                "userId": "u1",
                "event": "E",
                "originalTimestamp": "2026-11-20T10:00:00Z",
                "sentAt": "2026-11-20T10:00:30Z",
            }
        )
        assert result.events[0].timestamp == datetime(2026, 11, 20, 11, 59, 40, tzinfo=UTC)

    def test_without_sent_at_the_timestamp_is_trusted(self) -> None:
        result = parse(
            {"type": "track", "userId": "u1", "event": "E", "timestamp": "2020-01-01T00:00:00Z"}
        )
        event = result.events[0]
        assert event.timestamp == datetime(2020, 1, 1, tzinfo=UTC)
        assert event.original_timestamp is None
        assert event.received_at == RECEIVED

    def test_missing_timestamp_is_the_receive_time(self) -> None:
        result = parse({"type": "track", "userId": "u1", "event": "E", "receivedAt": "2001-01-01"})
        event = result.events[0]
        assert event.timestamp == RECEIVED
        assert event.received_at == RECEIVED

    def test_unparseable_timestamp_is_rejected_naming_the_field(self) -> None:
        result = parse(
            {"batch": [{"type": "track", "userId": "u1", "event": "E", "timestamp": "soon"}]}
        )
        assert result.events == []
        assert result.rejected[0].reason.startswith("timestamp")

    def test_receive_time_defaults_to_now(self) -> None:
        before = datetime.now(UTC)
        event = (
            WebConnector()
            .parse_payload(body({"type": "track", "userId": "u1", "event": "E"}), source="site")
            .events[0]
        )
        assert event.received_at is not None and event.received_at >= before
        assert event.timestamp == event.received_at


class TestLimits:
    def test_oversized_message_is_rejected_and_siblings_kept(self) -> None:
        big = {"type": "track", "userId": "u1", "event": "Big", "properties": {"x": "a" * 33_000}}
        fits = {
            "type": "track",
            "userId": "u1",
            "event": "Fits",
            "properties": {"x": "a" * 32_000},
        }
        result = parse({"batch": [big, fits]})
        assert [e.event for e in result.events] == ["Fits"]
        (rejection,) = result.rejected
        assert rejection.index == 0
        assert "32 KB" in rejection.reason
        assert len(json.dumps(fits)) < MAX_MESSAGE_BYTES < len(json.dumps(big))

    def test_oversized_single_call_is_rejected(self) -> None:
        result = parse(
            {"userId": "u1", "event": "Big", "properties": {"x": "é" * 17_000}}, call_type="track"
        )
        assert result.events == []
        assert "limit is 32 KB" in result.rejected[0].reason

    def test_oversized_batch_is_413(self) -> None:
        messages = [
            {"type": "track", "userId": "u1", "event": "E", "properties": {"x": "a" * 20_000}}
            for _ in range(26)
        ]
        data = body({"batch": messages})
        assert len(data) > MAX_BATCH_BYTES
        with pytest.raises(ConnectorError) as err:
            WebConnector().parse_payload(data, source="site")
        assert err.value.status_code == 413
        assert err.value.code == "payload_too_large"


class TestBadBodies:
    def test_bad_json(self) -> None:
        with pytest.raises(ConnectorError) as err:
            WebConnector().parse_payload(b'{"batch": [', source="site")
        assert err.value.code == "invalid_json"
        assert err.value.status_code == 400

    def test_not_utf8(self) -> None:
        with pytest.raises(ConnectorError) as err:
            WebConnector().parse_payload(b"\xff\xfe\x00", source="site")
        assert err.value.code == "invalid_json"

    def test_deeply_nested_body(self) -> None:
        with pytest.raises(ConnectorError) as err:
            WebConnector().parse_payload(b"[" * 200_000 + b"]" * 200_000, source="site")
        assert err.value.code == "invalid_json"

    @pytest.mark.parametrize("data", [[{"type": "track"}], "track", 3, None])
    def test_body_must_be_an_object(self, data: Any) -> None:
        with pytest.raises(ConnectorError) as err:
            parse(data)
        assert err.value.status_code == 400

    def test_batch_context_must_be_an_object(self) -> None:
        with pytest.raises(ConnectorError):
            parse({"batch": [], "context": "web"})


class TestAttribution:
    URL = (
        "https://shop.example.com/pricing?utm_source=google&utm_medium=cpc"
        "&utm_campaign=spring_sale&utm_term=crm+software&utm_content=ad%20b&gclid=Cj0KCQ-1"
        "&fbclid=IwAR-2&msclkid=ms-3&other=x"
    )

    def test_attribution_from_url(self) -> None:
        assert attribution_from_url(self.URL) == {
            "source": "google",
            "medium": "cpc",
            "name": "spring_sale",
            "term": "crm software",
            "content": "ad b",
            "click_ids": {"gclid": "Cj0KCQ-1", "fbclid": "IwAR-2", "msclkid": "ms-3"},
        }

    @pytest.mark.parametrize(
        "param", ["gclid", "fbclid", "yclid", "msclkid", "gbraid", "wbraid", "ttclid", "li_fat_id"]
    )
    def test_every_click_id(self, param: str) -> None:
        assert attribution_from_url(f"https://x.example/?{param}=v1") == {
            "click_ids": {param: "v1"}
        }

    @pytest.mark.parametrize(
        "url", [None, "", "https://example.com/", "https://example.com/?utm_source=", 17]
    )
    def test_nothing_to_find(self, url: Any) -> None:
        assert attribution_from_url(url) == {}

    def test_parameter_names_are_case_insensitive(self) -> None:
        assert attribution_from_url("https://x.example/?UTM_Source=news&GCLID=g1") == {
            "source": "news",
            "click_ids": {"gclid": "g1"},
        }

    def test_merge_keeps_what_was_sent(self) -> None:
        merged = merge_campaign(
            {"name": "Given", "click_ids": {"gclid": "old"}},
            {"name": "utm", "source": "google", "click_ids": {"gclid": "new", "fbclid": "f"}},
        )
        assert merged == {
            "name": "Given",
            "source": "google",
            "click_ids": {"gclid": "old", "fbclid": "f"},
        }
        assert merge_campaign(None, {}) is None

    def test_page_url_fills_context_campaign(self) -> None:
        result = parse(
            {
                "type": "track",
                "anonymousId": "a1",
                "event": "Viewed",
                "context": {"page": {"url": self.URL}, "campaign": {"name": "Set By SDK"}},
            }
        )
        campaign = result.events[0].context.campaign
        assert campaign is not None
        assert campaign.name == "Set By SDK"
        assert campaign.source == "google"
        assert campaign.medium == "cpc"
        assert campaign.term == "crm software"
        assert campaign.content == "ad b"
        assert campaign.model_extra == {
            "click_ids": {"gclid": "Cj0KCQ-1", "fbclid": "IwAR-2", "msclkid": "ms-3"}
        }

    def test_page_call_properties_url(self) -> None:
        result = parse(
            {
                "type": "page",
                "anonymousId": "a1",
                "properties": {"url": "https://example.com/?utm_source=newsletter&ttclid=t9"},
            }
        )
        campaign = result.events[0].context.campaign
        assert campaign is not None
        assert campaign.source == "newsletter"
        assert campaign.model_extra == {"click_ids": {"ttclid": "t9"}}

    def test_no_campaign_when_url_has_none(self) -> None:
        result = parse(
            {
                "type": "page",
                "anonymousId": "a1",
                "context": {"page": {"url": "https://example.com/docs"}},
            }
        )
        assert result.events[0].context.campaign is None


class TestWriteKeyFromBody:
    def test_found(self) -> None:
        assert write_key_from_body(body({"writeKey": "wk_abc", "batch": []})) == "wk_abc"

    @pytest.mark.parametrize(
        "raw",
        [
            b"",
            b"{not json",
            b"\xff\xfe",
            b"[1, 2]",
            b'{"writeKey": 5}',
            b'{"writeKey": ""}',
            b'{"batch": []}',
            b"[" * 100_000,
        ],
    )
    def test_absent_or_unreadable(self, raw: bytes) -> None:
        assert write_key_from_body(raw) is None
