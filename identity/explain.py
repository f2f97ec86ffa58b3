"""The read side of the identity graph: lookups, identities, history and explanations.

``explain`` says why the records of a profile are one person, ``why_not_merged`` why two
profiles are not, ``profile_conflict`` why one record may not join a profile.

Every merge/split entry, every record link and every why-not reason also carries a
``summary`` in plain words, built here so that every client says the same thing
(``change_summary``, ``record_summary``, ``why_not_summary``: pure functions of the stored
evidence plus a ``WordsContext`` read in one or two statements per page).
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
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


def change_feed(
    session: Session,
    *,
    after: int = 0,
    before: int | None = None,
    limit: int = 100,
    profile_id: uuid.UUID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    newest_first: bool = False,
) -> ChangeFeed:
    """A page of the merge/split feed, each change with its ``summary`` in words.

    Oldest first by default: changes after ``after``; ``next_after`` is where the next page
    starts (``after`` again when nothing is new). ``newest_first``: changes before ``before``
    (all when None), newest first; ``next_before`` is the id to pass as ``before`` for the
    next page (None when this page is the last). ``profile_id`` keeps the changes that touch
    the profile, its live profile or any profile merged into that; ``since``/``until`` bound
    ``created_at`` (inclusive/exclusive)."""
    query = select(IdentityChange)
    if profile_id is not None:
        ids = _profile_family(session, profile_id)
        query = query.where(
            or_(
                in_ids(IdentityChange.profile_id, ids, uuid=True),
                in_ids(IdentityChange.other_profile_id, ids, uuid=True),
            )
        )
    if since is not None:
        query = query.where(IdentityChange.created_at >= since)
    if until is not None:
        query = query.where(IdentityChange.created_at < until)
    if newest_first:
        if before is not None:
            query = query.where(IdentityChange.id < before)
        if after:
            query = query.where(IdentityChange.id > after)
        query = query.order_by(IdentityChange.id.desc())
    else:
        query = query.where(IdentityChange.id > after)
        if before is not None:
            query = query.where(IdentityChange.id < before)
        query = query.order_by(IdentityChange.id)
    rows = list(session.execute(query.limit(limit)).scalars())
    context = words_context(session, rows)
    items = [
        ChangeOut(
            id=c.id,
            kind=c.kind,
            profile_id=c.profile_id,
            other_profile_id=c.other_profile_id,
            cause=c.cause,
            evidence=c.evidence or {},
            created_at=c.created_at,
            summary=change_summary(c.kind, c.cause, c.evidence or {}, context),
        )
        for c in rows
    ]
    if newest_first:
        return ChangeFeed(
            items=items,
            next_after=max((c.id for c in rows), default=after),
            next_before=rows[-1].id if len(rows) == limit else None,
        )
    return ChangeFeed(items=items, next_after=rows[-1].id if rows else after)


def _profile_family(session: Session, profile_id: uuid.UUID) -> list[uuid.UUID]:
    """The profile, the live profile it answers as, and every profile merged into that."""
    live = surviving_profile_id(session, profile_id) or profile_id
    merged = session.execute(select(Profile.id).where(Profile.merged_into == live)).scalars()
    return sorted({profile_id, live, *merged}, key=str)


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
    history = list(
        session.execute(
            select(IdentityChange)
            .where(IdentityChange.profile_id.in_([profile_id, *merged_ids]))
            .order_by(IdentityChange.id)
        ).scalars()
    )
    context = words_context(session, history)
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
                "summary": record_summary(link.rule, link.evidence or {}),
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
                "summary": change_summary(c.kind, c.cause, c.evidence or {}, context),
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
        return {
            "profiles": [live_a, live_b],
            "merged": True,
            "reasons": [],
            "summary": why_not_summary(True, []),
        }
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
    generic = generic_info(
        session,
        {(r["type"], r["value"]) for r in reasons if r["kind"] == "generic_identifier"},
    )
    for reason in reasons:
        reason["summary"] = why_not_reason_summary(reason, generic)
    return {
        "profiles": [live_a, live_b],
        "merged": False,
        "shared": shared,
        "reasons": reasons,
        "summary": why_not_summary(False, reasons),
    }


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


# --------------------------------------------------------------------------- in words

_ID_LABELS = {
    "email": "email",
    "phone": "phone",
    "user_id": "user id",
    "anonymous_id": "anonymous id",
    "crm_contact_id": "CRM contact id",
    "alias": "alias",
}
_CONFLICT = re.compile(r"^conflicting ([A-Za-z_]+): (.*) vs (.*)$")
_SHOWN_RECORDS = 8


@dataclass(frozen=True)
class GenericInfo:
    """A generic (non-linking) email/phone and the guardrail's verdict on it."""

    type: str
    value: str
    reason: str
    distinct_names: int
    records: int


