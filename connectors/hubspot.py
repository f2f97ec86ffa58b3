"""HubSpot webhooks (the app Webhooks API): a JSON array of subscription events.

Each event names an object by id (``objectId``) and, for ``*.propertyChange``, one property
(``propertyName`` / ``propertyValue``). They update the same CRM records as the CSV importer
(:mod:`connectors.crm`): contacts are ``recordKey = "contact:<id>"``, companies are accounts
``groupId = "crm:<id>"``. A HubSpot webhook may therefore post to a ``crm`` source (the one
the HubSpot CSV exports go to) as well as to a ``hubspot`` one.

- ``contact.creation`` / ``contact.propertyChange`` / ``contact.restore`` -> identify (the
  changed property as a trait, HubSpot names mapped to Kindred's: ``firstname`` ->
  ``first_name``...); ``hs_email_optout = true`` also withdraws email consent;
- ``contact.deletion`` / ``contact.privacyDeletion`` -> track "CRM Contact Deleted";
- ``contact.associationChange`` / ``company.associationChange`` (contact <-> company) ->
  identify linking the contact to its company;
- ``company.creation`` / ``company.propertyChange`` -> group (account traits);
- ``deal.creation`` -> track "Deal Created"; ``deal.propertyChange`` of ``dealstage`` -> track
  "Deal Stage Changed" (other properties: "Deal Updated"), about ``recordKey = "deal:<id>"``;
  a deal <-> contact association -> track "Deal Associated" on the contact.

When the source config holds the app's ``client_secret``, every request must carry a valid
v3 signature (``X-HubSpot-Signature-v3`` with an ``X-HubSpot-Request-Timestamp`` less than 5
minutes off); the legacy ``X-HubSpot-Signature`` (v1/v2, no timestamp, replayable) is refused
even when it matches. ``public_url`` (the URL HubSpot calls, if a proxy rewrites it) is
used in the signed string instead of the URL Kindred saw.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from connectors.base import (
    Connector,
    ParseResult,
    Rejection,
    load_json_items,
    stable_message_id,
)
from connectors.consent import with_consent
from connectors.signatures import verify_hubspot

#: HubSpot internal property names -> Kindred trait names (contacts)
CONTACT_PROPERTIES = {
    "firstname": "first_name",
    "lastname": "last_name",
    "email": "email",
    "phone": "phone",
    "mobilephone": "mobile_phone",
    "jobtitle": "job_title",
    "company": "company",
    "city": "city",
    "country": "country",
    "lifecyclestage": "lifecycle_stage",
    "hs_lead_status": "lead_status",
    "associatedcompanyid": "crm_company_id",
}
#: (companies)
COMPANY_PROPERTIES = {
    "name": "name",
    "domain": "domain",
    "website": "domain",
    "industry": "industry",
    "numberofemployees": "employees",
    "annualrevenue": "annual_revenue",
    "city": "city",
    "country": "country",
}
OBJECTS = ("contact", "company", "deal")


class HubSpotWebhookConnector(Connector):
    name = "hubspot"
    channel = "crm"
    description = (
        "HubSpot webhooks: contact/company/deal creation, property and association changes"
    )
    webhook = True
    identifiers = ("crm_contact_id", "email", "phone")
    traits = (*sorted(set(CONTACT_PROPERTIES.values())), "email_consent")
    config_keys = ("client_secret", "public_url")
    shares_sources_with = ("crm",)

    def verify_request(
        self,
        *,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        config: Mapping[str, Any],
    ) -> None:
        secret = config.get("client_secret")
        if not secret:
            return
        verify_hubspot(
            client_secret=str(secret),
            method=method,
            url=_public_url(url, config.get("public_url")),
            headers=headers,
            body=body,
        )

    def parse_payload(
        self,
        body: bytes,
        *,
        source: str,
        content_type: str | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> ParseResult:
        error = "a HubSpot webhook body must be a JSON array of events"
        items = load_json_items(body, error=error)
        result = ParseResult()
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                result.rejected.append(Rejection(index, "an event must be a JSON object", item))
                continue
            events, problem = _events(item, source=source)
            if problem:
                result.rejected.append(Rejection(index, problem, item))
                continue
            if not events:
                result.notes.append(
                    f"item {index}: {item.get('subscriptionType')} "
                    f"({item.get('associationType')}) involves no contact; acknowledged"
                )
            for event in events:
                result.add(index, event, raw=item)
        return result


def _public_url(seen: str, public: Any) -> str:
    """The URL HubSpot signed: ``public_url``'s scheme/host/path with the query Kindred saw."""
    if not isinstance(public, str) or not public:
        return seen
    base = urlsplit(public)
    query = urlsplit(seen).query
    return urlunsplit((base.scheme, base.netloc, base.path, query, ""))


