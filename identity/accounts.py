"""Account (B2B company) resolution. Identity alone writes ``accounts`` and ``account_keys``.

Accounts arrive from `group` calls and CRM company rows: ingest records what each said in
``account_records`` (by group id) and marks them dirty. This module
0. takes dirty account records: an unknown key becomes a new account with that key, a known
   one updates its account (traits merged in, a name given replaces the stored one, a domain
   fills an account without one);
1. merges accounts that are the same company, in every pass for the accounts the pass
   touched (found through the ``domain:`` and ``name:`` keys identity keeps for every
   account): same web domain, or the same name once legal forms, case and punctuation are
   normalised (``ООО «Ромашка»`` = ``Romashka LLC``), but never two accounts of different
   domains (a name that companies of different domains share is ambiguous and merges nothing
   from then on); the oldest account survives and absorbed ones answer through
   ``merged_into``, their keys, person links and profiles move to it;
2. links each person (profile) to one account with a confidence and the rule that decided:
   an explicit association (CRM contact's company, a `group` call) 1.0, a corporate email
   domain 0.9, the company name the person gave 0.7. A corporate domain that matches no
   account creates one (named from the person's company trait). Free-mail domains
   (gmail.com, mail.ru, ...) never decide.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections import Counter, defaultdict
from collections.abc import Collection, Sequence, Set
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from identity.accounts_repository import (
    AccountRow,
    absorb_accounts,
    account_ids_of_keys,
    add_account_keys,
    clear_dirty_account_records,
    dirty_account_records,
    insert_accounts,
    keys_of_accounts,
    live_accounts,
    live_accounts_with_domains,
    update_accounts,
)
from identity.graph import UnionFind
from identity.merge import lock_accounts
from identity.normalize import email_domain, is_free_mail_domain, normalise_company, normalise_email
from kindred.db import in_ids
from kindred.errors import BadRequest, NotFound
from kindred.identifiers import domain_of_url
from kindred.models import Account, AccountKey, Profile, RecordLink, SourceRecord
from kindred.models.identity import AccountLink
from kindred.models.profiles import AccountComputed

RULE_CONFIDENCE = {"association": 1.0, "email_domain": 0.9, "new_domain": 0.8, "company_name": 0.7}


@dataclass
class AccountResult:
    merged_accounts: int = 0
    created_accounts: int = 0
    linked_profiles: int = 0


def absorb_account_records(session: Session) -> int:
    """Turn every dirty account record into its account (created for an unknown key, with the
    key; else updated: traits merged in, a name given replaces the stored one, a domain fills
    an account that has none: an account is one company), then clear the
    records compare-and-clear (one that ingest changed meanwhile stays dirty), and merge the
    accounts it touched with the same companies' accounts (``merge_duplicate_accounts``).
    Returns the number of records taken. The caller commits."""
    lock_accounts(session)
    records = dirty_account_records(session)
    if not records:
        return 0
    known = account_ids_of_keys(session, [r.key for r in records])
    rows: list[dict[str, Any]] = [
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
    merge_duplicate_accounts(session, account_ids=[row["id"] for row in rows])
    session.flush()
    return len(records)


#: keys identity derives for every account, so that merges and links find an account by its
#: company without reading the whole table: ``domain:acme.com``, ``name:acme``, and
#: ``ambiguous-name:acme`` once two accounts with different domains share the name
DOMAIN_KEY, NAME_KEY, AMBIGUOUS_NAME_KEY = "domain:", "name:", "ambiguous-name:"


def _account_domain(account: AccountRow) -> str | None:
    traits = account.traits or {}
    dom = domain_of_url(account.domain or traits.get("domain") or traits.get("website"))
    return dom if dom and not is_free_mail_domain(dom) else None


def _account_name(account: AccountRow) -> str | None:
    name = _company_key(account.name or (account.traits or {}).get("name") or "")
    return name if name and len(name) >= 3 else None


def group_accounts(
    accounts: Sequence[tuple[uuid.UUID, frozenset[str], str | None]], *, ambiguous: Set[str]
) -> tuple[list[list[uuid.UUID]], set[str]]:
    """Which accounts are one company. ``accounts``: (id, its web domains, its normalised
    name), oldest first. Accounts sharing a domain join; then accounts sharing a name join,
    unless the name is ``ambiguous`` or the accounts holding it have different domains (the
    name is then ambiguous from now on: returned). Two groups holding different domains never
    join, whatever they share. Returns the groups (each oldest first) and the names found
    ambiguous."""
    order = {acc_id: i for i, (acc_id, _, _) in enumerate(accounts)}
    uf = UnionFind[uuid.UUID](order)
    domains: dict[uuid.UUID, frozenset[str]] = {acc_id: doms for acc_id, doms, _ in accounts}

    def join(a: uuid.UUID, b: uuid.UUID) -> None:
        ra, rb = uf.find(a), uf.find(b)
        da, db = domains[ra], domains[rb]
        if ra != rb and (da == db or not da or not db):
            domains[uf.join(ra, rb)] = da | db

    by_domain: dict[str, list[uuid.UUID]] = defaultdict(list)
    for acc_id, doms, _ in accounts:
        for dom in sorted(doms):
            # each earlier holder in turn: one that cannot join must not keep the rest apart
            for earlier in by_domain[dom]:
                join(earlier, acc_id)
            by_domain[dom].append(acc_id)
    by_name: dict[str, list[uuid.UUID]] = defaultdict(list)
    for acc_id, _, name in accounts:
        if name and name not in ambiguous:
            by_name[name].append(acc_id)
    found: set[str] = set()
    for name, ids in by_name.items():
        if len({domains[uf.find(i)] for i in ids} - {frozenset()}) > 1:
            found.add(name)
            continue
        for acc_id in ids[1:]:
            join(ids[0], acc_id)
    groups = sorted(uf.components().values(), key=lambda g: min(order[i] for i in g))
    return [sorted(g, key=order.__getitem__) for g in groups], found


def merge_duplicate_accounts(
    session: Session, *, account_ids: Collection[uuid.UUID] | None = None
) -> int:
    """Merge the accounts that are one company (``group_accounts``); the oldest survives.
    ``account_ids``: only these accounts (those a pass touched) against their candidates,
    found by their ``domain:`` and ``name:`` keys and by stored domain; None: every live
    account (the batch run, which also gives older accounts their keys). Then every account
    looked at keeps its company's keys. Returns the number of accounts absorbed."""
    lock_accounts(session)
    touched = live_accounts(session, account_ids)
    if not touched:
        return 0
    rows = {a.id: a for a in touched}
    if account_ids is not None:
        doms = {d for a in touched if (d := _account_domain(a))}
        names = {n for a in touched if (n := _account_name(a))}
        wanted = [DOMAIN_KEY + d for d in doms]
        wanted += [p + n for n in names for p in (NAME_KEY, AMBIGUOUS_NAME_KEY)]
        found = set(account_ids_of_keys(session, wanted).values())
        found |= live_accounts_with_domains(session, doms)
        rows |= {a.id: a for a in live_accounts(session, found - rows.keys())}
    accounts = sorted(rows.values(), key=lambda a: (a.created_at, str(a.id)))
    domains: dict[uuid.UUID, set[str]] = defaultdict(set)
    for key, acc_id in keys_of_accounts(session, rows, prefix=DOMAIN_KEY):
        domains[acc_id].add(key.removeprefix(DOMAIN_KEY))
    facts = [
        (a.id, frozenset({d for d in (*domains[a.id], _account_domain(a)) if d}), _account_name(a))
        for a in accounts
    ]
    names = {n for _, _, n in facts if n}
    known = account_ids_of_keys(session, [AMBIGUOUS_NAME_KEY + n for n in names])
    ambiguous = {k.removeprefix(AMBIGUOUS_NAME_KEY) for k in known}
    groups, newly_ambiguous = group_accounts(facts, ambiguous=ambiguous)
    of = {acc_id: (doms, name) for acc_id, doms, name in facts}
    keys: dict[str, uuid.UUID] = {}
    merged = 0
    for group in groups:
        survivor = rows[group[0]]
        if len(group) > 1:
            absorb_accounts(session, survivor=survivor, absorbed=[rows[i] for i in group[1:]])
            merged += len(group) - 1
        group_domains = {d for i in group for d in of[i][0]}
        if len(group_domains) == 1:  # an account of two domains names neither for sure
            keys.setdefault(DOMAIN_KEY + group_domains.pop(), survivor.id)
        for name in {of[i][1] for i in group} - {None}:
            assert name is not None
            keys.setdefault(NAME_KEY + name, survivor.id)
            if name in newly_ambiguous:
                keys.setdefault(AMBIGUOUS_NAME_KEY + name, survivor.id)
    add_account_keys(session, keys)
    session.flush()
    return merged


