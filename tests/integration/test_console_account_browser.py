"""The account pages in a real browser over the console world: the list by account score, and
one account's company traits, rollups, contacts (roles, engagement, links to their profiles)
and journey newest first, at both widths."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.helpers import bearer
from tests.integration.browser_support import (
    WIDTHS,
    login,
    page_overflow,
    require_browser,
    shot,
    watched_page,
)
from tests.integration.conftest import ConsoleWorld

pytestmark = pytest.mark.integration

sync_api = require_browser()


@pytest.mark.parametrize("width", WIDTHS)
def test_account_pages(
    browser: Any, console_world: ConsoleWorld, width: int, request: pytest.FixtureRequest
) -> None:
    w = console_world
    with httpx.Client(base_url=w.server, headers=bearer(w.api_key), timeout=20) as c:
        listed = c.get("/v1/accounts", params={"limit": 500}).json()
        top = max(listed["items"], key=lambda a: a["contacts"] or 0)
        account = c.get(f"/v1/accounts/{top['id']}").json()
        people = c.get(f"/v1/accounts/{top['id']}/profiles", params={"limit": 1000}).json()
        journey = c.get(f"/v1/accounts/{top['id']}/journey", params={"limit": 30}).json()
    expect = sync_api.expect
    with watched_page(browser, request, width) as (page, watch):
        login(page, w.server, w.api_key)
        started = time.monotonic()
        page.goto(f"{w.server}/ui/accounts")
        page.wait_for_selector("#accounts-body tr")
        page.wait_for_load_state("networkidle")
        list_s = time.monotonic() - started
        rows = page.locator("#accounts-body tr")
        expect(rows).to_have_count(min(len(listed["items"]), 50))
        # best account score first, as the API ranks them
        assert listed["items"][0]["name"] in rows.first.inner_text()
        expect(page.locator("#accounts-body .key-account").first).to_be_visible()
        assert page_overflow(page) <= 1, f"page overflows at {width}px"
        shot(page, f"accounts-{width}")

        started = time.monotonic()
        page.locator(f'#accounts-body a[href$="/ui/accounts/{top["id"]}"]').click()
        page.wait_for_selector("#account-contacts-body tr")
        page.wait_for_selector("#account-journey li")
        page.wait_for_load_state("networkidle")
        account_s = time.monotonic() - started

        expect(page.locator("#account-title")).to_have_text(account["name"])
        traits = page.inner_text("#account-traits")
        for key in ("industry", "country"):
            if account["traits"].get(key):
                assert str(account["traits"][key]) in traits, (key, traits)
        assert account["domain"] in traits
        rollup = account["rollup"]
        expect(page.locator("#rollup-score .tile-value")).to_have_text(
            f"{rollup['account_score']:,}"
        )
        expect(page.locator("#rollup-key .tile-value")).to_have_text(
            "Yes" if rollup["key_account"] else "No"
        )
        assert "%" in page.inner_text("#rollup-share")
        assert "0.6 x best" in page.inner_text("#account-rollup")

        contacts = page.locator("#account-contacts-body tr")
        expect(contacts).to_have_count(len(people["items"]))
        links = page.locator("#account-contacts-body a.contact-link")
        hrefs = {links.nth(i).get_attribute("href") for i in range(links.count())}
        assert hrefs == {f"/ui/profiles/{p['profile_id']}" for p in people["items"]}
        table = page.inner_text("#account-contacts-body")
        makers = [p for p in people["items"] if p["decision_maker"]]
        assert table.count("decision maker") == len(makers)
        scored = max(people["items"], key=lambda p: p["lead_score"] or -1)
        # best lead score first
        assert str(scored["lead_score"]) in contacts.first.inner_text()
        temps = {p["temperature"] for p in people["items"] if p["temperature"]}
        assert temps and all(t in table for t in temps)
        title_w = page.eval_on_selector(
            "#account-contacts-body td.title", "el => el.getBoundingClientRect().width"
        )
        assert title_w >= 150, f"job title column {title_w}px at {width}px"

        items = page.locator("#account-journey li")
        expect(items).to_have_count(len(journey["items"]))
        first = journey["items"][0]
        assert first["event"] in items.first.inner_text()
        expect(page.locator("#account-journey-more")).to_be_visible(
            visible=journey["next_cursor"] is not None
        )
        if journey["next_cursor"]:
            page.click("#account-journey-more")
            page.wait_for_selector(f"#account-journey li:nth-child({len(journey['items']) + 1})")
        assert page_overflow(page) <= 1, f"page overflows at {width}px"
        shot(page, f"account-{width}")

        watch.assert_clean()
        # a contact's link opens the profile inside the console (that page's own errors are
        # its own test's business)
        target = links.first.get_attribute("href") or ""
        links.first.click()
        page.wait_for_selector("#profile-view:not([hidden]) #traits-body tr")
        assert page.url.endswith(target)
        print(
            f"\n{width}px: accounts list {list_s:.2f}s, account page {account_s:.2f}s,"
            f" slowest request {watch.slowest():.3f}s, console errors {len(watch.errors)}"
        )
