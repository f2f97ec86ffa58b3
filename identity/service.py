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

import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from identity.normalize import normalise_email, normalise_id, normalise_phone
from kindred.models import (
    Identifier,
    IdentityChange,
    Profile,
    RecordLink,
    Source,
    SourceRecord,
)

RESOLVER_LOCK = 7_331_001  # pg advisory lock id: one resolver writes the graph at a time
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


def refresh_identifiers(session: Session, records: Sequence[SourceRecord]) -> None:
    """Rewrite the normalised identifiers of ``records`` from their raw external ids."""
    if not records:
        return
    regions = _regions(session)
    ids = [r.id for r in records]
    session.execute(delete(Identifier).where(Identifier.record_id.in_(ids)))
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
        session.execute(pg_insert(Identifier).on_conflict_do_nothing(), rows)


def resolve_dirty(session: Session, *, limit: int = 5000) -> ResolveResult:
    """Resolve up to ``limit`` dirty source records. The caller commits."""
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": RESOLVER_LOCK})
    records = list(
        session.execute(
            select(SourceRecord)
            .where(SourceRecord.dirty.is_(True))
            .order_by(SourceRecord.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars()
    )
    result = ResolveResult(records=len(records))
    if not records:
        return result
    refresh_identifiers(session, records)
    session.flush()
    batch_ids = [r.id for r in records]

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
        .where(mine.c.record_id.in_(batch_ids), mine.c.linking, other.c.linking)
    ).all()

    neighbour_ids = {p[1] for p in pairs}
    profile_of: dict[int, uuid.UUID] = dict(
        session.execute(
            select(RecordLink.record_id, RecordLink.profile_id).where(
                RecordLink.record_id.in_(neighbour_ids | set(batch_ids))
            )
        )
        .tuples()
        .all()
    )
    uf = _UnionFind()
    evidence: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for rid in batch_ids:
        uf.find(("r", rid))
    for rid, nid, kind, value, _other_kind in pairs:
        if len(evidence[rid]) < 10:
            evidence[rid].append({"type": kind, "value": value, "record_id": nid})
        if nid in profile_of and nid not in batch_ids:
            uf.union(("r", rid), ("p", profile_of[nid]))
        else:
            uf.union(("r", rid), ("r", nid))
    # A batch record keeps its current profile unless identifiers say otherwise.
    for rid in batch_ids:
        if rid in profile_of:
            uf.union(("r", rid), ("p", profile_of[rid]))

    components: dict[Any, list[Any]] = defaultdict(list)
    for node in list(uf.parent):
        components[uf.find(node)].append(node)

    existing_profiles = {
        node[1] for nodes in components.values() for node in nodes if node[0] == "p"
    }
    created = dict(
        session.execute(
            select(Profile.id, Profile.created_at).where(Profile.id.in_(existing_profiles))
        )
        .tuples()
        .all()
    )
    links: list[dict[str, Any]] = []
    for nodes in components.values():
        record_nodes = [n[1] for n in nodes if n[0] == "r" and n[1] in set(batch_ids)]
        if not record_nodes:
            continue
        profiles = sorted({n[1] for n in nodes if n[0] == "p"}, key=lambda p: (created[p], str(p)))
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
            session.execute(pg_insert(Profile).values(id=survivor))
            session.add(
                IdentityChange(
                    kind="create",
                    profile_id=survivor,
                    cause="new_record",
                    evidence={"records": record_nodes[:20]},
                )
            )
            result.new_profiles += 1
        result.changed_profiles.add(survivor)
        for rid in record_nodes:
            links.append(
                {
                    "record_id": rid,
                    "profile_id": survivor,
                    "rule": "shared_identifier" if evidence.get(rid) else "new_record",
                    "evidence": {"shared": evidence.get(rid, [])},
                    "model_version": RULE_VERSION,
                }
            )
    if links:
        ins = pg_insert(RecordLink)
        session.execute(
            ins.on_conflict_do_update(
                index_elements=["record_id"],
                set_={
                    "profile_id": ins.excluded.profile_id,
                    "rule": ins.excluded.rule,
                    "evidence": ins.excluded.evidence,
                    "model_version": ins.excluded.model_version,
                    "linked_at": func.now(),
                },
            ),
            links,
        )
    session.execute(update(SourceRecord).where(SourceRecord.id.in_(batch_ids)).values(dirty=False))
    if result.changed_profiles:
        session.execute(
            update(Profile)
            .where(Profile.id.in_(result.changed_profiles))
            .values(stale=True, updated_at=func.now())
        )
    session.flush()
    return result


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
