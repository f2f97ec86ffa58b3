"""Accounts (B2B companies): one account, and the people linked to it."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from api.deps import get_session, require
from api.errors import ERROR_RESPONSES
from identity.accounts import account_profiles, get_account
from kindred.security import Principal

router = APIRouter(prefix="/v1/accounts", tags=["accounts"], responses=ERROR_RESPONSES)


@router.get("/{account_id}", summary="One account (a merged-away id answers with the survivor)")
def read_account(
    account_id: uuid.UUID,
    session: Session = Depends(get_session),
    _: Principal = Depends(require("read")),
) -> dict[str, Any]:
    return get_account(session, account_id=account_id)


@router.get("/{account_id}/profiles", summary="People linked to the account, with confidence")
def read_account_profiles(
    account_id: uuid.UUID,
    limit: int = Query(100, ge=1, le=1000),
    after: uuid.UUID | None = Query(None, description="`next_after` of the previous page"),
    session: Session = Depends(get_session),
    _: Principal = Depends(require("read")),
) -> dict[str, Any]:
    return account_profiles(session, account_id=account_id, limit=limit, after=after)
