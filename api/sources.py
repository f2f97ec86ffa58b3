"""Sources: accepted/rejected counters per source (admin)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from api.deps import get_session, require
from api.errors import ERROR_RESPONSES
from ingest.sources import SourceOut, list_sources, source_summary
from kindred.security import Principal

router = APIRouter(prefix="/v1/sources", tags=["sources"], responses=ERROR_RESPONSES)


@router.get("", response_model=list[SourceOut], summary="Every source with its counters")
def read_sources(
    session: Session = Depends(get_session), _: Principal = Depends(require("admin"))
) -> list[SourceOut]:
    return list_sources(session)


@router.get("/{name}", response_model=SourceOut, summary="One source's accepted/rejected counts")
def read_source(
    name: str, session: Session = Depends(get_session), _: Principal = Depends(require("admin"))
) -> SourceOut:
    return source_summary(session, name=name)
