"""Secrets at rest: the master key file, encryption, legacy plaintext, rotation, redaction."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from kindred.secrets import (
    PREFIX,
    REDACTED,
    Keyring,
    SecretError,
    is_secret_name,
    keyring,
    redact,
    secret_key_bytes,
)
from kindred.settings import Settings


class TestMasterKey:
    def test_generated_once_into_the_data_dir_with_mode_0600(self, tmp_path: Path) -> None:
        settings = Settings(data_dir=tmp_path / "data")
        first = secret_key_bytes(settings)
        path = tmp_path / "data" / "secret.key"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert len(first) >= 32
        assert secret_key_bytes(Settings(data_dir=tmp_path / "data")) == first
        assert secret_key_bytes(Settings(data_dir=tmp_path / "other")) != first

    def test_the_environment_key_wins(self, tmp_path: Path) -> None:
        settings = Settings(data_dir=tmp_path, secret_key="from-env")
        assert secret_key_bytes(settings) == b"from-env"
        assert not (tmp_path / "secret.key").exists()


class TestSecretNames:
    @pytest.mark.parametrize(
        "name",
        ["app_secret", "client_secret", "verify_token", "verification_key", "signing_key",
         "password", "google_key", "api_key", "SMTP_PASSWORD", "access_token"],
    )  # fmt: skip
    def test_secret(self, name: str) -> None:
        assert is_secret_name(name)

    @pytest.mark.parametrize(
        "name", ["default_region", "rate_limit", "public_url", "max_age_seconds", "kind", "keys"]
    )
    def test_not_secret(self, name: str) -> None:
        assert not is_secret_name(name)


class TestKeyring:
    def test_seal_encrypts_secrets_only_and_open_restores_them(self) -> None:
        ring = Keyring(b"k1")
        config = {"client_secret": "s3cr3t", "default_region": "US", "rate_limit": 5}
        sealed = ring.seal(config)
        assert sealed["client_secret"].startswith(PREFIX)
        assert "s3cr3t" not in sealed["client_secret"]
        assert sealed["default_region"] == "US" and sealed["rate_limit"] == 5
        assert ring.open(sealed) == config
        assert ring.seal(sealed) == sealed  # already encrypted: left alone

    def test_legacy_plaintext_is_read_as_is_and_encrypted_by_reseal(self) -> None:
        ring = Keyring(b"k1")
        legacy = {"app_secret": "plain"}
        assert ring.open(legacy) == legacy
        resealed = ring.reseal(legacy)
        assert resealed["app_secret"].startswith(PREFIX)
        assert ring.open(resealed) == legacy

    def test_rotation_old_key_decrypts_new_key_encrypts(self) -> None:
        old = Keyring(b"old")
        stored = old.seal({"app_secret": "x"})
        rotating = Keyring(b"new", [b"old"])
        assert rotating.open(stored) == {"app_secret": "x"}
        assert not rotating.is_current(stored["app_secret"])
        moved = rotating.reseal(stored)
        assert rotating.is_current(moved["app_secret"])
        assert Keyring(b"new").open(moved) == {"app_secret": "x"}
        with pytest.raises(SecretError):
            old.open(moved)

    def test_a_wrong_key_is_an_error_not_garbage(self) -> None:
        stored = Keyring(b"a").encrypt("x")
        with pytest.raises(SecretError, match="KINDRED_SECRET_KEY"):
            Keyring(b"b").decrypt(stored)

    def test_keyring_from_settings_with_previous_keys(self, tmp_path: Path) -> None:
        old = keyring(Settings(data_dir=tmp_path, secret_key="old"))
        stored = old.encrypt("v")
        new = keyring(Settings(data_dir=tmp_path, secret_key="new", secret_key_previous="old"))
        assert new.decrypt(stored) == "v"


def test_redact_hides_every_secret() -> None:
    shown = redact({"client_secret": PREFIX + "abc", "verify_token": "legacy", "kind": "x"})
    assert shown == {"client_secret": REDACTED, "verify_token": REDACTED, "kind": "x"}
