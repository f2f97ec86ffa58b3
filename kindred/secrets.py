"""Secrets at rest: the master key and the encryption of vendor secrets in ``sources.config``.

The master key is ``KINDRED_SECRET_KEY``; when it is unset, a random one is generated once
into ``KINDRED_DATA_DIR/secret.key`` (mode 0600) and read from there afterwards. Other
modules that need keyed hashes (HMAC) take its bytes from :func:`secret_key_bytes`.

Encryption keys are derived from the master key with HKDF (one purpose label per use), so
the master key itself never encrypts anything. A secret is stored as
``enc:v1:<Fernet token>``; a value without the prefix is legacy plaintext, recognised and
encrypted on the next write (or by ``kindred secrets reencrypt``). Rotation: set the new key
in ``KINDRED_SECRET_KEY``, the old one in ``KINDRED_SECRET_KEY_PREVIOUS``, run
``kindred secrets reencrypt``, then drop the old key (see docs/security.md).

Which config entries are secrets is decided by name (:func:`is_secret_name`): anything named
like ``*secret*``, ``*token*``, ``*password*``, ``*_key`` or ``signing*``.
"""

from __future__ import annotations

import base64
import os
import re
import secrets as _random
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kindred.errors import KindredError
from kindred.settings import Settings, get_settings

PREFIX = "enc:v1:"
REDACTED = "***"
KEY_FILE = "secret.key"
_PURPOSE = b"kindred:sources.config:v1"

_SECRET_NAME = re.compile(
    r"secret|token|passw|credential|signing|private|(^|_)key$|api_?key", re.IGNORECASE
)


class SecretError(KindredError):
    """A stored secret cannot be decrypted with any configured key."""

    code = "secret_key_mismatch"


def is_secret_name(name: str) -> bool:
    """Is a config entry of this name a secret (encrypted at rest, never shown)?"""
    return bool(_SECRET_NAME.search(name))


def is_encrypted(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


# -- the master key ---------------------------------------------------------------------


def secret_key_bytes(settings: Settings) -> bytes:
    """The master key: ``KINDRED_SECRET_KEY``, else the generated ``data_dir/secret.key``."""
    if settings.secret_key:
        return settings.secret_key.encode()
    return _key_file(Path(settings.data_dir) / KEY_FILE).encode()


def previous_key_bytes(settings: Settings) -> list[bytes]:
    raw = settings.secret_key_previous or ""
    return [part.strip().encode() for part in raw.split(",") if part.strip()]


_file_lock = threading.Lock()


def _key_file(path: Path) -> str:
    """Read the key file, creating it once (atomically: concurrent first runs agree)."""
    with _file_lock:
        try:
            value = path.read_text().strip()
        except FileNotFoundError:
            value = ""
        if value:
            return value
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{KEY_FILE}.{os.getpid()}.{_random.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, (_random.token_urlsafe(32) + "\n").encode())
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # fails if another process created it first: use theirs
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
        return path.read_text().strip()


# -- encryption -------------------------------------------------------------------------


def _fernet(master: bytes) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_PURPOSE).derive(master)
    return Fernet(base64.urlsafe_b64encode(derived))


class Keyring:
    """Encrypts with the primary key; decrypts with the primary key or any older one."""

    def __init__(self, primary: bytes, older: Sequence[bytes] = ()) -> None:
        self._primary = _fernet(primary)
        masters = [primary, *[k for k in older if k != primary]]
        self._all = MultiFernet([_fernet(k) for k in dict.fromkeys(masters)])

    def encrypt(self, plaintext: str) -> str:
        return PREFIX + self._primary.encrypt(plaintext.encode()).decode()

    def decrypt(self, value: str) -> str:
        """The plaintext of a stored value (a legacy plaintext value is returned as is)."""
        if not is_encrypted(value):
            return value
        try:
            return self._all.decrypt(value[len(PREFIX) :].encode()).decode()
        except InvalidToken as err:
            raise SecretError(
                "a stored secret cannot be decrypted with KINDRED_SECRET_KEY (or "
                "KINDRED_SECRET_KEY_PREVIOUS): was the secret key changed without "
                "`kindred secrets reencrypt`?"
            ) from err

    def is_current(self, value: object) -> bool:
        """Encrypted with the primary key (nothing to do for a rotation)?"""
        if not is_encrypted(value):
            return False
        try:
            self._primary.decrypt(str(value)[len(PREFIX) :].encode())
        except InvalidToken:
            return False
        return True

    def seal(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of ``config`` with every secret-named string encrypted (already encrypted
        values are kept as they are)."""
        return {
            k: self.encrypt(v)
            if is_secret_name(k) and isinstance(v, str) and v and not is_encrypted(v)
            else v
            for k, v in config.items()
        }

    def open(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of ``config`` with every encrypted value decrypted (for a connector)."""
        return {k: self.decrypt(v) if is_encrypted(v) else v for k, v in config.items()}

    def reseal(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of ``config`` with every secret encrypted under the primary key (rotation
        and legacy plaintext)."""
        return {
            k: v
            if self.is_current(v)
            or not (is_encrypted(v) or (is_secret_name(k) and isinstance(v, str) and v))
            else self.encrypt(self.decrypt(v))
            for k, v in config.items()
        }


def redact(config: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``config`` fit to show: every secret replaced by ``"***"``."""
    return {
        k: REDACTED if is_encrypted(v) or (is_secret_name(k) and v not in (None, "")) else v
        for k, v in config.items()
    }


_keyrings: dict[tuple[bytes, tuple[bytes, ...]], Keyring] = {}


def keyring(settings: Settings | None = None) -> Keyring:
    """The keyring of ``settings`` (default: the process settings, from the environment).

    For decryption it also accepts the process's own key: a value written by a helper that
    used the process settings stays readable where explicit settings were passed."""
    primary = secret_key_bytes(settings or get_settings())
    older = previous_key_bytes(settings or get_settings())
    if settings is not None:
        default = get_settings()
        older.extend([secret_key_bytes(default), *previous_key_bytes(default)])
    cache_key = (primary, tuple(older))
    ring = _keyrings.get(cache_key)
    if ring is None:
        ring = _keyrings[cache_key] = Keyring(primary, older)
    return ring
