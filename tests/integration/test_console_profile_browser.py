"""The console's search and profile pages in a real browser, on the console world (the demo's
sample world fed through the real pipeline): one typo in a name still finds the person, the
results are keyboard-driven, and the profile shows the golden record, computed traits with
their reasons, segments, consent, identities with their first-observed time and the journey
newest first with filters and stage bands. The journey's order and the identities'
first_observed are checked through the API too."""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import text

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

#: the live profile with the most sources, then records, that is in a segment and has a
#: journey and a name of at least two words
_PICK = """
SELECT p.id FROM profiles p
JOIN record_links rl ON rl.profile_id = p.id
JOIN source_records r ON r.id = rl.record_id
WHERE p.merged_into IS NULL AND NOT p.deleted
  AND p.traits->>'name' ~ '^[A-Za-z]{3,} [A-Za-z]{5,}$'
  AND EXISTS (SELECT 1 FROM segment_memberships m WHERE m.profile_id = p.id)
  AND (SELECT count(*) FROM touchpoints t JOIN record_links l ON l.record_id = t.record_id
       WHERE l.profile_id = p.id) >= 4
GROUP BY p.id
ORDER BY count(DISTINCT r.source) DESC, count(*) DESC, p.id
LIMIT 1
"""


def _person(world: ConsoleWorld) -> tuple[uuid.UUID, str]:
    with world.engine.connect() as conn:
        pid = conn.execute(text(_PICK)).scalar_one()
    with httpx.Client(base_url=world.server, headers=bearer(world.api_key), timeout=10) as c:
        name = c.get(f"/v1/profiles/{pid}").json()["traits"]["name"]
    return pid, str(name)


def _typo(name: str) -> str:
    """The name with one letter of its last word changed (to a letter no name word has)."""
    first, last = name.split(" ", 1)
    i = len(last) // 2
    return f"{first} {last[:i]}{'q' if last[i].lower() != 'q' else 'x'}{last[i + 1 :]}"


def _times(items: list[dict[str, Any]]) -> list[datetime]:
    return [datetime.fromisoformat(t["occurred_at"]) for t in items]


def test_journey_order_and_first_observed(console_world: ConsoleWorld) -> None:
    pid, _ = _person(console_world)
    w = console_world
    with httpx.Client(base_url=w.server, headers=bearer(w.api_key), timeout=10) as c:
        everything = c.get(f"/v1/profiles/{pid}/journey", params={"limit": 500}).json()["items"]
        assert len(everything) >= 4
        for order in ("desc", "asc"):
            seen: list[dict[str, Any]] = []
            cursor = None
            while True:
                params: dict[str, Any] = {"limit": 2, "order": order}
                if cursor:
                    params["cursor"] = cursor
                page = c.get(f"/v1/profiles/{pid}/journey", params=params).json()
                seen += page["items"]
                cursor = page["next_cursor"]
                if not cursor:
                    break
            at = _times(seen)
            assert at == sorted(at, reverse=order == "desc"), order
            assert sorted(t["id"] for t in seen) == sorted(t["id"] for t in everything)
        bad = c.get(f"/v1/profiles/{pid}/journey", params={"order": "sideways"})
        assert bad.status_code == 422
        ids = c.get(f"/v1/profiles/{pid}/identities").json()["identities"]
        profile = c.get(f"/v1/profiles/{pid}").json()
    assert ids and all(i["first_observed"] for i in ids)
    first_seen = datetime.fromisoformat(profile["first_seen"])
    # observed in the data (event or row time), not ingested: never before the first record
    for item in ids:
        observed = datetime.fromisoformat(item["first_observed"])
        assert observed >= first_seen
        assert observed <= datetime.fromisoformat(item["first_seen"])  # ingested afterwards


