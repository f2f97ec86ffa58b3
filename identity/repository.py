"""The identity graph's queries: identifiers, links, dirty records, generic values, overrides
(the accounts' queries are in :mod:`identity.accounts_repository`).

Set-based throughout: one array parameter per column (``kindred.db.execute_arrays``), and
``= ANY(:array)`` instead of IN lists (``kindred.db.in_ids``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Integer, cast, delete, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from identity.graph import EXCLUSIVE_TYPES, rule_for
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
CLEAR_DIRTY = (
    "UPDATE source_records SET dirty = false FROM unnest(CAST(%(id)b AS bigint[]), "
    "CAST(%(at)b AS timestamptz[])) AS v(id, at) "
    "WHERE source_records.id = v.id AND source_records.updated_at = v.at"
)


@dataclass(frozen=True)
class DirtyRecord:
    """A record to resolve, read without a row lock (ingest keeps writing meanwhile)."""

    id: int
    source: str
    external_ids: dict[str, list[str]]
    updated_at: datetime
    record_key: str = ""


# --------------------------------------------------------------------------- dirty records


#: advisory lock namespace (two-key form) of claimed dirty records
CLAIM_SPACE = 7_331_003


#: consecutive record ids claimed by one advisory lock
CLAIM_BUCKET = 16


def _dirty_selection(limit: int, record_ids: Sequence[int] | None, *, claim: bool = False) -> Any:
    """Dirty records, oldest id first, skipping quarantined ones: an index scan of the partial
    ``ix_source_records_dirty`` with an anti-join probe of the quarantine unique index.

    ``claim``: take each record's claim lock (an advisory lock held to the end of the
    transaction) and skip the records another identity worker has claimed, so concurrent
    workers resolve disjoint records (ingest's writes are never blocked by a claim)."""
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
    if claim:
        # one claim lock per CLAIM_BUCKET consecutive ids (records are taken in id order):
        # a pass of thousands of records holds a few hundred lock-table entries, not thousands
        query = query.where(
            func.pg_try_advisory_xact_lock(
                CLAIM_SPACE, cast((SourceRecord.id // CLAIM_BUCKET) % 2_147_483_647, Integer)
            )
        )
    return query.order_by(SourceRecord.id).limit(limit)


def dirty_records(
    session: Session, *, limit: int, record_ids: Sequence[int] | None = None
) -> list[DirtyRecord]:
    """The next ``limit`` dirty records (of ``record_ids`` only, when given)."""
    return [DirtyRecord(*row) for row in session.execute(_dirty_selection(limit, record_ids))]


def dirty_record_ids(
    session: Session,
    *,
    limit: int = 5000,
    claim: bool = False,
    record_ids: Sequence[int] | None = None,
) -> list[int]:
    """Ids of the next ``limit`` dirty records that ``resolve_dirty`` would take, or of those
    of ``record_ids`` still dirty (``claim``: claimed for this transaction, skipping those
    other workers hold)."""
    if record_ids is not None:
        limit = len(record_ids)
    selection = _dirty_selection(limit, record_ids, claim=claim)
    return [row[0] for row in session.execute(selection).all()]


def dirty_backlog(conn: Connection) -> dict[str, Any]:
    """Dirty source records plus dirty account records (each counted up to 1,000,000 through
    its partial index): the identity worker's heartbeat probe."""
    count = conn.execute(
        text(
            "SELECT (SELECT count(*) FROM (SELECT 1 FROM source_records WHERE dirty "
            "LIMIT 1000000) d) + (SELECT count(*) FROM (SELECT 1 FROM account_records "
            "WHERE dirty LIMIT 1000000) a)"
        )
    ).scalar()
    return {"backlog": int(count or 0)}


def clear_dirty(session: Session, records: Sequence[DirtyRecord]) -> None:
    """Compare-and-clear: a record that ingest changed while we worked stays dirty."""
    execute_arrays(
        session,
        CLEAR_DIRTY,
        {"id": [r.id for r in records], "at": [r.updated_at for r in records]},
    )


# --------------------------------------------------------------------------- identifiers


def source_regions(session: Session) -> dict[str, str]:
    rows = session.execute(select(Source.name, Source.config)).all()
    return {name: str((cfg or {}).get("default_region", "US")) for name, cfg in rows}


def refresh_identifiers(session: Session, records: Sequence[DirtyRecord]) -> None:
    """Rewrite the normalised identifiers of ``records`` from their raw external ids."""
    if not records:
        return
    regions = source_regions(session)
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


def shared_identifier_pairs(
    session: Session, record_ids: Sequence[int]
) -> list[tuple[int, int, str, str, str]]:
    """(record, other record, type, value, other type): records (anywhere) that share a
    linking identifier with one of ``record_ids``."""
    mine = Identifier.__table__.alias("mine")
    other = Identifier.__table__.alias("other")
    rows = session.execute(
        select(mine.c.record_id, other.c.record_id, mine.c.type, mine.c.value, other.c.type)
        .join(
            other,
            (other.c.link_type == mine.c.link_type)
            & (other.c.value == mine.c.value)
            & (other.c.record_id != mine.c.record_id),
        )
        .where(in_ids(mine.c.record_id, record_ids), mine.c.linking, other.c.linking)
    ).all()
    return [(a, b, kind, value, other_kind) for a, b, kind, value, other_kind in rows]


def exclusive_ids_of_records(
    session: Session, record_ids: Collection[int]
) -> list[tuple[int, str, str]]:
    """(record, type, value) of the exclusive identifiers (user id, CRM id) of records."""
    rows = session.execute(
        select(Identifier.record_id, Identifier.type, Identifier.value).where(
            in_ids(Identifier.record_id, record_ids),
            Identifier.type.in_(EXCLUSIVE_TYPES),
        )
    ).all()
    return [(rid, kind, value) for rid, kind, value in rows]


def exclusive_ids_of_profiles(
    session: Session, profile_ids: Collection[uuid.UUID], *, excluding: Collection[int]
) -> list[tuple[uuid.UUID, str, str]]:
    """(profile, type, value) of the exclusive identifiers held by the records of profiles,
    leaving out the records ``excluding``."""
    rows = session.execute(
        select(RecordLink.profile_id, Identifier.type, Identifier.value)
        .join(Identifier, Identifier.record_id == RecordLink.record_id)
        .where(
            in_ids(RecordLink.profile_id, profile_ids, uuid=True),
            Identifier.type.in_(EXCLUSIVE_TYPES),
            ~in_ids(RecordLink.record_id, excluding),
        )
    ).all()
    return [(pid, kind, value) for pid, kind, value in rows]


def linking_identifiers(
    session: Session, record_ids: Collection[int]
) -> list[tuple[int, str, str, str]]:
    """(record, type, link type, value) of the identifiers of records that still link."""
    rows = session.execute(
        select(Identifier.record_id, Identifier.type, Identifier.link_type, Identifier.value).where(
            in_ids(Identifier.record_id, record_ids), Identifier.linking.is_(True)
        )
    ).all()
    return [(rid, kind, link_type, value) for rid, kind, link_type, value in rows]


# --------------------------------------------------------------------------- links, profiles


def linked_record_ids(session: Session, record_ids: Collection[int]) -> set[int]:
    """Those of ``record_ids`` that are linked to a profile."""
    return set(
        session.execute(
            select(RecordLink.record_id).where(in_ids(RecordLink.record_id, record_ids))
        ).scalars()
    )


def profiles_of_records(session: Session, record_ids: Collection[int]) -> dict[int, uuid.UUID]:
    """record -> the profile it is linked to (unlinked records are left out)."""
    return dict(
        session.execute(
            select(RecordLink.record_id, RecordLink.profile_id).where(
                in_ids(RecordLink.record_id, record_ids)
            )
        )
        .tuples()
        .all()
    )


def records_of_profiles(
    session: Session, profile_ids: Collection[uuid.UUID]
) -> dict[int, uuid.UUID]:
    """record -> profile, for every record linked to one of ``profile_ids``."""
    return dict(
        session.execute(
            select(RecordLink.record_id, RecordLink.profile_id).where(
                in_ids(RecordLink.profile_id, profile_ids, uuid=True)
            )
        )
        .tuples()
        .all()
    )


def record_ids_of(session: Session, profile_id: uuid.UUID) -> list[int]:
    return list(
        session.execute(
            select(RecordLink.record_id).where(RecordLink.profile_id == profile_id)
        ).scalars()
    )


def link_evidence(session: Session, record_ids: Collection[int]) -> list[tuple[int, Any]]:
    """(record, evidence) of the links of records."""
    rows = session.execute(
        select(RecordLink.record_id, RecordLink.evidence).where(
            in_ids(RecordLink.record_id, record_ids)
        )
    ).all()
    return [(rid, evidence) for rid, evidence in rows]


def profiles_created_at(
    session: Session, profile_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, datetime]:
    return dict(
        session.execute(
            select(Profile.id, Profile.created_at).where(in_ids(Profile.id, profile_ids, uuid=True))
        )
        .tuples()
        .all()
    )


def live_profiles_where(session: Session, condition: Any) -> list[uuid.UUID]:
    """Live (survivor, not deleted) profiles of the records whose identifiers match."""
    rows = session.execute(
        select(func.coalesce(Profile.merged_into, Profile.id))
        .select_from(Identifier)
        .join(RecordLink, RecordLink.record_id == Identifier.record_id)
        .join(Profile, Profile.id == RecordLink.profile_id)
        .where(condition, Profile.deleted.is_(False))
        .distinct()
    ).scalars()
    return list(rows)


def write_pass(
    session: Session,
    *,
    new_profiles: list[dict[str, Any]],
    change_rows: list[dict[str, Any]],
    links: list[dict[str, Any]],
) -> None:
    """Insert the new profiles and their identity changes, upsert the record links."""
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


def mark_stale(session: Session, profile_ids: Collection[uuid.UUID]) -> None:
    """Profiles whose golden record must be rebuilt (by the profiles worker)."""
    session.execute(
        update(Profile)
        .where(in_ids(Profile.id, profile_ids, uuid=True))
        .values(stale=True, updated_at=func.now())
    )


# --------------------------------------------------------------------------- overrides


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
