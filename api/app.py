"""The FastAPI application factory."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI
from sqlalchemy import Engine

from api import (
    accounts,
    collector,
    dashboard,
    errors,
    health,
    http,
    identity_admin,
    keys,
    privacy,
    profiles,
    quarantine,
    segments,
    sources,
    tracking,
    ui,
    webhooks,
)
from api.deps import AppState
from api.validation import declare_storable_parameters, reject_unstorable
from ingest.producer import EventPublisher
from kindred import __version__
from kindred.db import make_engine, session_factory
from kindred.settings import Settings, get_settings


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    publisher: EventPublisher | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    engine = engine or make_engine(settings.resolved_database_url())
    publisher = publisher or EventPublisher(
        settings.resolved_kafka_bootstrap(),
        settings.events_topic,
        partitions=settings.topic_partitions,
    )
    app = FastAPI(
        title="Kindred",
        version=__version__,
        description="Customer data platform with explainable identity resolution.",
        # NUL bytes / lone surrogates in any path or query parameter: 422 naming it
        dependencies=[Depends(reject_unstorable)],
        # /docs is served by api.ui from local assets (Swagger UI's come from a CDN)
        docs_url=None,
        redoc_url=None,
    )
    app.state.kindred = AppState(
        engine=engine, sessions=session_factory(engine), publisher=publisher
    )
    app.state.settings = settings  # thresholds for /readyz and /metrics
    errors.install(app)
    app.include_router(health.router)
    # browser calls: a disallowed Origin is refused per source (403); see api.http
    from_browsers: dict[str, Any] = {
        "dependencies": [Depends(http.check_source_origin)],
        "responses": {
            403: {
                **errors.responses(403)[403],
                "description": "The page's Origin is not in the source's allowed_origins",
            }
        },
    }
    app.include_router(collector.router, **from_browsers)
    app.include_router(webhooks.router)
    app.include_router(profiles.router)
    app.include_router(privacy.router)
    app.include_router(sources.router)
    app.include_router(keys.router)
    app.include_router(quarantine.router)
    app.include_router(ui.router)
    app.include_router(accounts.router)
    app.include_router(identity_admin.router)
    app.include_router(segments.router)
    app.include_router(dashboard.router)
    app.include_router(tracking.router, **from_browsers)
    # outermost of the app's own middleware: preflights never reach the routes
    app.add_middleware(http.BrowserHeaders, cors_origins=settings.cors_origins)

    build_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        return declare_storable_parameters(build_openapi())

    app.openapi = openapi  # type: ignore[method-assign]

    @app.on_event("shutdown")
    def _close() -> None:
        publisher.close()

    return app
