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

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import func
from sqlalchemy.orm import Session

from identity import erasure as identity_erasure
from identity.service import lock_resolver, profiles_by_identifier, surviving_profile_id
from ingest import erasure as ingest_erasure
from ingest.suppression import (
    NAMESPACES,
    HashKey,
    add_suppressions,
    dropped_counts,
    hashes_of,
    identifier_hash,
    remove_suppressions,
    source_regions,
)
from kindred.errors import BadRequest, NotFound
from kindred.models import PrivacyRequest
from kindred.quarantine import KIND_PROFILE, KIND_RECORD, erase_items
from profiles import privacy_repository as repo
from profiles.schemas import PrivacyRequestList, PrivacyRequestOut
from profiles.segments import lock_changes, remove_profiles

TYPES = ("delete", "suppress", "suppress_with_delete", "unsuppress")
#: shorter values (a CRM id "42") would match unrelated text: they are erased with the rows
#: that carry them, not swept for everywhere
MIN_NEEDLE = 6


def _view(row: PrivacyRequest) -> PrivacyRequestOut:
    return PrivacyRequestOut(
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

    def add_all(self, counts: Sequence[tuple[str, int]]) -> None:
        for table, n in counts:
            self.add(table, n)


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
) -> PrivacyRequestOut:
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
    cluster = identity_erasure.cluster_of(session, roots=roots)
    records = identity_erasure.records_of(session, profiles=cluster)
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
) -> PrivacyRequestOut:
    """``DELETE /v1/profiles/{id}``: erase the person (a plain delete, no suppression)."""
    return submit_request(
        session,
        type="delete",
        requested_by=requested_by,
        api_key_id=api_key_id,
        profile_id=profile_id,
    )


def list_requests(session: Session, *, limit: int = 100) -> list[PrivacyRequestOut]:
    return [_view(r) for r in repo.latest_requests(session, limit=limit)]


def audit_trail(session: Session, *, limit: int = 100) -> PrivacyRequestList:
    """The latest requests, and the events ingest dropped per source as suppressed."""
    return PrivacyRequestList(
        requests=list_requests(session, limit=limit), suppressed_events=dropped_counts(session)
    )


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


def _cluster_hashes(
    session: Session, records: Sequence[int], *, keys: Sequence[bytes]
) -> set[HashKey]:
    """Hashes of every suppressible identifier of ``records`` (values as identity stored
    them, so already normalised)."""
    if not records:
        return set()
    return {
        (NAMESPACES[kind], identifier_hash(k, NAMESPACES[kind], value))
        for kind, value in identity_erasure.identifiers_of(session, records=records)
        if kind in NAMESPACES
        for k in keys
    }


# -- erasure -----------------------------------------------------------------------------


def _needles(session: Session, records: Sequence[int], extra: Sequence[str]) -> list[str]:
    """The person's identifier values (normalised and as received, record keys) that are not
    also held by someone else: what to look for in the rest of the database."""
    values: set[str] = {v for v in extra if v}
    if records:
        for value, raw in identity_erasure.identifier_values(session, records=records):
            values.update(v for v in (value, raw) if v)
        values.update(v for v in ingest_erasure.record_values(session, records=records) if v)
        # crm ids are stored scoped (``source:id``); record keys may carry a ``user:`` prefix
        values.update(v.partition(":")[2] for v in list(values) if ":" in v and "@" not in v)
    values = {v.strip() for v in values if len(v.strip()) >= MIN_NEEDLE}
    if not values:
        return []
    shared = identity_erasure.held_by_others(
        session, values=sorted(values | {v.lower() for v in values}), records=records
    )
    return sorted(v for v in values if v.lower() not in shared)


def _erase(
    session: Session,
    *,
    cluster: Sequence[uuid.UUID],
    records: Sequence[int],
    extra_needles: Sequence[str],
) -> _Erased:
    out = _Erased(profiles=len(cluster))
    needles = _needles(session, records, extra_needles)
    # each owner deletes its rows; the order is the foreign keys': what refers to a record
    # or a profile before it
    if records:
        out.add_all(ingest_erasure.delete_record_rows(session, records=records))
        out.add_all(identity_erasure.delete_record_rows(session, records=records))
        out.add(
            "quarantine", erase_items(session, kind=KIND_RECORD, refs=[str(r) for r in records])
        )
    if cluster:
        out.add(
            "quarantine", erase_items(session, kind=KIND_PROFILE, refs=[str(p) for p in cluster])
        )
        out.add("segment_changes", repo.delete_segment_changes(session, cluster))
        # leave every segment: one ``exited`` change per segment (profile id only) so that
        # incremental syncs drop the person downstream too
        out.add(
            "segment_memberships", remove_profiles(session, gone=[(p, "erased") for p in cluster])
        )
        out.add_all(identity_erasure.delete_profile_rows(session, profiles=cluster))
    if records:
        out.add("source_records", ingest_erasure.delete_records(session, records=records))
    if needles:
        found = repo.pattern(needles)
        out.add_all(ingest_erasure.delete_matching(session, pattern=found))
        out.add_all(identity_erasure.delete_matching(session, pattern=found))
        for table, n in repo.sweep(session, needles).items():
            out.add(f"{table} (redacted)", n)
    session.flush()
    return out


def remaining_occurrences(session: Session, *, values: Sequence[str]) -> dict[str, int]:
    """Rows per table whose text or JSON columns still contain one of ``values`` (case
    insensitive): the check an operator runs after an erasure."""
    return repo.count_occurrences(session, values=values)


__all__ = [
    "TYPES",
    "audit_trail",
    "erase_profile",
    "list_requests",
    "remaining_occurrences",
    "submit_request",
]
