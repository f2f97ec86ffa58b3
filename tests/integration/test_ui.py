"""The ops console pages are served by the app: HTML shell, assets, redirect, nothing external."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.app import create_app
from kindred.settings import Settings

pytestmark = pytest.mark.integration

SEARCH_IDS = ("key-form", "key-input", "search-form", "search-type", "search-input", "banner")
PROFILE_IDS = (
    "profile-name",
    "merged-notice",
    "traits-body",
    "account-body",
    "identities-body",
    "explain-records",
    "merges-body",
    "journey-list",
    "journey-channel",
    "journey-more",
)


@pytest.fixture
def client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(settings, engine=engine)) as c:
        yield c


def _assert_page(resp_text: str, content_type: str, ids: tuple[str, ...]) -> None:
    assert content_type.startswith("text/html")
    for element_id in ids:
        assert f'id="{element_id}"' in resp_text, element_id
    assert 'src="/ui/static/ui.js"' in resp_text
    assert 'href="/ui/static/ui.css"' in resp_text


def test_search_page(client: TestClient) -> None:
    resp = client.get("/ui/")
    assert resp.status_code == 200
    _assert_page(resp.text, resp.headers["content-type"], SEARCH_IDS + PROFILE_IDS)
    assert "Search by name, email, phone, company or any identifier" in resp.text
    assert "script-src 'self'" in resp.headers["content-security-policy"]


def test_profile_page_is_the_same_app(client: TestClient) -> None:
    resp = client.get(f"/ui/profiles/{uuid.uuid4()}")
    assert resp.status_code == 200
    _assert_page(resp.text, resp.headers["content-type"], PROFILE_IDS)
    assert "Why these records are one person" in resp.text


def test_root_redirects_to_the_console(client: TestClient) -> None:
    resp = client.get("/", follow_redirects=False)
    assert resp.status_code in (302, 303, 307)
    assert resp.headers["location"] == "/ui/"


def test_assets_are_served_and_nothing_else(client: TestClient) -> None:
    js = client.get("/ui/static/ui.js")
    assert js.status_code == 200
    assert "javascript" in js.headers["content-type"]
    assert "innerHTML" not in js.text  # values reach the DOM as text only
    css = client.get("/ui/static/ui.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    for body in (js.text, css.text, client.get("/ui/").text):
        assert "https://" not in body and "http://" not in body  # no CDN, works offline
    missing = client.get("/ui/static/ui.html")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


def test_search_takes_any_string(client: TestClient, engine: Engine) -> None:
    from tests.helpers import bearer, make_api_key

    headers = bearer(make_api_key(engine, "read"))
    for q in ("a", "%", "_", "\\", "'", "é", "\x00x", "x" * 200, "email:", "(212) 555", "ß\u0301"):
        resp = client.get("/v1/profiles/search", params={"q": q}, headers=headers)
        assert resp.status_code in (200, 422), (q, resp.status_code, resp.text)
        assert resp.headers["content-type"].startswith("application/json")
    for bad in ("", " ", "x" * 201):
        resp = client.get("/v1/profiles/search", params={"q": bad}, headers=headers)
        assert resp.status_code == 422, bad
    assert client.get("/v1/profiles/search", params={"q": "x"}).status_code == 401