def _accounts_of_companies(
    session: Session, *, domains: Collection[str], names: Collection[str]
) -> tuple[dict[str, uuid.UUID], dict[str, uuid.UUID]]:
    """The account of each corporate domain and of each (unambiguous) normalised company
    name that has one, through the keys identity keeps for every account (and, for domains,
    accounts' stored domains)."""
    wanted = [DOMAIN_KEY + d for d in domains]
    wanted += [p + n for n in names for p in (NAME_KEY, AMBIGUOUS_NAME_KEY)]
    keys = account_ids_of_keys(session, wanted)
    by_domain = {d: keys[DOMAIN_KEY + d] for d in domains if DOMAIN_KEY + d in keys}
    missing = set(domains) - by_domain.keys()
    if missing:  # accounts older than the keys (one with a domain key is not)
        found = live_accounts_with_domains(session, missing)
        found -= {acc_id for _, acc_id in keys_of_accounts(session, found, prefix=DOMAIN_KEY)}
        for acc in live_accounts(session, found):
            if (dom := _account_domain(acc)) in missing:
                by_domain.setdefault(dom, acc.id)
    by_name = {
        n: keys[NAME_KEY + n]
        for n in names
        if NAME_KEY + n in keys and AMBIGUOUS_NAME_KEY + n not in keys
    }
    return by_domain, by_name


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
    lock_accounts(session)
    result = AccountResult()
    company = SourceRecord.traits["company"]
    query = (
        select(  # only the fields that decide, as text (whole trait documents are large)
            RecordLink.profile_id,
            SourceRecord.account_key,
            _json_string(SourceRecord.traits["email"]),
            func.coalesce(_json_string(company), _json_string(company["name"])),
            SourceRecord.external_ids["email"],
        )
        .join(SourceRecord, SourceRecord.id == RecordLink.record_id)
        .where(SourceRecord.deleted.is_(False))
    )
    if profile_ids is not None:
        if not profile_ids:
            return result
        query = query.where(in_ids(RecordLink.profile_id, profile_ids, uuid=True))
    rows = []
    for pid, account_key, trait_email, company, other_emails in session.execute(query):
        emails = [*(other_emails if isinstance(other_emails, list) else []), trait_email]
        doms = [d for e in emails if isinstance(e, str) and (d := _corporate_domain(e))]
        rows.append((pid, account_key, doms, company, _company_key(company) if company else None))
    wanted = sorted({row[1] for row in rows if row[1]})
    keys = account_ids_of_keys(session, wanted) if wanted else {}
    by_domain, by_name = _accounts_of_companies(
        session,
        domains={d for row in rows for d in row[2]},
        names={row[4] for row in rows if row[4]},
    )

    evidence: dict[uuid.UUID, list[tuple[str, uuid.UUID | str, str]]] = defaultdict(list)
    for pid, account_key, doms, company, name in rows:
        if account_key and account_key in keys:
            evidence[pid].append(("association", keys[account_key], account_key))
        for dom in doms:
            if dom in by_domain:
                evidence[pid].append(("email_domain", by_domain[dom], dom))
            else:
                evidence[pid].append(("new_domain", dom, company or ""))
        if name and name in by_name:
            evidence[pid].append(("company_name", by_name[name], str(company)))

    links: list[dict[str, Any]] = []
    created: list[dict[str, Any]] = []
    for pid, found in evidence.items():
        best_rule = max(found, key=lambda f: RULE_CONFIDENCE[f[0]])[0]
        candidates = [f for f in found if f[0] == best_rule]
        target, detail = Counter((f[1], f[2]) for f in candidates).most_common(1)[0][0]
        if best_rule == "new_domain":
            assert isinstance(target, str)
            account_id = by_domain.get(target)
            if account_id is None:  # named from the person's company trait
                account_id = by_domain[target] = uuid.uuid4()
                created.append(
                    {
                        "id": account_id,
                        "key": DOMAIN_KEY + target,
                        "name": detail or None,
                        "domain": target,
                        "traits": {"domain": target, **({"name": detail} if detail else {})},
                    }
                )
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
    if created:
        insert_accounts(session, created)
        result.created_accounts = len(created)
    result.linked_profiles = len(links)
    # a link that says what it said already is left alone (its ``linked_at`` stays the time
    # the person was linked; a full run thus rewrites only what changed)
    links = _changed_links(session, links, all_profiles=profile_ids is None)
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
        # the person's account, and their golden record to rebuild when it changed
        session.execute(
            update(Profile)
            .where(
                Profile.id == AccountLink.profile_id,
                in_ids(Profile.id, [link["profile_id"] for link in links], uuid=True),
                Profile.account_id.is_distinct_from(AccountLink.account_id),
            )
            .values(account_id=AccountLink.account_id, stale=True, updated_at=func.now())
        )
    if created:  # a new domain's account may be a company known by name
        result.merged_accounts = merge_duplicate_accounts(
            session, account_ids=[a["id"] for a in created]
        )
    session.flush()
    return result


