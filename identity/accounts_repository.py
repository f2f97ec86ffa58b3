"""The accounts' queries: ingest's dirty account records, and the accounts and keys made of
them. Set-based (one array parameter per column, ``kindred.db.execute_arrays``)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kindred.db import execute_arrays
from kindred.models import AccountRecord

SELECT_ACCOUNT_KEYS = (
    "SELECT key, account_id FROM account_keys WHERE key = ANY(CAST(%(keys)b AS text[]))"
)
#: accounts.name and .domain are bounded; what ingest saw is not
INSERT_ACCOUNTS = (
    "INSERT INTO accounts (id, name, domain, traits) SELECT v.id, left(v.name, 500), "
    "left(v.domain, 255), v.traits FROM unnest(CAST(%(id)b AS uuid[]), "
    "CAST(%(name)b AS text[]), CAST(%(domain)b AS text[]), CAST(%(traits)b AS jsonb[])) "
    "AS v(id, name, domain, traits)"
)
INSERT_ACCOUNT_KEYS = (
    "INSERT INTO account_keys (key, account_id) SELECT * FROM unnest("
    "CAST(%(key)b AS text[]), CAST(%(id)b AS uuid[])) ON CONFLICT DO NOTHING"
)
UPDATE_ACCOUNTS = (
    "UPDATE accounts a SET traits = a.traits || v.traits, "
    "name = coalesce(left(v.name, 500), a.name), domain = coalesce(left(v.domain, 255), "
    "a.domain), updated_at = now() FROM unnest(CAST(%(id)b AS uuid[]), "
    "CAST(%(name)b AS text[]), CAST(%(domain)b AS text[]), CAST(%(traits)b AS jsonb[])) "
    "AS v(id, name, domain, traits) WHERE a.id = v.id"
)
CLEAR_DIRTY_ACCOUNT_RECORDS = (
    "UPDATE account_records SET dirty = false FROM unnest(CAST(%(key)b AS text[]), "
    "CAST(%(at)b AS timestamptz[])) AS v(key, at) "
    "WHERE account_records.key = v.key AND account_records.updated_at = v.at"
)


@dataclass(frozen=True)
class DirtyAccountRecord:
    """What ingest saw of one account key, read without a row lock."""

    key: str
    name: str | None
    domain: str | None
    traits: dict[str, Any]
    updated_at: datetime


def dirty_account_records(session: Session) -> list[DirtyAccountRecord]:
    """Every dirty account record, by key (bare ``dirty``: the partial index's predicate)."""
    query = (
        select(
            AccountRecord.key,
            AccountRecord.name,
            AccountRecord.domain,
            AccountRecord.traits,
            AccountRecord.updated_at,
        )
        .where(AccountRecord.dirty)
        .order_by(AccountRecord.key)
    )
    return [DirtyAccountRecord(*row) for row in session.execute(query)]


def account_ids_of_keys(session: Session, keys: Sequence[str]) -> dict[str, uuid.UUID]:
    """The account of each of ``keys`` that has one."""
    rows = execute_arrays(session, SELECT_ACCOUNT_KEYS, {"keys": list(keys)}, returning=True)
    return {key: account_id for key, account_id in rows}


def _account_params(rows: Sequence[dict[str, Any]]) -> dict[str, list[Any]]:
    return {
        "id": [r["id"] for r in rows],
        "name": [r["name"] for r in rows],
        "domain": [r["domain"] for r in rows],
        "traits": [json.dumps(r["traits"], default=str, ensure_ascii=False) for r in rows],
    }


def insert_accounts(session: Session, accounts: Sequence[dict[str, Any]]) -> None:
    """New accounts (``id``, ``key``, ``name``, ``domain``, ``traits``) and their keys."""
    execute_arrays(session, INSERT_ACCOUNTS, _account_params(accounts))
    execute_arrays(
        session,
        INSERT_ACCOUNT_KEYS,
        {"key": [a["key"] for a in accounts], "id": [a["id"] for a in accounts]},
    )


def update_accounts(session: Session, accounts: Sequence[dict[str, Any]]) -> None:
    """Merge traits into accounts (the given ones win); a name or domain given replaces the
    stored one."""
    execute_arrays(session, UPDATE_ACCOUNTS, _account_params(accounts))


def clear_dirty_account_records(session: Session, records: Sequence[DirtyAccountRecord]) -> None:
    """Compare-and-clear: an account record that ingest changed meanwhile stays dirty."""
    execute_arrays(
        session,
        CLEAR_DIRTY_ACCOUNT_RECORDS,
        {"key": [r.key for r in records], "at": [r.updated_at for r in records]},
    )
