"""The connector SDK: registry, Facebook leadgen notifications and CSV, rate limits, pixel."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from api.errors import collector_error, is_collector_path
from connectors.base import ConnectorError, ParseResult
from connectors.email import pixel_open_event
from connectors.registry import available, get_connector
from kindred.ratelimit import RateLimit, retry_after
from tests.contract.samples import FB_NOTIFICATION


class TestRegistry:
    def test_builtins_and_aliases(self) -> None:
        names = set(available())
        assert {
            "web",
            "sendgrid",
            "mailchimp",
            "esp",
            "crm",
            "hubspot",
            "leadform",
            "gads",
        } <= names
        assert get_connector("unisender").name == "esp"
        assert get_connector("facebook").name == "leadform"

    def test_unknown(self) -> None:
        with pytest.raises(ConnectorError) as err:
            get_connector("nope")
        assert err.value.status_code == 404


class TestFacebook:
    def test_leadgen_notification_is_the_submitted_touchpoint(self) -> None:
        result = get_connector("leadform").parse_payload(
            json.dumps(FB_NOTIFICATION).encode(), source="fb"
        )
        (event,) = result.events
        assert event.event == "Lead Form Submitted"
        assert event.message_id == "lead:fb:1234567890123457:submitted"
        assert event.record_key == "lead:fb:1234567890123457"
        assert event.properties["form_id"] == "98765"

    def test_csv_export_utf16_tabs_and_prefixes(self, tmp_path: Path) -> None:
        text = (
            "id\tcreated_time\tad_id\tcampaign_name\tform_id\tis_organic\tplatform\temail\t"
            "full_name\tphone_number\twhat_is_your_budget?\n"
            "l:1234\t2026-11-20T10:15:30+00:00\tag:2385\tWinter\tf:987\tfalse\tfb\t"
            "mara@example.de\tMara Schulz\tp:+4915112345678\t10k\n"
            "l:1235\t2026-11-20T10:15:30+00:00\tag:2385\tWinter\tf:987\tfalse\tfb\t\t\t\t\n"
        )
        path = tmp_path / "leads.csv"
        path.write_bytes(text.encode("utf-16"))
        total = ParseResult()
        for result in get_connector("leadform").parse_file(path, source="fb"):
            total.extend(result)
        identify, submitted = total.events
        assert identify.record_key == "lead:fb:1234"
        assert identify.traits["phone"] == "+4915112345678"
        assert identify.traits["first_name"] == "Mara"
        assert submitted.properties["answers"] == {"what_is_your_budget?": "10k"}
        assert total.rejected[0].index == 3


class TestRateLimiter:
    # the buckets themselves (shared in PostgreSQL): tests/integration/test_rate_limits.py
    def test_retry_after_is_whole_seconds(self) -> None:
        assert [retry_after(w) for w in (0.01, 0.5, 1.0, 1.2)] == ["1", "1", "1", "2"]

    def test_config_override(self) -> None:
        limit = RateLimit.from_config({"rate_limit": {"requests_per_second": 5}}, RateLimit())
        assert (limit.rate, limit.burst) == (5, 10)
        assert (
            RateLimit.from_config({"rate_limit": {"requests_per_second": "x"}}, RateLimit())
            == RateLimit()
        )


class TestCollectorErrors:
    def test_segment_and_house_shape(self) -> None:
        response = collector_error(400, "bad_request", "nope")
        body = json.loads(bytes(response.body))
        assert body == {
            "code": "bad_request",
            "message": "nope",
            "error": {"code": "bad_request", "message": "nope"},
        }

    def test_only_collector_paths(self) -> None:
        assert is_collector_path("/v1/batch") and is_collector_path("/v1/track/")
        assert is_collector_path("/v1/pixel.gif")
        assert not is_collector_path("/v1/profiles") and not is_collector_path("/v1/webhooks/x/y")


class TestPixel:
    def test_open_event(self) -> None:
        at = datetime(2026, 11, 1, 10, 0, 30, tzinfo=UTC)
        event = pixel_open_event(
            source="s", email="Ann@Example.com", campaign="nov", received_at=at
        )
        assert (event.event, event.channel, event.record_key) == (
            "Email Opened",
            "email",
            "email:ann@example.com",
        )
        later = pixel_open_event(
            source="s", email="ann@example.com", campaign="nov", received_at=at.replace(second=59)
        )
        assert later.message_id == event.message_id  # reloads within a minute count once

    def test_bad_email(self) -> None:
        with pytest.raises(ConnectorError):
            pixel_open_event(
                source="s", email="nobody", campaign=None, received_at=datetime.now(UTC)
            )