def _json_string(value: Any) -> Any:
    """A JSON value as text when it is a string, else NULL (a number, list or object sent
    as an email or company decides nothing)."""
    return case((func.jsonb_typeof(value) == "string", value.astext))


def _changed_links(
    session: Session, links: list[dict[str, Any]], *, all_profiles: bool
) -> list[dict[str, Any]]:
    """The ``links`` that differ from the stored ones (account, rule, confidence, evidence)."""
    if not links:
        return links
    query = select(
        AccountLink.profile_id,
        AccountLink.account_id,
        AccountLink.rule,
        AccountLink.confidence,
        AccountLink.evidence,
    )
    if not all_profiles:
        query = query.where(
            in_ids(AccountLink.profile_id, [k["profile_id"] for k in links], uuid=True)
        )
    stored = {pid: (acc, rule, conf, ev) for pid, acc, rule, conf, ev in session.execute(query)}

    def same(link: dict[str, Any]) -> bool:
        was = stored.get(link["profile_id"])
        if was is None:
            return False
        now = (link["account_id"], link["rule"], link["confidence"], link["evidence"])
        # the account the person's domain created is found by that domain from then on
        created_by_it = was[1] == "new_domain" and now[1] == "email_domain"
        return was == now or (created_by_it and (was[0], was[3]) == (now[0], now[3]))

    return [link for link in links if not same(link)]


