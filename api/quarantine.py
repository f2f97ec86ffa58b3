"""Quarantine (admin): records and profiles whose processing failed again and again.

A quarantined item is skipped by its worker until it is released here (or with
``kindred dlq quarantine release``); released, the next pass takes it again."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from api.deps import get_session, require
from api.errors import ERROR_RESPONSES
from kindred.errors import NotFound
from kindred.quarantine import list_quarantine, release_quarantine
from kindred.security import Principal

router = APIRouter(prefix="/v1/quarantine", tags=["quarantine"], responses=ERROR_RESPONSES)

QuarantineKind = Literal["record", "profile"]


class QuarantineOut(BaseModel):
    kind: str
    #: the source record id (``record``) or the profile id (``profile``)
    ref: str
    reason: str
    attempts: int
    first_failed_at: datetime
    last_failed_at: datetime
    #: None while the item still fails fewer times than the limit (it is retried)
    quarantined_at: datetime | None


@router.get(
    "", response_model=list[QuarantineOut], summary="Failing and quarantined items, newest first"
)
def read_quarantine(
    kind: QuarantineKind | None = Query(None, description="only records or only profiles"),
    quarantined_only: bool = Query(False, description="leave out items still being retried"),
    limit: int = Query(100, ge=1, le=1000),
    session: Session = Depends(get_session),
    _: Principal = Depends(require("admin")),
) -> list[QuarantineOut]:
    rows = list_quarantine(session, kind=kind, limit=limit, only_quarantined=quarantined_only)
    return [QuarantineOut.model_validate(row) for row in rows]


@router.delete(
    "/{kind}/{ref}",
    status_code=204,
    response_class=Response,
    summary="Release an item: its worker takes it again on the next pass",
)
def release(
    kind: QuarantineKind,
    ref: str = Path(max_length=100),
    session: Session = Depends(get_session),
    _: Principal = Depends(require("admin")),
) -> Response:
    if not release_quarantine(session, kind=kind, ref=ref):
        raise NotFound(f"nothing in quarantine for {kind} {ref}")
    return Response(status_code=204)
