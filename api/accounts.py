"""Accounts (B2B companies): the list by account score, one account with its rollup, the
people linked to it (roles, engagement), and its journey."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from api.deps import get_session, require
from api.errors import ERROR_RESPONSES
from identity.accounts import account_contacts, account_journey, account_with_rollup, list_accounts
from kindred.security import Principal
from profiles.config import DECISION_MAKER_TITLES

router = APIRouter(prefix="/v1/accounts", tags=["accounts"], responses=ERROR_RESPONSES)


@router.get("", summary="Live accounts, best account score first (cursor-paged)")
def index(
    limit: int = Query(50, ge=1, le=500),
    cursor: str | None = Query(None, description="`next_cursor` of the previous page"),
    session: Session = Depends(get_session),
    _: Principal = Depends(require("read")),
) -> dict[str, Any]:
    return list_accounts(session, limit=limit, cursor=cursor)


@router.get(
    "/{account_id}",
    summary="One account with its rollup (a merged-away id answers with the survivor)",
)
def read_account(
    account_id: uuid.UUID,
    session: Session = Depends(get_session),
    _: Principal = Depends(require("read")),
) -> dict[str, Any]:
    return account_with_rollup(session, account_id=account_id)


@router.get(
    "/{account_id}/profiles",
    summary="People linked to the account, with confidence, role and engagement",
)
def read_account_profiles(
    account_id: uuid.UUID,
    limit: int = Query(100, ge=1, le=1000),
    after: uuid.UUID | None = Query(None, description="`next_after` of the previous page"),
    session: Session = Depends(get_session),
    _: Principal = Depends(require("read")),
) -> dict[str, Any]:
    return account_contacts(
        session,
        account_id=account_id,
        decision_titles=DECISION_MAKER_TITLES,
        limit=limit,
        after=after,
    )


@router.get(
    "/{account_id}/journey",
    summary="Touchpoints of the account's people, newest first (cursor-paged)",
)
def read_account_journey(
    account_id: uuid.UUID,
    limit: int = Query(50, ge=1, le=500),
    cursor: str | None = Query(None, description="`next_cursor` of the previous page"),
    channel: str | None = Query(None, max_length=20, description="only this channel"),
    session: Session = Depends(get_session),
    _: Principal = Depends(require("read")),
) -> dict[str, Any]:
    return account_journey(
        session, account_id=account_id, limit=limit, cursor=cursor, channel=channel
    )
