"""A connector from outside Kindred's packages: installed as its own distribution, discovered
through the ``kindred.connectors`` entry point, listed, contract-checked, and a webhook
through it reaches a profile."""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from cli.runtime import Workers, build_workers
from connectors.registry import available
from kindred.settings import Settings
from tests.contract.kit import Sample, check_connector
from tests.helpers import bearer, live_server, make_api_key, make_source, wait_for

pytestmark = pytest.mark.integration

PACKAGE = Path(__file__).resolve().parents[1] / "external" / "kindred_helpdesk"
TICKETS = [
    {
        "id": "T-1001",
        "status": "open",
        "via": "phone",
        "category": "billing",
        "subject": "Charged twice",
        "created_at": "2026-11-20T09:00:00Z",
        "requester": {"email": "carla@example.com", "name": "Carla Diaz"},
    },
    {
        "id": "T-1001",
        "status": "solved",
        "via": "phone",
        "created_at": "2026-11-20T09:00:00Z",
        "resolved_at": "2026-11-20T09:04:00Z",
        "requester": {"email": "carla@example.com", "name": "Carla Diaz"},
    },
]


def _helpdesk_discoverable() -> bool:
    return any(ep.name == "helpdesk" for ep in entry_points(group="kindred.connectors"))


@pytest.fixture(scope="module")
def helpdesk_installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """pip-install the example distribution for this module's tests, and remove it after them
    (offline: its in-tree build backend needs nothing from the network).

    pip installs it into a private directory (``--target``) that is put on ``sys.path``:
    ``importlib.metadata`` finds its entry point there just as in site-packages, but the venv
    itself is never modified, so a parallel test process (pytest-xdist) or another run on the
    same venv cannot see it appear or have it uninstalled from under it. A copy that was
    already installed is used as found and left alone."""
    if _helpdesk_discoverable():
        available.cache_clear()
        yield
        available.cache_clear()
        return
    target = tmp_path_factory.mktemp("helpdesk-dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(PACKAGE),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    sys.path.insert(0, str(target))
    importlib.invalidate_caches()
    available.cache_clear()
    try:
        assert _helpdesk_discoverable(), "the installed distribution's entry point is not found"
        yield
    finally:
        sys.path.remove(str(target))
        sys.modules.pop("kindred_helpdesk", None)
        importlib.invalidate_caches()
        available.cache_clear()
        shutil.rmtree(target, ignore_errors=True)
    # the environment is as it was found: the connector is gone again
    assert not _helpdesk_discoverable()
    assert "helpdesk" not in available()


def test_listed_and_passes_the_contract_kit(helpdesk_installed: None, tmp_path: Path) -> None:
    from cli import app

    result = CliRunner().invoke(app, ["connectors", "list"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["helpdesk"]["module"] == "kindred_helpdesk"
    assert rows["helpdesk"]["channel"] == "support"
    sample = Sample(
        "helpdesk",
        payload=json.dumps(TICKETS).encode(),
        mixed=(json.dumps([TICKETS[0], {"id": "x", "status": "weird"}]).encode(), 1),
        min_events=2,
    )
    check_connector(sample, tmp_path)


def test_a_webhook_through_it_reaches_a_profile(
    helpdesk_installed: None, settings: Settings, engine: Engine
) -> None:
    workers: Workers = build_workers(settings, engine, group_id=f"g-{uuid.uuid4().hex[:6]}")
    workers.start()
    try:
        workers.wait_ready()
        api_key = make_api_key(engine, "read")
        _, key = make_source(engine, connector="helpdesk", name="desk")
        with live_server(settings, engine) as server:
            r = httpx.post(f"{server}/v1/webhooks/helpdesk/desk", params={"key": key}, json=TICKETS)
            assert r.status_code == 200 and r.json()["accepted"] == 2, r.text

            def journey() -> list[str] | None:
                found = httpx.get(
                    f"{server}/v1/profiles",
                    params={"identifier": "email:carla@example.com"},
                    headers=bearer(api_key),
                ).json()["profiles"]
                if len(found) != 1:
                    return None
                items = httpx.get(
                    f"{server}/v1/profiles/{found[0]['id']}/journey", headers=bearer(api_key)
                ).json()["items"]
                names = [t["event"] for t in items]
                return names if len(names) >= 2 else None

            names = wait_for(journey, timeout=25)
            assert {"Complaint Submitted", "Complaint Resolved"} <= set(names)
    finally:
        workers.stop()
