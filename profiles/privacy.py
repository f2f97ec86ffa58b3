"""Privacy requests: erase a person everywhere, suppress (or unsuppress) their identifiers.

One function per workflow; the caller owns the transaction (everything here flushes).

Erasure (:func:`erase`) treats the whole cluster: the live profile, every profile merged into
it, and every source record linked to any of them. In one transaction, under the segment and
resolver locks (so no worker writes the cluster meanwhile), it

1. deletes the cluster's rows table by table: touchpoints, events, identifiers, overrides,
   record links, quarantine entries, source records, segment changes, memberships, account
   links, identity changes, the profiles themselves (merged-away ids then answer 404);
2. deletes the events without a record and the dead letters whose text carries one of the
   person's identifiers, and the generic-identifier entries of values only they held;
3. sweeps every text and JSON column of every other table for the person's identifiers (any
   copy inside evidence, explanations, change payloads, other people's events...) and
   replaces each occurrence with ``[erased]``.

A segment the person was in gets one ``exited`` change (cause ``erased``) for incremental
syncs: it names only the random profile id, never an identifier.

What it leaves: a ``privacy_requests`` row with the request id, time, who (API key id and
name), the subject's *kind* (``email``, ``profile_id``) and counts per table; for suppress
types, ``suppressions`` rows holding only keyed hashes. Kafka topics keep copies until their
retention expires (see docs/privacy.md).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from identity.service import lock_resolver, profiles_by_identifier, surviving_profile_id
from ingest.suppression import (
    NAMESPACES,
    HashKey,
    add_suppressions,
    hashes_of,
    identifier_hash,
    remove_suppressions,
    source_regions,
)
from kindred.errors import BadRequest, NotFound
from kindred.models import PrivacyRequest
from profiles.segments import lock_changes, remove_profiles

TYPES = ("delete", "suppress", "suppress_with_delete", "unsuppress")
REDACTED = "[erased]"
#: tables that never hold personal data (nothing of the person to look for)
SWEEP_SKIP = frozenset(
    {"alembic_version", "privacy_requests", "suppressions", "suppression_counts"}
)
#: shorter values (a CRM id "42") would match unrelated text: they are erased with the rows
#: that carry them, not swept for everywhere
MIN_NEEDLE = 6


@dataclass
class RequestView:
    id: uuid.UUID
    type: str
    subject_kind: str
    requested_by: str
    api_key_id: int | None
    status: str
    profiles: int
    counts: dict[str, int]
    hashes: int
    created_at: datetime
    completed_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "type": self.type,
            "subject_kind": self.subject_kind,
            "requested_by": self.requested_by,
            "api_key_id": self.api_key_id,
            "status": self.status,
            "profiles": self.profiles,
            "counts": self.counts,
            "hashes": self.hashes,
            "created_at": self.created_at.isoformat(),
            "completed_at": self.completed_at.isoformat() if self.completed_at else None,
        }


def _view(row: PrivacyRequest) -> RequestView:
    return RequestView(
        id=row.id,
        type=row.type,
        subject_kind=row.subject_kind,
        requested_by=row.requested_by,
        api_key_id=row.api_key_id,
        status=row.status,
        profiles=row.profiles,
        counts=dict(row.counts or {}),
        hashes=row.hashes,
        created_at=row.created_at,
        completed_at=row.completed_at,
    )


@dataclass
class _Erased:
    profiles: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, table: str, n: int) -> None:
        if n:
            self.counts[table] = self.counts.get(table, 0) + n


def parse_identifier(identifier: str) -> tuple[str, str]:
    kind, sep, value = identifier.partition(":")
    kind, value = kind.strip().lower(), value.strip()
    if not sep or not kind or not value:
        raise BadRequest("identifier must be TYPE:VALUE, e.g. email:ann@example.com")
    return kind, value


# -- workflows ---------------------------------------------------------------------------


def submit_request(
    session: Session,
    *,
    type: str,
    requested_by: str,
    keys: Sequence[bytes] = (),
    api_key_id: int | None = None,
    identifier: str | None = None,
    profile_id: uuid.UUID | None = None,
) -> RequestView:
    """Run one privacy request now and record it. ``keys``: the suppression hashing keys,
    current first (``ingest.suppression.suppression_keys``); needed by every type but
    ``delete``."""
    if type not in TYPES:
        raise BadRequest(f"type must be one of {', '.join(TYPES)}")
    if type != "delete" and not keys:
        raise ValueError("suppression types need the hashing keys")
    identifier = identifier or None  # an empty identifier names nobody
    if (identifier is None) == (profile_id is None):
        raise BadRequest("give exactly one of identifier or profile_id")
    subject: tuple[str, str] | None = parse_identifier(identifier) if identifier else None
    request = PrivacyRequest(
        id=uuid.uuid4(),
        type=type,
        subject_kind=subject[0] if subject else "profile_id",
        requested_by=requested_by[:250],
        api_key_id=api_key_id,
        status="running",
    )
    session.add(request)
    session.flush()

    lock_changes(session)  # the profiles worker's order: memberships, then the graph
    lock_resolver(session)
    roots = _subject_profiles(session, subject=subject, profile_id=profile_id)
    cluster = _cluster(session, roots)
    records = _records(session, cluster)
    given: set[HashKey] = set()
    if subject is not None and type != "delete":
        regions = source_regions(session) if subject[0] == "phone" else ["US"]
        use = keys if type == "unsuppress" else keys[:1]
        given = set(hashes_of(use, subject[0], subject[1], regions=regions))

    erased = _Erased()
    if type in ("suppress", "suppress_with_delete"):
        # the named identifier and every identifier of the person (a replay of their old
        # anonymous page views must not come back either)
        hashes = given | _cluster_hashes(session, records, keys=keys[:1])
        if not hashes:
            raise BadRequest("nothing to suppress: no email, phone or user id found")
        request.hashes = add_suppressions(session, hashes=hashes, request_id=request.id)
    elif type == "unsuppress":
        if subject is not None:
            # the identifier, and the rest of what the request(s) that suppressed it added
            request.hashes = remove_suppressions(session, hashes=given, whole_requests=True)
        else:
            request.hashes = remove_suppressions(
                session, hashes=_cluster_hashes(session, records, keys=keys)
            )
    if type in ("delete", "suppress_with_delete"):
        extra = [subject[1]] if subject is not None else []
        erased = _erase(session, cluster=cluster, records=records, extra_needles=extra)
    request.profiles = erased.profiles
    request.counts = erased.counts
    request.status = "done"
    request.completed_at = func.now()
    session.flush()
    session.refresh(request)
    return _view(request)


def erase_profile(
    session: Session, *, profile_id: uuid.UUID, requested_by: str, api_key_id: int | None = None
) -> RequestView:
    """``DELETE /v1/profiles/{id}``: erase the person (a plain delete, no suppression)."""
    return submit_request(
        session,
        type="delete",
        requested_by=requested_by,
        api_key_id=api_key_id,
        profile_id=profile_id,
    )


def list_requests(session: Session, *, limit: int = 100) -> list[RequestView]:
    rows = session.execute(
        select(PrivacyRequest).order_by(PrivacyRequest.created_at.desc()).limit(limit)
    ).scalars()
    return [_view(r) for r in rows]


# -- the cluster -------------------------------------------------------------------------


def _subject_profiles(
    session: Session, *, subject: tuple[str, str] | None, profile_id: uuid.UUID | None
) -> list[uuid.UUID]:
    if profile_id is not None:
        live = surviving_profile_id(session, profile_id)
        if live is None:
            raise NotFound(f"no profile {profile_id}")
        return [live]
    assert subject is not None
    return profiles_by_identifier(session, kind=subject[0], value=subject[1])


_CLUSTER = text(
    """
