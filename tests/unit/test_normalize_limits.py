"""Identifier values that cannot be identifiers: too long (RFC 5321 for emails, a sane cap for
the rest) or holding what PostgreSQL text cannot store. They are treated as absent."""

from __future__ import annotations

import pytest

from identity import normalize as nz
from identity.service import normalise_identifier


class TestLengthLimits:
    def test_email_at_the_rfc_limit_is_kept_and_one_longer_is_refused(self) -> None:
        domain = "@example.com"
        at_limit = "a" * (nz.MAX_EMAIL_LENGTH - len(domain)) + domain
        assert len(at_limit) == 254
        assert nz.normalise_email(at_limit) == at_limit
        assert nz.normalise_email("a" + at_limit) is None

    def test_five_thousand_character_email_is_not_an_identifier(self) -> None:
        huge = "x" * 5000 + "@example.com"
        assert nz.normalise_email(huge) is None
        assert nz.email_domain(huge) is None
        assert normalise_identifier("email", huge) is None

    def test_long_ids_are_refused_at_the_cap(self) -> None:
        assert nz.normalise_id("u" * nz.MAX_IDENTIFIER_LENGTH) == "u" * 500
        assert nz.normalise_id("u" * 501) is None
        assert normalise_identifier("user_id", "u" * 501) is None
        assert normalise_identifier("crm_contact_id", "c" * 501, source="crm") is None
        assert normalise_identifier("gclid", "g" * 5000) is None
        assert nz.normalise_phone("1" * 600) is None

    @pytest.mark.parametrize("value", ["a\x00b", "ann\x00@example.com", "u\ud800x"])
    def test_values_postgres_cannot_store_are_refused(self, value: str) -> None:
        assert nz.normalise_id(value) is None
        assert nz.normalise_email(value) is None

    def test_ordinary_values_are_unchanged(self) -> None:
        assert nz.normalise_id("  user-42 ") == "user-42"
        assert nz.normalise_email("Ann+News@Example.com") == "ann@example.com"
        assert nz.normalise_phone("+1 415 555 0100") == "+14155550100"
