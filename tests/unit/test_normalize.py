"""Normalisation of emails, phones, names, companies and places."""

from __future__ import annotations

import pytest

from identity import normalize as nz


class TestEmail:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("  Ann.Lee@Example.COM ", "ann.lee@example.com"),
            ("mailto:ann@example.com", "ann@example.com"),
            ("ann+newsletter@example.com", "ann@example.com"),
            ("A.N.N+x@gmail.com", "ann@gmail.com"),
            ("ann.lee@googlemail.com", "annlee@gmail.com"),
            ("ann.lee@yahoo.com", "ann.lee@yahoo.com"),  # dots kept outside gmail
            ("not an email", None),
            ("test@test.com", None),
            ("+tag@example.com", None),
            (None, None),
            (float("nan"), None),
        ],
    )
    def test_policy(self, raw: str | None, expected: str | None) -> None:
        assert nz.normalise_email(raw) == expected

    def test_parts_and_free_mail(self) -> None:
        assert nz.email_domain("Bob@GoogleMail.com") == "gmail.com"
        assert nz.email_local("b.o.b+x@gmail.com") == "bob"
        for d in (
            "gmail.com",
            "mail.ru",
            "yandex.ru",
            "ya.ru",
            "web.de",
            "proton.me",
            "hotmail.co.jp",
            "GMX.at",
        ):
            assert nz.is_free_mail_domain(d), d
        assert not nz.is_free_mail_domain("acme.com")
        assert not nz.is_free_mail_domain(None)
        assert nz.is_role_email("Info@acme.com")
        assert not nz.is_role_email("ann@acme.com")


class TestPhone:
    @pytest.mark.parametrize(
        ("raw", "region", "expected"),
        [
            ("(415) 555-0101", "US", "+14155550101"),
            ("+1 415.555.0101", "US", "+14155550101"),
            ("0044 20 7946 0958", "US", "+442079460958"),
            ("020 7946 0958", "GB", "+442079460958"),
            ("8 (916) 123-45-67", "RU", "+79161234567"),
            ("000-000-0000", "US", None),
            ("n/a", "US", None),
            ("12", "US", None),
        ],
    )
    def test_e164(self, raw: str, region: str, expected: str | None) -> None:
        assert nz.normalise_phone(raw, default_region=region) == expected


class TestNames:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("  Dr. José  ", "jose"),
            ("Mrs O'Neil", "oneil"),
            ("Anne-Marie", "anne marie"),
            ("ÅSA", "asa"),
            ("Straße", "strasse"),
            ("Иванов", "ivanov"),
            ("Щукина", "shchukina"),
            ("Mr", None),
            ("", None),
        ],
    )
    def test_name(self, raw: str, expected: str | None) -> None:
        assert nz.normalise_name(raw) == expected

    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("Bob", "robert"),
            ("BILL", "william"),
            ("Liz", "elizabeth"),
            ("kate", "katherine"),
            ("Jim", "james"),
            ("mike", "michael"),
            ("Tom", "thomas"),
            ("Alex", "alexander"),
            ("Саша", "alexander"),
            ("Mr. Bob", "robert"),
            ("Roberta", "roberta"),
        ],
    )
    def test_first_name_nicknames(self, raw: str, expected: str) -> None:
        assert nz.normalise_first_name(raw) == expected

    def test_nicknames_can_be_kept(self) -> None:
        assert nz.normalise_first_name("Bob", nicknames=False) == "bob"

    def test_split_full_name(self) -> None:
        assert nz.split_full_name("Dr. Ann Marie Lee") == ("ann", "lee")
        assert nz.split_full_name("Lee, Ann") == ("ann", "lee")
        assert nz.split_full_name("Cher") == ("cher", None)


class TestCompany:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("Acme, Inc.", "acme"),
            ("ACME Corp", "acme"),
            ("Acme L.L.C.", "acme"),
            ("Siemens AG", "siemens"),
            ("Müller GmbH", "muller"),
            ("Tesco PLC", "tesco"),
            ("ООО «Ромашка»", "romashka"),
            ('АО "Газпром"', "gazprom"),
            ("ИП Иванов", "ivanov"),
            ("Nokia Oyj", "nokia"),
            ("Ben & Jerry's", "ben and jerrys"),
            ("Co", None),
            ("Coca-Cola Co.", "coca cola"),
        ],
    )
    def test_company(self, raw: str, expected: str | None) -> None:
        assert nz.normalise_company(raw) == expected


class TestPlaces:
    def test_postcode(self) -> None:
        assert nz.normalise_postcode(" sw1a 1aa ") == "SW1A1AA"
        assert nz.normalise_postcode("n/a") is None

    def test_city(self) -> None:
        assert nz.normalise_city("  São Paulo ") == "sao paulo"
        assert nz.normalise_city("St. Louis") == "st louis"
        assert nz.normalise_city("Москва") == "moskva"

    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("1985-03-12", "1985-03-12"),
            ("19850312", "1985-03-12"),
            ("12.03.1985", "1985-03-12"),
            ("1985/3/2", "1985-03-02"),
            ("1985-02-30", None),
            ("soon", None),
        ],
    )
    def test_date(self, raw: str, expected: str | None) -> None:
        assert nz.normalise_date(raw) == expected


def test_junk_and_ids() -> None:
    assert nz.is_junk(None) and nz.is_junk(" N/A ") and not nz.is_junk("ann")
    assert nz.normalise_id("  abc ") == "abc"
    assert nz.normalise_id("undefined") is None


def test_organisation_from_domain() -> None:
    assert nz.organisation_from_domain("harborrobotics.com") == "harborrobotics"
    assert nz.organisation_from_domain("mail.acme.co.uk") == "acme"
    assert nz.organisation_from_domain("gmail.com") is None
    assert nz.organisation_from_domain("yandex.ru") is None
    assert nz.organisation_from_domain(None) is None
    assert nz.organisation_from_domain("localhost") is None
