"""Account (B2B company) resolution. Identity alone writes ``accounts`` and ``account_keys``.

Accounts arrive from `group` calls and CRM company rows: ingest records what each said in
``account_records`` (by group id) and marks them dirty. This module
0. takes dirty account records: an unknown key becomes a new account with that key, a known
   one updates its account (traits merged in, a name or domain given replaces the stored one);
1. merges accounts that are the same company: same web domain, or the same name once legal
   forms, case and punctuation are normalised (``ООО «Ромашка»`` = ``Romashka LLC``); the
   oldest account survives and absorbed ones answer through ``merged_into``;
2. links each person (profile) to one account with a confidence and the rule that decided:
   an explicit association (CRM contact's company, a `group` call) 1.0, a corporate email
   domain 0.9, the company name the person gave 0.7. A corporate domain that matches no
   account creates one (named from the person's company trait). Free-mail domains
   (gmail.com, mail.ru, ...) never decide.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from identity.accounts_repository import (
    account_ids_of_keys,
    clear_dirty_account_records,
    dirty_account_records,
    insert_accounts,
    update_accounts,
)
from identity.graph import UnionFind
from identity.merge import lock_resolver
from identity.normalize import email_domain, is_free_mail_domain, normalise_company, normalise_email
from kindred.db import in_ids
from kindred.errors import NotFound
from kindred.identifiers import domain_of_url
from kindred.models import Account, AccountKey, Profile, RecordLink, SourceRecord
from kindred.models.identity import AccountLink

RULE_CONFIDENCE = {"association": 1.0, "email_domain": 0.9, "new_domain": 0.8, "company_name": 0.7}


@dataclass
class AccountResult:
    merged_accounts: int = 0
    created_accounts: int = 0
    linked_profiles: int = 0


def absorb_account_records(session: Session) -> int:
    """Turn every dirty account record into its account (created for an unknown key, with the
    key; else updated: traits merged in, name and domain replaced when given), then clear the
    records compare-and-clear (one that ingest changed meanwhile stays dirty). Returns the
    number of records taken. The caller commits."""
    lock_resolver(session)
    records = dirty_account_records(session)
    if not records:
        return 0
    known = account_ids_of_keys(session, [r.key for r in records])
    rows = [
        {
            "id": known.get(r.key) or uuid.uuid4(),
            "key": r.key,
            "name": r.name,
            "domain": r.domain,
            "traits": r.traits,
        }
        for r in records
    ]
    new = [row for row in rows if row["key"] not in known]
    if new:
        insert_accounts(session, new)
    old = [row for row in rows if row["key"] in known]
    if old:
        update_accounts(session, old)
    clear_dirty_account_records(session, records)
    session.flush()
    return len(records)


def _account_domain(account: Account) -> str | None:
    traits = account.traits or {}
    return domain_of_url(account.domain or traits.get("domain") or traits.get("website"))


def merge_duplicate_accounts(session: Session) -> int:
    """Merge accounts sharing a domain or a normalised name; the oldest survives."""
    accounts = list(
        session.execute(
            select(Account).where(Account.merged_into.is_(None)).order_by(Account.created_at)
        ).scalars()
    )
    uf = UnionFind[uuid.UUID]()
    first_by: dict[tuple[str, str], uuid.UUID] = {}
    for acc in accounts:
        uf.find(acc.id)
        keys = []
        dom = _account_domain(acc)
        if dom and not is_free_mail_domain(dom):
            keys.append(("domain", dom))
        name = normalise_company(acc.name or (acc.traits or {}).get("name"))
        if name and len(name) >= 3:
            keys.append(("name", name))
        for key in keys:
            if key in first_by:
                uf.union(first_by[key], acc.id)
            else:
                first_by[key] = acc.id
    groups: dict[uuid.UUID, list[Account]] = defaultdict(list)
    for acc in accounts:
        groups[uf.find(acc.id)].append(acc)
    merged = 0
    for members in groups.values():
        if len(members) < 2:
            continue
        survivor, absorbed = members[0], members[1:]
        traits = {}
        for acc in reversed(members):  # the survivor's values win
            traits.update({k: v for k, v in (acc.traits or {}).items() if v not in (None, "")})
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
            .values(account_id=survivor.id)
        )
        session.execute(
            update(Account)
            .where(in_ids(Account.id, ids, uuid=True) | in_ids(Account.merged_into, ids, uuid=True))
            .values(merged_into=survivor.id, updated_at=func.now())
        )
        survivor.traits = traits
        survivor.name = survivor.name or next((a.name for a in absorbed if a.name), None)
        survivor.domain = survivor.domain or next((a.domain for a in absorbed if a.domain), None)
        merged += len(absorbed)
    session.flush()
    return merged


@dataclass
class _AccountIndex:
    built_at: float
    by_domain: dict[str, uuid.UUID]
    by_name: dict[str, uuid.UUID]


_INDEXES: dict[str, _AccountIndex] = {}
INDEX_TTL_S = 30.0


def _account_index(session: Session, *, fresh: bool) -> _AccountIndex:
    """Accounts by domain and by normalised name. The streaming path reuses it for up to
    ``INDEX_TTL_S`` (accounts created meanwhile are found on the next pass or batch run)."""
    cache_key = str(session.connection().engine.url)
    cached = _INDEXES.get(cache_key)
    if cached and not fresh and time.monotonic() - cached.built_at < INDEX_TTL_S:
        return cached
    by_domain: dict[str, uuid.UUID] = {}
    by_name: dict[str, uuid.UUID] = {}
    for acc in session.execute(
        select(Account).where(Account.merged_into.is_(None)).order_by(Account.created_at)
    ).scalars():
        dom = _account_domain(acc)
        if dom:
            by_domain.setdefault(dom, acc.id)
        name = normalise_company(acc.name)
        if name:
            by_name.setdefault(name, acc.id)
    index = _AccountIndex(time.monotonic(), by_domain, by_name)
    _INDEXES[cache_key] = index
    return index


@lru_cache(maxsize=200_000)
def _corporate_domain(email: str) -> str | None:
    dom = email_domain(normalise_email(email))
    return dom if dom and not is_free_mail_domain(dom) else None


@lru_cache(maxsize=200_000)
def _company_key(company: str) -> str | None:
    return normalise_company(company)


def link_profiles(
    session: Session, *, profile_ids: Collection[uuid.UUID] | None = None
) -> AccountResult:
    """Choose each profile's account (all live profiles when ``profile_ids`` is None)."""
    result = AccountResult()
    query = (
        select(  # only the fields that decide (whole trait documents are large)
            RecordLink.profile_id,
            SourceRecord.account_key,
            SourceRecord.traits["email"],
            SourceRecord.traits["company"],
            SourceRecord.external_ids["email"],
        )
        .join(SourceRecord, SourceRecord.id == RecordLink.record_id)
        .where(SourceRecord.deleted.is_(False))
    )
    if profile_ids is not None:
        if not profile_ids:
            return result
        query = query.where(in_ids(RecordLink.profile_id, profile_ids, uuid=True))
    rows = session.execute(query).all()
    wanted = sorted({row[1] for row in rows if row[1]})
    keys = (
        dict(
            session.execute(
                select(AccountKey.key, AccountKey.account_id).where(AccountKey.key.in_(wanted))
            )
            .tuples()
            .all()
        )
        if wanted
        else {}
    )
    index = _account_index(session, fresh=profile_ids is None)
    by_domain, by_name = index.by_domain, index.by_name

    evidence: dict[uuid.UUID, list[tuple[str, uuid.UUID | str, str]]] = defaultdict(list)
    for pid, account_key, trait_email, trait_company, other_emails in rows:
        traits = {"email": trait_email, "company": trait_company}
        if account_key and account_key in keys:
            evidence[pid].append(("association", keys[account_key], account_key))
        emails = [*(other_emails if isinstance(other_emails, list) else []), trait_email]
        for email in emails:
            dom = _corporate_domain(email) if isinstance(email, str) else None
            if dom:
                if dom in by_domain:
                    evidence[pid].append(("email_domain", by_domain[dom], dom))
                else:
                    evidence[pid].append(("new_domain", dom, str(traits.get("company") or "")))
        company = traits.get("company")
        if isinstance(company, dict):
            company = company.get("name")
        name = _company_key(company) if isinstance(company, str) else None
        if name and name in by_name:
            evidence[pid].append(("company_name", by_name[name], str(company)))

    links: list[dict[str, Any]] = []
    for pid, found in evidence.items():
        best_rule = max(found, key=lambda f: RULE_CONFIDENCE[f[0]])[0]
        candidates = [f for f in found if f[0] == best_rule]
        target, detail = Counter((f[1], f[2]) for f in candidates).most_common(1)[0][0]
        if best_rule == "new_domain":
            assert isinstance(target, str)
            account_id = by_domain.get(target)
            if account_id is None:
                account_id = uuid.uuid4()
                session.execute(
                    pg_insert(Account).values(
                        id=account_id,
                        name=detail or None,
                        domain=target,
                        traits={"domain": target, **({"name": detail} if detail else {})},
                    )
                )
                session.execute(
                    pg_insert(AccountKey)
                    .values(key=f"domain:{target}", account_id=account_id)
                    .on_conflict_do_nothing()
                )
                by_domain[target] = account_id
                result.created_accounts += 1
            detail = target
        else:
            assert isinstance(target, uuid.UUID)
            account_id = target
        links.append(
            {
                "profile_id": pid,
                "account_id": account_id,
                "confidence": RULE_CONFIDENCE[best_rule],
                "rule": best_rule,
                "evidence": detail,
            }
        )
    if links:
        ins = pg_insert(AccountLink)
        session.execute(
            ins.on_conflict_do_update(
                index_elements=["profile_id"],
                set_={
                    "account_id": ins.excluded.account_id,
                    "confidence": ins.excluded.confidence,
                    "rule": ins.excluded.rule,
                    "evidence": ins.excluded.evidence,
                    "linked_at": func.now(),
                },
            ),
            links,
        )
        session.execute(
            text(
                "UPDATE profiles p SET account_id = l.account_id FROM account_links l "
                "WHERE l.profile_id = p.id AND p.account_id IS DISTINCT FROM l.account_id"
            )
        )
    result.linked_profiles = len(links)
    session.flush()
    return result