@dataclass
class WordsContext:
    """What a change's stored evidence does not say itself: the generic identifiers held by
    split-off records, and the shared identifiers (link evidence) of merging records."""

    generic_by_record: dict[int, list[GenericInfo]] = field(default_factory=dict)
    shared_by_record: dict[int, list[dict[str, Any]]] = field(default_factory=dict)


def id_label(kind: Any) -> str:
    return _ID_LABELS.get(str(kind), str(kind).replace("_", " "))


def _ident(kind: Any, value: Any) -> str:
    return f"{id_label(kind)} {value}"


def _and(parts: Sequence[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _records(ids: Iterable[Any]) -> str:
    """``record 12`` / ``records 12, 13 and 14`` / ``records 1, 2, ... (30 in all)``."""
    items = [str(i) for i in ids]
    if not items:
        return "no record"
    if len(items) == 1:
        return f"record {items[0]}"
    if len(items) > _SHOWN_RECORDS:
        return f"records {', '.join(items[:_SHOWN_RECORDS])}, ... ({len(items)} in all)"
    return f"records {_and(items)}"


def _probability(value: Any) -> str:
    try:
        return f"{float(value):.1%}"
    except (TypeError, ValueError):
        return str(value)


def _record_ids(evidence: dict[str, Any]) -> list[int]:
    raw = evidence.get("records")
    return [r for r in raw if isinstance(r, int)] if isinstance(raw, list) else []


def _who(evidence: dict[str, Any]) -> str:
    """`` (by alice, reason: duplicate)`` from an ops override's evidence, or ``""``."""
    parts = []
    if evidence.get("by"):
        parts.append(f"by {evidence['by']}")
    reason = evidence.get("reason")
    parts.append(f"reason: {reason}" if reason else "no reason given")
    return f" ({', '.join(parts)})"


def describe_conflict(reason: str) -> str:
    """A resolver's refusal (``"conflicting crm_contact_id:hubspot: 1 vs 2"``) in words."""
    if reason == "ops cannot-link" or reason.startswith("conflicting override"):
        return "ops split these records apart (a cannot-link)"
    match = _CONFLICT.match(reason)
    if match:
        kind, mine, theirs = match.groups()
        return f"they carry different {id_label(kind)}s ({mine} vs {theirs}) and a person has one"
    return reason or "no reason recorded"


def describe_blocked(item: dict[str, Any]) -> str:
    """One refused link (an item of ``evidence.blocked``) in words."""
    other = item.get("record_id")
    with_other = f" with record {other}" if other is not None else ""
    if item.get("type") == "splink":
        on = f"a model match{with_other} (probability {_probability(item.get('value'))})"
    else:
        on = f"{_ident(item.get('type'), item.get('value'))}{' shared' + with_other}"
    return f"Not merged on {on}: {describe_conflict(str(item.get('reason') or ''))}"


def _blocked_words(evidence: dict[str, Any]) -> list[str]:
    blocked = evidence.get("blocked")
    if not isinstance(blocked, list):
        return []
    return [describe_blocked(b) for b in blocked if isinstance(b, dict)]


def describe_shared(item: dict[str, Any]) -> str:
    """One identifier or model edge that linked a record (an item of ``evidence.shared``)."""
    other = item.get("record_id")
    with_other = f" with record {other}" if other is not None else ""
    kind = item.get("type")
    if kind == "override":
        return f"an ops merge (must-link){with_other}"
    if kind == "splink":
        weight = item.get("match_weight")
        extra = f", match weight {weight}" if weight is not None else ""
        return f"a model match{with_other} (probability {_probability(item.get('value'))}{extra})"
    return f"{_ident(kind, item.get('value'))} shared{with_other}"


def _generic_why(info: GenericInfo | None) -> str:
    """``generic (shared by 3 different people; 3 dissimilar names: ...)``."""
    if info is None:
        return "generic (shared by different people)"
    people = f"shared by {info.distinct_names} different people" if info.distinct_names else ""
    why = "; ".join(p for p in (people, info.reason) if p)
    return f"generic ({why})" if why else "generic"


def _generic_words(info: GenericInfo) -> str:
    return f"the {id_label(info.type)} {info.value} turned out to be {_generic_why(info)}"


def change_summary(
    kind: str, cause: str, evidence: dict[str, Any], context: WordsContext | None = None
) -> str:
    """One merge/split/create of the identity graph in words (what ``summary`` says)."""
    ctx = context or WordsContext()
    records = _record_ids(evidence)
    blocked = _blocked_words(evidence)
    tail = "".join(f". {b}" for b in blocked)
    if kind == "merge":
        if cause == "manual_merge":
            return f"Merged by ops{_who(evidence)}"
        if cause == "splink":
            version = evidence.get("model_version")
            model = f" (model {version})" if version else ""
            weight = evidence.get("match_weight")
            extra = f", match weight {weight}" if weight is not None else ""
            return (
                f"Merged by the matching model{model}: record {evidence.get('record')} matches "
                f"record {evidence.get('record_id')} with probability "
                f"{_probability(evidence.get('value'))}{extra}"
            )
        if cause == "shared_identifier":
            shared: list[str] = []
            forced = False
            for rid in records:
                for item in ctx.shared_by_record.get(rid, []):
                    if item.get("type") == "override":
                        forced = True
                        continue
                    words = _ident(item.get("type"), item.get("value"))
                    if words not in shared:
                        shared.append(words)
            if shared:
                return (
                    f"Merged because the records share {_and(shared[:5])} "
                    f"(deterministic rule shared_identifier)"
                )
            if forced:
                return "Merged because ops linked the records (must-link override)"
            return (
                f"Merged because {_records(records)} shares a linking identifier with both "
                f"profiles (deterministic rule shared_identifier)"
            )
        if cause == "batch_resolution":
            moved = evidence.get("records_moved")
            count = f": {moved} records moved here" if moved is not None else ""
            return f"Merged by a full re-resolution (kindred resolve --full){count}"
        return f"Merged (cause {cause})" + (f": {_records(records)}" if records else "") + tail
    if kind == "split":
        moved = f"{_records(records)} moved off" if records else "records moved off"
        if cause == "manual_split":
            return f"Split by ops{_who(evidence)}: {moved}"
        if cause == "generic_identifier":
            found: list[GenericInfo] = []
            for rid in records:
                for info in ctx.generic_by_record.get(rid, []):
                    if info not in found:
                        found.append(info)
            if found:
                return f"Split because {_and([_generic_words(g) for g in found[:3]])}: {moved}"
            return (
                f"Split because an email or phone that held the records together turned out "
                f"to be generic (shared by different people): {moved}"
            )
        if cause == "batch_resolution":
            return f"Split by a full re-resolution (kindred resolve --full): {moved}"
        if cause == "split":
            return f"Split off because the records' identifiers now conflict: {moved}{tail}"
        return f"Split (cause {cause}): {moved}{tail}"
    if kind == "create":
        by = " by a full re-resolution" if cause == "batch_resolution" else ""
        return f"New profile{by} for {_records(records)}{tail}"
    return f"{kind.capitalize() or 'Change'} (cause {cause})" + (
        f": {_records(records)}" if records else ""
    )


def record_summary(rule: str, evidence: dict[str, Any]) -> str:
    """Why one record is on its profile (a record of ``explain``) in words."""
    shared = evidence.get("shared")
    linked = [describe_shared(s) for s in shared if isinstance(s, dict)] if shared else []
    splink = evidence.get("splink")
    if isinstance(splink, list):
        linked += [describe_shared({"type": "splink", **s}) for s in splink if isinstance(s, dict)]
    parts: list[str] = []
    if rule == "manual_split":
        parts.append(f"Moved here by an ops split{_who(evidence)}")
    elif rule == "split":
        parts.append("Split off its earlier profile when the identifiers joining them fell away")
    elif linked:
        parts.append(f"Linked by {_and(linked[:5])}")
    elif rule == "new_record":
        parts.append("Started the profile: no earlier record shares a linking identifier")
    else:
        parts.append(f"Linked by rule {rule}")
    parts += _blocked_words(evidence)
    return ". ".join(parts)


def why_not_reason_summary(
    reason: dict[str, Any], generic: dict[tuple[str, str], GenericInfo] | None = None
) -> str:
    """One reason of ``why_not_merged`` in words."""
    kind = reason.get("kind")
    if kind == "conflicting_ids":
        label = id_label(reason.get("id_type"))
        mine, theirs = ", ".join(reason.get("a", [])), ", ".join(reason.get("b", []))
        return f"They carry different {label}s ({mine} vs {theirs}) and a person has one"
    if kind == "generic_identifier":
        key = (str(reason.get("type")), str(reason.get("value")))
        why = _generic_why((generic or {}).get(key))
        return f"Not merged on {_ident(*key)}: both hold it, but it is {why} and does not link"
    if kind == "ops_cannot_link":
        a, b = [*reason.get("records", []), None, None][:2]
        return f"Ops split record {a} from record {b} (cannot-link {reason.get('override_id')})"
    if kind == "refused_link":
        return f"Record {reason.get('record_id')}: {describe_blocked(reason)}"
    if kind == "no_evidence":
        return (
            "Nothing connects them: no shared linking identifier and no model match above "
            "the threshold"
        )
    return str(reason.get("message") or kind)


def why_not_summary(merged: bool, reasons: Sequence[dict[str, Any]]) -> str:
    if merged:
        return "They are one profile: the records were merged."
    return "Not merged. " + " ".join(f"{r['summary']}." for r in reasons if r.get("summary"))


def generic_info(
    session: Session, values: Collection[tuple[str, str]]
) -> dict[tuple[str, str], GenericInfo]:
    """The guardrail's verdicts on (type, value) pairs that are generic."""
    if not values:
        return {}
    rows = session.execute(
        select(GenericIdentifier).where(
            or_(
                *(
                    (GenericIdentifier.link_type == t) & (GenericIdentifier.value == v)
                    for t, v in values
                )
            )
        )
    ).scalars()
    return {(g.link_type, g.value): _info(g) for g in rows}


def _info(g: GenericIdentifier) -> GenericInfo:
    return GenericInfo(
        type=g.link_type,
        value=g.value,
        reason=g.reason,
        distinct_names=g.distinct_names,
        records=g.records,
    )


def words_context(session: Session, changes: Sequence[IdentityChange]) -> WordsContext:
    """What ``change_summary`` needs beyond the changes' evidence, in two statements."""
    generic_records: set[int] = set()
    shared_records: set[int] = set()
    for c in changes:
        ids = _record_ids(c.evidence or {})
        if c.kind == "split" and c.cause == "generic_identifier":
            generic_records.update(ids)
        elif c.kind == "merge" and c.cause == "shared_identifier":
            shared_records.update(ids)
    ctx = WordsContext()
    if generic_records:
        rows = session.execute(
            select(Identifier.record_id, GenericIdentifier)
            .join(
                GenericIdentifier,
                (GenericIdentifier.link_type == Identifier.link_type)
                & (GenericIdentifier.value == Identifier.value),
            )
            .where(in_ids(Identifier.record_id, generic_records))
            .order_by(Identifier.record_id, GenericIdentifier.link_type, GenericIdentifier.value)
        ).all()
        for rid, g in rows:
            info = _info(g)
            found = ctx.generic_by_record.setdefault(rid, [])
            if info not in found:
                found.append(info)
    if shared_records:
        for rid, evidence in link_evidence(session, shared_records):
            items = (evidence or {}).get("shared")
            if isinstance(items, list):
                ctx.shared_by_record[rid] = [
                    i for i in items if isinstance(i, dict) and i.get("type") != "splink"
                ]
    return ctx
