"""The ops console: one static page over the read API, served under /ui/.

No build step and nothing from a CDN: plain HTML, CSS and vanilla JS from ``api/static``. The
page reads the route from the URL (``/ui/`` searches, ``/ui/profiles/{id}`` shows one
profile) and calls ``/v1`` with the API key the operator pasted (kept in localStorage).
"""

from __future__ import annotations

import html
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from kindred.errors import NotFound

STATIC = Path(__file__).parent / "static"

#: the only files the console serves, with their media types
ASSETS: dict[str, str] = {
    "ui.js": "text/javascript; charset=utf-8",
    "ui.css": "text/css; charset=utf-8",
}

#: the page only ever runs its own script and talks to its own origin
CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

ROOT_PLACEHOLDER = "__KINDRED_ROOT__"

router = APIRouter(tags=["ui"], include_in_schema=False)


def _root(request: Request) -> str:
    """The path prefix the app is mounted under behind a proxy ('' when served at /)."""
    return str(request.scope.get("root_path") or "").rstrip("/")


def _page(request: Request) -> HTMLResponse:
    text = (STATIC / "ui.html").read_text(encoding="utf-8")
    body = text.replace(ROOT_PLACEHOLDER, html.escape(_root(request), quote=True))
    return HTMLResponse(
        body,
        headers={
            "Content-Security-Policy": CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-cache",
        },
    )


@router.get("/")
def root(request: Request) -> RedirectResponse:
    return RedirectResponse(f"{_root(request)}/ui/", status_code=307)


@router.get("/ui/", response_class=HTMLResponse)
def search_page(request: Request) -> HTMLResponse:
    return _page(request)


@router.get("/ui/profiles/{profile_id}", response_class=HTMLResponse)
def profile_page(profile_id: str, request: Request) -> HTMLResponse:
    # The id is checked by the API the page calls; a bad one shows up in the page's banner.
    return _page(request)


#: the API docs page's own assets (FastAPI's /docs loads Swagger UI from a CDN)
DOCS_ASSETS: dict[str, str] = {
    "docs.js": "text/javascript; charset=utf-8",
    "docs.css": "text/css; charset=utf-8",
}


@router.get("/docs", response_class=HTMLResponse)
def docs_page(request: Request) -> HTMLResponse:
    """The operations of /openapi.json, rendered by a small local script: works offline."""
    text = (STATIC / "docs.html").read_text(encoding="utf-8")
    body = text.replace(ROOT_PLACEHOLDER, html.escape(_root(request), quote=True))
    return HTMLResponse(
        body, headers={"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff"}
    )


@router.get("/docs/static/{name}")
def docs_asset(name: str) -> FileResponse:
    media_type = DOCS_ASSETS.get(name)
    if media_type is None:
        raise NotFound(f"no docs asset {name!r}")
    return FileResponse(
        STATIC / name, media_type=media_type, headers={"X-Content-Type-Options": "nosniff"}
    )


@router.get("/ui/static/{name}")
def asset(name: str) -> FileResponse:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise NotFound(f"no UI asset {name!r}")
    return FileResponse(
        STATIC / name,
        media_type=media_type,
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"},
    )
