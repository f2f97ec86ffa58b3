"""The SQL of model scoring: the batch resolver's (``identity.batch``: the person fields of
records, the linking chains, overrides, the model registry, reconciliation's writes) and the
streaming scorer's (``identity.streaming``: blocking candidates, singletons still to score,
the refinement's reads and link updates). Private to identity (import-linter)."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from identity.repository import UPSERT_LINKS
from kindred.db import execute_arrays, fetch_rows, in_ids
from kindred.models import IdentityChange, Profile, RecordLink, SplinkModel
from kindred.models.identity import IdentityOverride

# ----------------------------------------------------------------------- the person fields

#: SQL expressions pulling the person fields the model compares out of record traits
FIELD_SQL = {
    "first_name": "coalesce(r.traits->>'first_name', r.traits->>'firstName')",
    "last_name": "coalesce(r.traits->>'last_name', r.traits->>'lastName')",
    "full_name": "coalesce(r.traits->>'name', r.traits->>'full_name')",
    "email": "coalesce(r.traits->>'email', r.external_ids->'email'->>0)",
    "phone": "coalesce(r.traits->>'phone', r.external_ids->'phone'->>0)",
    "company": (
        "CASE WHEN jsonb_typeof(r.traits->'company') = 'object' "
        "THEN r.traits->'company'->>'name' "
        "ELSE coalesce(r.traits->>'company', r.traits->>'company_name') END"
    ),
    "job_title": "coalesce(r.traits->>'job_title', r.traits->>'title')",
    "city": (
        "CASE WHEN jsonb_typeof(r.traits->'address') = 'object' "
        "THEN r.traits->'address'->>'city' ELSE r.traits->>'city' END"
    ),
    "postcode": "coalesce(r.traits->>'postcode', r.traits->>'postal_code', r.traits->>'zip')",
    "birth_date": "coalesce(r.traits->>'birthday', r.traits->>'birth_date')",
}
#: the columns of :func:`person_rows`
PERSON_COLUMNS = ("id", "source", "region", *FIELD_SQL, "user_id", "crm_id")


def person_rows(session: Session, *, record_ids: list[int] | None = None) -> list[tuple[Any, ...]]:
    """:data:`PERSON_COLUMNS` of every live person record, or of ``record_ids``, by id."""
    cols = ", ".join(f"{sql} AS {name}" for name, sql in FIELD_SQL.items())
    only = "AND r.id = ANY(:ids) " if record_ids is not None else ""
    sql = (
        f"SELECT r.id::text AS id, r.source, s.config->>'default_region' AS region, {cols}, "
        "(SELECT i.value FROM identifiers i WHERE i.record_id = r.id AND i.type = 'user_id' "
        " AND NOT EXISTS (SELECT 1 FROM identifiers a WHERE a.record_id = r.id "
        "                 AND a.type = 'alias') LIMIT 1) AS user_id, "
        "(SELECT i.value FROM identifiers i WHERE i.record_id = r.id "
        " AND i.type = 'crm_contact_id' LIMIT 1) AS crm_id "
        "FROM source_records r LEFT JOIN sources s ON s.name = r.source "
        f"WHERE NOT r.deleted AND r.record_key NOT LIKE 'deal:%' {only}ORDER BY r.id"
    )
    params = {"ids": record_ids} if record_ids is not None else {}
    return list(session.execute(text(sql), params).tuples().all())


# --------------------------------------------------------------------------- batch inputs


def linking_chains(session: Session) -> list[tuple[str, str | None]]:
    """(record id, previous record id or None) as text: records sharing a linking
    identifier, chained per shared value."""
    return list(
        session.execute(
            text(
                "SELECT record_id::text, lag(record_id) OVER w::text FROM identifiers "
                "WHERE linking WINDOW w AS (PARTITION BY link_type, value ORDER BY record_id)"
            )
        )
        .tuples()
        .all()
    )


def override_rows(session: Session) -> list[tuple[str, int, int]]:
    """(kind, record_a, record_b) of every ops override."""
    return list(
        session.execute(
            select(IdentityOverride.kind, IdentityOverride.record_a, IdentityOverride.record_b)
        )
        .tuples()
        .all()
    )


# ------------------------------------------------------------------------ model registry


def model_rows(
    session: Session,
) -> list[tuple[str, bool, float, dict[str, Any], datetime, dict[str, Any] | None]]:
    """(version, active, threshold, report, created_at, charts), newest first."""
    return list(
        session.execute(
            select(
                SplinkModel.version,
                SplinkModel.active,
                SplinkModel.threshold,
                SplinkModel.report,
                SplinkModel.created_at,
                SplinkModel.charts,
            ).order_by(SplinkModel.created_at.desc())
        )
        .tuples()
        .all()
    )


def charts_of(session: Session, *, version: str) -> dict[str, Any] | None:
    return session.execute(
        select(SplinkModel.charts).where(SplinkModel.version == version)
    ).scalar_one_or_none()


def active_model(session: Session) -> SplinkModel | None:
    return (
        session.execute(
            select(SplinkModel)
            .where(SplinkModel.active.is_(True))
            .order_by(SplinkModel.created_at.desc())
        )
        .scalars()
        .first()
    )


def active_model_row(session: Session) -> tuple[str, dict[str, Any], float] | None:
    """(version, settings, threshold) of the active model, or None."""
    return (
        session.execute(
            select(SplinkModel.version, SplinkModel.settings, SplinkModel.threshold)
            .where(SplinkModel.active.is_(True))
            .order_by(SplinkModel.created_at.desc())
            .limit(1)
        )
        .tuples()
        .first()
    )


def save_model(
    session: Session,
    *,
    version: str,
    settings_json: dict[str, Any],
    report: dict[str, Any],
    threshold: float,
    charts: dict[str, str],
) -> None:
    """Store the model ``version`` (or refresh its report and charts) as the only active one."""
    session.execute(update(SplinkModel).values(active=False))
    session.execute(
        pg_insert(SplinkModel)
        .values(
            version=version,
            settings=settings_json,
            report=report,
            threshold=threshold,
            active=True,
            charts=charts,
        )
        .on_conflict_do_update(
            index_elements=["version"], set_={"active": True, "report": report, "charts": charts}
        )
    )


# ------------------------------------------------------------------------ reconciliation

#: like the streaming upsert, but the batch's Splink evidence is merged into what the link
#: already records (shared identifiers, overrides) by PostgreSQL, not read back into Python
MERGE_LINKS = UPSERT_LINKS.replace(
    "evidence = EXCLUDED.evidence", "evidence = record_links.evidence || EXCLUDED.evidence"
)


@dataclass(frozen=True)
class CurrentLinks:
    """Every record's link: its profile, its rule, and whether it holds Splink evidence of
    the model version asked about."""

    profile: dict[int, uuid.UUID]
    rule: dict[int, str]
    scored: set[int]


def current_links(session: Session, *, model_version: str | None = None) -> CurrentLinks:
    """Every record's profile and rule; ``scored``: those whose Splink evidence is of
    ``model_version``."""
    rows = fetch_rows(
        session,
        "SELECT record_id, profile_id, rule, "
        "coalesce(model_version = %(version)s AND evidence ? 'splink', false) FROM record_links",
        {"version": model_version},
    )
    return CurrentLinks(
        profile={r[0]: r[1] for r in rows},
        rule={r[0]: r[2] for r in rows},
        scored={r[0] for r in rows if r[3]},
    )


def live_profiles_created(session: Session) -> dict[uuid.UUID, float]:
    """Every live (not merged) profile and when it was created (epoch seconds: an order)."""
    rows = fetch_rows(
        session,
        "SELECT id, extract(epoch FROM created_at)::float8 FROM profiles WHERE merged_into IS NULL",
    )
    return dict(rows)


def insert_profiles(session: Session, rows: list[dict[str, Any]]) -> None:
    session.connection().execute(pg_insert(Profile), rows)


def insert_changes(session: Session, rows: list[dict[str, Any]]) -> None:
    session.connection().execute(pg_insert(IdentityChange), rows)


def merge_profiles(
    session: Session, *, absorbed: list[uuid.UUID], survivors: list[uuid.UUID]
) -> None:
    """Each of ``absorbed`` (and what was merged into it) now answers through its survivor."""
    merge_map = {"absorbed": absorbed, "survivor": survivors}
    for condition in ("p.id = m.absorbed", "p.merged_into = m.absorbed"):
        execute_arrays(
            session,
            "UPDATE profiles p SET merged_into = m.survivor, merged_at = now() "
            "FROM unnest(CAST(%(absorbed)b AS uuid[]), CAST(%(survivor)b AS uuid[])) "
            f"AS m(absorbed, survivor) WHERE {condition}",
            merge_map,
        )


def merge_links(session: Session, *, links: dict[str, list[Any]]) -> None:
    """Upsert links given as one array per column (record_id, profile_id, rule, evidence as
    JSON text, model_version), merging the new evidence into the old."""
    execute_arrays(session, MERGE_LINKS, links)


def mark_stale_now(session: Session, profile_ids: Collection[uuid.UUID]) -> None:
    """Profiles whose golden record and segments must be redone (``updated_at`` now)."""
    session.execute(
        update(Profile)
        .where(in_ids(Profile.id, profile_ids, uuid=True))
        .values(stale=True, updated_at=func.now())
    )


# --------------------------------------------------------------------- streaming scorer

# The blocking expressions are those of the indexes of migration 0010 (bounded prefixes: a
# btree row holds ~2,700 bytes), character for character, so the planner uses them.
CANDIDATES_SQL = text(
    """
    WITH new AS (
        SELECT r.id,
               left(lower(coalesce(r.traits->>'last_name', r.traits->>'lastName')), 100)
                   AS last_name,
               left(lower(coalesce(r.traits->>'first_name', r.traits->>'firstName')), 1) AS fi,
               left(lower(split_part(coalesce(r.traits->>'email', ''), '@', 1)), 100) AS local
        FROM source_records r WHERE r.id = ANY(:ids)
    )
    SELECT DISTINCT c.id FROM new
    JOIN LATERAL (
        SELECT o.id FROM source_records o
        WHERE NOT o.deleted AND o.id <> new.id AND new.last_name IS NOT NULL
          AND left(lower(coalesce(o.traits->>'last_name', o.traits->>'lastName')), 100)
              = new.last_name
          AND left(lower(coalesce(o.traits->>'first_name', o.traits->>'firstName')), 1)
              = new.fi
        LIMIT :lim
    ) c ON true
    UNION
    SELECT DISTINCT c.id FROM new
    JOIN LATERAL (
        SELECT o.id FROM source_records o
        WHERE NOT o.deleted AND o.id <> new.id AND length(new.local) >= 4
          AND left(lower(split_part(coalesce(o.traits->>'email', ''), '@', 1)), 100)
              = new.local
        LIMIT :lim
    ) c ON true
    """
)
PENDING_SQL = text(
    """
    SELECT l.record_id FROM record_links l
    WHERE l.rule = 'new_record' AND NOT (l.evidence ? 'scored')
      AND (SELECT count(*) FROM record_links o WHERE o.profile_id = l.profile_id) = 1
    ORDER BY l.record_id LIMIT :lim
    """
)


def candidates(session: Session, *, record_ids: list[int], limit: int) -> list[int]:
    """Records sharing a blocking key with one of ``record_ids`` (at most ``limit`` per key
    value)."""
    return list(session.execute(CANDIDATES_SQL, {"ids": record_ids, "lim": limit}).scalars())


def pending_singletons(session: Session, *, limit: int) -> list[int]:
    """Records alone in the profile they created and not scored yet, by id."""
    return list(session.execute(PENDING_SQL, {"lim": limit}).scalars())


def links_with_rule(
    session: Session, record_ids: Sequence[int]
) -> dict[int, tuple[uuid.UUID, str]]:
    """record id -> (profile id, rule) of its link."""
    return {
        rid: (pid, rule)
        for rid, pid, rule in session.execute(
            select(RecordLink.record_id, RecordLink.profile_id, RecordLink.rule).where(
                RecordLink.record_id.in_(record_ids)
            )
        ).all()
    }


def live_profiles_of(session: Session, record_ids: Sequence[int]) -> dict[int, uuid.UUID]:
    """record id -> the profile its link's profile answers through (merged_into, else
    itself; one step)."""
    return dict(
        session.execute(
            select(RecordLink.record_id, func.coalesce(Profile.merged_into, Profile.id))
            .join(Profile, Profile.id == RecordLink.profile_id)
            .where(RecordLink.record_id.in_(record_ids))
        )
        .tuples()
        .all()
    )


def profile_of(session: Session, record_id: int) -> uuid.UUID | None:
    return session.execute(
        select(RecordLink.profile_id).where(RecordLink.record_id == record_id)
    ).scalar_one_or_none()


def profiles_created(
    session: Session, profile_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, datetime]:
    return dict(
        session.execute(select(Profile.id, Profile.created_at).where(Profile.id.in_(profile_ids)))
        .tuples()
        .all()
    )


def set_link(
    session: Session, record_id: int, *, evidence: dict[str, Any], rule: str | None = None
) -> None:
    """Replace the evidence (and, given, the rule) of ``record_id``'s link."""
    values: dict[str, Any] = (
        {"evidence": evidence} if rule is None else {"rule": rule, "evidence": evidence}
    )
    session.execute(update(RecordLink).where(RecordLink.record_id == record_id).values(**values))


