"""Connectors end to end: signed vendor webhooks, handshakes, the Segment-compatible collector
(with a real Segment client library), the pixel, counters and the DLQ, through Kafka to
profiles."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import Engine
from typer.testing import CliRunner

from cli.runtime import Workers
from connectors.mailchimp import encode_form
from tests.contract.samples import FB_LEAD
from tests.helpers import basic, bearer, make_api_key, make_source, message, wait_for

pytestmark = pytest.mark.integration


def profile_by(server: str, key: str, identifier: str, min_sources: int = 1) -> dict[str, Any]:
    def find() -> dict[str, Any] | None:
        r = httpx.get(
            f"{server}/v1/profiles", params={"identifier": identifier}, headers=bearer(key)
        )
        assert r.status_code == 200, r.text
        found = r.json()["profiles"]
        if len(found) == 1 and len(found[0]["sources"]) >= min_sources:
            return dict(found[0])
        return None

    return wait_for(find, timeout=25)


def journey_names(server: str, key: str, profile_id: str, wanted: set[str]) -> set[str]:
    def names() -> set[str] | None:
        r = httpx.get(f"{server}/v1/profiles/{profile_id}/journey", headers=bearer(key))
        got = {t["event"] for t in r.json()["items"]}
        return got if wanted <= got else None

    return wait_for(names, timeout=20)


@dataclass(frozen=True)
class Deliveries:
    """What the four vendors' webhooks answered; the pipeline behind them keeps running for
    the class."""

    server: str
    api_key: str
    sendgrid_signed: httpx.Response
    sendgrid_unsigned: httpx.Response
    mailchimp_ping: httpx.Response
    mailchimp_subscribe: httpx.Response
    hubspot_signed: httpx.Response
    hubspot_tampered: httpx.Response
    facebook_handshake: httpx.Response
    facebook_bad_token: httpx.Response
    facebook_lead: httpx.Response


@pytest.fixture(scope="class")
def deliveries(class_engine: Engine, class_workers: Workers, class_server: str) -> Deliveries:
    """Signed SendGrid, Mailchimp, HubSpot and Facebook deliveries about one person (and the
    refused ones next to them), posted once for the whole class."""
    engine, server = class_engine, class_server
    api_key = make_api_key(engine, "read", "admin")
    private = ec.generate_private_key(ec.SECP256R1())
    public = base64.b64encode(
        private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).decode()
    _, sg_key = make_source(
        engine, connector="sendgrid", name="sg", config={"verification_key": public}
    )
    _, mc_key = make_source(engine, connector="mailchimp", name="mc")
    _, crm_key = make_source(
        engine, connector="crm", name="crm-hs", config={"client_secret": "hs-secret"}
    )
    _, fb_key = make_source(
        engine,
        connector="leadform",
        name="fb",
        config={"app_secret": "fb-secret", "verify_token": "tok"},
    )

    # SendGrid, signed
    body = json.dumps(
        [
            {
                "email": "ann@example.com",
                "event": "open",
                "timestamp": 1795000000,
                "sg_event_id": "sg-open-1",
                "category": "nov",
            }
        ]
    ).encode()
    ts = str(int(time.time()))
    sig = base64.b64encode(private.sign(ts.encode() + body, ec.ECDSA(hashes.SHA256())))
    headers = {
        "X-Twilio-Email-Event-Webhook-Signature": sig.decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": ts,
        "Content-Type": "application/json",
    }
    sendgrid_signed = httpx.post(
        f"{server}/v1/webhooks/sendgrid/sg",
        params={"key": sg_key},
        content=body,
        headers=headers,
    )
    # ...and an unsigned delivery: refused, kept in the DLQ, counted
    unsigned = json.dumps(
        [
            {
                "email": "ann@example.com",
                "event": "delivered",
                "timestamp": 1795000100,
                "sg_event_id": "sg-del-1",
            }
        ]
    ).encode()
    sendgrid_unsigned = httpx.post(
        f"{server}/v1/webhooks/sendgrid/sg", params={"key": sg_key}, content=unsigned
    )

    # Mailchimp: validation ping, then a form-encoded subscribe
    mailchimp_ping = httpx.get(f"{server}/v1/webhooks/mailchimp/mc", params={"key": mc_key})
    form = encode_form(
        {
            "type": "subscribe",
            "fired_at": "2026-11-01 10:00:00",
            "data": {
                "id": "8a25ff1d98",
                "list_id": "a6b5da1054",
                "email": "Ann@Example.com",
                "merges": {"FNAME": "Ann", "LNAME": "Lee"},
            },
        }
    )
    mailchimp_subscribe = httpx.post(
        f"{server}/v1/webhooks/mailchimp/mc",
        params={"key": mc_key},
        content=form,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    # HubSpot v3 into the CRM source, by contact id
    hs_body = json.dumps(
        [
            {
                "objectId": 501,
                "propertyName": "email",
                "propertyValue": "ann@example.com",
                "eventId": 9,
                "portalId": 33,
                "occurredAt": 1795000000000,
                "subscriptionType": "contact.propertyChange",
            }
        ]
    ).encode()
    url = f"{server}/v1/webhooks/hubspot/crm-hs?key={crm_key}"
    stamp = str(int(time.time() * 1000))
    v3 = base64.b64encode(
        hmac.new(
            b"hs-secret", b"POST" + url.encode() + hs_body + stamp.encode(), hashlib.sha256
        ).digest()
    ).decode()
    hubspot_signed = httpx.post(
        url,
        content=hs_body,
        headers={"X-HubSpot-Signature-v3": v3, "X-HubSpot-Request-Timestamp": stamp},
    )
    hubspot_tampered = httpx.post(
        url,
        content=hs_body,
        headers={"X-HubSpot-Signature-v3": "x" + v3[1:], "X-HubSpot-Request-Timestamp": stamp},
    )

    # Facebook: handshake, then a signed lead with the same email
    facebook_handshake = httpx.get(
        f"{server}/v1/webhooks/leadform/fb",
        params={
            "key": fb_key,
            "hub.mode": "subscribe",
            "hub.verify_token": "tok",
            "hub.challenge": "1158201444",
        },
    )
    facebook_bad_token = httpx.get(
        f"{server}/v1/webhooks/leadform/fb",
        params={
            "key": fb_key,
            "hub.mode": "subscribe",
            "hub.verify_token": "no",
            "hub.challenge": "1",
        },
    )
    lead = {
        **FB_LEAD,
        "field_data": [
            {"name": "email", "values": ["ann@example.com"]},
            {"name": "full_name", "values": ["Ann Lee"]},
        ],
    }
    lead_body = json.dumps(lead).encode()
    fb_sig = "sha256=" + hmac.new(b"fb-secret", lead_body, hashlib.sha256).hexdigest()
    facebook_lead = httpx.post(
        f"{server}/v1/webhooks/leadform/fb",
        params={"key": fb_key},
        content=lead_body,
        headers={"X-Hub-Signature-256": fb_sig},
    )
    return Deliveries(
        server=server,
        api_key=api_key,
        sendgrid_signed=sendgrid_signed,
        sendgrid_unsigned=sendgrid_unsigned,
        mailchimp_ping=mailchimp_ping,
        mailchimp_subscribe=mailchimp_subscribe,
        hubspot_signed=hubspot_signed,
        hubspot_tampered=hubspot_tampered,
        facebook_handshake=facebook_handshake,
        facebook_bad_token=facebook_bad_token,
        facebook_lead=facebook_lead,
    )


class TestVendorWebhooksReachOneProfile:
    """One scenario (``deliveries``), one test per behaviour. The DLQ replay changes the
    state, so it comes last."""

    def test_a_signed_sendgrid_delivery_is_accepted(self, deliveries: Deliveries) -> None:
        r = deliveries.sendgrid_signed
        assert r.status_code == 200 and r.json()["accepted"] == 1, r.text

    def test_an_unsigned_sendgrid_delivery_is_refused(self, deliveries: Deliveries) -> None:
        r = deliveries.sendgrid_unsigned
        assert r.status_code == 401 and r.json()["error"]["code"] == "bad_signature"

    def test_mailchimp_validation_ping_and_form_encoded_subscribe(
        self, deliveries: Deliveries
    ) -> None:
        assert deliveries.mailchimp_ping.status_code == 200
        r = deliveries.mailchimp_subscribe
        assert r.status_code == 200 and r.json()["accepted"] == 3, r.text

    def test_hubspot_v3_signed_is_accepted_and_a_tampered_signature_refused(
        self, deliveries: Deliveries
    ) -> None:
        r = deliveries.hubspot_signed
        assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
        assert deliveries.hubspot_tampered.status_code == 401

    def test_facebook_handshake_echoes_the_challenge_and_refuses_a_wrong_token(
        self, deliveries: Deliveries
    ) -> None:
        hub = deliveries.facebook_handshake
        assert (hub.status_code, hub.text) == (200, "1158201444")
        assert deliveries.facebook_bad_token.status_code == 403

    def test_a_signed_facebook_lead_is_accepted(self, deliveries: Deliveries) -> None:
        r = deliveries.facebook_lead
        assert r.status_code == 200 and r.json()["accepted"] == 2, r.text

    def test_all_four_vendors_reach_one_profile_and_its_journey(
        self, deliveries: Deliveries
    ) -> None:
        server, api_key = deliveries.server, deliveries.api_key
        profile = profile_by(server, api_key, "email:ann@example.com", min_sources=4)
        assert {s["channel"] for s in profile["sources"]} >= {"email", "crm", "ads"}
        journey_names(
            server, api_key, profile["id"], {"Email Opened", "Subscribed", "Lead Form Submitted"}
        )

    def test_the_refused_delivery_is_counted_listed_and_replayed(
        self, deliveries: Deliveries, class_cli_env: CliRunner
    ) -> None:
        server, api_key, cli_env = deliveries.server, deliveries.api_key, class_cli_env
        profile = profile_by(server, api_key, "email:ann@example.com", min_sources=4)
        # counters and the DLQ: the refused delivery is listed, then replayed
        src = httpx.get(f"{server}/v1/sources/sg", headers=bearer(api_key)).json()
        assert src["rejected"] == 1
        from cli import app

        listed = cli_env.invoke(app, ["dlq", "list", "--source", "sg"])
        assert listed.exit_code == 0, listed.output
        (letter,) = json.loads(listed.stdout)
        assert "signature" in letter["reason"].lower() and letter["origin"] == "payload"
        replayed = cli_env.invoke(app, ["dlq", "replay", "--id", str(letter["id"])])
        assert replayed.exit_code == 0, replayed.output
        assert json.loads(replayed.stdout)["events_published"] == 1
        journey_names(server, api_key, profile["id"], {"Email Delivered"})
        again = cli_env.invoke(app, ["dlq", "list", "--source", "sg"])
        assert json.loads(again.stdout) == []


class TestSegmentDropIn:
    def test_collector_limits_errors_pixel_and_snippet(
        self, engine: Engine, workers: Workers, server: str
    ) -> None:
        api_key = make_api_key(engine, "read")
        _, key = make_source(
            engine, name="site", config={"rate_limit": {"requests_per_second": 0.5, "burst": 2}}
        )

        ok = httpx.post(
            f"{server}/v1/batch",
            json={
                "writeKey": key,
                "batch": [message("identify", userId="u-px", traits={"email": "px@example.com"})],
            },
        )
        assert ok.status_code == 200 and ok.json() == {"success": True}
        bad = httpx.post(f"{server}/v1/batch", headers=basic(key), content=b"{not json")
        assert bad.status_code == 400
        body = bad.json()
        assert body["code"] == body["error"]["code"] == "invalid_json" and body["message"]
        unknown = httpx.post(f"{server}/v1/track", headers=basic("wk_nope"), json={})
        assert unknown.status_code == 401 and unknown.json()["code"] == "unauthorized"
        limited = httpx.post(
            f"{server}/v1/track",
            headers=basic(key),
            json=message("track", userId="u-px", event="X"),
        )
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) >= 1
        assert limited.json()["code"] == "rate_limited"

        js = httpx.get(f"{server}/v1/kindred.js")
        assert js.status_code == 200 and "javascript" in js.headers["content-type"]
        assert "sendBeacon" in js.text and "kindred_anon_id" in js.text

        _, mail_key = make_source(engine, name="mail")
        gif = httpx.get(
            f"{server}/v1/pixel.gif", params={"k": mail_key, "e": "px@example.com", "c": "nov"}
        )
        assert gif.status_code == 200 and gif.headers["content-type"] == "image/gif"
        assert gif.content.startswith(b"GIF89a")
        assert (
            httpx.get(f"{server}/v1/pixel.gif", params={"k": mail_key, "e": "x"}).status_code == 400
        )
        profile = profile_by(server, api_key, "email:px@example.com", min_sources=2)
        journey_names(server, api_key, profile["id"], {"Email Opened"})

    def test_a_real_segment_client_library(
        self, engine: Engine, workers: Workers, server: str
    ) -> None:
        analytics = pytest.importorskip("segment.analytics")
        api_key = make_api_key(engine, "read")
        _, key = make_source(engine, name="server-sdk")
        errors: list[Any] = []
        client = analytics.Client(
            write_key=key,
            host=server,
            sync_mode=True,
            gzip=True,
            on_error=lambda e, batch: errors.append(e),
            max_retries=1,
        )
        client.identify("sdk-user-1", {"email": "sdk@example.com", "name": "Sam"})
        client.track("sdk-user-1", "Demo Requested", {"plan": "team"})
        client.page("sdk-user-1", "Docs", "Pricing", {"url": "https://ex.com/p?utm_source=sdk"})
        client.group("sdk-user-1", "acme-sdk", {"name": "Acme"})
        client.alias("sdk-anon-1", "sdk-user-1")
        client.flush()
        assert errors == []
        profile = profile_by(server, api_key, "user_id:sdk-user-1")
        journey_names(server, api_key, profile["id"], {"Demo Requested", "Identified"})
