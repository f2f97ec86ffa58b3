"""Webhook and browser safety over real HTTP: where the source key may travel, one 401 for an
unknown source and a wrong key, HubSpot's downgrade and stale signatures refused, SendGrid's
replay window, CORS for the collector (per source) and the read API (configured), the
security headers, and the optional /metrics key."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import SecretStr
from sqlalchemy import Engine, text

from kindred.settings import Settings
from tests.helpers import basic, bearer, live_server, make_api_key, make_source, message

pytestmark = pytest.mark.integration

SG_EVENT = [{"email": "ann@example.com", "event": "open", "timestamp": 1795000000}]


def _sg_body(event_id: str) -> bytes:
    return json.dumps([{**SG_EVENT[0], "sg_event_id": event_id}]).encode()


class TestSourceKeyTransport:
    @pytest.mark.parametrize("where", ["bearer", "basic", "x-kindred-key", "query"])
    def test_the_key_is_taken_from_a_header_or_the_query(
        self, engine: Engine, server: str, where: str
    ) -> None:
        name, key = make_source(engine, connector="sendgrid")
        headers = {"Content-Type": "application/json"}
        params: dict[str, str] = {}
        if where == "bearer":
            headers.update(bearer(key))
        elif where == "basic":  # what a https://<key>@host/... webhook URL sends
            headers.update(basic(key))
        elif where == "x-kindred-key":
            headers["X-Kindred-Key"] = key
        else:
            params["key"] = key
        r = httpx.post(
            f"{server}/v1/webhooks/sendgrid/{name}",
            params=params,
            content=_sg_body(f"sg-{where}"),
            headers=headers,
        )
        assert r.status_code == 200, r.text
        assert r.json()["accepted"] == 1

    def test_unknown_source_and_wrong_key_get_the_same_401(
        self, engine: Engine, server: str
    ) -> None:
        sg_name, sg_key = make_source(engine, connector="sendgrid")
        mc_name, mc_key = make_source(engine, connector="mailchimp")
        body = _sg_body("sg-x")
        attempts = {
            "unknown source": ("/v1/webhooks/sendgrid/no-such-source", {"key": sg_key}),
            "wrong key": (f"/v1/webhooks/sendgrid/{sg_name}", {"key": "wk_wrong"}),
            "no key": (f"/v1/webhooks/sendgrid/{sg_name}", {}),
            # a mailchimp source addressed as sendgrid, without its key: no hint of its type
            "other connector": (f"/v1/webhooks/sendgrid/{mc_name}", {"key": sg_key}),
        }
        answers = {}
        for what, (path, params) in attempts.items():
            posted = httpx.post(f"{server}{path}", params=params, content=body)
            got = httpx.get(f"{server}{path}", params=params)
            for r in (posted, got):
                assert r.status_code == 401, (what, r.text)
            answers[what] = (posted.text, posted.headers["www-authenticate"], got.text)
        assert len(set(answers.values())) == 1, answers
        assert "mailchimp" not in str(answers) and "exist" not in str(answers)
        # with the right key the caller may learn that it addressed the wrong connector
        r = httpx.post(
            f"{server}/v1/webhooks/sendgrid/{mc_name}", headers=bearer(mc_key), content=body
        )
        assert r.status_code == 404 and "mailchimp" in r.json()["error"]["message"]


def _v3(secret: str, url: str, body: bytes, stamp: str) -> str:
    signed = b"POST" + url.encode() + body + stamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest()).decode()


class TestHubSpotSignatures:
    BODY = json.dumps(
        [{"objectId": 501, "propertyName": "email", "propertyValue": "hs@example.com",
          "eventId": 9, "portalId": 33, "occurredAt": 1795000000000,
          "subscriptionType": "contact.propertyChange"}]
    ).encode()  # fmt: skip

    def test_v1_is_a_downgrade_and_stale_v3_a_replay(self, engine: Engine, server: str) -> None:
        name, key = make_source(engine, connector="crm", config={"client_secret": "hs-secret"})
        url = f"{server}/v1/webhooks/hubspot/{name}"
        auth = {"X-Kindred-Key": key, "Content-Type": "application/json"}
        v1 = hashlib.sha256(b"hs-secret" + self.BODY).hexdigest()
        legacy = {"X-HubSpot-Signature": v1, "X-HubSpot-Signature-Version": "v1"}
        r = httpx.post(url, content=self.BODY, headers={**auth, **legacy})
        assert r.status_code == 401, r.text
        assert r.json()["error"]["code"] == "bad_signature"
        assert "v3" in r.json()["error"]["message"]

        stale = str(int(time.time() * 1000) - 6 * 60 * 1000)  # correctly signed, 6 min old
        old = {"X-HubSpot-Signature-v3": _v3("hs-secret", url, self.BODY, stale),
               "X-HubSpot-Request-Timestamp": stale}  # fmt: skip
        r = httpx.post(url, content=self.BODY, headers={**auth, **old, **legacy})
        assert r.status_code == 401 and "window" in r.json()["error"]["message"], r.text

        fresh = str(int(time.time() * 1000))
        v3 = {"X-HubSpot-Signature-v3": _v3("hs-secret", url, self.BODY, fresh),
              "X-HubSpot-Request-Timestamp": fresh}  # fmt: skip
        r = httpx.post(url, content=self.BODY, headers={**auth, **v3, **legacy})
        assert r.status_code == 200 and r.json()["accepted"] == 1, r.text

        with engine.connect() as conn:  # both refusals are dead letters of the source
            letters = conn.execute(
                text("SELECT count(*) FROM dead_letters WHERE source = :s"), {"s": name}
            ).scalar_one()
        assert letters == 2


class TestSendGridReplayWindow:
    def test_a_signed_delivery_older_than_the_window_is_refused(
        self, engine: Engine, server: str
    ) -> None:
        private = ec.generate_private_key(ec.SECP256R1())
        public = base64.b64encode(
            private.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        ).decode()
        name, key = make_source(
            engine, connector="sendgrid", config={"verification_key": public}
        )  # no max_age_seconds: the default window applies
        body = _sg_body("sg-replayed")

        def post(stamp: int) -> httpx.Response:
            sig = private.sign(str(stamp).encode() + body, ec.ECDSA(hashes.SHA256()))
            return httpx.post(
                f"{server}/v1/webhooks/sendgrid/{name}",
                content=body,
                headers={
                    **basic(key),
                    "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(sig).decode(),
                    "X-Twilio-Email-Event-Webhook-Timestamp": str(stamp),
                },
            )

        replayed = post(int(time.time()) - 3600)
        assert replayed.status_code == 401, replayed.text
        assert "window" in replayed.json()["error"]["message"]
        fresh = post(int(time.time()))
        assert fresh.status_code == 200 and fresh.json()["accepted"] == 1, fresh.text


PREFLIGHT = {"Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "content-type, authorization"}  # fmt: skip


class TestCollectorCors:
    @pytest.mark.parametrize("path", ["/v1/batch", "/v1/track", "/v1/alias", "/v1/import"])
    def test_preflight_answers_any_origin_without_credentials(self, server: str, path: str) -> None:
        r = httpx.options(
            f"{server}{path}", headers={"Origin": "https://anywhere.example", **PREFLIGHT}
        )
        assert r.status_code == 204, r.text
        assert r.headers["access-control-allow-origin"] == "https://anywhere.example"
        assert "POST" in r.headers["access-control-allow-methods"]
        allowed = {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
        assert {"content-type", "authorization", "content-encoding"} <= allowed
        assert int(r.headers["access-control-max-age"]) > 0
        assert "access-control-allow-credentials" not in r.headers
        assert "origin" in r.headers["vary"].lower()

    def test_tracker_paths_preflight_for_get(self, server: str) -> None:
        for path in ("/v1/pixel.gif", "/v1/kindred.js"):
            r = httpx.options(f"{server}{path}", headers={"Origin": "https://a.example"})
            assert r.status_code == 204
            assert "GET" in r.headers["access-control-allow-methods"]

    def test_the_actual_call_is_checked_against_the_source(
        self, engine: Engine, server: str
    ) -> None:
        _, open_key = make_source(engine)  # no allowed_origins: any origin
        _, shop_key = make_source(
            engine, config={"allowed_origins": "https://shop.example, https://www.shop.example"}
        )
        batch = {"batch": [message("track", userId="u1", event="Viewed")]}

        def post(key: str, origin: str | None, **kw: Any) -> httpx.Response:
            headers = {"Origin": origin} if origin else {}
            return httpx.post(
                f"{server}/v1/batch", headers={**headers, **kw.pop("headers", basic(key))}, **kw
            )

        r = post(open_key, "https://blog.example", json=batch)
        assert r.status_code == 200, r.text
        assert r.headers["access-control-allow-origin"] == "https://blog.example"
        assert "access-control-allow-credentials" not in r.headers

        assert post(shop_key, "https://shop.example", json=batch).status_code == 200
        assert post(shop_key, "https://www.shop.example/", json=batch).status_code == 200
        assert post(shop_key, None, json=batch).status_code == 200  # a server-side SDK
        refused = post(shop_key, "https://evil.example", json=batch)
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"].startswith("application/json")
        assert refused.json()["error"]["code"] == "forbidden"
        assert refused.json()["code"] == "forbidden"  # Segment's shape too
        # the snippet's form: text/plain body with the key inside (no Authorization header)
        beacon = json.dumps({**batch, "writeKey": shop_key})
        r = post(
            shop_key, "https://evil.example", content=beacon, headers={"Content-Type": "text/plain"}
        )
        assert r.status_code == 403, r.text
        r = post(
            shop_key, "https://shop.example", content=beacon, headers={"Content-Type": "text/plain"}
        )
        assert r.status_code == 200, r.text


@pytest.fixture
def configured_server(settings: Settings, engine: Engine) -> Iterator[str]:
    """The API with read-API CORS for one origin and a /metrics key."""
    configured = settings.model_copy(
        update={
            "cors_origins": ("https://console.example",),
            "metrics_key": SecretStr("metrics-secret"),
        }
    )
    with live_server(configured, engine) as url:
        yield url


class TestReadApiCors:
    def test_no_cors_unless_configured(self, engine: Engine, server: str) -> None:
        key = make_api_key(engine, "read")
        origin = {"Origin": "https://console.example"}
        r = httpx.get(f"{server}/v1/segments", headers={**origin, **bearer(key)})
        assert r.status_code == 200
        assert not [h for h in r.headers if h.startswith("access-control-")]
        r = httpx.options(f"{server}/v1/segments", headers={**origin, **PREFLIGHT})
        assert r.status_code == 405  # as before: no preflight answered

    def test_configured_origins_only(self, engine: Engine, configured_server: str) -> None:
        key = make_api_key(engine, "read")
        good = {"Origin": "https://console.example"}
        r = httpx.options(f"{configured_server}/v1/segments", headers={**good, **PREFLIGHT})
        assert r.status_code == 204
        assert r.headers["access-control-allow-origin"] == "https://console.example"
        assert "authorization" in r.headers["access-control-allow-headers"].lower()
        assert "access-control-allow-credentials" not in r.headers
        r = httpx.get(f"{configured_server}/v1/segments", headers={**good, **bearer(key)})
        assert r.headers["access-control-allow-origin"] == "https://console.example"
        other = {"Origin": "https://other.example"}
        r = httpx.get(f"{configured_server}/v1/segments", headers={**other, **bearer(key)})
        assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
        r = httpx.options(f"{configured_server}/v1/segments", headers={**other, **PREFLIGHT})
        assert r.status_code == 405


class TestSecurityHeaders:
    def test_json_answers_are_not_stored_or_sniffed(self, engine: Engine, server: str) -> None:
        key = make_api_key(engine, "read")
        for r in (
            httpx.get(f"{server}/v1/segments", headers=bearer(key)),
            httpx.get(f"{server}/v1/segments"),  # a 401 too
            httpx.get(f"{server}/healthz"),
            httpx.post(f"{server}/v1/batch", json={"batch": []}),
            httpx.get(f"{server}/metrics"),
        ):
            assert r.headers["cache-control"] == "no-store", (r.url, r.headers)
            assert r.headers["x-content-type-options"] == "nosniff", r.url

    def test_the_console_and_snippet_keep_their_own(self, server: str) -> None:
        page = httpx.get(f"{server}/ui/")
        assert page.headers["cache-control"] == "no-cache"
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-content-type-options"] == "nosniff"
        snippet = httpx.get(f"{server}/v1/kindred.js")
        assert snippet.headers["cache-control"] == "public, max-age=300"
        assert snippet.headers["x-content-type-options"] == "nosniff"


class TestMetricsKey:
    def test_open_when_unset(self, server: str) -> None:
        r = httpx.get(f"{server}/metrics")
        assert r.status_code == 200 and "kindred" in r.text

    def test_bearer_required_when_set(self, configured_server: str) -> None:
        url = f"{configured_server}/metrics"
        for headers in ({}, bearer("wrong"), basic("metrics-secret")):
            r = httpx.get(url, headers=headers)
            assert r.status_code == 401, headers
            assert r.json()["error"]["code"] == "unauthorized"
        r = httpx.get(url, headers=bearer("metrics-secret"))
        assert r.status_code == 200 and "kindred" in r.text
