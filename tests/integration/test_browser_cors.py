"""A real browser on another origin calls the collector: headless Chromium (Debian's, through
Playwright) loads a page from a second loopback server (another port, so another origin) whose
script POSTs JSON to ``/v1/batch`` with ``fetch``: ``Content-Type: application/json`` and an
``Authorization: Basic`` write key make it a preflighted request. The event reaches a profile;
a source whose ``allowed_origins`` does not list the page's origin is refused with a 403."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from cli.runtime import Workers
from tests.helpers import bearer, make_api_key, make_source, wait_for

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

#: the other site's page: ``send`` posts one Segment call the way a browser SDK would
PAGE = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>shop</title></head><body>
<script>
window.read = async function (url, apiKey) {
  try {
    const r = await fetch(url, { headers: { "Authorization": "Bearer " + apiKey } });
    return { status: r.status, body: await r.text() };
  } catch (e) {
    return { status: 0, body: String(e) };
  }
};
window.send = async function (api, writeKey, call) {
  try {
    const r = await fetch(api + "/v1/batch", {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        "Authorization": "Basic " + btoa(writeKey + ":")
      },
      body: JSON.stringify({ batch: [call] })
    });
    return { status: r.status, body: await r.text() };
  } catch (e) {
    return { status: 0, body: String(e) };
  }
};
</script>
</body></html>
"""


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


@pytest.fixture
def other_site() -> Iterator[str]:
    """A second tiny HTTP server on loopback serving the page: another origin than the API."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture
def browser_page(other_site: str) -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (`make test` installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page()
            page.goto(other_site + "/")
            yield page
        finally:
            browser.close()


class TestBrowserOnAnotherOrigin:
    def test_fetch_json_to_the_collector_reaches_a_profile(
        self,
        engine: Engine,
        workers: Workers,
        server: str,
        other_site: str,
        browser_page: Any,
    ) -> None:
        assert other_site != server  # two origins (same host, other port)
        api_key = make_api_key(engine, "read")
        _, any_key = make_source(engine, name="site-any")  # default: any origin
        _, listed_key = make_source(
            engine, name="site-listed", config={"allowed_origins": [other_site]}
        )
        _, other_key = make_source(
            engine, name="site-other", config={"allowed_origins": ["https://elsewhere.example"]}
        )
        email = f"browser-{uuid.uuid4().hex[:6]}@example.com"

        def send(key: str, **call: Any) -> dict[str, Any]:
            call = {"messageId": str(uuid.uuid4()), **call}
            result: dict[str, Any] = browser_page.evaluate(
                "([api, key, call]) => window.send(api, key, call)", [server, key, call]
            )
            return result

        sent = send(any_key, type="identify", userId="b-1", traits={"email": email, "name": "Bo"})
        # the page could read the answer at all: the browser accepted the preflight and the
        # answer's Access-Control-Allow-Origin (a failed CORS check is status 0 here)
        assert sent["status"] == 200 and '"success":true' in sent["body"], sent
        listed = send(listed_key, type="track", userId="b-1", event="Viewed Cart")
        assert listed["status"] == 200, listed

        refused = send(other_key, type="identify", userId="b-2", traits={"email": "x@example.com"})
        assert refused["status"] == 403, refused
        assert '"forbidden"' in refused["body"] and "allowed_origins" in refused["body"]

        def profile() -> dict[str, Any] | None:
            r = httpx.get(
                f"{server}/v1/profiles",
                params={"identifier": f"email:{email}"},
                headers=bearer(api_key),
            )
            assert r.status_code == 200, r.text
            found = r.json()["profiles"]
            return dict(found[0]) if found else None

        person = wait_for(profile, timeout=30)
        assert person["traits"].get("email") == email

        # control: the read API sends no CORS unless KINDRED_CORS_ORIGINS says so, so the same
        # page cannot read a profile with a (leaked) API key: the browser blocks it
        read: dict[str, Any] = browser_page.evaluate(
            "([url, key]) => window.read(url, key)",
            [f"{server}/v1/profiles/{person['id']}", api_key],
        )
        assert read["status"] == 0 and "Failed to fetch" in read["body"], read