def _id(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value == int(value):
        return str(int(value))
    if isinstance(value, str) and value.strip().isdigit():
        return value.strip()
    return None


def _events(item: dict[str, Any], *, source: str) -> tuple[list[dict[str, Any]], str]:
    kind = item.get("subscriptionType")
    if not isinstance(kind, str) or "." not in kind:
        return [], "subscriptionType: missing (e.g. contact.propertyChange)"
    obj, _, action = kind.partition(".")
    if obj not in OBJECTS:
        return [], f"subscriptionType: {kind!r} is not about contacts, companies or deals"
    event_id = _id(item.get("eventId"))
    message_id = (
        f"hubspot:{item.get('portalId')}:{event_id}"
        if event_id
        else stable_message_id(source, "hubspot", item)
    )
    occurred = item.get("occurredAt")
    timestamp = None
    if occurred is not None:
        try:
            timestamp = datetime.fromtimestamp(float(occurred) / 1000, UTC)
        except (TypeError, ValueError, OverflowError, OSError):
            return [], f"occurredAt: expected epoch milliseconds, got {occurred!r}"
    base: dict[str, Any] = {
        "source": source,
        "channel": "crm",
        "messageId": message_id,
        "timestamp": timestamp,
        "properties": {},
    }
    props = {
        k: v
        for k, v in {
            "portal_id": item.get("portalId"),
            "change_source": item.get("changeSource"),
            "subscription_id": item.get("subscriptionId"),
        }.items()
        if v is not None
    }
    if action == "associationChange":
        return _association(item, base, props)
    object_id = _id(item.get("objectId"))
    if object_id is None:
        return [], "objectId: missing or not a HubSpot id"
    prop_name = item.get("propertyName")
    prop_value = item.get("propertyValue")
    if action == "propertyChange" and not isinstance(prop_name, str):
        return [], "propertyName: missing on a propertyChange event"
    if obj == "contact":
        return _contact(action, object_id, base, props, prop_name, prop_value), ""
    if obj == "company":
        return _company(action, object_id, base, prop_name, prop_value), ""
    return _deal(action, object_id, base, props, prop_name, prop_value), ""


def _contact_ref(object_id: str) -> dict[str, Any]:
    return {
        "recordKey": "contact:" + object_id,
        "context": {
            "externalIds": [{"id": object_id, "type": "crm_contact_id", "collection": "users"}]
        },
    }


def _contact(
    action: str,
    object_id: str,
    base: dict[str, Any],
    props: dict[str, Any],
    prop_name: Any,
    prop_value: Any,
) -> list[dict[str, Any]]:
    ref = _contact_ref(object_id)
    if action in ("deletion", "privacyDeletion"):
        return [
            {
                **base,
                **ref,
                "type": "track",
                "event": "CRM Contact Deleted",
                "properties": {**props, "contact_id": object_id, "reason": action},
            }
        ]
    traits: dict[str, Any] = {"crm_contact_id": object_id}
    if action == "propertyChange" and isinstance(prop_name, str):
        trait = CONTACT_PROPERTIES.get(prop_name, prop_name)
        traits[trait] = prop_value
        if trait == "crm_company_id" and _id(prop_value):
            ref["context"]["groupId"] = f"crm:{_id(prop_value)}"
        if prop_name == "hs_email_optout" and str(prop_value).lower() in ("true", "false"):
            granted = str(prop_value).lower() == "false"
            track = {
                **base,
                **ref,
                "messageId": base["messageId"] + ":optout",
                "type": "track",
                "event": "Unsubscribed" if not granted else "Resubscribed",
                "properties": {**props, "reason": "hs_email_optout"},
            }
            return [
                {**base, **ref, "type": "identify", "traits": traits},
                *with_consent(track, granted=granted),
            ]
    return [{**base, **ref, "type": "identify", "traits": traits}]


def _company(
    action: str, object_id: str, base: dict[str, Any], prop_name: Any, prop_value: Any
) -> list[dict[str, Any]]:
    traits: dict[str, Any] = {"crm_company_id": object_id}
    if action in ("deletion", "privacyDeletion"):
        traits["crm_deleted"] = True
    elif action == "propertyChange" and isinstance(prop_name, str):
        traits[COMPANY_PROPERTIES.get(prop_name, prop_name)] = prop_value
    return [
        {
            **base,
            "type": "group",
            "groupId": "crm:" + object_id,
            "traits": traits,
            "context": {
                "externalIds": [
                    {"id": object_id, "type": "crm_company_id", "collection": "accounts"}
                ]
            },
        }
    ]


def _deal(
    action: str,
    object_id: str,
    base: dict[str, Any],
    props: dict[str, Any],
    prop_name: Any,
    prop_value: Any,
) -> list[dict[str, Any]]:
    properties: dict[str, Any] = {**props, "deal_id": object_id}
    if action == "creation":
        name = "Deal Created"
    elif action == "propertyChange" and prop_name == "dealstage":
        name = "Deal Stage Changed"
        properties["stage"] = prop_value
    elif action == "propertyChange":
        name = "Deal Updated"
        properties["property"] = prop_name
        properties["value"] = prop_value
    elif action in ("deletion", "privacyDeletion"):
        name = "Deal Deleted"
    else:
        name = f"Deal {action}"
    return [
        {
            **base,
            "type": "track",
            "event": name,
            "recordKey": "deal:" + object_id,
            "properties": properties,
            "context": {
                "externalIds": [{"id": object_id, "type": "crm_deal_id", "collection": "deals"}]
            },
        }
    ]


def _association(
    item: dict[str, Any], base: dict[str, Any], props: dict[str, Any]
) -> tuple[list[dict[str, Any]], str]:
    kind = str(item.get("associationType") or "").upper()
    left, right = _id(item.get("fromObjectId")), _id(item.get("toObjectId"))
    if not kind or left is None or right is None:
        return [], "associationChange needs associationType, fromObjectId and toObjectId"
    removed = item.get("associationRemoved") is True
    pair = kind.split("_TO_")
    if len(pair) != 2:
        return [], f"associationType: {kind!r} is not FROM_TO_TO"
    ids = {pair[0]: left, pair[1]: right}
    contact = ids.get("CONTACT")
    if contact is None:
        return [], ""  # company <-> deal and the like: nothing about a person to record
    if "COMPANY" in ids:
        traits: dict[str, Any] = {"crm_contact_id": contact}
        ref = _contact_ref(contact)
        if not removed:
            traits["crm_company_id"] = ids["COMPANY"]
            ref["context"]["groupId"] = "crm:" + ids["COMPANY"]
        return [{**base, **ref, "type": "identify", "traits": traits}], ""
    if "DEAL" in ids:
        event = "Deal Unassociated" if removed else "Deal Associated"
        return [
            {
                **base,
                **_contact_ref(contact),
                "type": "track",
                "event": event,
                "properties": {**props, "deal_id": ids["DEAL"]},
            }
        ], ""
    return [], ""