def resolve_accounts(session: Session) -> AccountResult:
    """The batch path: take the dirty account records, merge duplicate accounts, then choose
    the account of every live profile."""
    absorb_account_records(session)
    merged = merge_duplicate_accounts(session)
    result = link_profiles(session)
    result.merged_accounts = merged
    return result


def get_account(session: Session, *, account_id: uuid.UUID) -> dict[str, Any]:
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound(f"no account {account_id}")
    requested = account.id
    if account.merged_into is not None:
        account = session.get(Account, account.merged_into)
        assert account is not None
    keys = list(
        session.execute(select(AccountKey.key).where(AccountKey.account_id == account.id)).scalars()
    )
    counts = session.execute(
        select(AccountLink.rule, func.count())
        .where(AccountLink.account_id == account.id)
        .group_by(AccountLink.rule)
    ).all()
    return {
        "id": account.id,
        "requested_id": requested,
        "merged": requested != account.id,
        "name": account.name,
        "domain": account.domain,
        "traits": account.traits,
        "keys": keys,
        "profiles": sum(c for _, c in counts),
        "profiles_by_rule": {rule: c for rule, c in counts},
        "created_at": account.created_at,
        "updated_at": account.updated_at,
    }


def account_profiles(
    session: Session, *, account_id: uuid.UUID, limit: int = 100, after: uuid.UUID | None = None
) -> dict[str, Any]:
    account = get_account(session, account_id=account_id)
    query = (
        select(AccountLink, Profile.traits)
        .join(Profile, Profile.id == AccountLink.profile_id)
        .where(AccountLink.account_id == account["id"], Profile.merged_into.is_(None))
        .order_by(AccountLink.profile_id)
        .limit(limit + 1)
    )
    if after is not None:
        query = query.where(AccountLink.profile_id > after)
    rows = session.execute(query).all()
    items = [
        {
            "profile_id": link.profile_id,
            "confidence": link.confidence,
            "rule": link.rule,
            "evidence": link.evidence,
            "email": (traits or {}).get("email"),
            "first_name": (traits or {}).get("first_name"),
            "last_name": (traits or {}).get("last_name"),
            "job_title": (traits or {}).get("job_title"),
        }
        for link, traits in rows[:limit]
    ]
    return {
        "account_id": account["id"],
        "items": items,
        "next_after": str(items[-1]["profile_id"]) if len(rows) > limit else None,
    }
