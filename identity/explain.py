"""The read side of the identity graph: lookups, identities, history and explanations.

``explain`` says why the records of a profile are one person, ``why_not_merged`` why two
profiles are not, ``profile_conflict`` why one record may not join a profile.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from identity.graph import LOOKUP_TYPES, exclusive_key, normalise_identifier
from identity.merge import surviving_profile_id
from identity.normalize import normalise_phone
from identity.repository import (
    exclusive_ids_of_records,
    link_evidence,
    live_profiles_where,
    overrides_touching,
    record_ids_of,
)
from identity.schemas import ChangeFeed, ChangeOut
from kindred.db import in_ids
from kindred.models import (
    GenericIdentifier,
    Identifier,
    IdentityChange,
    Profile,
    RecordLink,
    SourceRecord,
)


def profiles_by_identifier(session: Session, *, kind: str, value: str) -> list[uuid.UUID]:
    """Live profiles holding an identifier (normalised the way it is stored)."""
    canonical = LOOKUP_TYPES.get(kind.lower(), kind)
    candidates: set[str] = set()
    normalised = normalise_identifier(canonical, value)
    if normalised:
        candidates.add(normalised)
    if canonical == "phone":
        for region in ("US", "GB", "DE", "RU", "FR"):
            alt = normalise_phone(value, default_region=region)
            if alt:
                candidates.add(alt)
    if canonical == "crm_contact_id" and ":" not in value:
        return live_profiles_where(
            session,
            (Identifier.type == canonical) & Identifier.value.like(f"%:{value}"),
        )
    if not candidates:
        return []
    return live_profiles_where(
        session, (Identifier.type == canonical) & Identifier.value.in_(candidates)
    )


def identities_of(session: Session, profile_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = session.execute(
        select(
            Identifier.type,
            Identifier.value,
            Identifier.linking,
            SourceRecord.source,
            SourceRecord.record_key,
            Identifier.first_seen,
        )
        .join(SourceRecord, SourceRecord.id == Identifier.record_id)
        .join(RecordLink, RecordLink.record_id == Identifier.record_id)
        .where(RecordLink.profile_id == profile_id)
        .order_by(Identifier.type, Identifier.value)
    ).all()
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for kind, value, linking, source, record_key, first_seen in rows:
        item = merged.setdefault(
            (kind, value),
            {
                "type": kind,
                "value": value,
                "linking": linking,
                "sources": [],
                "first_seen": first_seen,
            },
        )
        item["sources"].append({"source": source, "record_key": record_key})
        item["first_seen"] = min(item["first_seen"], first_seen)
    return list(merged.values())


def change_feed(session: Session, *, after: int = 0, limit: int = 100) -> ChangeFeed:
    """A page of the merge/split feed after change ``after``, oldest first; ``next_after``
    is where the next page starts (``after`` again when nothing is new)."""
    rows = list(
        session.execute(
            select(IdentityChange)
            .where(IdentityChange.id > after)
            .order_by(IdentityChange.id)
            .limit(limit)
        ).scalars()
    )
    return ChangeFeed(
        items=[ChangeOut.model_validate(c) for c in rows],
        next_after=rows[-1].id if rows else after,
    )


def explain(session: Session, profile_id: uuid.UUID) -> dict[str, Any]:
    """Why the records of a profile are one person: each record's link rule and evidence
    (the identifiers it shares, or later a match weight breakdown) and the merge history."""
    links = session.execute(
        select(RecordLink, SourceRecord.source, SourceRecord.record_key, SourceRecord.channel)
        .join(SourceRecord, SourceRecord.id == RecordLink.record_id)
        .where(RecordLink.profile_id == profile_id)
        .order_by(RecordLink.linked_at, RecordLink.record_id)
    ).all()
    merged_ids = list(
        session.execute(select(Profile.id).where(Profile.merged_into == profile_id)).scalars()
    )
    history = session.execute(
        select(IdentityChange)
        .where(IdentityChange.profile_id.in_([profile_id, *merged_ids]))
        .order_by(IdentityChange.id)
    ).scalars()
    return {
        "profile_id": profile_id,
        "records": [
            {
                "record_id": link.record_id,
                "source": source,
                "record_key": record_key,
                "channel": channel,
                "rule": link.rule,
                "model_version": link.model_version,
                "linked_at": link.linked_at,
                "evidence": link.evidence,
            }
            for link, source, record_key, channel in links
        ],
        "merged_profiles": merged_ids,
        "merges": [
            {
                "kind": c.kind,
                "profile_id": c.profile_id,
                "other_profile_id": c.other_profile_id,
                "cause": c.cause,
                "created_at": c.created_at,
                "evidence": c.evidence,
            }
            for c in history
        ],
    }


def list_generic_identifiers(session: Session, *, limit: int = 1000) -> list[dict[str, Any]]:
    """The emails/phones that stopped linking, newest first, each with the guardrail's reason
    (``"3 dissimilar names: ann lee / bob stone / chris wu"``), ``distinct_names`` (the
    dissimilar persons behind it) and its records."""
    rows = session.execute(
        select(GenericIdentifier).order_by(GenericIdentifier.created_at.desc()).limit(limit)
    ).scalars()
    return [
        {
            "type": g.link_type,
            "value": g.value,
            "reason": g.reason,
            "distinct_names": g.distinct_names,
            "records": g.records,
            "created_at": g.created_at,
        }
        for g in rows
    ]


def why_not_merged(session: Session, a: uuid.UUID, b: uuid.UUID) -> dict[str, Any]:
    """Why two profiles are separate: conflicting exclusive ids, ops cannot-links, links the
    resolver refused (with the reason it gave), shared identifiers that are generic, and
    what they do share."""
    live_a, live_b = surviving_profile_id(session, a), surviving_profile_id(session, b)
    if live_a is None or live_b is None:
        raise LookupError("both profiles must exist")
    if live_a == live_b:
        return {"profiles": [live_a, live_b], "merged": True, "reasons": []}
    recs_a, recs_b = set(record_ids_of(session, live_a)), set(record_ids_of(session, live_b))
    reasons: list[dict[str, Any]] = []
    ids = session.execute(
        select(
            Identifier.record_id,
            Identifier.type,
            Identifier.link_type,
            Identifier.value,
            Identifier.linking,
        ).where(in_ids(Identifier.record_id, recs_a | recs_b))
    ).all()
    side = {r: "a" for r in recs_a} | {r: "b" for r in recs_b}
    exclusive: dict[str, dict[str, set[str]]] = defaultdict(lambda: {"a": set(), "b": set()})
    values: dict[tuple[str, str], dict[str, Any]] = {}
    for rid, kind, link_type, value, linking in ids:
        key = exclusive_key(kind, value)
        if key:
            exclusive[key[0]][side[rid]].add(key[1])
        entry = values.setdefault((link_type, value), {"a": False, "b": False, "linking": True})
        entry[side[rid]] = True
        entry["linking"] = entry["linking"] and linking
    for slot, sides in exclusive.items():
        if sides["a"] and sides["b"] and sides["a"] != sides["b"]:
            reasons.append(
                {
                    "kind": "conflicting_ids",
                    "id_type": slot.split(":")[0],
                    "a": sorted(sides["a"]),
                    "b": sorted(sides["b"]),
                }
            )
    shared = [
        {"type": lt, "value": v, "linking": e["linking"]}
        for (lt, v), e in values.items()
        if e["a"] and e["b"]
    ]
    for item in shared:
        if not item["linking"]:
            reasons.append(
                {"kind": "generic_identifier", "type": item["type"], "value": item["value"]}
            )
    for oid, kind, rec_a, rec_b in overrides_touching(session, recs_a | recs_b):
        if kind == "cannot_link" and {side.get(rec_a), side.get(rec_b)} == {"a", "b"}:
            reasons.append(
                {"kind": "ops_cannot_link", "override_id": oid, "records": [rec_a, rec_b]}
            )
    for rid, evidence in link_evidence(session, recs_a | recs_b):
        for item in (evidence or {}).get("blocked", []):
            other = item.get("record_id")
            if other in side and side[other] != side[rid]:
                reasons.append({"kind": "refused_link", "record_id": rid, **item})
    if not reasons:
        reasons.append(
            {
                "kind": "no_evidence",
                "message": "no shared linking identifier and no model edge above the "
                "threshold connects them",
            }
        )
    return {"profiles": [live_a, live_b], "merged": False, "shared": shared, "reasons": reasons}


def profile_conflict(session: Session, *, record_id: int, profile_id: uuid.UUID) -> str | None:
    """Why ``record_id`` may not join ``profile_id`` (exclusive ids, ops cannot-links)."""
    members = record_ids_of(session, profile_id)
    mine: dict[str, str] = {}
    theirs: dict[str, str] = {}
    for rid, kind, value in exclusive_ids_of_records(session, [record_id, *members]):
        key = exclusive_key(kind, value)
        if key:
            (mine if rid == record_id else theirs).setdefault(key[0], key[1])
    for slot, value in mine.items():
        if slot in theirs and theirs[slot] != value:
            return f"conflicting {slot.split(':')[0]}: {value} vs {theirs[slot]}"
    inside = set(members)
    for _oid, kind, rec_a, rec_b in overrides_touching(session, [record_id]):
        other = rec_b if rec_a == record_id else rec_a
        if kind == "cannot_link" and other in inside:
            return "ops cannot-link"
    return None