def resolve_accounts(
    session: Session, *, profile_ids: Collection[uuid.UUID] | None = None
) -> AccountResult:
    """The batch path: take the dirty account records, merge duplicate accounts, then choose
    the account of every live profile (of ``profile_ids`` only, when given)."""
    absorb_account_records(session)
    merged = merge_duplicate_accounts(session)
    result = link_profiles(session, profile_ids=profile_ids)
    result.merged_accounts += merged
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


# ------------------------------------------------------------------ reads for the console


def _rollup(session: Session, account_id: uuid.UUID) -> tuple[dict[str, Any] | None, Any]:
    row = session.execute(
        select(AccountComputed.computed, AccountComputed.computed_at).where(
            AccountComputed.account_id == account_id
        )
    ).first()
    return (row[0], row[1]) if row else (None, None)


def account_with_rollup(session: Session, *, account_id: uuid.UUID) -> dict[str, Any]:
    """``get_account`` with its rollup (account score, revenue share, key-account flag,
    engaged contacts and their reasons; None before the first rollup) and when it ran."""
    account = get_account(session, account_id=account_id)
    rollup, at = _rollup(session, account["id"])
    return {**account, "rollup": rollup, "rollup_computed_at": at}


def _encode_cursor(parts: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, arity: int) -> list[Any]:
    try:
        parts = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(parts, list) or len(parts) != arity:
            raise ValueError(cursor)
        return parts
    except (ValueError, TypeError) as err:
        raise BadRequest("cursor is not one this API issued; start again without it") from err


