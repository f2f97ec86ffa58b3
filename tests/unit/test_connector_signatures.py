"""Vendor signatures through ``Connector.verify`` / ``verify_request``: positive and negative."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from connectors.base import ConnectorError
from connectors.registry import get_connector
from connectors.signatures import hubspot_uri

BODY = json.dumps([{"email": "ann@example.com", "event": "open", "timestamp": 1795000000}]).encode()


def _now() -> str:
    return str(int(time.time()))


def _sendgrid_keys() -> tuple[ec.EllipticCurvePrivateKey, str]:
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, base64.b64encode(der).decode()


def _sendgrid_headers(
    private: ec.EllipticCurvePrivateKey, body: bytes, timestamp: str
) -> dict[str, str]:
    signature = private.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
    }


class TestSendGrid:
    def test_valid_signature_passes(self) -> None:
        private, public = _sendgrid_keys()
        headers = _sendgrid_headers(private, BODY, _now())
        config = {"verification_key": public}
        assert get_connector("sendgrid").verify(headers=headers, body=BODY, config=config) is None
        # it passed because the signature matched: the same headers over another body do not
        with pytest.raises(ConnectorError) as err:
            get_connector("sendgrid").verify(headers=headers, body=BODY + b" ", config=config)
        assert err.value.status_code == 401

    def test_pem_key_and_lower_case_headers(self) -> None:
        private, _ = _sendgrid_keys()
        pem = private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        headers = {k.lower(): v for k, v in _sendgrid_headers(private, BODY, _now()).items()}
        config = {"verification_key": pem.decode()}
        assert get_connector("sendgrid").verify(headers=headers, body=BODY, config=config) is None
        # the lower-case headers were read and checked, not skipped
        with pytest.raises(ConnectorError) as err:
            get_connector("sendgrid").verify(headers=headers, body=BODY + b" ", config=config)
        assert err.value.status_code == 401

    @pytest.mark.parametrize("tamper", ["body", "timestamp", "key", "missing", "garbage"])
    def test_invalid_signatures_are_401(self, tamper: str) -> None:
        private, public = _sendgrid_keys()
        headers = _sendgrid_headers(private, BODY, _now())
        body = BODY
        if tamper == "body":
            body = BODY.replace(b"open", b"click")
        elif tamper == "timestamp":
            headers["X-Twilio-Email-Event-Webhook-Timestamp"] = str(int(_now()) + 1)
        elif tamper == "key":
            public = _sendgrid_keys()[1]
        elif tamper == "missing":
            headers = {}
        else:
            headers["X-Twilio-Email-Event-Webhook-Signature"] = "!!not base64!!"
        with pytest.raises(ConnectorError) as err:
            get_connector("sendgrid").verify(
                headers=headers, body=body, config={"verification_key": public}
            )
        assert err.value.status_code == 401

    def test_max_age(self) -> None:
        private, public = _sendgrid_keys()
        headers = _sendgrid_headers(private, BODY, str(int(time.time()) - 3600))
        with pytest.raises(ConnectorError, match="window"):
            get_connector("sendgrid").verify(
                headers=headers,
                body=BODY,
                config={"verification_key": public, "max_age_seconds": 300},
            )

    @pytest.mark.parametrize("config_window", [None, 0, "", "nan", -5])
    def test_a_replay_outside_the_default_window_is_refused(self, config_window: object) -> None:
        """No window configured (or a non-positive one): the default 10 minutes holds."""
        private, public = _sendgrid_keys()
        config: dict[str, object] = {"verification_key": public}
        if config_window is not None:
            config["max_age_seconds"] = config_window
        for age in (11 * 60, -11 * 60):  # captured an hour ago, or stamped in the future
            headers = _sendgrid_headers(private, BODY, str(int(time.time()) - age))
            with pytest.raises(ConnectorError, match="window") as err:
                get_connector("sendgrid").verify(headers=headers, body=BODY, config=config)
            assert err.value.status_code == 401
        fresh = _sendgrid_headers(private, BODY, str(int(time.time()) - 9 * 60))
        get_connector("sendgrid").verify(headers=fresh, body=BODY, config=config)

    def test_a_wider_window_can_be_configured(self) -> None:
        private, public = _sendgrid_keys()
        headers = _sendgrid_headers(private, BODY, str(int(time.time()) - 3600))
        wide = {"verification_key": public, "max_age_seconds": 7200}
        assert get_connector("sendgrid").verify(headers=headers, body=BODY, config=wide) is None
        # an hour old is outside the default window: only the configured one lets it through
        with pytest.raises(ConnectorError, match="window"):
            get_connector("sendgrid").verify(
                headers=headers, body=BODY, config={"verification_key": public}
            )

    def test_unsigned_source_accepts(self) -> None:
        assert get_connector("sendgrid").verify(headers={}, body=BODY, config={}) is None
        # it accepts because the source has no key, not because verify checks nothing
        with pytest.raises(ConnectorError) as err:
            get_connector("sendgrid").verify(
                headers={}, body=BODY, config={"verification_key": _sendgrid_keys()[1]}
            )
        assert err.value.status_code == 401


SECRET = "hubspot-client-secret"
URL = "https://cdp.example.com/v1/webhooks/hubspot/hs?key=wk_abc"


def _hubspot_headers(body: bytes, *, method: str = "POST", url: str = URL, ts: int | None = None):  # type: ignore[no-untyped-def]
    timestamp = str(ts if ts is not None else int(time.time() * 1000))
    message = method.encode() + url.encode() + body + timestamp.encode()
    signature = base64.b64encode(hmac.new(SECRET.encode(), message, hashlib.sha256).digest())
    return {"X-HubSpot-Signature-v3": signature.decode(), "X-HubSpot-Request-Timestamp": timestamp}


class TestHubSpot:
    def verify(
        self, headers: dict[str, str], body: bytes = BODY, url: str = URL, **config: str
    ) -> None:
        return get_connector("hubspot").verify_request(
            method="POST",
            url=url,
            headers=headers,
            body=body,
            config={"client_secret": SECRET, **config},
        )

    def test_v3_valid(self) -> None:
        headers = _hubspot_headers(BODY)
        assert self.verify(headers) is None
        with pytest.raises(ConnectorError) as err:  # the same signature, another body
            self.verify(headers, body=BODY + b" ")
        assert err.value.status_code == 401

    def test_v3_public_url_behind_a_proxy(self) -> None:
        headers = _hubspot_headers(BODY)
        internal = "http://10.0.0.5:8000/v1/webhooks/hubspot/hs?key=wk_abc"
        assert (
            self.verify(
                headers, url=internal, public_url="https://cdp.example.com/v1/webhooks/hubspot/hs"
            )
            is None
        )
        # without public_url the internal URL is what gets checked, and it was not signed
        with pytest.raises(ConnectorError) as err:
            self.verify(headers, url=internal)
        assert err.value.status_code == 401

    def test_v3_uri_escapes_are_decoded_before_signing(self) -> None:
        assert hubspot_uri("https://x.io/a%3Ab?c=%40d%2Ce") == "https://x.io/a:b?c=@d,e"

    @pytest.mark.parametrize("tamper", ["body", "secret", "old", "future", "no_ts", "missing"])
    def test_v3_invalid(self, tamper: str) -> None:
        headers = _hubspot_headers(BODY)
        body, secret = BODY, SECRET
        now_ms = int(time.time() * 1000)
        if tamper == "body":
            body = BODY + b" "
        elif tamper == "secret":
            secret = "other"
        elif tamper == "old":
            headers = _hubspot_headers(BODY, ts=now_ms - 6 * 60 * 1000)
        elif tamper == "future":
            headers = _hubspot_headers(BODY, ts=now_ms + 6 * 60 * 1000)
        elif tamper == "no_ts":
            del headers["X-HubSpot-Request-Timestamp"]
        else:
            headers = {}
        with pytest.raises(ConnectorError) as err:
            get_connector("hubspot").verify_request(
                method="POST", url=URL, headers=headers, body=body, config={"client_secret": secret}
            )
        assert err.value.status_code == 401

    @pytest.mark.parametrize("version", [None, "v1", "v2"])
    def test_legacy_signatures_are_refused_when_the_source_has_a_client_secret(
        self, version: str | None
    ) -> None:
        """v1/v2 sign no timestamp: accepting them would let a captured request be replayed
        for ever, bypassing v3's window (a downgrade). Valid ones are refused too."""
        v1 = hashlib.sha256(SECRET.encode() + BODY).hexdigest()
        v2 = hashlib.sha256(SECRET.encode() + b"POST" + URL.encode() + BODY).hexdigest()
        headers = {"X-HubSpot-Signature": v2 if version == "v2" else v1}
        if version:
            headers["X-HubSpot-Signature-Version"] = version
        with pytest.raises(ConnectorError, match="only X-HubSpot-Signature-v3") as err:
            self.verify(headers)
        assert err.value.status_code == 401

    def test_v3_alongside_v1_passes(self) -> None:
        """What HubSpot really sends: both headers; v3 decides."""
        v1 = hashlib.sha256(SECRET.encode() + BODY).hexdigest()
        self.verify({**_hubspot_headers(BODY), "X-HubSpot-Signature": v1})
        with pytest.raises(ConnectorError):
            self.verify({**_hubspot_headers(BODY, ts=0), "X-HubSpot-Signature": v1})

    def test_unsigned_source_accepts(self) -> None:
        hubspot = get_connector("hubspot")
        assert (
            hubspot.verify_request(method="POST", url=URL, headers={}, body=BODY, config={}) is None
        )
        # it accepts because the source has no client secret, not because nothing is checked
        with pytest.raises(ConnectorError) as err:
            self.verify({})
        assert err.value.status_code == 401


