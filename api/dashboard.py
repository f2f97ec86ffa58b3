"""The dashboard (read): the base's KPIs and the pipeline's health in one answer."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from api.deps import get_session, require
from api.errors import ERROR_RESPONSES
from kindred.security import Principal
from profiles.dashboard import DashboardOut, dashboard

router = APIRouter(prefix="/v1/dashboard", tags=["dashboard"], responses=ERROR_RESPONSES)


@router.get(
    "",
    response_model=DashboardOut,
    summary="Temperature, lifecycle, activity, journey funnel with stuck counts, overdue "
    "complaints per channel, ingest rate and pipeline lag",
)
def read_dashboard(
    session: Session = Depends(get_session), _: Principal = Depends(require("read"))
) -> DashboardOut:
    return dashboard(session)
