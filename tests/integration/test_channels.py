"""Every channel reaches a profile; records from different channels unify; merged ids answer."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest
from click.testing import Result
from sqlalchemy import Engine
from typer.testing import CliRunner

from cli.runtime import Workers
from kindred.settings import Settings
from tests.helpers import basic, bearer, make_api_key, make_source, message, wait_for

pytestmark = pytest.mark.integration


def _profile_by(server: str, key: str, identifier: str, min_sources: int = 1) -> dict[str, object]:
    def find() -> dict[str, object] | None:
        r = httpx.get(
            f"{server}/v1/profiles", params={"identifier": identifier}, headers=bearer(key)
        )
        assert r.status_code == 200, r.text
        found = r.json()["profiles"]
        if len(found) == 1 and len(found[0]["sources"]) >= min_sources:
            return dict(found[0])
        return None

    return wait_for(find, timeout=25)


@dataclass(frozen=True)
class Channels:
    """What each channel answered for one person; the pipeline keeps running for the class."""

    server: str
    api_key: str
    web: httpx.Response
    sendgrid: httpx.Response
    sendgrid_wrong_key: httpx.Response
    crm_companies: Result
    crm_contacts: Result
    ads: httpx.Response


@pytest.fixture(scope="class")
def channels(
    class_engine: Engine,
    class_workers: Workers,
    class_server: str,
    class_cli_env: CliRunner,
    tmp_path_factory: pytest.TempPathFactory,
) -> Channels:
    """Boris through the web, email, CRM and ads channels, posted once for the whole class."""
    engine, server = class_engine, class_server
    api_key = make_api_key(engine, "read")
    _, web_key = make_source(engine, connector="web", name="site")
    _, sg_key = make_source(engine, connector="sendgrid", name="sg")
    make_source(engine, connector="crm", name="hubspot")
    _, ads_key = make_source(engine, connector="leadform", name="fb")

    # web: identified visitor
    web = httpx.post(
        f"{server}/v1/batch",
        headers=basic(web_key),
        json={
            "batch": [
                message(
                    "identify",
                    userId="usr_77",
                    anonymousId="anon-77",
                    traits={"email": "Boris.Ivanov@Acme.io", "first_name": "Boris"},
                    timestamp="2026-10-01T09:00:00Z",
                ),
                message(
                    "group",
                    userId="usr_77",
                    groupId="acme-web",
                    traits={"name": "Acme", "industry": "manufacturing", "employees": 250},
                ),
            ]
        },
    )

    # email: SendGrid open + click, email in another case
    sg = [
        {
            "email": "boris.ivanov@acme.io",
            "timestamp": 1790000000,
            "event": "open",
            "sg_event_id": "sg-open-1",
            "sg_message_id": "msg-1",
            "category": "newsletter",
        },
        {
            "email": "BORIS.IVANOV@ACME.IO",
            "timestamp": 1790000100,
            "event": "click",
            "sg_event_id": "sg-click-1",
            "sg_message_id": "msg-1",
            "url": "https://acme.io/webinar?utm_source=newsletter&utm_campaign=nov",
        },
        {"timestamp": 1790000200, "event": "open", "sg_event_id": "sg-bad"},
    ]
    sendgrid = httpx.post(f"{server}/v1/webhooks/sendgrid/sg", params={"key": sg_key}, json=sg)
    wrong = httpx.post(f"{server}/v1/webhooks/sendgrid/sg", params={"key": "nope"}, json=sg)

    # CRM: contact with phone + company, through the CLI importer
    tmp_path = tmp_path_factory.mktemp("crm")
    companies = tmp_path / "companies.csv"
    companies.write_text(
        "Record ID,Company name,Company Domain Name,Industry,Number of Employees\n"
        "900,Acme GmbH,https://www.acme.io,Manufacturing,250\n",
        encoding="utf-8",
    )
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(
        "Record ID,First Name,Last Name,Email,Phone Number,Associated Company ID\n"
        "501,Boris,Ivanov, boris.ivanov@acme.io ,+1 (415) 555-0134,900\n"
        ",No,Id,noid@acme.io,,900\n",
        encoding="utf-8",
    )
    from cli import app
    from kindred.settings import get_settings

    get_settings.cache_clear()
    runner = class_cli_env
    crm_companies = runner.invoke(app, ["import", "crm", str(companies), "--source", "hubspot"])
    crm_contacts = runner.invoke(app, ["import", "crm", str(contacts), "--source", "hubspot"])
    get_settings.cache_clear()

    # ads: a Facebook lead with the same phone in another format
    lead = {
        "id": "lead-1",
        "created_time": "2026-11-20T10:15:30+0000",
        "form_id": "f1",
        "ad_id": "ad1",
        "campaign_id": "c1",
        "campaign_name": "Q4 Leads",
        "platform": "fb",
        "field_data": [
            {"name": "full_name", "values": ["Boris Ivanov"]},
            {"name": "phone_number", "values": ["415.555.0134"]},
        ],
    }
    ads = httpx.post(f"{server}/v1/webhooks/leadform/fb", params={"key": ads_key}, json=lead)
    return Channels(
        server=server,
        api_key=api_key,
        web=web,
        sendgrid=sendgrid,
        sendgrid_wrong_key=wrong,
        crm_companies=crm_companies,
        crm_contacts=crm_contacts,
        ads=ads,
    )


def _unified(c: Channels) -> dict[str, object]:
    """Boris's profile once all four channels reached it."""
    return _profile_by(c.server, c.api_key, "phone:+14155550134", min_sources=4)


