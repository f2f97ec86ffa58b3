"""Sources, dead letters and API keys (/ui/sources, /ui/dlq, /ui/keys) in a real browser over
the console world. The test's own writes leave the world as the other modules expect it: a bad
event (a rejection, nothing stored), a replay that is refused (still invalid), and a key it
creates itself and then revokes."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from tests.helpers import basic, bearer
from tests.integration.browser_support import (
    WIDTHS,
    login,
    open_page,
    page_overflow,
    require_browser,
    shot,
    watched_page,
)
from tests.integration.conftest import ConsoleWorld

pytestmark = pytest.mark.integration

sync_api = require_browser()

SOURCES = ("website", "sendgrid", "crm", "leadforms")


@pytest.mark.parametrize("width", WIDTHS)
def test_sources_rejections_dlq_and_keys(
    browser: Any, console_world: ConsoleWorld, width: int, request: pytest.FixtureRequest
) -> None:
    w = console_world
    api = httpx.Client(base_url=w.server, headers=bearer(w.api_key), timeout=10)
    with watched_page(browser, request, width, height=1000) as (page, watch):
        login(page, w.server, w.api_key)
        # a bad event through the collector, as a site would send it: a track without a name
        user = f"u-bad-{uuid.uuid4().hex[:8]}"
        r = httpx.post(
            f"{w.server}/v1/batch",
            json={"batch": [{"type": "track", "userId": user, "properties": {"x": 1}}]},
            headers=basic(w.write_keys["website"]),
            timeout=10,
        )
        assert r.status_code == 200, r.text
        reason = r.json()["rejected"][0]["reason"]

        load_s = open_page(page, w.server, "/ui/sources", '#sources-view[data-ready="true"]')
        print(f"sources at {width}px: loaded in {load_s:.2f}s")
        counters = {s["name"]: s for s in api.get("/v1/sources").json()}
        for name in SOURCES:
            row = page.locator(f'#sources-table tr[data-source="{name}"]')
            assert row.count() == 1, name
            assert row.locator("td.accepted").inner_text() == f"{counters[name]['accepted']:,}"
            assert row.locator("td.rejected").inner_text() == f"{counters[name]['rejected']:,}"
            assert counters[name]["accepted"] > 0
        # the rejection is listed with its reason, with the user id in what was received
        newest = page.locator("#rejections-table tbody tr").first
        sync_api.expect(newest).to_contain_text(reason)
        sync_api.expect(newest).to_contain_text("website")
        sync_api.expect(newest.locator("td.payload")).to_contain_text(user)
        assert page_overflow(page) <= 0, f"page overflows at {width}px"
        shot(page, f"sources-{width}")

        # the dead letter can be replayed; it is still invalid, and the page says why
        page.click('#sources-view .subnav a[data-view="dlq-view"]')
        page.wait_for_selector('#dlq-view[data-ready="true"]')
        letter_id = newest_letter(api, user)
        row = page.locator(f'#dlq-table tr[data-letter="{letter_id}"]')
        sync_api.expect(row).to_contain_text(reason)
        row.locator("button.replay").click()
        sync_api.expect(page.locator("#dlq-outcome")).to_contain_text("still invalid")
        sync_api.expect(page.locator("#dlq-outcome")).to_contain_text(str(letter_id))
        assert page_overflow(page) <= 0, f"page overflows at {width}px"
        shot(page, f"dlq-{width}")

        # a key of this test's own, revoked from the keys page after a confirmation
        created = api.post("/v1/keys", json={"name": f"revoke-me-{width}", "scopes": ["read"]})
        assert created.status_code == 201, created.text
        key = created.json()
        assert (
            httpx.get(f"{w.server}/v1/profiles/config", headers=bearer(key["api_key"])).status_code
            == 200
        )
        page.click('#dlq-view .subnav a[data-view="keys-view"]')
        page.wait_for_selector('#keys-view[data-ready="true"]')
        row = page.locator(f'#keys-table tr[data-key="{key["id"]}"]')
        sync_api.expect(row.locator("td.state")).to_contain_text("Active")
        row.locator("button.revoke").click()
        sync_api.expect(row.locator(".confirm")).to_contain_text(key["prefix"])
        row.locator("button.cancel-revoke").click()  # cancel: nothing happens
        row = page.locator(f'#keys-table tr[data-key="{key["id"]}"]')
        sync_api.expect(row.locator("td.state")).to_contain_text("Active")
        assert (
            next(k for k in api.get("/v1/keys").json() if k["id"] == key["id"])["state"] == "active"
        )
        row.locator("button.revoke").click()
        started = time.monotonic()
        row.locator("button.confirm-revoke").click()
        row = page.locator(f'#keys-table tr[data-key="{key["id"]}"]')
        sync_api.expect(row.locator("td.state")).to_contain_text("Revoked")
        print(f"revoke confirmed on the page in {time.monotonic() - started:.2f}s")
        assert row.locator("button.revoke").count() == 0
        assert (
            httpx.get(f"{w.server}/v1/profiles/config", headers=bearer(key["api_key"])).status_code
            == 401
        )
        # the console's own key is still listed and active
        sync_api.expect(page.locator("#keys-table")).to_contain_text("console-admin")
        assert page_overflow(page) <= 0, f"page overflows at {width}px"
        shot(page, f"keys-{width}")
        watch.assert_clean()
        api.close()


def newest_letter(api: httpx.Client, user: str) -> int:
    letters = api.get("/v1/dlq", params={"source": "website"}).json()
    return int(next(letter["id"] for letter in letters if user in letter["payload"]))
