"""Generic ESP CSV exports: subscribers and campaign activity, with UniSender/Sendsay presets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connectors.base import ConnectorError, ParseResult
from connectors.esp import EspCsvConnector


def load(tmp_path: Path, text: str, **config: Any) -> ParseResult:
    path = tmp_path / "export.csv"
    path.write_text(text, encoding="utf-8-sig")
    total = ParseResult()
    for result in EspCsvConnector().parse_file(path, source="esp", config=config):
        total.extend(result)
    return total


class TestSubscribers:
    def test_unisender_russian_headers_and_consent(self, tmp_path: Path) -> None:
        result = load(
            tmp_path,
            "Email;Имя;Телефон;Статус;Списки;Дата добавления\n"
            "anna@example.ru;Анна;+7 495 123-45-67;active;Новости, Акции;2026-01-15 09:30\n"
            "boris@example.ru;Борис;;unsubscribed;Новости;2026-02-01\n",
            preset="unisender",
        )
        anna, boris, unsub, consent = result.events
        assert anna.record_key == "email:anna@example.ru"
        assert anna.traits["name"] == "Анна"
        assert anna.traits["lists"] == ["Новости", "Акции"]
        assert anna.traits["email_consent"] is True
        assert boris.type == "identify" and "email_consent" not in boris.traits
        assert (unsub.event, unsub.properties["consent"]) == ("Unsubscribed", {"email": False})
        assert consent.traits["email_consent"] is False

    def test_generic_english_with_a_mapping(self, tmp_path: Path) -> None:
        result = load(
            tmp_path,
            "Subscriber Email,Given,Status\nann@example.com,Ann,subscribed\n",
            mapping={"Subscriber Email": "email", "Given": "first_name"},
        )
        (event,) = result.events
        assert event.traits["first_name"] == "Ann"

    def test_reimport_is_idempotent(self, tmp_path: Path) -> None:
        text = "Email,Status\nann@example.com,unsubscribed\n"
        first = [e.message_id for e in load(tmp_path, text).events]
        assert first == [e.message_id for e in load(tmp_path, text).events]


class TestActivity:
    def test_sendsay_actions(self, tmp_path: Path) -> None:
        result = load(
            tmp_path,
            "Email;Действие;Дата;Выпуск;Ссылка\n"
            "anna@example.ru;доставлено;2026-11-01 10:00;Ноябрь;\n"
            "anna@example.ru;открытие;2026-11-01 10:05;Ноябрь;\n"
            "anna@example.ru;переход;2026-11-01 10:06;Ноябрь;https://ex.ru/?utm_source=ss\n"
            "anna@example.ru;жалоба на спам;2026-11-01 10:07;Ноябрь;\n"
            "anna@example.ru;прочее;2026-11-01 10:08;Ноябрь;\n",
            preset="sendsay",
        )
        names = [e.event for e in result.events if e.type == "track"]
        assert names == [
            "Email Delivered",
            "Email Opened",
            "Email Link Clicked",
            "Email Marked as Spam",
        ]
        click = result.events[2]
        assert click.properties["campaign_name"] == "Ноябрь"
        assert click.context.campaign is not None and click.context.campaign.source == "ss"
        assert result.events[-1].traits["email_consent"] is False
        assert "прочее" in result.rejected[0].reason and result.rejected[0].index == 6

    def test_english_activity(self, tmp_path: Path) -> None:
        result = load(tmp_path, "email,event,timestamp,campaign\na@b.io,bounced,1795000000,Nov\n")
        assert result.events[0].event == "Email Bounced"


class TestBadFiles:
    def test_no_email_column(self, tmp_path: Path) -> None:
        with pytest.raises(ConnectorError, match="no email column"):
            load(tmp_path, "Name,Status\nAnn,active\n")

    def test_unknown_preset(self, tmp_path: Path) -> None:
        with pytest.raises(ConnectorError, match="preset"):
            load(tmp_path, "Email\na@b.io\n", preset="mailru")

    def test_bad_rows(self, tmp_path: Path) -> None:
        result = load(tmp_path, "Email,Status\nnot-an-email,active\n,active\nok@b.io,active\n")
        assert len(result.events) == 1 and len(result.rejected) == 2
