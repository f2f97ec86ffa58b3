"""Liveness (``/healthz``), readiness with the reasons (``/readyz``) and Prometheus
``/metrics``. The figures and the verdict come from :mod:`kindred.healthcheck`.

``/metrics`` is open unless ``KINDRED_METRICS_KEY`` is set; then it needs
``Authorization: Bearer <that key>`` (Prometheus: ``authorization: {credentials: ...}``)."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool

from api.deps import AppState, bearer_token, state
from api.errors import error_response, responses
from kindred.errors import ServiceUnavailable, Unauthorized
from kindred.healthcheck import check_readiness
from kindred.metrics import metrics_text
from kindred.settings import Settings, get_settings

router = APIRouter(tags=["health"])

_READY_EXAMPLE = {
    "status": "unavailable",
    "checks": {"database": True, "kafka": True, "workers": False},
    "reasons": ["ingest worker host-1234-ingest: no partitions assigned, ... with lag 3000"],
    "workers": [],
}


def app_settings(request: Request) -> Settings:
    value = getattr(request.app.state, "settings", None)
    return value if isinstance(value, Settings) else get_settings()


@router.get("/healthz", summary="Liveness: the process answers")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: database, broker and workers, with the reasons when not ready",
    responses={
        200: {"description": "Ready"},
        503: {
            "description": "Not ready; `reasons` says why",
            "content": {"application/json": {"example": _READY_EXAMPLE}},
        },
    },
)
async def readyz(
    app: AppState = Depends(state), settings: Settings = Depends(app_settings)
) -> JSONResponse:
    def check() -> JSONResponse:
        with app.sessions() as session:
            report = check_readiness(
                session,
                bootstrap=app.publisher.bootstrap,
                stuck_seconds=settings.ready_stuck_seconds,
                forget_seconds=settings.ready_forget_seconds,
            )
        return JSONResponse(
            report.as_json(),
            status_code=200 if report.ready else 503,
            headers=None if report.ready else {"Retry-After": "5"},
        )

    return await run_in_threadpool(check)


@router.get(
    "/metrics",
    summary="Prometheus metrics: lag, heartbeats, backlogs, DLQ and quarantine counts",
    response_class=Response,
    responses={
        200: {"description": "Prometheus text format", "content": {"text/plain": {}}},
        **responses(401, 503),
    },
)
def metrics(
    request: Request,
    app: AppState = Depends(state),
    settings: Settings = Depends(app_settings),
) -> Response:
    wanted = settings.metrics_key.get_secret_value() if settings.metrics_key else ""
    if wanted:  # an empty KINDRED_METRICS_KEY counts as unset
        given = (bearer_token(request) or "").encode()
        if not hmac.compare_digest(given, wanted.encode()):
            raise Unauthorized("/metrics needs `Authorization: Bearer <KINDRED_METRICS_KEY>`")
    try:
        with app.sessions() as session:
            body = metrics_text(
                session,
                stuck_seconds=settings.ready_stuck_seconds,
                forget_seconds=settings.ready_forget_seconds,
            )
    except ServiceUnavailable as err:
        return error_response(503, err.code, err.message, headers={"Retry-After": "5"})
    return Response(body, media_type=CONTENT_TYPE_LATEST)
