"""Quarantine and dead letters (admin).

Quarantine: records and profiles whose processing failed again and again. A quarantined item
is skipped by its worker until it is released here (or with ``kindred dlq quarantine
release``); released, the next pass takes it again.

Dead letters (``/v1/dlq``): what a source sent that could not be taken (with the reason),
listed and replayed once the cause is fixed, by the same functions as ``kindred dlq list`` and
``kindred dlq replay`` (:mod:`ingest.dlq`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from api.deps import AppState, get_session, require, state
from api.errors import ERROR_RESPONSES
from ingest.dlq import list_dead_letters, replay_dead_letters
from kindred.errors import NotFound
from kindred.quarantine import list_quarantine, release_quarantine
from kindred.security import Principal

quarantine_router = APIRouter(
    prefix="/v1/quarantine", tags=["quarantine"], responses=ERROR_RESPONSES
)
dlq_router = APIRouter(prefix="/v1/dlq", tags=["dlq"], responses=ERROR_RESPONSES)

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


@quarantine_router.get(
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


@quarantine_router.delete(
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


# ---------------------------------------------------------------------------- dead letters

LetterId = Annotated[
    int, Path(ge=1, le=2**63 - 1, description="the dead letter's id (see GET /v1/dlq)")
]


class DeadLetterOut(BaseModel):
    id: int
    source: str | None
    #: the connector that re-parses it on replay (None: a canonical event the worker refused)
    connector: str | None
    #: item (one rejected item), payload (a whole body refused) or event (refused by the worker)
    origin: str
    reason: str
    #: the start of what was received (at most 500 characters)
    payload: str
    created_at: datetime
    replayed_at: datetime | None


class ReplayOut(BaseModel):
    letters: int
    replayed: int
    events_published: int
    #: the letters that are still invalid, each with its id and the new reason
    still_invalid: list[dict[str, Any]]


@dlq_router.get("", response_model=list[DeadLetterOut], summary="Dead letters, newest first")
def read_dead_letters(
    source: str | None = Query(None, max_length=200, description="only this source's"),
    replayed: bool = Query(False, description="include the already replayed ones"),
    limit: int = Query(50, ge=1, le=1000),
    session: Session = Depends(get_session),
    _: Principal = Depends(require("admin")),
) -> list[DeadLetterOut]:
    letters = list_dead_letters(session, source=source, limit=limit, include_replayed=replayed)
    return [DeadLetterOut.model_validate(letter.as_json()) for letter in letters]


@dlq_router.post(
    "/{letter_id}/replay",
    response_model=ReplayOut,
    summary="Re-parse one dead letter and publish it if it is valid now",
)
def replay_letter(
    letter_id: LetterId,
    app: AppState = Depends(state),
    session: Session = Depends(get_session),
    _: Principal = Depends(require("admin")),
) -> ReplayOut:
    outcome = replay_dead_letters(session, app.publisher, letter_id=letter_id)
    return ReplayOut.model_validate(outcome.as_json())


@dlq_router.post(
    "/replay",
    response_model=ReplayOut,
    summary="Re-parse a source's unreplayed dead letters (oldest first) and publish the valid",
)
def replay_source(
    source: str = Query(min_length=1, max_length=200, description="the source's name"),
    limit: int = Query(1000, ge=1, le=10000),
    app: AppState = Depends(state),
    session: Session = Depends(get_session),
    _: Principal = Depends(require("admin")),
) -> ReplayOut:
    outcome = replay_dead_letters(session, app.publisher, source=source, limit=limit)
    return ReplayOut.model_validate(outcome.as_json())


#: both routers, included once by the app
router = APIRouter()
router.include_router(quarantine_router)
router.include_router(dlq_router)
