"""Liveness, readiness and a few Prometheus counters."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import func, select, text
from starlette.concurrency import run_in_threadpool

from api.deps import AppState, state
from kindred.infra import port_open
from kindred.models import Event, Profile, SourceRecord

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


def _kafka_ok(bootstrap: str) -> bool:
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    return port.isdigit() and port_open(host or "127.0.0.1", int(port), timeout=1)


@router.get("/readyz")
async def readyz(app: AppState = Depends(state)) -> JSONResponse:
    def check() -> dict[str, bool]:
        db = True
        try:
            with app.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:
            db = False
        return {"database": db, "kafka": _kafka_ok(app.publisher.bootstrap)}

    checks = await run_in_threadpool(check)
    ok = all(checks.values())
    return JSONResponse(
        {"status": "ready" if ok else "unavailable", "checks": checks},
        status_code=200 if ok else 503,
    )


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(app: AppState = Depends(state)) -> str:
    with app.sessions() as session:
        events = session.execute(select(func.count()).select_from(Event)).scalar_one()
        records = session.execute(select(func.count()).select_from(SourceRecord)).scalar_one()
        dirty = session.execute(
            select(func.count()).select_from(SourceRecord).where(SourceRecord.dirty)
        ).scalar_one()
        profiles = session.execute(
            select(func.count()).select_from(Profile).where(Profile.merged_into.is_(None))
        ).scalar_one()
    lines = [
        "# TYPE kindred_events_total gauge",
        f"kindred_events_total {events}",
        "# TYPE kindred_source_records gauge",
        f"kindred_source_records {records}",
        "# TYPE kindred_unresolved_records gauge",
        f"kindred_unresolved_records {dirty}",
        "# TYPE kindred_profiles gauge",
        f"kindred_profiles {profiles}",
    ]
    return "\n".join(lines) + "\n"