def mark_stale(session: Session, profile_id: uuid.UUID) -> None:
    session.execute(update(Profile).where(Profile.id == profile_id).values(stale=True))


def mark_scored(session: Session, record_ids: list[int]) -> None:
    """Flag the links of those of ``record_ids`` still alone on the profile they started
    (rule ``new_record``) as scored: the model had its say and placed them nowhere else
    (kept evidence otherwise)."""
    session.execute(
        text(
            "UPDATE record_links SET evidence = evidence || '{\"scored\": true}'::jsonb "
            "WHERE record_id = ANY(:ids) AND rule = 'new_record' AND NOT (evidence ? 'scored')"
        ),
        {"ids": record_ids},
    )


__all__ = [
    "FIELD_SQL",
    "MERGE_LINKS",
    "PERSON_COLUMNS",
    "CurrentLinks",
    "active_model",
    "active_model_row",
    "candidates",
    "charts_of",
    "current_links",
    "insert_changes",
    "insert_profiles",
    "linking_chains",
    "links_with_rule",
    "live_profiles_created",
    "live_profiles_of",
    "mark_scored",
    "mark_stale",
    "mark_stale_now",
    "merge_links",
    "merge_profiles",
    "model_rows",
    "override_rows",
    "pending_singletons",
    "person_rows",
    "profile_of",
    "profiles_created",
    "save_model",
    "set_link",
]
