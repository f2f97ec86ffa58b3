"""The streaming resolver's generic-identifier guardrail: which emails/phones of a batch are
shared by different people (``identity.guardrail.judge`` on the records holding them), and
the profiles they held together.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from identity.graph import GENERIC_CHECK_TYPES, exclusive_key
from identity.guardrail import STREAMING_POLICY, GuardrailPolicy, Holder, judge, role_local_part
from identity.normalize import canonical_first_name, normalise_name, split_full_name
from identity.repository import exclusive_ids_of_records
from kindred.db import in_ids
from kindred.models import GenericIdentifier, Identifier, RecordLink, SourceRecord


def flag_generic_identifiers(
    session: Session, record_ids: Sequence[int], *, policy: GuardrailPolicy = STREAMING_POLICY
) -> list[dict[str, Any]]:
    """Emails/phones of ``record_ids`` that ``identity.guardrail.judge`` finds shared by
    different people (a role address, a household, a switchboard: ``policy.min_persons``
    dissimilar names, not typos, nicknames, blanks or swapped names): they stop linking and
    are recorded in ``generic_identifiers`` with their reason, and returned."""
    first = _trait_name(SourceRecord.traits, "first_name", "firstName")
    last = _trait_name(SourceRecord.traits, "last_name", "lastName")
    spelling = func.nullif(
        func.concat_ws(
            "|",
            func.coalesce(first, ""),
            func.coalesce(last, ""),
            func.coalesce(func.lower(_trait("name")), ""),
        ),
        "||",
    )
    candidates = (
        select(Identifier.link_type, Identifier.value)
        .where(
            in_ids(Identifier.record_id, record_ids),
            Identifier.link_type.in_(GENERIC_CHECK_TYPES),
            Identifier.linking.is_(True),
        )
        .distinct()
        .subquery()
    )
    shared = (
        select(Identifier.link_type, Identifier.value)
        .join(SourceRecord, SourceRecord.id == Identifier.record_id)
        .join(
            candidates,
            (candidates.c.link_type == Identifier.link_type)
            & (candidates.c.value == Identifier.value),
        )
        .group_by(Identifier.link_type, Identifier.value)
    )
    # a necessary condition of the policy, so that only plausible values are read in full
    tests = [func.count(func.distinct(spelling)) >= policy.min_persons]
    if policy.strong_ids:
        tests.append(func.count(func.distinct(Identifier.record_id)) > 1)
    if policy.max_records is not None:
        tests.append(func.count(func.distinct(Identifier.record_id)) > policy.max_records)
    selected = set(session.execute(shared.having(or_(*tests))).tuples().all())
    if policy.role_mailboxes:
        emails = session.execute(
            select(candidates.c.link_type, candidates.c.value).where(
                candidates.c.link_type == "email"
            )
        ).tuples()
        selected |= {(t, v) for t, v in emails if role_local_part(v) is not None}
    if not selected:
        return []
    holders = _holders(session, selected, strong=policy.strong_ids)
    flagged = []
    for (link_type, value), held in sorted(holders.items()):
        verdict = judge(link_type, value, held, policy)
        if not verdict.generic:
            continue
        session.execute(
            update(Identifier)
            .where(Identifier.link_type == link_type, Identifier.value == value)
            .values(linking=False)
        )
        fields = {
            "reason": verdict.reason,
            "distinct_names": verdict.persons,
            "records": verdict.records,
        }
        session.execute(
            pg_insert(GenericIdentifier)
            .values(link_type=link_type, value=value, **fields)
            .on_conflict_do_update(index_elements=["link_type", "value"], set_=fields)
        )
        flagged.append(
            {
                "type": link_type,
                "value": value,
                "names": verdict.persons,
                "records": verdict.records,
                "reason": verdict.reason,
            }
        )
    return flagged


def _trait(key: str) -> Any:
    return func.nullif(func.trim(SourceRecord.traits[key].astext), "")


def _trait_name(traits: Any, *keys: str) -> Any:
    return func.lower(func.coalesce(*(_trait(k) for k in keys)))


def _holders(
    session: Session, values: set[tuple[str, str]], *, strong: bool
) -> dict[tuple[str, str], list[Holder]]:
    """The records holding each of ``values`` as guardrail ``Holder`` s (normalised names,
    and their exclusive ids when ``strong``)."""
    wanted = [(Identifier.link_type == t) & (Identifier.value == v) for t, v in values]
    rows = session.execute(
        select(
            Identifier.link_type,
            Identifier.value,
            Identifier.record_id,
            SourceRecord.traits["first_name"].astext,
            SourceRecord.traits["firstName"].astext,
            SourceRecord.traits["last_name"].astext,
            SourceRecord.traits["lastName"].astext,
            SourceRecord.traits["name"].astext,
        )
        .join(SourceRecord, SourceRecord.id == Identifier.record_id)
        .where(or_(*wanted))
    ).all()
    ids: dict[int, tuple[tuple[str, str], ...]] = {}
    if strong:
        found: dict[int, list[tuple[str, str]]] = {}
        for rid, kind, value in exclusive_ids_of_records(session, {r[2] for r in rows}):
            key = exclusive_key(kind, value)
            if key:
                found.setdefault(rid, []).append(key)
        ids = {rid: tuple(keys) for rid, keys in found.items()}
    out: dict[tuple[str, str], list[Holder]] = {}
    for link_type, value, rid, f1, f2, l1, l2, full in rows:
        first, last = normalise_name(f1 or f2), normalise_name(l1 or l2)
        if first is None and last is None and full:
            first, last = split_full_name(full)
        holder = Holder(first=canonical_first_name(first), last=last, strong=ids.get(rid, ()))
        out.setdefault((link_type, value), []).append(holder)
    return out


def profiles_holding(session: Session, flagged: list[dict[str, Any]]) -> set[uuid.UUID]:
    """Profiles with a record holding one of the ``flagged`` identifiers."""
    if not flagged:
        return set()
    cond = [(Identifier.link_type == f["type"]) & (Identifier.value == f["value"]) for f in flagged]
    return set(
        session.execute(
            select(RecordLink.profile_id)
            .join(Identifier, Identifier.record_id == RecordLink.record_id)
            .where(or_(*cond))
            .distinct()
        ).scalars()
    )
