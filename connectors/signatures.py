"""Vendor webhook signatures: small pure functions, one per scheme.

Each raises :class:`ConnectorError` with ``status_code=401`` and a reason that tells the sender
(or the operator reading the DLQ) what did not match, and never says what would have.

Replays: a scheme that signs a timestamp is refused outside its window, in the past or the
future (clock skew counts both ways); inside the window a replayed delivery carries the
vendor's event ids, which become the events' message ids, so ingest counts it once.

- SendGrid signed Event Webhook: ECDSA (P-256, SHA-256) over ``timestamp + body``; the
  signature is base64 DER in ``X-Twilio-Email-Event-Webhook-Signature``, the timestamp
  (epoch seconds) in ``X-Twilio-Email-Event-Webhook-Timestamp``, which must be within
  ``SENDGRID_MAX_AGE_S`` (10 minutes; a source may set another positive window); the public
  key is the base64 DER (or PEM) "verification key" shown in SendGrid's settings.
- HubSpot v3: base64 HMAC-SHA256 (app client secret) of ``method + uri + body + timestamp``
  in ``X-HubSpot-Signature-v3``; ``X-HubSpot-Request-Timestamp`` is epoch milliseconds and
  must be within 5 minutes. It is the only HubSpot signature accepted: the legacy
  ``X-HubSpot-Signature`` (v1 ``sha256(secret + body)``, v2 with method and URI) signs no
  timestamp, so a captured request could be replayed for ever; HubSpot sends v3 alongside
  it on every app webhook, so refusing v1/v2 loses nothing but the downgrade.
- Facebook (Meta) ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>``.
  Meta signs no timestamp, so there is no window: what protects a lead source against a
  replayed notification is idempotence (message ids derive from the leadgen id, a replay
  changes nothing) and the write key in the URL.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping
from urllib.parse import unquote

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_public_key

from connectors.base import ConnectorError

SENDGRID_SIGNATURE = "x-twilio-email-event-webhook-signature"
SENDGRID_TIMESTAMP = "x-twilio-email-event-webhook-timestamp"
HUBSPOT_SIGNATURE_V3 = "x-hubspot-signature-v3"
HUBSPOT_SIGNATURE = "x-hubspot-signature"
HUBSPOT_TIMESTAMP = "x-hubspot-request-timestamp"
HUB_SIGNATURE_256 = "x-hub-signature-256"
HUBSPOT_MAX_AGE_MS = 5 * 60 * 1000
#: default window of SendGrid's signed timestamp (seconds)
SENDGRID_MAX_AGE_S = 10 * 60


def _fail(message: str) -> ConnectorError:
    return ConnectorError(message, status_code=401, code="bad_signature")


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by case-insensitive name (ASGI lower-cases them; tests and callers may not)."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        for key, candidate in headers.items():
            if key.lower() == lowered:
                value = candidate
                break
    value = value.strip() if isinstance(value, str) else None
    return value or None


def hmac_sha256(secret: str | bytes, message: bytes) -> bytes:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, message, hashlib.sha256).digest()


# --------------------------------------------------------------------------- SendGrid


def load_ec_public_key(key: str) -> ec.EllipticCurvePublicKey:
    """SendGrid's verification key: base64 DER SubjectPublicKeyInfo, or a PEM block."""
    text = key.strip()
    try:
        if text.startswith("-----BEGIN"):
            loaded = load_pem_public_key(text.encode())
        else:
            loaded = load_der_public_key(base64.b64decode(text, validate=False))
    except (ValueError, binascii.Error, UnsupportedAlgorithm) as err:
        raise ConnectorError(
            "the source's SendGrid verification key is not a valid public key; copy it again "
            "from Settings > Mail Settings > Event Webhook",
            status_code=500,
            code="bad_source_config",
        ) from err
    if not isinstance(loaded, ec.EllipticCurvePublicKey):
        raise ConnectorError(
            "the source's SendGrid verification key is not an elliptic-curve key",
            status_code=500,
            code="bad_source_config",
        )
    return loaded