_LIST_ACCOUNTS = """
SELECT a.id, a.name, a.domain, a.traits, ac.computed, ac.computed_at,
       COALESCE(kindred_num(ac.computed -> 'account_score'), -1) AS score
FROM accounts a LEFT JOIN account_computed ac ON ac.account_id = a.id
WHERE a.merged_into IS NULL {after}
ORDER BY score DESC, a.id
LIMIT %(limit)s
"""


def list_accounts(
    session: Session, *, limit: int = 50, cursor: str | None = None
) -> dict[str, Any]:
    """Live accounts, best account score first (unscored last), keyset-paginated by
    (score, id): accounts rescored meanwhile may move, none is ever shown twice in a page."""
    params: dict[str, Any] = {"limit": limit + 1}
    after = ""
    if cursor:
        score, last = _decode_cursor(cursor, 2)
        try:
            params["score"], params["last"] = float(score), uuid.UUID(str(last))
        except (ValueError, TypeError) as err:
            raise BadRequest("cursor is not one this API issued; start again without it") from err
        after = (
            "AND (COALESCE(kindred_num(ac.computed -> 'account_score'), -1) < %(score)s "
            "OR (COALESCE(kindred_num(ac.computed -> 'account_score'), -1) = %(score)s "
            "AND a.id > %(last)s))"
        )
    sql = _LIST_ACCOUNTS.format(after=after)
    rows = list(session.connection().exec_driver_sql(sql, params).tuples())
    more = len(rows) > limit
    rows = rows[:limit]
    total = session.execute(
        select(func.count()).select_from(Account).where(Account.merged_into.is_(None))
    ).scalar_one()
    items = []
    for acc_id, name, domain, traits, computed, computed_at, _score in rows:
        t, c = traits or {}, computed or {}
        items.append(
            {
                "id": acc_id,
                "name": name or t.get("name"),
                "domain": domain or t.get("domain"),
                "industry": t.get("industry"),
                "country": t.get("country"),
                "employees": t.get("employees") or t.get("size"),
                "contacts": c.get("contacts"),
                "engaged_contacts": c.get("engaged_contacts"),
                "account_score": c.get("account_score"),
                "revenue": c.get("revenue"),
                "revenue_share": c.get("revenue_share"),
                "key_account": c.get("key_account"),
                "rollup_computed_at": computed_at,
            }
        )
    next_cursor = None
    if more and rows:
        next_cursor = _encode_cursor([float(rows[-1][6]), str(rows[-1][0])])
    return {"total": int(total), "items": items, "next_cursor": next_cursor}


def _is_decision_maker(title: Any, words: Collection[str]) -> bool:
    return isinstance(title, str) and any(w in title.lower() for w in words)