class TestFacebook:
    def sign(self, body: bytes, secret: str = "app-secret") -> dict[str, str]:
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return {"X-Hub-Signature-256": f"sha256={digest}"}

    def test_valid(self) -> None:
        config = {"app_secret": "app-secret"}
        leadform = get_connector("leadform")
        assert leadform.verify(headers=self.sign(BODY), body=BODY, config=config) is None
        with pytest.raises(ConnectorError) as err:  # the same signature, another body
            leadform.verify(headers=self.sign(BODY), body=BODY + b" ", config=config)
        assert err.value.status_code == 401

    @pytest.mark.parametrize(
        "headers",
        [
            {},
            {"X-Hub-Signature-256": "sha1=abc"},
            {"X-Hub-Signature-256": "sha256="},
            {"X-Hub-Signature-256": "sha256=" + "0" * 64},
        ],
    )
    def test_invalid(self, headers: dict[str, str]) -> None:
        with pytest.raises(ConnectorError) as err:
            get_connector("leadform").verify(
                headers=headers, body=BODY, config={"app_secret": "app-secret"}
            )
        assert err.value.status_code == 401

    def test_wrong_secret(self) -> None:
        with pytest.raises(ConnectorError):
            get_connector("leadform").verify(
                headers=self.sign(BODY, "other"), body=BODY, config={"app_secret": "app-secret"}
            )

    def test_handshake(self) -> None:
        reply = get_connector("leadform").handshake(
            params={
                "hub.mode": "subscribe",
                "hub.verify_token": "tok",
                "hub.challenge": "1158201444",
            },
            config={"verify_token": "tok"},
        )
        assert (reply.status_code, reply.body) == (200, "1158201444")

    @pytest.mark.parametrize(
        ("params", "config", "status"),
        [
            (
                {"hub.mode": "subscribe", "hub.verify_token": "bad", "hub.challenge": "1"},
                {"verify_token": "tok"},
                403,
            ),
            (
                {"hub.mode": "unsubscribe", "hub.verify_token": "tok", "hub.challenge": "1"},
                {"verify_token": "tok"},
                400,
            ),
            ({"hub.mode": "subscribe", "hub.verify_token": "tok"}, {"verify_token": "tok"}, 400),
            ({"hub.mode": "subscribe", "hub.verify_token": "tok", "hub.challenge": "1"}, {}, 403),
        ],
    )
    def test_handshake_refused(
        self, params: dict[str, str], config: dict[str, str], status: int
    ) -> None:
        with pytest.raises(ConnectorError) as err:
            get_connector("leadform").handshake(params=params, config=config)
        assert err.value.status_code == status

    def test_connectors_without_a_handshake_answer_405(self) -> None:
        with pytest.raises(ConnectorError) as err:
            get_connector("sendgrid").handshake(params={}, config={})
        assert err.value.status_code == 405
