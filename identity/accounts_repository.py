"""The accounts' queries: ingest's dirty account records, the accounts and keys made of them,
and account merges. Set-based (one array parameter per column, ``kindred.db.execute_arrays``,
or ``= ANY(array)``)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, Text, any_, bindparam, func, select, update
from sqlalchemy.orm import Session

from kindred.db import execute_arrays, in_ids
from kindred.models import Account, AccountKey, AccountRecord, Profile
from kindred.models.identity import AccountLink

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
#: an account keeps its first domain: a later one from the same key is another company's
#: (a group key two companies send) or a rebrand, and either way not a reason to change company
UPDATE_ACCOUNTS = (
    "UPDATE accounts a SET traits = a.traits || v.traits, "
    "name = coalesce(left(v.name, 500), a.name), domain = coalesce(a.domain, "
    "left(v.domain, 255)), updated_at = now() FROM unnest(CAST(%(id)b AS uuid[]), "
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
    """Merge traits into accounts (the given ones win); a name given replaces the stored one,
    a domain fills an account that has none."""
    execute_arrays(session, UPDATE_ACCOUNTS, _account_params(accounts))


def clear_dirty_account_records(session: Session, records: Sequence[DirtyAccountRecord]) -> None:
    """Compare-and-clear: an account record that ingest changed meanwhile stays dirty."""
    execute_arrays(
        session,
        CLEAR_DIRTY_ACCOUNT_RECORDS,
        {"key": [r.key for r in records], "at": [r.updated_at for r in records]},
    )


# ------------------------------------------------------------------------------- merges


@dataclass(frozen=True)
class AccountRow:
    """What decides whether an account is the same company as another."""

    id: uuid.UUID
    name: str | None
    domain: str | None
    traits: dict[str, Any]
    created_at: datetime


def live_accounts(session: Session, ids: Collection[uuid.UUID] | None) -> list[AccountRow]:
    """The live accounts among ``ids``, an absorbed one answering with its survivor (every
    live account when None); oldest first."""
    query = select(
        Account.id, Account.name, Account.domain, Account.traits, Account.created_at
    ).where(Account.merged_into.is_(None))
    if ids is not None:
        if not ids:
            return []
        survivors = select(Account.merged_into).where(in_ids(Account.id, ids, uuid=True))
        query = query.where(in_ids(Account.id, ids, uuid=True) | Account.id.in_(survivors))
    query = query.order_by(Account.created_at, Account.id)
    return [AccountRow(*row) for row in session.execute(query)]


def live_accounts_with_domains(session: Session, domains: Collection[str]) -> set[uuid.UUID]:
    """Live accounts whose stored domain is one of ``domains`` (indexed): finds accounts made
    before identity kept ``domain:`` keys for every account."""
    if not domains:
        return set()
    query = select(Account.id).where(
        Account.domain == any_(bindparam(None, list(domains), type_=ARRAY(Text()))),
        Account.merged_into.is_(None),
    )
    return set(session.execute(query).scalars())


def keys_of_accounts(
    session: Session, ids: Collection[uuid.UUID], *, prefix: str
) -> list[tuple[str, uuid.UUID]]:
    """The (key, account) pairs of ``ids`` whose key starts with ``prefix``."""
    if not ids:
        return []
    query = select(AccountKey.key, AccountKey.account_id).where(
        in_ids(AccountKey.account_id, ids, uuid=True), AccountKey.key.startswith(prefix)
    )
    return [(key, account_id) for key, account_id in session.execute(query)]


def add_account_keys(session: Session, keys: dict[str, uuid.UUID]) -> None:
    """Keys for accounts; a key that already names an account keeps it."""
    if keys:
        execute_arrays(session, INSERT_ACCOUNT_KEYS, {"key": list(keys), "id": list(keys.values())})


def absorb_accounts(
    session: Session, *, survivor: AccountRow, absorbed: Sequence[AccountRow]
) -> None:
    """Merge ``absorbed`` into ``survivor``: their keys, person links and profiles move to it
    (the moved profiles are marked stale, their account traits changed), they and whatever
    was merged into them answer through ``merged_into``, and the survivor takes the traits,
    name and domain it lacks."""
    ids = [a.id for a in absorbed]
    session.execute(
        update(AccountKey)
        .where(in_ids(AccountKey.account_id, ids, uuid=True))
        .values(account_id=survivor.id)
    )
    session.execute(
        update(AccountLink)
        .where(in_ids(AccountLink.account_id, ids, uuid=True))
        .values(account_id=survivor.id)
    )
    session.execute(
        update(Profile)
        .where(in_ids(Profile.account_id, ids, uuid=True))
        .values(account_id=survivor.id, stale=True, updated_at=func.now())
    )
    session.execute(
        update(Account)
        .where(in_ids(Account.id, ids, uuid=True) | in_ids(Account.merged_into, ids, uuid=True))
        .values(merged_into=survivor.id, updated_at=func.now())
    )
    traits: dict[str, Any] = {}
    for acc in [*reversed(absorbed), survivor]:  # the survivor's values win
        traits.update({k: v for k, v in (acc.traits or {}).items() if v not in (None, "")})
    session.execute(
        update(Account)
        .where(Account.id == survivor.id)
        .values(
            traits=traits,
            name=survivor.name or next((a.name for a in absorbed if a.name), None),
            domain=survivor.domain or next((a.domain for a in absorbed if a.domain), None),
            updated_at=func.now(),
        )
    )