class TestAllChannelsUnify:
    """One scenario (``channels``), one test per behaviour: web, email, CRM and ads become
    one person with an account."""

    def test_web_identify_and_group_are_accepted(self, channels: Channels) -> None:
        r = channels.web
        assert r.status_code == 200 and r.json() == {"success": True}

    def test_sendgrid_accepts_the_events_with_an_email_and_rejects_the_other(
        self, channels: Channels
    ) -> None:
        r = channels.sendgrid
        assert r.status_code == 200
        assert r.json()["accepted"] == 2
        assert len(r.json()["rejected"]) == 1

    def test_a_wrong_write_key_is_401(self, channels: Channels) -> None:
        assert channels.sendgrid_wrong_key.status_code == 401

    def test_the_crm_import_names_the_bad_row_by_its_line(self, channels: Channels) -> None:
        res = channels.crm_companies
        assert res.exit_code == 0, res.output
        res = channels.crm_contacts
        assert res.exit_code == 0, res.output
        assert '"accepted": 1' in res.stdout and '"rejected": 1' in res.stdout
        assert ":3:" in res.output  # the bad row is named by its line

    def test_the_ads_lead_is_accepted(self, channels: Channels) -> None:
        r = channels.ads
        assert r.status_code == 200 and r.json()["accepted"] == 2

    def test_four_channels_become_one_profile_with_an_account(self, channels: Channels) -> None:
        profile = _unified(channels)
        sources = {s["channel"] for s in profile["sources"]}  # type: ignore[index]
        assert sources == {"web", "email", "crm", "ads"}
        assert profile["account"] is not None

    def test_every_identifier_answers_with_the_same_profile(self, channels: Channels) -> None:
        profile = _unified(channels)
        same = _profile_by(channels.server, channels.api_key, "email:boris.ivanov@acme.io")
        assert same["id"] == profile["id"]
        by_crm = _profile_by(channels.server, channels.api_key, "crm_contact_id:501")
        assert by_crm["id"] == profile["id"]

    def test_the_journey_holds_the_email_and_ads_events(self, channels: Channels) -> None:
        profile = _unified(channels)
        journey = httpx.get(
            f"{channels.server}/v1/profiles/{profile['id']}/journey",
            headers=bearer(channels.api_key),
        ).json()
        events = [t["event"] for t in journey["items"]]
        assert "Email Opened" in events and "Email Link Clicked" in events
        assert "Lead Form Submitted" in events

    def test_explain_names_the_shared_identifier_rule(self, channels: Channels) -> None:
        profile = _unified(channels)
        explain = httpx.get(
            f"{channels.server}/v1/profiles/{profile['id']}/explain",
            headers=bearer(channels.api_key),
        ).json()
        rules = {r["rule"] for r in explain["records"]}
        assert "shared_identifier" in rules


class TestStableIds:
    def test_a_merged_away_id_answers_with_the_survivor(
        self, settings: Settings, engine: Engine, workers: Workers, server: str
    ) -> None:
        api_key = make_api_key(engine, "read")
        _, web_key = make_source(engine)
        # two separate people first...
        httpx.post(
            f"{server}/v1/batch",
            headers=basic(web_key),
            json={
                "batch": [
                    message("identify", userId="first", traits={"email": "one@example.com"}),
                ]
            },
        ).raise_for_status()
        first = _profile_by(server, api_key, "user_id:first")
        httpx.post(
            f"{server}/v1/batch",
            headers=basic(web_key),
            json={
                "batch": [
                    message("identify", userId="second", traits={"phone": "+442071234567"}),
                ]
            },
        ).raise_for_status()
        second = _profile_by(server, api_key, "user_id:second")
        assert first["id"] != second["id"]
        # ...then an alias joins them: the older profile survives
        httpx.post(
            f"{server}/v1/alias",
            headers=basic(web_key),
            json={"previousId": "second", "userId": "first", "messageId": "al-1"},
        ).raise_for_status()

        def merged() -> dict[str, object] | None:
            r = httpx.get(f"{server}/v1/profiles/{second['id']}", headers=bearer(api_key))
            body = r.json()
            return body if body["merged"] else None

        body = wait_for(merged, timeout=20)
        assert body["id"] == first["id"]
        assert body["requested_id"] == second["id"]
        assert body["merged_into"] == first["id"]
        explain = httpx.get(
            f"{server}/v1/profiles/{first['id']}/explain", headers=bearer(api_key)
        ).json()
        assert any(
            m["kind"] == "merge" and m["other_profile_id"] == second["id"]
            for m in explain["merges"]
        )
