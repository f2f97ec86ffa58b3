"""What the console's browser tests share: Debian's Chromium under Playwright, a watch on each
page (console errors, failed and slow requests), screenshots, logging in with a key.

A browser test module starts with ``sync_api = require_browser()`` (skips the module, with the
reason, when Playwright or /usr/bin/chromium is missing; `make test` installs both).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(os.environ.get("KINDRED_SCREENSHOTS", ".artifacts/screenshots"))
SLOW_REQUEST_S = 1.0
WIDTHS = (1280, 1920)


def require_browser() -> ModuleType:
    """playwright.sync_api, or skip the calling module with the reason."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not Path(CHROMIUM).exists():
        pytest.skip(
            f"{CHROMIUM} is missing: `make browser` installs Debian's chromium",
            allow_module_level=True,
        )
    return sync_api


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


class Watch:
    """Console errors, failed and slow requests of one page."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        self.slow: list[str] = []
        self.failed: list[str] = []
        self.timings: dict[str, float] = {}
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("requestfailed", lambda r: self.failed.append(f"{r.url} {r.failure}"))
        page.on("requestfinished", self._finished)

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def _finished(self, request: Any) -> None:
        t = request.timing
        took = (t["responseEnd"] - t["requestStart"]) / 1000 if t["responseEnd"] > 0 else 0.0
        self.timings[request.url] = took
        if took > SLOW_REQUEST_S:
            self.slow.append(f"{request.url} {took:.2f}s")

    def slowest(self) -> float:
        return max(self.timings.values(), default=0.0)

    def assert_clean(self) -> None:
        """No console error, no failed request, no request over SLOW_REQUEST_S."""
        assert not self.errors, self.errors
        assert not self.failed, self.failed
        assert not self.slow, self.slow


def shot(page: Any, name: str) -> Path:
    """A full-page screenshot under SHOTS (path printed: the note cites it)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path.resolve()}")
    return path


@contextmanager
def watched_page(
    browser: Any, request: pytest.FixtureRequest, width: int, *, height: int = 900, **options: Any
) -> Iterator[tuple[Any, Watch]]:
    """A new page of ``width`` px with its ``Watch``; on a failure inside, a screenshot named
    after the test (``failure-<test id>``) before the error goes on; the page is closed."""
    page = browser.new_page(viewport={"width": width, "height": height}, **options)
    watch = Watch(page)
    try:
        yield page, watch
    except Exception:
        shot(page, f"failure-{request.node.name}")
        raise
    finally:
        page.close()


def page_overflow(page: Any) -> float:
    """How many px the page is wider than its window (0 or less: no horizontal scrolling)."""
    return float(
        page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
    )


def login(page: Any, server: str, key: str, path: str = "/ui/") -> float:
    """Open ``path`` in the console, enter the key, wait for the page; returns the seconds."""
    started = time.monotonic()
    page.goto(f"{server}/ui/")
    page.wait_for_selector("#key-input", state="visible")
    page.fill("#key-input", key)
    page.click("#key-save")
    page.wait_for_selector("#search-input", state="visible")
    if path != "/ui/":
        page.goto(f"{server}{path}")
    return time.monotonic() - started


def open_page(page: Any, server: str, path: str, ready: str) -> float:
    """Go to a console page (the key already stored) and wait for ``ready``; returns seconds."""
    started = time.monotonic()
    page.goto(f"{server}{path}")
    page.wait_for_selector(ready)
    page.wait_for_load_state("networkidle")
    return time.monotonic() - started
