"""Deterministic identity resolution: records that share a strong identifier are one person.

``resolve_dirty`` takes the source records that ingest marked dirty, normalises their
identifiers, and links each record to a profile:
- a record that shares no identifier with anything gets a new profile;
- records that share identifiers with records of one profile join it;
- when a record bridges several profiles, they merge: the *oldest* profile id survives and
  the others keep answering with ``merged_into`` (ids are never renumbered).
Every link records the rule and the identifiers that made it; every merge is written to
``identity_changes`` with its cause.

This is the seam the probabilistic (Splink) resolver plugs into: it adds edges with match
weights to the same graph and goes through the same merge/stable-id machinery.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from identity.normalize import normalise_email, normalise_id, normalise_phone
from kindred.db import execute_arrays, in_ids
from kindred.models import (
    GenericIdentifier,
    Identifier,
    IdentityChange,
    Profile,
    RecordLink,
    Source,
    SourceRecord,
)
from kindred.models.identity import IdentityOverride
from kindred.quarantine import KIND_RECORD, not_quarantined

INSERT_IDENTIFIERS = (
    "INSERT INTO identifiers (record_id, type, link_type, value, raw_value) "
    "SELECT * FROM unnest(CAST(%(record_id)b AS bigint[]), CAST(%(type)b AS text[]), "
    "CAST(%(link_type)b AS text[]), CAST(%(value)b AS text[]), CAST(%(raw_value)b AS text[])) "
    "ON CONFLICT DO NOTHING"
)
UPSERT_LINKS = (
    "INSERT INTO record_links (record_id, profile_id, rule, evidence, model_version) "
    "SELECT * FROM unnest(CAST(%(record_id)b AS bigint[]), CAST(%(profile_id)b AS uuid[]), "
    "CAST(%(rule)b AS text[]), CAST(%(evidence)b AS jsonb[]), CAST(%(model_version)b AS text[])) "
    "ON CONFLICT (record_id) DO UPDATE SET profile_id = EXCLUDED.profile_id, "
    "rule = EXCLUDED.rule, evidence = EXCLUDED.evidence, "
    "model_version = EXCLUDED.model_version, linked_at = now()"
)
RESOLVER_LOCK = 7_331_001
#: record keys of business objects (not people) that sources may send events about
NON_PERSON_PREFIXES = ("deal:",)  # pg advisory lock id: one resolver writes the graph at a time
RULE_VERSION = "deterministic-v1"


@dataclass(frozen=True)
class IdentifierRule:
    link_type: str
    normalise: Callable[[str, str, str], str | None]  # (raw, source, region) -> value


def _plain(raw: str, source: str, region: str) -> str | None:
    return normalise_id(raw)


def _email(raw: str, source: str, region: str) -> str | None:
    return normalise_email(raw)


def _phone(raw: str, source: str, region: str) -> str | None:
    return normalise_phone(raw, default_region=region)


def _scoped(raw: str, source: str, region: str) -> str | None:
    value = normalise_id(raw)
    return f"{source}:{value}" if value else None


#: identifier type -> how it links. Unknown types link within their own namespace.
RULES: dict[str, IdentifierRule] = {
    "user_id": IdentifierRule("segment_id", _plain),
    "anonymous_id": IdentifierRule("segment_id", _plain),
    "alias": IdentifierRule("segment_id", _plain),
    "email": IdentifierRule("email", _email),
    "phone": IdentifierRule("phone", _phone),
    "crm_contact_id": IdentifierRule("crm_contact_id", _scoped),
    "gclid": IdentifierRule("click_id", _plain),
    "fbclid": IdentifierRule("click_id", _plain),
    "yclid": IdentifierRule("click_id", _plain),
    "msclkid": IdentifierRule("click_id", _plain),
    "gbraid": IdentifierRule("click_id", _plain),
    "wbraid": IdentifierRule("click_id", _plain),
    "ttclid": IdentifierRule("click_id", _plain),
    "li_fat_id": IdentifierRule("click_id", _plain),
}

#: how an ``identifier=type:value`` lookup is normalised (aliases of the type names)
LOOKUP_TYPES = {
    "email": "email",
    "phone": "phone",
    "user_id": "user_id",
    "userid": "user_id",
    "anonymous_id": "anonymous_id",
    "anonymousid": "anonymous_id",
    "crm_contact_id": "crm_contact_id",
    "gclid": "gclid",
}


def rule_for(kind: str) -> IdentifierRule:
    return RULES.get(kind, IdentifierRule(kind, _plain))


def normalise_identifier(
    kind: str, raw: str, *, source: str = "", region: str = "US"
) -> str | None:
    return rule_for(kind).normalise(raw, source, region)


@dataclass
class ResolveResult:
    records: int = 0
    new_profiles: int = 0
    merges: int = 0
    changed_profiles: set[uuid.UUID] = field(default_factory=set)
    changes: list[dict[str, Any]] = field(default_factory=list)
    generic: list[dict[str, Any]] = field(default_factory=list)

    def absorb(self, other: ResolveResult) -> None:
        """Add the outcome of another pass (or part of one) to this one."""
        self.records += other.records
        self.new_profiles += other.new_profiles
        self.merges += other.merges
        self.changed_profiles |= other.changed_profiles
        self.changes.extend(other.changes)
        self.generic.extend(other.generic)


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[Any, Any] = {}

    def find(self, x: Any) -> Any:
        parent = self.parent.setdefault(x, x)
        if parent != x:
            parent = self.parent[x] = self.find(parent)
        return parent

    def union(self, a: Any, b: Any) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


def _regions(session: Session) -> dict[str, str]:
    rows = session.execute(select(Source.name, Source.config)).all()
    return {name: str((cfg or {}).get("default_region", "US")) for name, cfg in rows}


@dataclass(frozen=True)
class DirtyRecord:
    """A record to resolve, read without a row lock (ingest keeps writing meanwhile)."""

    id: int
    source: str
    external_ids: dict[str, list[str]]
    updated_at: datetime
    record_key: str = ""


def refresh_identifiers(session: Session, records: Sequence[DirtyRecord]) -> None:
    """Rewrite the normalised identifiers of ``records`` from their raw external ids."""
    if not records:
        return
    regions = _regions(session)
    ids = [r.id for r in records]
    session.execute(delete(Identifier).where(in_ids(Identifier.record_id, ids)))
    rows: list[dict[str, Any]] = []
    for rec in records:
        region = regions.get(rec.source, "US")
        seen: set[tuple[str, str]] = set()
        for kind, values in (rec.external_ids or {}).items():
            rule = rule_for(kind)
            for raw in values:
                value = rule.normalise(str(raw), rec.source, region)
                if value is None or (kind, value) in seen:
                    continue
                seen.add((kind, value))
                rows.append(
                    {
                        "record_id": rec.id,
                        "type": kind,
                        "link_type": rule.link_type,
                        "value": value[:500],
                        "raw_value": str(raw)[:500],
                    }
                )
    if rows:
        execute_arrays(
            session,
            INSERT_IDENTIFIERS,
            {
                k: [r[k] for r in rows]
                for k in ("record_id", "type", "link_type", "value", "raw_value")
            },
        )
        # values already known to be shared by several people never link again
        session.execute(
            update(Identifier)
            .where(
                in_ids(Identifier.record_id, ids),
                GenericIdentifier.link_type == Identifier.link_type,
                GenericIdentifier.value == Identifier.value,
            )
            .values(linking=False)
        )


#: linking priority: explicit and strong identifiers first, so that when a weaker shared value
#: would join two people with conflicting strong ids, the strong evidence is already in place.
LINK_PRIORITY = {
    "alias": 0,
    "user_id": 1,
    "crm_contact_id": 1,
    "email": 2,
    "phone": 3,
    "anonymous_id": 4,
}
#: identifier types of which a person has exactly one: two different values are a cannot-link
EXCLUSIVE_TYPES = ("user_id", "crm_contact_id")
GENERIC_CHECK_TYPES = ("email", "phone")
GENERIC_MIN_NAMES = 3


def _exclusive_key(kind: str, value: str) -> tuple[str, str] | None:
    """(slot, value): crm ids are exclusive per CRM source, user ids globally."""
    if kind == "user_id":
        return ("user_id", value)
    if kind == "crm_contact_id":
        source, _, ident = value.partition(":")
        return (f"crm_contact_id:{source}", ident)
    return None


class _ConstrainedUnion(_UnionFind):
    """Union-find that refuses to join components holding different exclusive ids."""

    def __init__(self) -> None:
        super().__init__()
        self.exclusive: dict[Any, dict[str, str]] = {}

    def add_ids(self, node: Any, ids: dict[str, str]) -> None:
        root = self.find(node)
        slots = self.exclusive.setdefault(root, {})
        for slot, value in ids.items():
            slots.setdefault(slot, value)

    def conflict(self, a: Any, b: Any) -> str | None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return None
        left, right = self.exclusive.get(ra, {}), self.exclusive.get(rb, {})
        for slot, value in left.items():
            if slot in right and right[slot] != value:
                return f"conflicting {slot.split(':')[0]}: {value} vs {right[slot]}"
        return None

    def union(self, a: Any, b: Any) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        super().union(a, b)
        root = self.find(a)
        merged = {**self.exclusive.pop(rb, {}), **self.exclusive.pop(ra, {})}
        self.exclusive[root] = merged


def flag_generic_identifiers(
    session: Session, record_ids: Sequence[int], *, min_names: int = GENERIC_MIN_NAMES
) -> list[dict[str, Any]]:
    """Emails/phones seen with ``min_names`` or more different first names are shared (a role
    address, a household, a switchboard): they stop linking and are reported."""
    first_name = func.lower(
        func.trim(
            func.coalesce(
                SourceRecord.traits["first_name"].astext,
                SourceRecord.traits["firstName"].astext,
                func.split_part(SourceRecord.traits["name"].astext, " ", 1),
            )
        )
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
    rows = session.execute(
        select(
            Identifier.link_type,
            Identifier.value,
            func.count(func.distinct(first_name)),
            func.count(func.distinct(Identifier.record_id)),
        )
        .join(SourceRecord, SourceRecord.id == Identifier.record_id)
        .join(
            candidates,
            (candidates.c.link_type == Identifier.link_type)
            & (candidates.c.value == Identifier.value),
        )
        .where(first_name.is_not(None), first_name != "")
        .group_by(Identifier.link_type, Identifier.value)
        .having(func.count(func.distinct(first_name)) >= min_names)
    ).all()
    flagged = []
    for link_type, value, names, records in rows:
        session.execute(
            update(Identifier)
            .where(Identifier.link_type == link_type, Identifier.value == value)
            .values(linking=False)
        )
        session.execute(
            pg_insert(GenericIdentifier)
            .values(
                link_type=link_type,
                value=value,
                reason=f"seen with {names} different first names on {records} records",
                distinct_names=names,
                records=records,
            )
            .on_conflict_do_update(
                index_elements=["link_type", "value"],
                set_={"distinct_names": names, "records": records},
            )
        )
        flagged.append({"type": link_type, "value": value, "names": names, "records": records})
    return flagged


def _profiles_holding(session: Session, flagged: list[dict[str, Any]]) -> set[uuid.UUID]:
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


Scorer = Callable[[Session, list[int]], list[dict[str, Any]]]


def lock_resolver(session: Session) -> None:
    """Take the resolver lock for this transaction (one resolver writes the graph at a time).
    Re-entrant: taking it again in the same transaction is free."""
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": RESOLVER_LOCK})


def _dirty_selection(limit: int, record_ids: Sequence[int] | None) -> Any:
    """Dirty records, oldest id first, skipping quarantined ones: an index scan of the partial
    ``ix_source_records_dirty`` with an anti-join probe of the quarantine unique index."""
    query = select(
        SourceRecord.id,
        SourceRecord.source,
        SourceRecord.external_ids,
        SourceRecord.updated_at,
        SourceRecord.record_key,
    ).where(  # bare ``dirty`` (not ``IS TRUE``): the partial index's predicate, character for
        # character, or PostgreSQL walks the primary key over every clean record
        SourceRecord.dirty,
        not_quarantined(KIND_RECORD, SourceRecord.id),
    )
    if record_ids is not None:
        query = query.where(in_ids(SourceRecord.id, record_ids))
    return query.order_by(SourceRecord.id).limit(limit)


def dirty_record_ids(session: Session, *, limit: int = 5000) -> list[int]:
    """Ids of the next ``limit`` dirty records that ``resolve_dirty`` would take."""
    return [row[0] for row in session.execute(_dirty_selection(limit, None)).all()]


def resolve_dirty(
    session: Session,
    *,
    limit: int = 5000,
    scorer: Scorer | None = None,
    record_ids: Sequence[int] | None = None,
) -> ResolveResult:
    """Resolve up to ``limit`` dirty source records. The caller commits.

    ``record_ids``: resolve only those of these records that are still dirty (the identity
    worker isolates a failing record this way). Quarantined records are never taken.

    ``scorer`` (e.g. ``identity.streaming.SplinkScorer``) scores records that found no
    deterministic link against candidates; each such record may join the one profile of its
    best edge, under the same guardrails as deterministic links."""
    lock_resolver(session)
    if record_ids is not None:
        limit = len(record_ids)
    records = [DirtyRecord(*row) for row in session.execute(_dirty_selection(limit, record_ids))]
    objects = [r for r in records if r.record_key.startswith(NON_PERSON_PREFIXES)]
    if objects:
        # deals and other business objects carry events but are not people: never profiles
        _clear_dirty(session, objects)
        records = [r for r in records if not r.record_key.startswith(NON_PERSON_PREFIXES)]
    result = ResolveResult(records=len(records) + len(objects))
    if not records:
        return result
    refresh_identifiers(session, records)
    session.flush()
    batch_ids = [r.id for r in records]
    batch_set = set(batch_ids)

    # Guardrail: shared emails/phones stop linking; profiles they held together are re-checked.
    flagged = flag_generic_identifiers(session, batch_ids)
    result.generic.extend(flagged)
    recheck = _profiles_holding(session, flagged)

    # Records (anywhere) that share a linking identifier with a batch record.
    mine = Identifier.__table__.alias("mine")
    other = Identifier.__table__.alias("other")
    pairs = session.execute(
        select(mine.c.record_id, other.c.record_id, mine.c.type, mine.c.value, other.c.type)
        .join(
            other,
            (other.c.link_type == mine.c.link_type)
            & (other.c.value == mine.c.value)
            & (other.c.record_id != mine.c.record_id),
        )
        .where(in_ids(mine.c.record_id, batch_ids), mine.c.linking, other.c.linking)
    ).all()

    probable: dict[int, dict[str, Any]] = {}
    if scorer is not None:
        paired = {p[0] for p in pairs}
        already = set(
            session.execute(
                select(RecordLink.record_id).where(in_ids(RecordLink.record_id, batch_ids))
            ).scalars()
        )
        lonely = [r for r in batch_ids if r not in paired and r not in already]
        if lonely:
            for edge in scorer(session, lonely):
                best = probable.get(edge["record_id"])
                if best is None or edge["match_probability"] > best["match_probability"]:
                    probable[edge["record_id"]] = edge
    neighbour_ids = {p[1] for p in pairs} | {e["candidate_id"] for e in probable.values()}
    profile_of: dict[int, uuid.UUID] = dict(
        session.execute(
            select(RecordLink.record_id, RecordLink.profile_id).where(
                in_ids(RecordLink.record_id, neighbour_ids | batch_set)
            )
        )
        .tuples()
        .all()
    )

    def node(rid: int) -> tuple[str, Any]:
        if rid in profile_of and rid not in batch_set:
            return ("p", profile_of[rid])
        return ("r", rid)

    uf = _ConstrainedUnion()
    # exclusive ids of batch records, unlinked neighbours and neighbour profiles
    for rid, kind, value in session.execute(
        select(Identifier.record_id, Identifier.type, Identifier.value).where(
            in_ids(Identifier.record_id, neighbour_ids | batch_set),
            Identifier.type.in_(EXCLUSIVE_TYPES),
        )
    ).all():
        key = _exclusive_key(kind, value)
        if key and node(rid)[0] == "r":
            uf.add_ids(("r", rid), {key[0]: key[1]})
    neighbour_profiles = {
        profile_of[n] for n in neighbour_ids if n in profile_of and n not in batch_set
    }
    batch_profiles = {profile_of[r] for r in batch_ids if r in profile_of}
    for pid, kind, value in session.execute(
        select(RecordLink.profile_id, Identifier.type, Identifier.value)
        .join(Identifier, Identifier.record_id == RecordLink.record_id)
        .where(
            in_ids(RecordLink.profile_id, neighbour_profiles | batch_profiles, uuid=True),
            Identifier.type.in_(EXCLUSIVE_TYPES),
            ~in_ids(RecordLink.record_id, batch_ids),
        )
    ).all():
        key = _exclusive_key(kind, value)
        if key:
            uf.add_ids(("p", pid), {key[0]: key[1]})

    # Ops overrides: cannot-links become exclusive slots, must-links explicit pairs.
    members = dict(
        session.execute(
            select(RecordLink.record_id, RecordLink.profile_id).where(
                in_ids(RecordLink.profile_id, neighbour_profiles | batch_profiles, uuid=True)
            )
        )
        .tuples()
        .all()
    )

    def locate(rid: int) -> tuple[str, Any] | None:
        if rid in batch_set or (rid in neighbour_ids and rid not in profile_of):
            return ("r", rid)
        pid = profile_of.get(rid) or members.get(rid)
        return ("p", pid) if pid is not None else None

    forced: list[tuple[int, int]] = []
    for oid, kind, rec_a, rec_b in overrides_touching(
        session, batch_set | neighbour_ids | set(members)
    ):
        if kind == "cannot_link":
            for rid, side in ((rec_a, "a"), (rec_b, "b")):
                where = locate(rid)
                if where is not None:
                    uf.add_ids(where, {f"override:{oid}": side})
        elif kind == "must_link" and (rec_a in batch_set or rec_b in batch_set):
            forced.append((rec_a, rec_b) if rec_a in batch_set else (rec_b, rec_a))

    evidence: dict[int, list[dict[str, Any]]] = defaultdict(list)
    blocked: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for rid in batch_ids:
        uf.find(("r", rid))
    # A batch record stays with its current profile unless its identifiers now conflict.
    for rid in batch_ids:
        current = profile_of.get(rid)
        if (
            current is not None
            and current not in recheck
            and uf.conflict(("r", rid), ("p", current)) is None
        ):
            uf.union(("r", rid), ("p", current))
    for rid, other_rid in forced:
        target = locate(other_rid)
        if target is None:
            target = ("r", other_rid)
            uf.find(target)
        if len(evidence[rid]) < 10:
            evidence[rid].append({"type": "override", "value": "must_link", "record_id": other_rid})
        uf.union(("r", rid), target)
    ordered = sorted(
        pairs, key=lambda p: min(LINK_PRIORITY.get(p[2], 5), LINK_PRIORITY.get(p[4], 5))
    )
    for rid, nid, kind, value, other_kind in ordered:
        target = node(nid)
        explicit = "alias" in (kind, other_kind)
        reason = None if explicit else uf.conflict(("r", rid), target)
        if reason is not None:
            if len(blocked[rid]) < 10:
                blocked[rid].append(
                    {"type": kind, "value": value, "record_id": nid, "reason": reason}
                )
            continue
        if len(evidence[rid]) < 10:
            evidence[rid].append({"type": kind, "value": value, "record_id": nid})
        uf.union(("r", rid), target)
    for rid, edge in probable.items():
        target = node(edge["candidate_id"])
        reason = uf.conflict(("r", rid), target)
        item = splink_evidence(edge)
        if reason is not None:
            blocked[rid].append({**item, "reason": reason})
            continue
        evidence[rid].append(item)
        uf.union(("r", rid), target)

    components: dict[Any, list[Any]] = defaultdict(list)
    for item in list(uf.parent):
        components[uf.find(item)].append(item)

    existing_profiles = {n[1] for nodes in components.values() for n in nodes if n[0] == "p"}
    existing_profiles |= batch_profiles
    created = dict(
        session.execute(
            select(Profile.id, Profile.created_at).where(
                in_ids(Profile.id, existing_profiles, uuid=True)
            )
        )
        .tuples()
        .all()
    )
    links: list[dict[str, Any]] = []
    new_profiles: list[dict[str, Any]] = []
    change_rows: list[dict[str, Any]] = []
    taken: set[uuid.UUID] = set()
    for nodes in sorted(components.values(), key=len, reverse=True):
        record_nodes = [n[1] for n in nodes if n[0] == "r" and n[1] in batch_set]
        if not record_nodes:
            continue
        profiles = sorted({n[1] for n in nodes if n[0] == "p"}, key=lambda p: (created[p], str(p)))
        if not profiles:
            # records that were on a profile and were not re-attached keep its id when free
            previous = sorted(
                {profile_of[r] for r in record_nodes if r in profile_of} - taken,
                key=lambda p: (created[p], str(p)),
            )
            profiles = previous[:1]
        if profiles:
            survivor = profiles[0]
            for absorbed in profiles[1:]:
                _merge(
                    session,
                    survivor,
                    absorbed,
                    cause="shared_identifier",
                    evidence={"records": record_nodes[:20]},
                    result=result,
                )
        else:
            survivor = uuid.uuid4()
            new_profiles.append({"id": survivor})
            cause = "split" if any(r in profile_of for r in record_nodes) else "new_record"
            change_rows.append(
                {
                    "kind": "split" if cause == "split" else "create",
                    "profile_id": survivor,
                    "other_profile_id": next(
                        (profile_of[r] for r in record_nodes if r in profile_of), None
                    ),
                    "cause": cause,
                    "evidence": {
                        "records": record_nodes[:20],
                        "blocked": [b for r in record_nodes for b in blocked.get(r, [])][:10],
                    },
                }
            )
            if cause == "split":
                result.changes.append(
                    {
                        "kind": "split",
                        "survivor": str(survivor),
                        "from": str(profile_of[record_nodes[0]])
                        if record_nodes[0] in profile_of
                        else None,
                    }
                )
            result.new_profiles += 1
        taken.add(survivor)
        result.changed_profiles.add(survivor)
        for rid in record_nodes:
            ev: dict[str, Any] = {"shared": evidence.get(rid, [])}
            if blocked.get(rid):
                ev["blocked"] = blocked[rid]
            links.append(
                {
                    "record_id": rid,
                    "profile_id": survivor,
                    "rule": _rule_of(evidence.get(rid, [])),
                    "evidence": ev,
                    "model_version": RULE_VERSION,
                }
            )
    if new_profiles:
        session.connection().execute(pg_insert(Profile), new_profiles)
    if change_rows:
        session.connection().execute(pg_insert(IdentityChange), change_rows)
    if links:
        execute_arrays(
            session,
            UPSERT_LINKS,
            {
                "record_id": [x["record_id"] for x in links],
                "profile_id": [x["profile_id"] for x in links],
                "rule": [x["rule"] for x in links],
                "evidence": [json.dumps(x["evidence"], default=str) for x in links],
                "model_version": [x["model_version"] for x in links],
            },
        )
    _clear_dirty(session, records)
    if recheck:
        result.changes.extend(split_disconnected(session, recheck, cause="generic_identifier"))
    if result.changed_profiles:
        session.execute(
            update(Profile)
            .where(in_ids(Profile.id, result.changed_profiles, uuid=True))
            .values(stale=True, updated_at=func.now())
        )
    session.flush()
    return result


def split_disconnected(
    session: Session, profile_ids: set[uuid.UUID], *, cause: str
) -> list[dict[str, Any]]:
    """Re-check profiles after evidence changed: records no longer connected by a linking
    identifier (respecting cannot-links) move to profiles of their own. The largest group (then
    the oldest record) keeps the profile id."""
    changes: list[dict[str, Any]] = []
    for pid in sorted(profile_ids, key=str):
        record_ids = record_ids_of(session, pid)
        if len(record_ids) < 2:
            continue
        ids = session.execute(
            select(
                Identifier.record_id, Identifier.type, Identifier.link_type, Identifier.value
            ).where(in_ids(Identifier.record_id, record_ids), Identifier.linking.is_(True))
        ).all()
        uf = _ConstrainedUnion()
        by_value: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
        for rid, kind, link_type, value in ids:
            key = _exclusive_key(kind, value)
            if key:
                uf.add_ids(rid, {key[0]: key[1]})
            by_value[(link_type, value)].append((rid, kind))
        for rid in record_ids:
            uf.find(rid)
        inside = set(record_ids)
        must: list[tuple[int, int]] = []
        for oid, kind, rec_a, rec_b in overrides_touching(session, inside):
            if kind == "cannot_link":
                for rid, side in ((rec_a, "a"), (rec_b, "b")):
                    if rid in inside:
                        uf.add_ids(rid, {f"override:{oid}": side})
            elif rec_a in inside and rec_b in inside:
                must.append((rec_a, rec_b))
        for rec_a, rec_b in must:
            uf.union(rec_a, rec_b)
        for rid, evidence in session.execute(
            select(RecordLink.record_id, RecordLink.evidence).where(
                in_ids(RecordLink.record_id, record_ids)
            )
        ).all():
            for edge in (evidence or {}).get("splink", []):
                partner = edge.get("record_id")
                if partner in inside and uf.conflict(rid, partner) is None:
                    uf.union(rid, partner)
        for members in sorted(
            by_value.values(), key=lambda m: min(LINK_PRIORITY.get(k, 5) for _, k in m)
        ):
            first, first_kind = members[0]
            for rid, kind in members[1:]:
                explicit = "alias" in (kind, first_kind)
                if explicit or uf.conflict(first, rid) is None:
                    uf.union(first, rid)
        groups: dict[int, list[int]] = defaultdict(list)
        for rid in record_ids:
            groups[uf.find(rid)].append(rid)
        if len(groups) < 2:
            continue
        ordered = sorted(groups.values(), key=lambda g: (-len(g), min(g)))
        for group in ordered[1:]:
            new_id = uuid.uuid4()
            session.execute(pg_insert(Profile).values(id=new_id))
            session.execute(
                update(RecordLink)
                .where(RecordLink.record_id.in_(group))
                .values(profile_id=new_id, rule="split", linked_at=func.now())
            )
            session.add(
                IdentityChange(
                    kind="split",
                    profile_id=new_id,
                    other_profile_id=pid,
                    cause=cause,
                    evidence={"records": group[:50]},
                )
            )
            session.execute(update(Profile).where(Profile.id.in_([pid, new_id])).values(stale=True))
            changes.append(
                {
                    "kind": "split",
                    "survivor": str(pid),
                    "split_off": str(new_id),
                    "cause": cause,
                    "records": group[:50],
                }
            )
    return changes


def _merge(
    session: Session,
    survivor: uuid.UUID,
    absorbed: uuid.UUID,
    *,
    cause: str,
    evidence: dict[str, Any],
    result: ResolveResult,
) -> None:
    """Fold ``absorbed`` into ``survivor``; the absorbed id keeps answering via merged_into."""
    session.execute(
        update(RecordLink).where(RecordLink.profile_id == absorbed).values(profile_id=survivor)
    )
    session.execute(
        update(Profile)
        .where((Profile.id == absorbed) | (Profile.merged_into == absorbed))
        .values(merged_into=survivor, merged_at=func.now())
    )
    session.add(
        IdentityChange(
            kind="merge",
            profile_id=survivor,
            other_profile_id=absorbed,
            cause=cause,
            evidence=evidence,
        )
    )
    result.merges += 1
    result.changes.append(
        {"kind": "merge", "survivor": str(survivor), "merged": str(absorbed), "cause": cause}
    )


def surviving_profile_id(session: Session, profile_id: uuid.UUID) -> uuid.UUID | None:
    """Follow ``merged_into`` to the live profile (None if the id was never issued)."""
    row = session.execute(
        select(Profile.id, Profile.merged_into).where(Profile.id == profile_id)
    ).first()
    if row is None:
        return None
    return row.merged_into or row.id


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
        return _profiles_where(
            session,
            (Identifier.type == canonical) & Identifier.value.like(f"%:{value}"),
        )
    if not candidates:
        return []
    return _profiles_where(
        session, (Identifier.type == canonical) & Identifier.value.in_(candidates)
    )


def _profiles_where(session: Session, condition: Any) -> list[uuid.UUID]:
    rows = session.execute(
        select(func.coalesce(Profile.merged_into, Profile.id))
        .select_from(Identifier)
        .join(RecordLink, RecordLink.record_id == Identifier.record_id)
        .join(Profile, Profile.id == RecordLink.profile_id)
        .where(condition, Profile.deleted.is_(False))
        .distinct()
    ).scalars()
    return list(rows)


def record_ids_of(session: Session, profile_id: uuid.UUID) -> list[int]:
    return list(
        session.execute(
            select(RecordLink.record_id).where(RecordLink.profile_id == profile_id)
        ).scalars()
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


def changes_since(session: Session, *, after_id: int = 0, limit: int = 100) -> list[IdentityChange]:
    return list(
        session.execute(
            select(IdentityChange)
            .where(IdentityChange.id > after_id)
            .order_by(IdentityChange.id)
            .limit(limit)
        ).scalars()
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


def overrides_touching(
    session: Session, record_ids: Collection[int]
) -> list[tuple[int, str, int, int]]:
    """(id, kind, record_a, record_b) of every ops override involving one of ``record_ids``."""
    if not record_ids:
        return []
    return [
        (row[0], row[1], row[2], row[3])
        for row in session.execute(
            select(
                IdentityOverride.id,
                IdentityOverride.kind,
                IdentityOverride.record_a,
                IdentityOverride.record_b,
            ).where(
                or_(
                    in_ids(IdentityOverride.record_a, record_ids),
                    in_ids(IdentityOverride.record_b, record_ids),
                )
            )
        ).all()
    ]


def list_generic_identifiers(session: Session, *, limit: int = 1000) -> list[dict[str, Any]]:
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


def _rule_of(evidence: list[dict[str, Any]]) -> str:
    if not evidence:
        return "new_record"
    if all(e.get("type") == "splink" for e in evidence):
        return "splink"
    return "shared_identifier"


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
        key = _exclusive_key(kind, value)
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
    for rid, evidence in session.execute(
        select(RecordLink.record_id, RecordLink.evidence).where(
            in_ids(RecordLink.record_id, recs_a | recs_b)
        )
    ).all():
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


def _clear_dirty(session: Session, records: Sequence[DirtyRecord]) -> None:
    """Compare-and-clear: a record that ingest changed while we worked stays dirty."""
    execute_arrays(
        session,
        "UPDATE source_records SET dirty = false FROM unnest(CAST(%(id)b AS bigint[]), "
        "CAST(%(at)b AS timestamptz[])) AS v(id, at) "
        "WHERE source_records.id = v.id AND source_records.updated_at = v.at",
        {"id": [r.id for r in records], "at": [r.updated_at for r in records]},
    )


def profile_conflict(session: Session, *, record_id: int, profile_id: uuid.UUID) -> str | None:
    """Why ``record_id`` may not join ``profile_id`` (exclusive ids, ops cannot-links)."""
    members = record_ids_of(session, profile_id)
    mine: dict[str, str] = {}
    theirs: dict[str, str] = {}
    for rid, kind, value in session.execute(
        select(Identifier.record_id, Identifier.type, Identifier.value).where(
            in_ids(Identifier.record_id, [record_id, *members]),
            Identifier.type.in_(EXCLUSIVE_TYPES),
        )
    ).all():
        key = _exclusive_key(kind, value)
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


def splink_evidence(edge: dict[str, Any]) -> dict[str, Any]:
    """How a model edge is recorded as link evidence (shown by /explain)."""
    return {
        "type": "splink",
        "value": round(edge["match_probability"], 6),
        "record_id": edge["candidate_id"],
        "match_weight": round(edge["match_weight"], 3),
        "comparisons": edge["comparisons"],
        "model_version": edge.get("model_version"),
    }
