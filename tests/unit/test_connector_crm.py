"""The CRM CSV connector: contacts and companies exports."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.base import ConnectorError, ParseResult
from connectors.cells import snake
from connectors.crm import CrmCsvConnector
from connectors.registry import get_connector
from kindred.identifiers import domain_of_url

CONTACTS_HEADER = (
    "Record ID;First Name;Last Name;Email;Phone Number;Job Title;Company Name;"
    "Associated Company ID;City;Country/Region;Lifecycle Stage;Lead Status;Create Date;"
    "Last Modified Date;Favourite Colour"
)


def write(tmp_path: Path, text: str, *, bom: bool = False, name: str = "export.csv") -> Path:
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def import_file(path: Path, **kwargs: Any) -> list[ParseResult]:
    return list(CrmCsvConnector().parse_file(path, source="hubspot", **kwargs))


def merged(results: list[ParseResult]) -> ParseResult:
    total = ParseResult()
    for result in results:
        total.extend(result)
    return total


class TestRegistry:
    def test_registered(self) -> None:
        connector = get_connector("crm")
        assert isinstance(connector, CrmCsvConnector)
        assert (connector.files, connector.webhook, connector.channel) == (True, False, "crm")


class TestContacts:
    def contacts(self, tmp_path: Path) -> Path:
        rows = [
            CONTACTS_HEADER,
            "101;Анна;Петрова;anna.petrova@example.ru;+7 495 123-45-67;Директор;"
            "Ромашка Групп;9001;Москва;Russia;lead;Open;2026-01-15 09:30;2026-03-02 17:45;green",
            ";No;Id;noid@example.com;;;;;;;;;;;",
            "102;Ben;Okafor;ben@example.com;;;;;;;customer;;2026-02-01;;",
        ]
        return write(tmp_path, "\r\n".join(rows) + "\r\n", bom=True)

    def test_bom_semicolons_and_cyrillic(self, tmp_path: Path) -> None:
        result = merged(import_file(self.contacts(tmp_path)))
        anna, ben = result.events
        assert anna.type == "identify"
        assert anna.channel == "crm" and anna.source == "hubspot"
        assert anna.user_id is None
        assert anna.record_key == "contact:101"
        assert anna.traits == {
            "crm_contact_id": "101",
            "first_name": "Анна",
            "last_name": "Петрова",
            "email": "anna.petrova@example.ru",
            "phone": "+7 495 123-45-67",
            "job_title": "Директор",
            "company": "Ромашка Групп",
            "city": "Москва",
            "country": "Russia",
            "lifecycle_stage": "lead",
            "lead_status": "Open",
            "created_at": "2026-01-15T09:30:00+00:00",
            "updated_at": "2026-03-02T17:45:00+00:00",
            "crm_company_id": "9001",
            "favourite_colour": "green",
        }
        assert anna.context.group_id == "crm:9001"
        assert anna.context.external_ids is not None
        assert [(x.id, x.type, x.collection) for x in anna.context.external_ids] == [
            ("101", "crm_contact_id", "users")
        ]
        assert anna.timestamp == datetime(2026, 3, 2, 17, 45, tzinfo=UTC)  # last modified
        assert ben.timestamp == datetime(2026, 2, 1, tzinfo=UTC)  # create date
        assert ben.context.group_id is None
        assert "phone" not in ben.traits  # blank cells are not traits

    def test_missing_id_row_is_rejected_with_its_line(self, tmp_path: Path) -> None:
        result = merged(import_file(self.contacts(tmp_path)))
        (rejection,) = result.rejected
        assert rejection.index == 3
        assert "'Record ID'" in rejection.reason and "missing contact id" in rejection.reason
        assert "Record ID" in rejection.raw  # the BOM was stripped from the first header
        assert [e.record_key for e in result.events] == ["contact:101", "contact:102"]

    def test_reimport_gives_the_same_ids_and_an_edit_a_new_one(self, tmp_path: Path) -> None:
        path = self.contacts(tmp_path)
        first = [e.message_id for e in merged(import_file(path)).events]
        assert first == [e.message_id for e in merged(import_file(path)).events]
        path.write_text(path.read_text("utf-8-sig").replace("customer", "evangelist"), "utf-8")
        second = [e.message_id for e in merged(import_file(path)).events]
        assert second[0] == first[0]
        assert second[1] != first[1]

    def test_header_synonyms_commas_and_file_mtime(self, tmp_path: Path) -> None:
        path = write(
            tmp_path,
            "contact_id,E-mail,Email Address,FIRST NAME,mobile phone number,Country\n"
            "7,,sam@example.com,Sam,+44 20 7946 0000,United Kingdom\n",
        )
        os.utime(path, (1_700_000_000, 1_700_000_000))
        (event,) = merged(import_file(path)).events
        assert event.traits == {
            "crm_contact_id": "7",
            "email": "sam@example.com",
            "first_name": "Sam",
            "phone": "+44 20 7946 0000",
            "country": "United Kingdom",
        }
        assert event.timestamp == datetime.fromtimestamp(1_700_000_000, UTC)

    def test_tabs_and_quoted_values(self, tmp_path: Path) -> None:
        path = write(
            tmp_path,
            'Record ID\tEmail\tNotes\n5\tq@example.com\t"said ""hi""; then\nleft"\n6\tr@x.io\t\n',
        )
        result = merged(import_file(path))
        assert [e.traits.get("notes") for e in result.events] == ['said "hi"; then\nleft', None]

    def test_custom_mapping(self, tmp_path: Path) -> None:
        path = write(
            tmp_path,
            "Kundennummer,Mail,Vorname,Intern\nK-1,k@example.de,Karl,x\n",
        )
        config = {
            "kind": "contacts",
            "mapping": {
                "kundennummer": "crm_contact_id",
                "MAIL": "email",
                "Vorname": "first_name",
                "Intern": None,
            },
        }
        (event,) = merged(import_file(path, config=config)).events
        assert event.record_key == "contact:K-1"
        assert event.traits == {
            "crm_contact_id": "K-1",
            "email": "k@example.de",
            "first_name": "Karl",
        }

    def test_rows_with_extra_cells_are_rejected(self, tmp_path: Path) -> None:
        path = write(tmp_path, "Record ID,Email\n1,a@example.com,oops\n2,b@example.com,\n")
        result = merged(import_file(path))
        assert [e.record_key for e in result.events] == ["contact:2"]
        assert result.rejected[0].index == 2
        assert "3 cells" in result.rejected[0].reason

    def test_batches(self, tmp_path: Path) -> None:
        lines = ["Record ID,Email"] + [f"{i},p{i}@example.com" for i in range(5)]
        results = import_file(write(tmp_path, "\n".join(lines)), batch_size=2)
        assert [len(r.events) for r in results] == [2, 2, 1]

    def test_no_id_column(self, tmp_path: Path) -> None:
        with pytest.raises(ConnectorError) as err:
            import_file(write(tmp_path, "Email,First Name\na@example.com,A\n"))
        assert "Record ID" in err.value.message

    def test_empty_file(self, tmp_path: Path) -> None:
        assert import_file(write(tmp_path, "")) == []

    def test_not_utf8(self, tmp_path: Path) -> None:
        path = tmp_path / "cp1251.csv"
        path.write_bytes("Record ID,First Name\n1,Анна\n".encode("cp1251"))
        with pytest.raises(ConnectorError) as err:
            import_file(path)
        assert "encoding" in err.value.message
        (event,) = merged(import_file(path, config={"encoding": "cp1251"})).events
        assert event.traits["first_name"] == "Анна"

    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(ConnectorError):
            import_file(tmp_path / "nope.csv")


class TestCompanies:
    def test_auto_detected_companies(self, tmp_path: Path) -> None:
        path = write(
            tmp_path,
            "Record ID,Company name,Website URL,Industry,Number of Employees,Annual Revenue,"
            "City,Country/Region,Create Date\n"
            '9001,Acme GmbH,https://www.Acme.de/about,Software,"1,200","$2,500,000.50",'
            "Berlin,Germany,2025-12-01T08:00:00Z\n"
            "9002,Tiny,tiny.io,,51-200,n/a,,,\n",
        )
        acme, tiny = merged(import_file(path)).events
        assert acme.type == "group"
        assert acme.group_id == "crm:9001"
        assert acme.user_id is None and acme.record_key is None
        assert acme.traits == {
            "crm_company_id": "9001",
            "name": "Acme GmbH",
            "domain": "acme.de",
            "industry": "Software",
            "employees": 1200,
            "annual_revenue": 2500000.5,
            "city": "Berlin",
            "country": "Germany",
            "created_at": "2025-12-01T08:00:00+00:00",
        }
        assert acme.timestamp == datetime(2025, 12, 1, 8, tzinfo=UTC)
        assert tiny.traits["domain"] == "tiny.io"
        assert tiny.traits["employees_raw"] == "51-200"
        assert tiny.traits["annual_revenue_raw"] == "n/a"
        assert "employees" not in tiny.traits

    def test_company_id_header_is_the_record_id_for_companies(self, tmp_path: Path) -> None:
        path = write(tmp_path, "Company ID,Domain\n77,example.org\n")
        (event,) = merged(import_file(path, config={"kind": "company"})).events
        assert event.group_id == "crm:77"

    def test_unknown_kind(self, tmp_path: Path) -> None:
        with pytest.raises(ConnectorError):
            import_file(write(tmp_path, "Record ID\n1\n"), config={"kind": "tickets"})

    def test_undetectable_kind(self, tmp_path: Path) -> None:
        with pytest.raises(ConnectorError) as err:
            import_file(write(tmp_path, "Record ID,Colour\n1,red\n"))
        assert "kind" in err.value.message


class TestPayload:
    def test_json_rows(self) -> None:
        rows = [
            {"Record ID": 11, "Email": "j@example.com", "Associated Company ID": 5},
            {"Record ID": None, "Email": "nobody@example.com"},
            "not a row",
        ]
        result = CrmCsvConnector().parse_payload(
            json.dumps(rows).encode(), source="hubspot", config={"kind": "contacts"}
        )
        (event,) = result.events
        assert event.record_key == "contact:11"
        assert event.context.group_id == "crm:5"
        assert [r.index for r in result.rejected] == [1, 2]

    def test_payload_must_be_an_array(self) -> None:
        with pytest.raises(ConnectorError):
            CrmCsvConnector().parse_payload(b'{"Record ID": 1}', source="hubspot")


class TestValues:
    @pytest.mark.parametrize(
        ("raw", "domain"),
        [
            ("https://www.Acme.com/about?x=1", "acme.com"),
            ("acme.com", "acme.com"),
            ("WWW.ACME.CO.UK:8080", "acme.co.uk"),
            ("http://sub.acme.io", "acme.io"),  # the registrable domain (issue 11)
            ("shop.acme.co.uk", "acme.co.uk"),
            ("   ", None),
        ],
    )
    def test_bare_domain(self, raw: str, domain: str | None) -> None:
        assert domain_of_url(raw) == domain

    def test_snake(self) -> None:
        assert snake(" Country/Region ") == "country_region"
        assert snake("E-mail") == "e_mail"
        assert snake("Город рождения") == "город_рождения"


class TestDealsAndActivities:
    def test_salesforce_opportunities_become_stage_touchpoints(self, tmp_path: Path) -> None:
        text = (
            "Opportunity ID,Opportunity Name,Stage,Amount,Close Date,Account ID,Contact ID\n"
            "006A1,Acme renewal,Proposal/Price Quote,12000,2026-12-01,001A9,003C7\n"
            "006A2,Acme upsell,Closed Won,5000,2026-11-15,001A9,003C7\n"
            "006A3,Orphan,Prospecting,1,2026-11-15,001A9,\n"
        )
        result = merged(import_file(write(tmp_path, text), config={"preset": "salesforce"}))
        stage, won_stage, won = result.events
        assert (stage.event, stage.record_key) == ("Deal Stage Changed", "contact:003C7")
        assert stage.properties["stage"] == "Proposal/Price Quote"
        assert stage.properties["amount"] == 12000
        assert stage.context.group_id == "crm:001A9"
        assert won_stage.event == "Deal Stage Changed" and won.event == "Deal Won"
        assert "no contact" in result.rejected[0].reason

    def test_same_stage_twice_is_one_touchpoint_a_new_stage_another(self, tmp_path: Path) -> None:
        header = "Record ID,Deal Name,Deal Stage,Associated Contact IDs\n"
        one = merged(import_file(write(tmp_path, header + "9,X,appointmentscheduled,501\n")))
        again = merged(
            import_file(write(tmp_path, header + "9,X renamed,appointmentscheduled,501\n"))
        )
        moved = merged(import_file(write(tmp_path, header + "9,X,contractsent,501\n")))
        assert one.events[0].message_id == again.events[0].message_id
        assert moved.events[0].message_id != one.events[0].message_id

    def test_amocrm_deals_with_russian_headers(self, tmp_path: Path) -> None:
        text = (
            "ID;Название сделки;Этап сделки;Бюджет;ID контакта\n"
            "31;Поставка;Успешно реализовано;150 000;77\n"
        )
        result = merged(import_file(write(tmp_path, text, bom=True), config={"preset": "amocrm"}))
        assert [e.event for e in result.events] == ["Deal Stage Changed", "Deal Won"]
        assert result.events[0].properties["amount"] == 150000

    def test_activities(self, tmp_path: Path) -> None:
        text = (
            "Activity ID,Activity Type,Subject,Activity Date,Contact ID\n"
            "a1,Call,Intro call,2026-11-01 10:00,501\n"
            "a2,Meeting,Kick-off,2026-11-02 10:00,501\n"
            "a3,Demo,Product demo,2026-11-03 10:00,501\n"
            "a4,Complaint,Invoice wrong,2026-11-04 10:00,501\n"
            "a5,Fax,Ancient,2026-11-05 10:00,501\n"
        )
        result = merged(import_file(write(tmp_path, text)))
        assert [e.event for e in result.events] == [
            "Call Logged",
            "Meeting Held",
            "Demo Held",
            "Complaint Submitted",
        ]
        assert result.events[0].record_key == "contact:501"
        assert result.events[0].timestamp == datetime(2026, 11, 1, 10, tzinfo=UTC)
        assert "Fax" in result.rejected[0].reason

    def test_bitrix24_activities_by_email(self, tmp_path: Path) -> None:
        text = "ID дела;Тип дела;Тема;Дата;E-mail контакта\n1;Звонок;Уточнение;01.11.2026;a@b.ru\n"
        (event,) = merged(import_file(write(tmp_path, text), config={"preset": "bitrix24"})).events
        assert (event.event, event.record_key) == ("Call Logged", "email:a@b.ru")

    def test_bitrix24_contacts(self, tmp_path: Path) -> None:
        text = (
            "ID;Имя;Фамилия;Рабочий e-mail;Мобильный телефон;Должность\n"
            "7;Иван;Петров;i@p.ru;+79001234567;CEO\n"
        )
        (event,) = merged(import_file(write(tmp_path, text), config={"preset": "bitrix24"})).events
        assert event.record_key == "contact:7"
        assert event.traits["email"] == "i@p.ru" and event.traits["phone"] == "+79001234567"

    def test_mapping_file(self, tmp_path: Path) -> None:
        mapping = tmp_path / "map.json"
        mapping.write_text(
            json.dumps({"kind": "contacts", "mapping": {"Kundennr": "id", "Mail": "email"}})
        )
        path = write(tmp_path, "Kundennr,Mail\nK-1,k@example.de\n")
        (event,) = merged(import_file(path, config={"mapping_file": str(mapping)})).events
        assert (event.record_key, event.traits["email"]) == ("contact:K-1", "k@example.de")

    def test_bad_mapping_file(self, tmp_path: Path) -> None:
        mapping = tmp_path / "map.json"
        mapping.write_text('{"kind": "contacts", "surprise": 1}')
        with pytest.raises(ConnectorError, match="unknown keys"):
            import_file(write(tmp_path, "id\n1\n"), config={"mapping_file": str(mapping)})

    def test_unknown_preset(self, tmp_path: Path) -> None:
        with pytest.raises(ConnectorError, match="preset"):
            import_file(write(tmp_path, "Record ID,Email\n1,a@b.c\n"), config={"preset": "sap"})