WITH RECURSIVE c(id) AS (
    SELECT unnest(CAST(:roots AS uuid[]))
    UNION
    SELECT p.id FROM profiles p JOIN c ON p.merged_into = c.id
)
SELECT id FROM c
"""
)


def _cluster(session: Session, roots: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """The live profiles and every profile merged into them (at any depth)."""
    if not roots:
        return []
    return list(session.execute(_CLUSTER, {"roots": list(roots)}).scalars())


def _records(session: Session, cluster: Sequence[uuid.UUID]) -> list[int]:
    if not cluster:
        return []
    return list(
        session.execute(
            text("SELECT record_id FROM record_links WHERE profile_id = ANY(:ids)"),
            {"ids": list(cluster)},
        ).scalars()
    )


def _cluster_hashes(
    session: Session, records: Sequence[int], *, keys: Sequence[bytes]
) -> set[HashKey]:
    """Hashes of every suppressible identifier of ``records`` (values as identity stored
    them, so already normalised)."""
    if not records:
        return set()
    rows = session.execute(
        text("SELECT type, value FROM identifiers WHERE record_id = ANY(:ids)"),
        {"ids": list(records)},
    ).all()
    return {
        (NAMESPACES[kind], identifier_hash(k, NAMESPACES[kind], value))
        for kind, value in rows
        if kind in NAMESPACES
        for k in keys
    }


# -- erasure -----------------------------------------------------------------------------


def _needles(session: Session, records: Sequence[int], extra: Sequence[str]) -> list[str]:
    """The person's identifier values (normalised and as received, record keys) that are not
    also held by someone else: what to look for in the rest of the database."""
    values: set[str] = {v for v in extra if v}
    if records:
        rows = session.execute(
            text(
                "SELECT value, raw_value FROM identifiers WHERE record_id = ANY(:ids) "
                "UNION SELECT record_key, NULL FROM source_records WHERE id = ANY(:ids) "
                "UNION SELECT v, NULL FROM source_records r, jsonb_each(r.external_ids) e, "
                "jsonb_array_elements_text(e.value) v WHERE r.id = ANY(:ids) "
                "AND jsonb_typeof(e.value) = 'array'"
            ),
            {"ids": list(records)},
        ).all()
        for value, raw in rows:
            values.update(v for v in (value, raw) if v)
        # crm ids are stored scoped (``source:id``); record keys may carry a ``user:`` prefix
        values.update(v.partition(":")[2] for v in list(values) if ":" in v and "@" not in v)
    values = {v.strip() for v in values if len(v.strip()) >= MIN_NEEDLE}
    if not values:
        return []
    shared = set(
        session.execute(
            text(
                "SELECT DISTINCT lower(i.value) FROM identifiers i "
                "WHERE i.value = ANY(:vals) AND NOT (i.record_id = ANY(:ids))"
            ),
            {"vals": sorted(values | {v.lower() for v in values}), "ids": list(records)},
        ).scalars()
    )
    return sorted(v for v in values if v.lower() not in shared)


def _pattern(needles: Sequence[str]) -> str:
    """One case-insensitive PostgreSQL regular expression matching any needle literally."""
    return "|".join(re.sub(r"([!-/:-@\[-`{-~])", r"\\\1", n) for n in needles)


def _erase(
    session: Session,
    *,
    cluster: Sequence[uuid.UUID],
    records: Sequence[int],
    extra_needles: Sequence[str],
) -> _Erased:
    out = _Erased(profiles=len(cluster))
    needles = _needles(session, records, extra_needles)
    ids = {"ids": list(records)}
    pids = {"ids": list(cluster)}

    def run(table: str, sql: str, params: dict[str, Any]) -> None:
        out.add(table, len(session.execute(text(sql), params).all()))

    if records:
        run("touchpoints", "DELETE FROM touchpoints WHERE record_id = ANY(:ids) RETURNING 1", ids)
        run("events", "DELETE FROM events WHERE record_id = ANY(:ids) RETURNING 1", ids)
        run("identifiers", "DELETE FROM identifiers WHERE record_id = ANY(:ids) RETURNING 1", ids)
        run(
            "identity_overrides",
            "DELETE FROM identity_overrides WHERE record_a = ANY(:ids) OR record_b = ANY(:ids) "
            "RETURNING 1",
            ids,
        )
        run("record_links", "DELETE FROM record_links WHERE record_id = ANY(:ids) RETURNING 1", ids)
        run(
            "quarantine",
            "DELETE FROM quarantine WHERE kind = 'record' AND ref = ANY(:refs) RETURNING 1",
            {"refs": [str(r) for r in records]},
        )
    if cluster:
        run(
            "quarantine",
            "DELETE FROM quarantine WHERE kind = 'profile' AND ref = ANY(:refs) RETURNING 1",
            {"refs": [str(p) for p in cluster]},
        )
        run(
            "segment_changes",
            "DELETE FROM segment_changes WHERE member_kind = 'profile' AND profile_id = ANY(:ids) "
            "RETURNING 1",
            pids,
        )
        # leave every segment: one ``exited`` change per segment (profile id only) so that
        # incremental syncs drop the person downstream too
        out.add(
            "segment_memberships", remove_profiles(session, gone=[(p, "erased") for p in cluster])
        )
        run(
            "account_links",
            "DELETE FROM account_links WHERE profile_id = ANY(:ids) RETURNING 1",
            pids,
        )
        run(
            "identity_changes",
            "DELETE FROM identity_changes WHERE profile_id = ANY(:ids) "
            "OR other_profile_id = ANY(:ids) RETURNING 1",
            pids,
        )
        # profiles merged into one of the cluster are in the cluster: one statement deletes
        # them all without breaking ``merged_into``
        run("profiles", "DELETE FROM profiles WHERE id = ANY(:ids) RETURNING 1", pids)
    if records:
        run("source_records", "DELETE FROM source_records WHERE id = ANY(:ids) RETURNING 1", ids)
    if needles:
        pattern = {"p": _pattern(needles)}
        run(
            "events",
            "DELETE FROM events WHERE record_id IS NULL AND payload::text ~* :p RETURNING 1",
            pattern,
        )
        run(
            "dead_letters",
            "DELETE FROM dead_letters WHERE payload ~* :p OR reason ~* :p RETURNING 1",
            pattern,
        )
        run(
            "generic_identifiers",
            "DELETE FROM generic_identifiers WHERE value ~* :p RETURNING 1",
            pattern,
        )
        for table, n in _sweep(session, needles).items():
            out.add(f"{table} (redacted)", n)
    session.flush()
    return out


def _text_columns(session: Session) -> dict[str, list[tuple[str, str]]]:
    rows = session.execute(
        text(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() "
            "AND data_type IN ('text', 'character varying', 'json', 'jsonb') "
            "AND table_name IN (SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE') "
            "ORDER BY table_name, ordinal_position"
        )
    ).all()
    columns: dict[str, list[tuple[str, str]]] = {}
    for table, column, kind in rows:
        if table not in SWEEP_SKIP:
            columns.setdefault(table, []).append((column, kind))
    return columns


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sweep(session: Session, needles: Sequence[str]) -> dict[str, int]:
    """Replace every remaining occurrence of a needle in any text or JSON column (one
    statement, so one scan, per table). Needles holding a quote or a backslash, which JSON
    escapes, are matched in text columns only."""
    plain = [n for n in needles if '"' not in n and "\\" not in n]
    counts: dict[str, int] = {}
    for table, columns in _text_columns(session).items():
        sets: list[str] = []
        wheres: list[str] = []
        for column, kind in columns:
            col = _quote(column)
            if kind in ("json", "jsonb"):
                if not plain:
                    continue
                cast = f"{col}::text"
                pat = ":pj"
                new = f"regexp_replace({cast}, {pat}, :r, 'gi')::{kind}"
            else:
                cast, pat = col, ":pt"
                new = f"regexp_replace({col}, {pat}, :r, 'gi')"
            sets.append(f"{col} = CASE WHEN {cast} ~* {pat} THEN {new} ELSE {col} END")
            wheres.append(f"{cast} ~* {pat}")
        if not sets:
            continue
        sql = (
            f"UPDATE {_quote(table)} SET {', '.join(sets)} WHERE {' OR '.join(wheres)} RETURNING 1"
        )
        params = {"pt": _pattern(needles), "pj": _pattern(plain or needles), "r": REDACTED}
        n = len(session.execute(text(sql), params).all())
        if n:
            counts[table] = n
    return counts


def remaining_occurrences(session: Session, *, values: Sequence[str]) -> dict[str, int]:
    """Rows per table whose text or JSON columns still contain one of ``values`` (case
    insensitive): the check an operator runs after an erasure."""
    wanted = [v for v in values if v]
    counts: dict[str, int] = {}
    if not wanted:
        return counts
    for table, columns in _text_columns(session).items():
        cond = " OR ".join(f"{_quote(c)}::text ~* :p" for c, _ in columns)
        n = session.execute(
            text(f"SELECT count(*) FROM {_quote(table)} WHERE {cond}"), {"p": _pattern(wanted)}
        ).scalar_one()
        counts[table] = int(n)
    return counts


__all__ = [
    "TYPES",
    "RequestView",
    "erase_profile",
    "list_requests",
    "remaining_occurrences",
    "submit_request",
]
