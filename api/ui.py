"""The ops console: one static page over the API, served under /ui/.

No build step and nothing from a CDN: plain HTML, CSS and vanilla JS from ``api/static``
(``ui.js`` the core and the search, one ``ui-<page>.js`` per other page). The page reads the
route from the URL (``/ui/`` searches, ``/ui/profiles/{id}`` shows one profile, the other
sections below) and calls ``/v1`` with the API key the operator pasted (kept in localStorage).
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from kindred.errors import NotFound

STATIC = Path(__file__).parent / "static"

#: the console's own scripts and stylesheets (ui.js, ui.css, ui-<page>.js, ui-<page>.css)
ASSET_NAME = re.compile(r"ui(?:-[a-z]+)?\.(js|css)")
MEDIA_TYPES = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8"}

#: the console's sections: /ui/<section> and /ui/<section>/... all answer with the one page,
#: whose script shows the section (an id in the path is checked by the API the page calls)
SECTIONS = frozenset(
    {"profiles", "accounts", "segments", "dashboard", "changes", "sources", "dlq", "keys"}
)

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


# before the sections: /ui/static/... is an asset, not a page
@router.get("/ui/static/{name}")
def asset(name: str) -> FileResponse:
    m = ASSET_NAME.fullmatch(name)
    if m is None or not (STATIC / name).is_file():
        raise NotFound(f"no UI asset {name!r}")
    return FileResponse(
        STATIC / name,
        media_type=MEDIA_TYPES[m.group(1)],
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"},
    )


@router.get("/ui/{section}", response_class=HTMLResponse)
def section_page(section: str, request: Request) -> HTMLResponse:
    if section not in SECTIONS:
        raise NotFound(f"no console page /ui/{section}")
    return _page(request)


@router.get("/ui/{section}/{rest:path}", response_class=HTMLResponse)
def section_subpage(section: str, rest: str, request: Request) -> HTMLResponse:
    return section_page(section, request)


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
