"""The canonical event envelope."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.events import InvalidEvent, event_from_bytes, parse_event
from ingest.service import campaign_of, identifiers_of


def _base(**fields: object) -> dict[str, object]:
    return {"messageId": "m1", "source": "web", "channel": "web", **fields}


class TestEnvelope:
    def test_numeric_ids_become_strings_and_empty_ids_absent(self) -> None:
        ev = parse_event(_base(type="identify", userId=42, anonymousId=""))
        assert ev.user_id == "42"
        assert ev.anonymous_id is None
        assert ev.person_key == "user:42"

    def test_track_without_event_names_the_problem(self) -> None:
        with pytest.raises(InvalidEvent, match="track call needs `event`"):
            parse_event(_base(type="track", userId="u"))

    def test_call_without_any_id_is_rejected(self) -> None:
        with pytest.raises(InvalidEvent, match="userId"):
            parse_event(_base(type="page"))

    def test_unknown_type_is_rejected(self) -> None:
        with pytest.raises(InvalidEvent, match="type"):
            parse_event(_base(type="purchase", userId="u"))

    def test_naive_timestamps_are_utc(self) -> None:
        ev = parse_event(_base(type="page", anonymousId="a", timestamp="2026-01-02T03:04:05"))
        assert ev.occurred_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    def test_root_traits_win_over_context_traits(self) -> None:
        ev = parse_event(
            _base(
                type="identify",
                userId="u",
                traits={"email": "root@x.io"},
                context={"traits": {"email": "ctx@x.io", "plan": "pro"}},
            )
        )
        assert ev.all_traits == {"email": "root@x.io", "plan": "pro"}

    def test_bytes_that_are_not_json(self) -> None:
        with pytest.raises(InvalidEvent, match="not JSON"):
            event_from_bytes(b"\x00\x01")
        with pytest.raises(InvalidEvent, match="JSON object"):
            event_from_bytes(b"[1, 2]")

    def test_round_trip_keeps_unknown_fields(self) -> None:
        ev = parse_event(_base(type="track", userId="u", event="E", integrations={"All": True}))
        again = event_from_bytes(ev.to_bytes())
        assert again.model_extra == {"integrations": {"All": True}}


class TestIdentifiersAndAttribution:
    def test_identifiers_from_ids_traits_external_ids_and_click_ids(self) -> None:
        ev = parse_event(
            _base(
                type="identify",
                userId="u1",
                anonymousId="a1",
                traits={"E-mail": "Ann@X.io", "Phone Number": "+1 415 555 0100"},
                context={
                    "externalIds": [{"id": 17, "type": "crm_contact_id", "collection": "users"}],
                    "page": {"url": "https://x.io/?gclid=G1&utm_source=google&utm_campaign=q4"},
                },
            )
        )
        ids = identifiers_of(ev)
        assert ids["user_id"] == ["u1"]
        assert ids["anonymous_id"] == ["a1"]
        assert ids["email"] == ["Ann@X.io"]
        assert ids["phone"] == ["+1 415 555 0100"]
        assert ids["crm_contact_id"] == ["17"]
        assert ids["gclid"] == ["G1"]
        campaign = campaign_of(ev)
        assert campaign["source"] == "google"
        assert campaign["name"] == "q4"

    def test_alias_previous_id_is_an_identifier(self) -> None:
        ev = parse_event(_base(type="alias", userId="new", previousId="old"))
        assert identifiers_of(ev)["alias"] == ["old"]
