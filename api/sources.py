"""Sources: accepted/rejected counters per source (admin)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy.orm import Session

from api.deps import get_session, require
from api.errors import ERROR_RESPONSES
from ingest.sources import list_sources, source_by_name
from kindred.models import Source
from kindred.security import Principal

router = APIRouter(prefix="/v1/sources", tags=["sources"], responses=ERROR_RESPONSES)


class SourceOut(BaseModel):
    name: str
    connector: str
    accepted: int
    rejected: int
    created_at: datetime


def _out(s: Source) -> SourceOut:
    return SourceOut(
        name=s.name,
        connector=s.connector,
        accepted=s.accepted_count,
        rejected=s.rejected_count,
        created_at=s.created_at,
    )


@router.get("", response_model=list[SourceOut], summary="Every source with its counters")
def read_sources(
    session: Session = Depends(get_session), _: Principal = Depends(require("admin"))
) -> list[SourceOut]:
    return [_out(s) for s in list_sources(session)]


@router.get("/{name}", response_model=SourceOut, summary="One source's accepted/rejected counts")
def read_source(
    name: str, session: Session = Depends(get_session), _: Principal = Depends(require("admin"))
) -> SourceOut:
    return _out(source_by_name(session, name=name))