def verify_sendgrid(
    *,
    public_key: str,
    headers: Mapping[str, str],
    body: bytes,
    max_age_seconds: float = SENDGRID_MAX_AGE_S,
    now: float | None = None,
) -> None:
    signature = header(headers, SENDGRID_SIGNATURE)
    timestamp = header(headers, SENDGRID_TIMESTAMP)
    if not signature or not timestamp:
        raise _fail(
            "signed Event Webhook expected: X-Twilio-Email-Event-Webhook-Signature and "
            "-Timestamp headers are missing"
        )
    _check_age(timestamp, max_age=max_age_seconds, now=time.time() if now is None else now)
    key = load_ec_public_key(public_key)
    try:
        der = base64.b64decode(signature, validate=True)
        key.verify(der, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (binascii.Error, ValueError) as err:
        raise _fail("X-Twilio-Email-Event-Webhook-Signature is not base64 DER") from err
    except InvalidSignature as err:
        raise _fail("SendGrid signature does not match the body and timestamp") from err


# --------------------------------------------------------------------------- HubSpot

#: characters HubSpot decodes in the URI before signing (its v3 docs list these)
_HUBSPOT_DECODED = ("%3A", "%2F", "%3F", "%40", "%21", "%24", "%27", "%28", "%29", "%2A", "%2C")


def hubspot_uri(url: str) -> str:
    """The URI as HubSpot signs it: the full URL with a fixed set of escapes decoded."""
    out = url
    for escape in _HUBSPOT_DECODED:
        decoded = unquote(escape)
        out = out.replace(escape, decoded).replace(escape.lower(), decoded)
    return out


def _check_age(timestamp: str, *, max_age: float, now: float) -> None:
    """``timestamp`` and ``now`` in the same unit; raise when they are ``max_age`` apart."""
    try:
        value = float(timestamp)
    except ValueError as err:
        raise _fail(f"request timestamp {timestamp!r} is not a number") from err
    if abs(now - value) > max_age:
        raise _fail("request timestamp is outside the allowed window (replayed or clock skew)")


def verify_hubspot(
    *,
    client_secret: str,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    now_ms: float | None = None,
) -> None:
    v3 = header(headers, HUBSPOT_SIGNATURE_V3)
    if not v3:
        if header(headers, HUBSPOT_SIGNATURE):
            raise _fail(
                "only X-HubSpot-Signature-v3 is accepted: the legacy X-HubSpot-Signature "
                "(v1/v2) signs no timestamp and could be replayed"
            )
        raise _fail("X-HubSpot-Signature-v3 is missing")
    timestamp = header(headers, HUBSPOT_TIMESTAMP)
    if not timestamp:
        raise _fail("X-HubSpot-Request-Timestamp is missing")
    now = time.time() * 1000 if now_ms is None else now_ms
    _check_age(timestamp, max_age=HUBSPOT_MAX_AGE_MS, now=now)
    message = method.upper().encode() + hubspot_uri(url).encode() + body + timestamp.encode()
    expected = base64.b64encode(hmac_sha256(client_secret, message)).decode()
    if not hmac.compare_digest(expected, v3):
        raise _fail("X-HubSpot-Signature-v3 does not match (check the app's client secret)")


# --------------------------------------------------------------------------- Facebook


def verify_hub_signature_256(*, app_secret: str, headers: Mapping[str, str], body: bytes) -> None:
    value = header(headers, HUB_SIGNATURE_256)
    if not value:
        raise _fail("X-Hub-Signature-256 is missing")
    scheme, _, digest = value.partition("=")
    if scheme.lower() != "sha256" or not digest:
        raise _fail("X-Hub-Signature-256 must look like sha256=<hex digest>")
    expected = hmac_sha256(app_secret, body).hex()
    if not hmac.compare_digest(expected, digest.strip().lower()):
        raise _fail("X-Hub-Signature-256 does not match the body (check the app secret)")
