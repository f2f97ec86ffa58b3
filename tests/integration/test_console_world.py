"""The console world (tests/integration/conftest.py) is what the page tests assume: every
channel fed through the real pipeline, settled, with the demo segments."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import bearer
from tests.integration.conftest import ConsoleWorld

pytestmark = pytest.mark.integration


def test_world_is_settled_with_every_channel(console_world: ConsoleWorld) -> None:
    w = console_world
    with httpx.Client(base_url=w.server, headers=bearer(w.api_key), timeout=10) as c:
        dist = c.get("/v1/profiles/distribution").json()
        segments = c.get("/v1/segments").json()
        sources = c.get("/v1/sources").json()
    assert w.events > 500
    assert dist, dist
    assert len(segments["segments"]) >= 3, segments
    assert {s["name"] for s in sources} >= {"website", "sendgrid", "crm", "leadforms"}
    assert all(s["accepted"] > 0 for s in sources), sources
