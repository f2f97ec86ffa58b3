"""``kindred.identifiers``: registrable domains from the bundled public-suffix snapshot."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kindred.identifiers import domain_of_url, registrable_domain


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("shop.acme.co.uk", "acme.co.uk"),
        ("https://eu.shop.acme.com.au/x", "acme.com.au"),
        ("Ann@mail.Acme.co.uk", "acme.co.uk"),
        ("acme.github.io", "acme.github.io"),  # a private suffix: acme's, not GitHub's
        ("intranet.local", "intranet.local"),  # under no public suffix: kept
        ("10.0.0.1", "10.0.0.1"),
        ("localhost", None),
        ("not an email@", None),
    ],
)
def test_domain_of_url(raw: str, expected: str | None) -> None:
    assert domain_of_url(raw) == expected


def test_registrable_domain() -> None:
    assert registrable_domain("a.b.acme.org") == "acme.org"
    assert registrable_domain("co.uk") is None
    assert registrable_domain("localhost") is None


def test_no_network_at_run_time() -> None:
    """The suffix list is the snapshot in the package: with every socket refused, a fresh
    interpreter still reads registrable domains."""
    code = (
        "import socket\n"
        "def refuse(*a, **k):\n"
        "    raise OSError('network used')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "from kindred.identifiers import domain_of_url\n"
        "assert domain_of_url('shop.acme.co.uk') == 'acme.co.uk'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
