"""Key lifecycle through the real API and CLI (revoke, expire, rotate, list), write-key
rotation with an overlap window, and vendor secrets encrypted at rest."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from cli import app as cli_app
from connectors.signatures import hmac_sha256, hubspot_uri
from kindred.db import unit_of_work
from kindred.secrets import PREFIX, Keyring
from kindred.security import create_api_key
from tests.helpers import basic, bearer, make_api_key, make_source, message, wait_for

pytestmark = pytest.mark.integration


def invoke(runner: CliRunner, *args: str) -> dict[str, object] | list[dict[str, object]]:
    result = runner.invoke(cli_app, list(args))
    assert result.exit_code == 0, result.output
    parsed: dict[str, object] | list[dict[str, object]] = json.loads(result.stdout)
    return parsed


def read_status(server: str, key: str) -> httpx.Response:
    return httpx.get(f"{server}/v1/profiles", params={"identifier": "email:x@example.com"},
                     headers=bearer(key))  # fmt: skip


def key_id(server: str, admin: str, secret: str) -> int:
    keys = httpx.get(f"{server}/v1/keys", headers=bearer(admin)).json()
    return int(next(k["id"] for k in keys if secret.startswith(k["prefix"])))


class TestApiKeyLifecycle:
    def test_a_revoked_key_gets_401_at_once_saying_revoked(
        self, engine: Engine, server: str
    ) -> None:
        admin = make_api_key(engine, "admin")
        reader = make_api_key(engine, "read")
        assert read_status(server, reader).status_code == 200
        rid = key_id(server, admin, reader)
        r = httpx.post(f"{server}/v1/keys/{rid}/revoke", headers=bearer(admin))
        assert r.status_code == 200 and r.json()["state"] == "revoked", r.text
        started = time.monotonic()
        r = read_status(server, reader)  # the very next request: no cache to wait out
        assert r.status_code == 401, r.text
        assert "revoked" in r.json()["error"]["message"]
        assert time.monotonic() - started < 2
        # DELETE is the same revocation
        other = make_api_key(engine, "read")
        oid = key_id(server, admin, other)
        assert httpx.delete(f"{server}/v1/keys/{oid}", headers=bearer(admin)).status_code == 200
        assert read_status(server, other).status_code == 401

    def test_expired_and_unknown_keys_get_401_saying_so(self, engine: Engine, server: str) -> None:
        with unit_of_work(engine) as session:
            _, expired = create_api_key(
                session,
                name="old",
                scopes=["read"],
                expires_at=datetime.now(UTC) - timedelta(seconds=1),
            )
            tomorrow = datetime.now(UTC) + timedelta(days=1)
            _, fresh = create_api_key(session, name="new", scopes=["read"], expires_at=tomorrow)
        r = read_status(server, expired)
        assert r.status_code == 401 and "expired" in r.json()["error"]["message"], r.text
        assert read_status(server, fresh).status_code == 200
        r = read_status(server, "kd_not-a-key")
        assert r.status_code == 401 and "unknown" in r.json()["error"]["message"], r.text

    def test_rotate_old_key_works_until_the_window_ends(self, engine: Engine, server: str) -> None:
        admin = make_api_key(engine, "admin")
        old = make_api_key(engine, "read")
        oid = key_id(server, admin, old)
        r = httpx.post(
            f"{server}/v1/keys/{oid}/rotate", json={"overlap_seconds": 3600}, headers=bearer(admin)
        )
        assert r.status_code == 201, r.text
        new = r.json()["api_key"]
        assert r.json()["scopes"] == ["read"] and new != old
        assert read_status(server, old).status_code == 200
        assert read_status(server, new).status_code == 200
        # the window ends (moved into the past instead of waiting an hour)
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = :i"),
                {"i": oid},
            )
        assert read_status(server, old).status_code == 401
        assert read_status(server, new).status_code == 200
        # without an overlap the old key stops at once
        nid = key_id(server, admin, new)
        r = httpx.post(f"{server}/v1/keys/{nid}/rotate", headers=bearer(admin))
        assert r.status_code == 201, r.text
        assert read_status(server, new).status_code == 401
        assert read_status(server, r.json()["api_key"]).status_code == 200

    def test_list_shows_prefix_and_use_never_the_secret_or_its_hash(
        self, engine: Engine, server: str, cli_env: CliRunner
    ) -> None:
        admin = make_api_key(engine, "admin")
        r = httpx.post(
            f"{server}/v1/keys", json={"name": "exports", "scopes": ["read"]}, headers=bearer(admin)
        )
        assert r.status_code == 201, r.text
        secret = r.json()["api_key"]
        assert read_status(server, secret).status_code == 200
        with engine.connect() as conn:
            hashes = [h for (h,) in conn.execute(text("SELECT key_hash FROM api_keys"))]
        listed = httpx.get(f"{server}/v1/keys", headers=bearer(admin))
        assert listed.status_code == 200
        from_cli = CliRunner().invoke(cli_app, ["keys", "list"]).stdout
        for output in (listed.text, from_cli):
            assert secret not in output and admin not in output
            assert not any(h in output for h in hashes)
        row = next(k for k in listed.json() if k["name"] == "exports")
        assert secret.startswith(row["prefix"]) and row["scopes"] == ["read"]
        assert row["state"] == "active" and row["created_at"] and row["last_used_at"]
        # last use is written at most once a minute, not once per request
        first = row["last_used_at"]
        assert read_status(server, secret).status_code == 200
        again = next(
            k for k in httpx.get(f"{server}/v1/keys", headers=bearer(admin)).json()
            if k["name"] == "exports"
        )  # fmt: skip
        assert again["last_used_at"] == first

    def test_only_admin_keys_manage_keys(self, engine: Engine, server: str) -> None:
        reader = make_api_key(engine, "read")
        assert httpx.get(f"{server}/v1/keys", headers=bearer(reader)).status_code == 403
        assert httpx.get(f"{server}/v1/keys").status_code == 401

    def test_cli_revoke_and_rotate(self, engine: Engine, server: str, cli_env: CliRunner) -> None:
        created = invoke(cli_env, "keys", "create", "--scope", "read", "--name", "cli-key")
        assert isinstance(created, dict)
        secret, kid = str(created["api_key"]), str(created["id"])
        rotated = invoke(cli_env, "keys", "rotate", kid, "--overlap", "1h")
        assert isinstance(rotated, dict)
        assert read_status(server, secret).status_code == 200
        assert read_status(server, str(rotated["api_key"])).status_code == 200
        revoked = invoke(cli_env, "keys", "revoke", kid)
        assert isinstance(revoked, dict) and revoked["state"] == "revoked"
        assert read_status(server, secret).status_code == 401
        result = cli_env.invoke(cli_app, ["keys", "revoke", "999999"])
        assert result.exit_code == 1


class TestWriteKeyRotation:
    def test_old_and_new_write_keys_overlap_then_the_old_one_stops(
        self, engine: Engine, server: str, cli_env: CliRunner
    ) -> None:
        name, old = make_source(engine, connector="web")
        out = invoke(cli_env, "sources", "rotate-key", name, "--overlap", "24h")
        assert isinstance(out, dict)
        new = str(out["write_key"])
        assert new != old and out["previous_key_valid_until"]

        def send(key: str) -> int:
            msg = message("track", userId="u1", event="Rotated")
            r = httpx.post(f"{server}/v1/batch", json={"batch": [msg]}, headers=basic(key))
            return r.status_code

        assert send(old) == 200
        assert send(new) == 200
        with engine.begin() as conn:  # the window ends
            conn.execute(
                text(
                    "UPDATE sources SET previous_key_expires_at = now() - interval '1 second' "
                    "WHERE name = :n"
                ),
                {"n": name},
            )
        assert wait_for(lambda: send(old) == 401, timeout=5)  # collector cache: 1 s
        assert send(new) == 200

    def test_webhook_accepts_both_keys_during_the_overlap(
        self, engine: Engine, server: str, cli_env: CliRunner
    ) -> None:
        name, old = make_source(engine, connector="leadform")
        out = invoke(cli_env, "sources", "rotate-key", name, "--overlap", "0")
        assert isinstance(out, dict) and out["previous_key_valid_until"] is None
        url = f"{server}/v1/webhooks/leadform/{name}"
        assert httpx.post(url, params={"key": old}, json={}).status_code == 401
        assert httpx.post(url, params={"key": str(out["write_key"])}, json={}).status_code != 401


class TestSecretsAtRest:
    def test_client_secret_is_ciphertext_in_the_database_and_still_verifies(
        self, engine: Engine, server: str, cli_env: CliRunner
    ) -> None:
        admin = make_api_key(engine, "admin")
        created = invoke(
            cli_env, "sources", "create", "--connector", "crm", "--name", "crm-enc",
            "--config", "client_secret=hs-secret-123",
        )  # fmt: skip
        assert isinstance(created, dict)
        key = str(created["write_key"])
        # the header form is printed beside the query form, which stays for vendors that
        # allow nothing else
        assert created["webhook_headers"] == {"Authorization": f"Bearer {key}"}
        assert created["webhook_endpoint"] == str(created["webhook_url"]).split("?")[0]
        with engine.connect() as conn:
            raw = conn.execute(
                text("SELECT config::text, config->>'client_secret' FROM sources WHERE name = :n"),
                {"n": "crm-enc"},
            ).one()
        assert "hs-secret-123" not in raw[0]
        assert raw[1].startswith(PREFIX)

        body = json.dumps(
            [{"objectId": 77, "propertyName": "email", "propertyValue": "enc@example.com",
              "eventId": 1, "portalId": 3, "occurredAt": 1795000000000,
              "subscriptionType": "contact.propertyChange"}]
        ).encode()  # fmt: skip
        url = f"{server}/v1/webhooks/hubspot/crm-enc?key={key}"

        def signed(secret: str) -> dict[str, str]:
            stamp = str(int(time.time() * 1000))
            message_ = b"POST" + hubspot_uri(url).encode() + body + stamp.encode()
            v3 = base64.b64encode(hmac_sha256(secret, message_)).decode()
            return {"X-HubSpot-Signature-v3": v3, "X-HubSpot-Request-Timestamp": stamp,
                    "Content-Type": "application/json"}  # fmt: skip

        r = httpx.post(url, content=body, headers=signed("hs-secret-123"))
        assert r.status_code == 200, r.text
        # signed with the ciphertext (what a decryption bug would compare with): refused
        r = httpx.post(url, content=body, headers=signed(raw[1]))
        assert r.status_code in (401, 403), r.text

        for path in ("/v1/sources", "/v1/sources/crm-enc"):
            r = httpx.get(f"{server}{path}", headers=bearer(admin))
            assert r.status_code == 200
            assert "hs-secret-123" not in r.text and PREFIX not in r.text
        listed = cli_env.invoke(cli_app, ["sources", "list"]).stdout
        assert "hs-secret-123" not in listed

    def test_legacy_plaintext_is_read_then_reencrypted(
        self, engine: Engine, server: str, cli_env: CliRunner
    ) -> None:
        name, key = make_source(engine, connector="leadform")
        with engine.begin() as conn:  # as stored before encryption existed
            conn.execute(
                text("UPDATE sources SET config = CAST(:c AS jsonb) WHERE name = :n"),
                {"c": json.dumps({"verify_token": "legacy-tok"}), "n": name},
            )
        url = f"{server}/v1/webhooks/leadform/{name}"
        params = {"key": key, "hub.mode": "subscribe", "hub.verify_token": "legacy-tok",
                  "hub.challenge": "42"}  # fmt: skip
        r = httpx.get(url, params=params)
        assert r.status_code == 200 and r.text == "42", r.text
        assert invoke(cli_env, "secrets", "reencrypt") == {"sources_rewritten": 1}
        assert invoke(cli_env, "secrets", "reencrypt") == {"sources_rewritten": 0}
        with engine.connect() as conn:
            stored = conn.execute(
                text("SELECT config->>'verify_token' FROM sources WHERE name = :n"), {"n": name}
            ).scalar_one()
        assert stored.startswith(PREFIX)
        r = httpx.get(url, params=params)
        assert r.status_code == 200 and r.text == "42", r.text

    def test_master_key_rotation_with_the_previous_key(
        self, engine: Engine, cli_env: CliRunner, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from kindred.settings import get_settings

        monkeypatch.setenv("KINDRED_SECRET_KEY", "old-master")
        get_settings.cache_clear()
        invoke(cli_env, "sources", "create", "--connector", "leadform", "--name", "fb-rot",
               "--config", "app_secret=fb-123")  # fmt: skip
        monkeypatch.setenv("KINDRED_SECRET_KEY", "new-master")
        monkeypatch.setenv("KINDRED_SECRET_KEY_PREVIOUS", "old-master")
        get_settings.cache_clear()
        assert invoke(cli_env, "secrets", "reencrypt") == {"sources_rewritten": 1}
        with engine.connect() as conn:
            stored = conn.execute(
                text("SELECT config->>'app_secret' FROM sources WHERE name = 'fb-rot'")
            ).scalar_one()
        assert Keyring(b"new-master").decrypt(stored) == "fb-123"
        with pytest.raises(Exception, match="KINDRED_SECRET_KEY"):
            Keyring(b"old-master").decrypt(stored)
