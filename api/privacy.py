"""Privacy requests (admin): erase, suppress and unsuppress a person; the audit list.

``DELETE /v1/profiles/{id}`` (a plain erasure) lives with the other profile routes."""

from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field, model_validator
from sqlalchemy.orm import Session

from api.deps import get_session, require
from api.errors import ERROR_RESPONSES
from api.validation import StorableModel, StorableStr
from ingest.suppression import suppression_keys
from kindred.security import Principal
from profiles.privacy import audit_trail, submit_request
from profiles.schemas import PrivacyRequestList, PrivacyRequestOut

router = APIRouter(prefix="/v1/privacy", tags=["privacy"], responses=ERROR_RESPONSES)


class PrivacyRequestIn(StorableModel):
    type: Literal["delete", "suppress", "suppress_with_delete", "unsuppress"]
    identifier: StorableStr | None = Field(
        None,
        min_length=3,
        max_length=600,
        pattern=r"^[A-Za-z_]+:.*\S",
        description="TYPE:VALUE, e.g. email:ann@example.com",
    )
    profile_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _one_subject(self) -> PrivacyRequestIn:
        if (self.identifier is None) == (self.profile_id is None):
            raise ValueError("give exactly one of `identifier` or `profile_id`")
        return self


@router.post(
    "/requests",
    response_model=PrivacyRequestOut,
    status_code=201,
    summary="Erase, suppress or unsuppress a person (by identifier or profile id)",
)
def create_request(
    body: PrivacyRequestIn,
    request: Request,
    session: Session = Depends(get_session),
    principal: Principal = Depends(require("admin")),
) -> PrivacyRequestOut:
    return submit_request(
        session,
        type=body.type,
        keys=suppression_keys(request.app.state.settings),
        requested_by=f"api-key:{principal.key_id}:{principal.name}",
        api_key_id=principal.key_id,
        identifier=body.identifier,
        profile_id=body.profile_id,
    )


@router.get("/requests", response_model=PrivacyRequestList, summary="The privacy audit trail")
def read_requests(
    limit: int = Query(100, ge=1, le=1000),
    session: Session = Depends(get_session),
    _: Principal = Depends(require("admin")),
) -> PrivacyRequestList:
    return audit_trail(session, limit=limit)
