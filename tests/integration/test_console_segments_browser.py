"""The segments pages in a real browser over the console world: the list (size, freshness,
a sparkline each), one segment (definition, members paged and searchable, entered/exited
changes, CSV and NDJSON exports downloaded with the key), and creating a segment (the API's
validation message next to the rule field, then a good rule opens the new segment)."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
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


def _download(page: Any, button: str) -> str:
    with page.expect_download() as info:
        page.click(button)
    path = info.value.path()
    assert info.value.suggested_filename.startswith("segment-")
    return Path(path).read_text()


@pytest.mark.parametrize("width", WIDTHS)
def test_segments_pages(
    browser: Any, console_world: ConsoleWorld, width: int, request: pytest.FixtureRequest
) -> None:
    w = console_world
    with httpx.Client(base_url=w.server, headers=bearer(w.api_key), timeout=20) as c:
        # the demo segments are small: one of everybody with a score has pages of members
        r = c.post(
            "/v1/segments",
            json={
                "name": f"Everyone scored {width} {uuid.uuid4().hex[:8]}",
                "description": "browser test: more than a page of members",
                "rules": {"computed": "lead_score", "op": "gte", "value": 0},
            },
        )
        assert r.status_code == 201, r.text
        big = r.json()
        segments = c.get("/v1/segments").json()["segments"]
    assert big["member_count"] > 100  # more than two pages of members
    expect = sync_api.expect
    with watched_page(browser, request, width, accept_downloads=True) as (page, watch):
        login(page, w.server, w.api_key)
        started = time.monotonic()
        page.goto(f"{w.server}/ui/segments")
        page.wait_for_selector("#segments-body tr")
        rows = page.locator("#segments-body tr")
        expect(rows).to_have_count(len(segments))
        # every row gets its sparkline (drawn from GET .../history)
        expect(page.locator("#segments-body svg.sparkline")).to_have_count(len(segments))
        page.wait_for_load_state("networkidle")
        list_s = time.monotonic() - started
        row = page.locator(f'#segments-body tr[data-segment-id="{big["id"]}"]')
        expect(row.locator(".seg-size")).to_have_text(f"{big['member_count']:,}")
        assert row.locator("svg.sparkline path.spark-line").count() == 1
        assert row.locator("time").count() >= 1  # computed_at
        assert row.locator(".lag").count() == 1
        assert page_overflow(page) <= 1, f"page overflows at {width}px"
        shot(page, f"segments-{width}")

        started = time.monotonic()
        row.locator("a").first.click()
        page.wait_for_selector("#segment-members-body tr")
        page.wait_for_selector("#segment-changes-body tr")
        page.wait_for_selector("#segment-history svg.sparkline")
        page.wait_for_load_state("networkidle")
        segment_s = time.monotonic() - started
        expect(page.locator("#segment-title")).to_have_text(big["name"])
        rules = json.loads(page.inner_text("#segment-rules"))
        assert rules == big["rules"]
        members = page.locator("#segment-members-body tr")
        expect(members).to_have_count(50)
        expect(page.locator("#segment-members-more")).to_be_visible()
        page.click("#segment-members-more")
        expect(members).to_have_count(min(100, big["member_count"]))
        changes = page.locator("#segment-changes-body tr")
        assert changes.count() >= 1
        assert "entered" in page.inner_text("#segment-changes-body")
        email_w = page.eval_on_selector(
            "#segment-members-body td.value", "el => el.getBoundingClientRect().width"
        )
        assert email_w >= 200, f"email column {email_w}px at {width}px"

        # search: a member's email prefix finds them (and not everybody)
        email = members.locator("td.value", has_text="@").first.inner_text()
        probe = email.split("@")[0]
        page.fill("#members-q", probe.upper())
        page.press("#members-q", "Enter")
        expect(page.locator("#segment-members-status")).to_contain_text("matching")
        assert 1 <= members.count() < 100
        assert email in page.inner_text("#segment-members-body")
        page.fill("#members-q", "")
        page.press("#members-q", "Enter")
        expect(members).to_have_count(50)
        assert page_overflow(page) <= 1, f"page overflows at {width}px"
        shot(page, f"segment-{width}")

        # an account-level segment lists accounts, each linking to its account page
        accounts = next(s for s in segments if s["level"] == "account" and s["member_count"])
        page.goto(f"{w.server}/ui/segments/{accounts['id']}")
        page.wait_for_selector("#segment-members-body tr")
        expect(page.locator("#segment-members-body tr")).to_have_count(
            min(50, accounts["member_count"])
        )
        href = page.locator("#segment-members-body a").first.get_attribute("href") or ""
        assert href.startswith("/ui/accounts/")
        page.goto(f"{w.server}/ui/segments/{big['id']}")
        page.wait_for_selector("#segment-members-body tr")

        # the exports carry the key (a header): fetched, then saved through a Blob URL
        with httpx.Client(base_url=w.server, headers=bearer(w.api_key), timeout=20) as c:
            count = c.get(f"/v1/segments/{big['id']}").json()["member_count"]
        csv_text = _download(page, "#export-csv")
        lines = csv_text.splitlines()
        assert lines[0].startswith("profile_id,entered_at,email")
        assert len(lines) - 1 == count
        nd = [json.loads(x) for x in _download(page, "#export-ndjson").splitlines() if x]
        assert len(nd) == count and all("profile_id" in x for x in nd)
        expect(page.locator("#export-status")).to_contain_text("Saved")

        # create: a bad rule is refused with the API's message next to the rule field
        page.goto(f"{w.server}/ui/segments")
        page.wait_for_selector("#segment-new-link")
        page.click("#segment-new-link")
        page.wait_for_selector("#segment-form")
        name = f"Browser test {width} {uuid.uuid4().hex[:8]}"
        page.fill("#new-name", name)
        page.fill("#new-rules", '{"all": [{"trait": "plan", "op": "nope", "value": 1}]}')
        page.click("#segment-create")
        error = page.locator("#new-rules-error")
        expect(error).to_be_visible()
        expect(error).to_contain_text("rules.all[0].op")
        assert page.locator("#new-rules-row #new-rules-error").count() == 1  # beside the field
        assert page.locator("#new-name-error").is_hidden()
        shot(page, f"segment-new-{width}")
        watch.errors[:] = [e for e in watch.errors if "422" not in e]  # the refusal, expected
        page.fill("#new-rules", '{"computed": "lead_score", "op": "gte", "value": 60}')
        page.click("#segment-create")
        expect(page.locator("#segment-title")).to_have_text(name)
        page.wait_for_selector("#segment-changes-body tr, #segment-changes-status")
        page.wait_for_load_state("networkidle")
        assert "/ui/segments/" in page.url and not page.url.endswith("/new")
        assert json.loads(page.inner_text("#segment-rules"))["op"] == "gte"
        watch.assert_clean()
        print(
            f"\n{width}px: segments list {list_s:.2f}s, segment page {segment_s:.2f}s,"
            f" slowest request {watch.slowest():.3f}s, console errors {len(watch.errors)}"
        )