@pytest.mark.parametrize("width", WIDTHS)
def test_search_and_profile(
    browser: Any, console_world: ConsoleWorld, width: int, request: pytest.FixtureRequest
) -> None:
    pid, name = _person(console_world)
    server = console_world.server
    with watched_page(browser, request, width) as (page, watch):
        login(page, server, console_world.api_key)
        # one typo in the last name still finds the person
        started = time.monotonic()
        page.fill("#search-input", _typo(name))
        page.press("#search-input", "Enter")
        page.wait_for_selector("#results-table:not([hidden]) #results-body tr")
        search_s = time.monotonic() - started
        rows = page.locator("#results-body tr")
        hrefs = [
            rows.nth(i).locator("a").first.get_attribute("href") or "" for i in range(rows.count())
        ]
        target = next(i for i, href in enumerate(hrefs) if href.endswith(str(pid)))
        assert name in rows.nth(target).inner_text()
        # keyboard: arrows move the highlight, the focus stays in the box, Enter opens
        for _ in range(target + 1):
            page.press("#search-input", "ArrowDown")
        sync_api.expect(rows.nth(target)).to_have_class("clickable active")
        assert page.evaluate("document.activeElement.id") == "search-input"
        if rows.count() > target + 1:
            page.press("#search-input", "ArrowDown")
            page.press("#search-input", "ArrowUp")
            sync_api.expect(rows.nth(target)).to_have_class("clickable active")
        shot(page, f"search-{width}")
        started = time.monotonic()
        page.press("#search-input", "Enter")
        page.wait_for_selector("#profile-view:not([hidden]) #traits-body tr")
        assert page.url.endswith(f"/ui/profiles/{pid}")
        page.wait_for_selector("#journey-list .tp")
        page.wait_for_selector("#segments-list li")
        page.wait_for_selector("#identities-body tr")
        page.wait_for_load_state("networkidle")
        profile_s = time.monotonic() - started

        # the golden record: readable values, provenance on demand
        value_w = page.eval_on_selector(
            "#traits-body tr td.value", "el => el.getBoundingClientRect().width"
        )
        assert value_w >= 200, f"traits value column {value_w}px at {width}px"
        assert not page.locator("#traits-body td.prov").first.is_visible()
        page.click("#provenance-toggle")
        assert page.locator("#traits-body td.prov").first.is_visible()
        overflow = page_overflow(page)
        assert overflow <= 1, f"page overflows by {overflow}px at {width}px"

        # computed traits with their reasons
        computed = page.inner_text("#computed-body")
        for label in ("Lead score", "Temperature", "Lifecycle", "Journey stage", "Churn risk"):
            assert label in computed
        assert page.locator("#computed-body .breakdown li").count() >= 1
        assert page.locator("#computed-body .reason").count() >= 3

        # segments with when entered, each linking to its page
        link = page.locator("#segments-list li a").first
        assert (link.get_attribute("href") or "").startswith("/ui/segments/")
        assert page.locator("#segments-list li time").count() >= 1
        # consent per channel
        consent = page.inner_text("#consent-body")
        for channel in ("email", "sms", "ads"):
            assert channel in consent
        assert "granted" in consent or "withdrawn" in consent
        # identities: first observed, a time
        assert page.locator("#identities-body tr td:last-child time").count() >= 1
        # why these records are one person, and the merge history: words, never raw JSON
        page.wait_for_selector("#explain-records li")
        explained = page.inner_text("#explain-card")
        assert '{"' not in explained and "[{" not in explained, explained
        # account card links to the account page
        if page.locator("#account-body .account-name a").count():
            href = page.locator("#account-body .account-name a").get_attribute("href") or ""
            assert href.startswith("/ui/accounts/")

        # journey: newest first, stage bands, then oldest first, then a channel filter
        def journey_times() -> list[str]:
            return page.locator("#journey-list .tp .tp-time time").evaluate_all(
                "els => els.map(e => e.getAttribute('datetime'))"
            )

        newest = journey_times()
        assert len(newest) >= 2
        assert datetime.fromisoformat(newest[0]) >= datetime.fromisoformat(newest[1])
        assert page.locator("#journey-list .tp[class*='stage-'] .stage-tag").count() >= 1
        assert page.locator("#journey-stages .band.reached").count() >= 1
        shot(page, f"profile-{width}")
        page.click("#journey-order")
        sync_api.expect(page.locator("#journey-order-note")).to_have_text("oldest first")
        page.wait_for_selector("#journey-list .tp")
        page.wait_for_load_state("networkidle")
        oldest = journey_times()
        assert datetime.fromisoformat(oldest[0]) <= datetime.fromisoformat(oldest[1])
        channels = page.locator("#journey-list .tp .tp-channel").all_inner_texts()
        pick = channels[0].strip()
        page.select_option("#journey-channel", pick)
        sync_api.expect(page.locator("#journey-status")).to_contain_text(f"on the {pick} channel")
        filtered = page.locator("#journey-list .tp .tp-channel").all_inner_texts()
        assert filtered and {c.strip() for c in filtered} == {pick}

        page.select_option("#journey-channel", "")
        stage = page.locator("#journey-list .tp .stage-tag").first.inner_text().strip()
        page.select_option("#journey-stage", stage)
        sync_api.expect(page.locator("#journey-status")).to_contain_text(f"in the {stage} stage")
        tags = page.locator("#journey-list .tp .stage-tag").all_inner_texts()
        assert tags and {t.strip() for t in tags} == {stage}
        assert page.locator("#journey-list .tp").count() == len(tags)
        # a time range: from the day of the newest touchpoint on
        page.select_option("#journey-stage", "")
        day = newest[0][:10]
        page.fill("#journey-since", day)
        page.dispatch_event("#journey-since", "change")
        sync_api.expect(page.locator("#journey-status")).to_contain_text(f"from {day}")
        since = journey_times()
        assert since and all(t[:10] >= day for t in since), since

        watch.assert_clean()
        print(
            f"\n{width}px: search {search_s:.2f}s, profile {profile_s:.2f}s,"
            f" slowest request {watch.slowest():.3f}s, console errors {len(watch.errors)}"
        )