def account_contacts(
    session: Session,
    *,
    account_id: uuid.UUID,
    decision_titles: Collection[str],
    limit: int = 100,
    after: uuid.UUID | None = None,
) -> dict[str, Any]:
    """``account_profiles`` with each person's role (job title, decision maker: a title with
    one of ``decision_titles``) and engagement (lead score, temperature, lifecycle, last
    seen), by profile id."""
    page = account_profiles(session, account_id=account_id, limit=limit, after=after)
    ids = [item["profile_id"] for item in page["items"]]
    computed: dict[uuid.UUID, dict[str, Any]] = {}
    names: dict[uuid.UUID, Any] = {}
    last_seen: dict[uuid.UUID, Any] = {}
    if ids:
        for pid, comp, traits in session.execute(
            select(Profile.id, Profile.computed, Profile.traits).where(
                in_ids(Profile.id, ids, uuid=True)
            )
        ):
            computed[pid] = comp or {}
            names[pid] = (traits or {}).get("name")
        for pid, seen in session.execute(
            select(RecordLink.profile_id, func.max(SourceRecord.last_seen))
            .join(SourceRecord, SourceRecord.id == RecordLink.record_id)
            .where(in_ids(RecordLink.profile_id, ids, uuid=True), SourceRecord.deleted.is_(False))
            .group_by(RecordLink.profile_id)
        ):
            last_seen[pid] = seen
    for item in page["items"]:
        pid = item["profile_id"]
        comp = computed.get(pid, {})
        lead = comp.get("lead_score") or {}
        item["name"] = names.get(pid)
        item["decision_maker"] = _is_decision_maker(item.get("job_title"), decision_titles)
        item["lead_score"] = lead.get("score")
        item["temperature"] = (comp.get("temperature") or {}).get("value")
        item["lifecycle_stage"] = (comp.get("lifecycle") or {}).get("stage")
        item["last_interaction_at"] = lead.get("last_interaction_at")
        item["last_seen"] = last_seen.get(pid)
    return page


_ACCOUNT_JOURNEY = """
SELECT t.id, t.occurred_at, t.channel, t.type, t.name, t.source, t.campaign, t.properties,
       p.id, p.traits ->> 'name', p.traits ->> 'first_name', p.traits ->> 'last_name',
       p.traits ->> 'email'
FROM profiles p
JOIN record_links l ON l.profile_id = p.id
JOIN source_records r ON r.id = l.record_id AND NOT r.deleted
JOIN touchpoints t ON t.record_id = l.record_id
WHERE p.account_id = %(aid)s AND p.merged_into IS NULL AND NOT p.deleted {where}
ORDER BY t.occurred_at DESC, t.id DESC
LIMIT %(limit)s
"""


def account_journey(
    session: Session,
    *,
    account_id: uuid.UUID,
    limit: int = 50,
    cursor: str | None = None,
    channel: str | None = None,
) -> dict[str, Any]:
    """The touchpoints of the account's people, newest first, keyset-paginated by
    (time, id) descending; each names its person."""
    account = get_account(session, account_id=account_id)
    params: dict[str, Any] = {"aid": account["id"], "limit": limit + 1}
    where = ""
    if channel:
        params["channel"] = channel
        where += " AND t.channel = %(channel)s"
    if cursor:
        at, tid = _decode_cursor(cursor, 2)
        try:
            params["at"], params["tid"] = datetime.fromisoformat(str(at)), int(tid)
        except (ValueError, TypeError) as err:
            raise BadRequest("cursor is not one this API issued; start again without it") from err
        where += " AND (t.occurred_at, t.id) < (%(at)s, %(tid)s)"
    sql = _ACCOUNT_JOURNEY.format(where=where)
    rows = list(session.connection().exec_driver_sql(sql, params).tuples())
    more = len(rows) > limit
    rows = rows[:limit]
    items = [
        {
            "id": r[0],
            "occurred_at": r[1],
            "channel": r[2],
            "type": r[3],
            "event": r[4],
            "source": r[5],
            "campaign": r[6] or None,
            "properties": r[7] or {},
            "profile_id": r[8],
            "profile_name": r[9] or " ".join(x for x in (r[10], r[11]) if x) or None,
            "profile_email": r[12],
        }
        for r in rows
    ]
    next_cursor = None
    if more and rows:
        next_cursor = _encode_cursor([rows[-1][1].isoformat(), rows[-1][0]])
    return {"account_id": account["id"], "items": items, "next_cursor": next_cursor}
