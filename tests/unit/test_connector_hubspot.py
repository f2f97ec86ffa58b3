"""HubSpot webhooks: contact/company/deal creation, property and association changes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from connectors.base import ParseResult
from connectors.hubspot import HubSpotWebhookConnector
from connectors.registry import connects_to, get_connector


def hs(kind: str, **extra: Any) -> dict[str, Any]:
    return {
        "eventId": 100 + len(extra),
        "subscriptionId": 25,
        "portalId": 33,
        "appId": 1160452,
        "occurredAt": 1795000000000,
        "subscriptionType": kind,
        "attemptNumber": 0,
        "changeSource": "CRM_UI",
        **extra,
    }


def parse(items: list[dict[str, Any]]) -> ParseResult:
    return HubSpotWebhookConnector().parse_payload(json.dumps(items).encode(), source="hs")


class TestContacts:
    def test_creation_and_property_change_update_the_crm_record_by_id(self) -> None:
        created, changed = parse(
            [
                hs("contact.creation", objectId=501),
                hs(
                    "contact.propertyChange",
                    objectId=501,
                    propertyName="firstname",
                    propertyValue="Boris",
                    eventId=7,
                ),
            ]
        ).events
        assert created.type == changed.type == "identify"
        assert created.record_key == changed.record_key == "contact:501"
        assert changed.traits == {"crm_contact_id": "501", "first_name": "Boris"}
        assert changed.message_id == "hubspot:33:7"
        assert changed.timestamp == datetime.fromtimestamp(1795000000, UTC)
        ext = changed.context.external_ids
        assert ext is not None and (ext[0].type, ext[0].id) == ("crm_contact_id", "501")

    def test_email_optout_withdraws_consent(self) -> None:
        events = parse(
            [
                hs(
                    "contact.propertyChange",
                    objectId=5,
                    propertyName="hs_email_optout",
                    propertyValue="true",
                )
            ]
        ).events
        assert [e.type for e in events] == ["identify", "track", "identify"]
        assert events[1].properties["consent"] == {"email": False}
        assert events[2].traits["email_consent"] is False

    def test_company_association_links_the_contact(self) -> None:
        (event,) = parse(
            [
                hs(
                    "contact.associationChange",
                    associationType="CONTACT_TO_COMPANY",
                    fromObjectId=501,
                    toObjectId=900,
                    associationRemoved=False,
                )
            ]
        ).events
        assert event.context.group_id == "crm:900"
        assert event.traits["crm_company_id"] == "900"

    def test_deletion(self) -> None:
        (event,) = parse([hs("contact.deletion", objectId=501)]).events
        assert event.event == "CRM Contact Deleted"


class TestCompaniesAndDeals:
    def test_company_is_an_account(self) -> None:
        (event,) = parse(
            [
                hs(
                    "company.propertyChange",
                    objectId=900,
                    propertyName="domain",
                    propertyValue="acme.io",
                )
            ]
        ).events
        assert (event.type, event.group_id, event.traits["domain"]) == (
            "group",
            "crm:900",
            "acme.io",
        )

    def test_deal_stage_change(self) -> None:
        created, stage, other = parse(
            [
                hs("deal.creation", objectId=77),
                hs(
                    "deal.propertyChange",
                    objectId=77,
                    propertyName="dealstage",
                    propertyValue="closedwon",
                    eventId=2,
                ),
                hs(
                    "deal.propertyChange",
                    objectId=77,
                    propertyName="amount",
                    propertyValue="5",
                    eventId=3,
                ),
            ]
        ).events
        assert created.event == "Deal Created"
        assert (stage.event, stage.properties["stage"]) == ("Deal Stage Changed", "closedwon")
        assert stage.record_key == "deal:77"
        assert other.event == "Deal Updated"

    def test_deal_association_is_a_touchpoint_on_the_contact(self) -> None:
        (event,) = parse(
            [
                hs(
                    "deal.associationChange",
                    associationType="DEAL_TO_CONTACT",
                    fromObjectId=77,
                    toObjectId=501,
                )
            ]
        ).events
        assert (event.event, event.record_key) == ("Deal Associated", "contact:501")
        assert event.properties["deal_id"] == "77"


class TestBadInputAndSharing:
    def test_rejections(self) -> None:
        result = parse(
            [
                hs("contact.propertyChange", objectId=1),
                hs("ticket.creation", objectId=1),
                hs("contact.creation"),
                {"objectId": 1},
                hs("contact.creation", objectId=2, occurredAt="soon"),
            ]
        )
        reasons = [r.reason for r in result.rejected]
        assert len(reasons) == 5
        assert "propertyName" in reasons[0] and "ticket" in reasons[1]

    def test_company_deal_association_is_acknowledged(self) -> None:
        result = parse(
            [
                hs(
                    "company.associationChange",
                    associationType="COMPANY_TO_DEAL",
                    fromObjectId=1,
                    toObjectId=2,
                )
            ]
        )
        assert result.events == [] and result.rejected == [] and result.notes

    def test_hubspot_webhooks_may_feed_a_crm_source(self) -> None:
        assert connects_to(get_connector("hubspot"), "crm")
        assert not connects_to(get_connector("sendgrid"), "crm")
