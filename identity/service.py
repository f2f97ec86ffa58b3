"""Deterministic identity resolution: records that share a strong identifier are one person.

``resolve_dirty`` takes the source records that ingest marked dirty, normalises their
identifiers, and links each record to a profile:
- a record that shares no identifier with anything gets a new profile;
- records that share identifiers with records of one profile join it;
- when a record bridges several profiles, they merge: the *oldest* profile id survives and
  the others keep answering with ``merged_into`` (ids are never renumbered).
Every link records the rule and the identifiers that made it; every merge is written to
``identity_changes`` with its cause. ``resolve_step`` is the whole identity step (take the
dirty account records into accounts, resolve, then link the accounts of the profiles that
changed): the worker, ``kindred resolve`` and the benchmarks all run it.

This is the seam the probabilistic (Splink) resolver plugs into: it adds edges with match
weights to the same graph and goes through the same merge/stable-id machinery.

This module is the identity package's public face: other packages import the graph's
internals (``identity.graph``, ``.repository``, ``.merge``, ``.explain``) only through it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.orm import Session

from identity.accounts import absorb_account_records, link_profiles
from identity.explain import (
    change_feed,
    explain,
    identities_of,
    list_generic_identifiers,
    profiles_by_identifier,
    why_not_merged,
)
from identity.graph import (
    Linking,
    Neighbourhood,
    ResolveResult,
    link_batch,
    normalise_identifier,
    rule_of,
)
from identity.guardrail_repository import flag_generic_identifiers, profiles_holding
from identity.merge import (
    ConcurrentChange,
    absorb_profile,
    lock_profiles,
    lock_resolver,
    lock_values,
    share_resolver,
    split_disconnected,
    surviving_profile_id,
)
from identity.repository import (
    DirtyRecord,
    clear_dirty,
    dirty_record_ids,
    dirty_records,
    exclusive_ids_of_profiles,
    exclusive_ids_of_records,
    linked_record_ids,
    mark_stale,
    overrides_touching,
    profiles_created_at,
    profiles_of_records,
    records_of_profiles,
    refresh_identifiers,
    shared_identifier_pairs,
    write_pass,
)
from identity.scoring_repository import mark_scored

__all__ = [
    "ResolveResult",
    "Scorer",
    "change_feed",
    "dirty_record_ids",
    "explain",
    "identities_of",
    "list_generic_identifiers",
    "lock_resolver",
    "normalise_identifier",
    "profiles_by_identifier",
    "resolve_dirty",
    "resolve_step",
    "share_resolver",
    "surviving_profile_id",
    "why_not_merged",
]

#: record keys of business objects (not people) that sources may send events about
NON_PERSON_PREFIXES = ("deal:",)
RULE_VERSION = "deterministic-v1"

Scorer = Callable[[Session, list[int]], list[dict[str, Any]]]


def resolve_step(
    session: Session,
    *,
    limit: int = 5000,
    record_ids: Sequence[int] | None = None,
    scorer: Scorer | None = None,
    accounts: bool = True,
    defer_scoring: bool = False,
) -> ResolveResult:
    """The whole identity step: take the dirty account records (ingest's view of group calls)
    into accounts, resolve dirty records (``resolve_dirty``), then choose the account of every
    profile that changed (a group call of the same pass finds its account). A pass with only
    account records to take resolves no record. The caller commits.

    ``accounts=False``: the caller took the account records itself (the identity worker does,
    in a transaction of its own, so that concurrent workers do not queue on accounts).
    ``defer_scoring``: see ``resolve_dirty``."""
    taken = absorb_account_records(session) if accounts else 0
    result = resolve_dirty(
        session, limit=limit, scorer=scorer, record_ids=record_ids, defer_scoring=defer_scoring
    )
    result.accounts = taken
    if result.changed_profiles:
        link_profiles(session, profile_ids=result.changed_profiles)
    return result


def resolve_dirty(
    session: Session,
    *,
    limit: int = 5000,
    scorer: Scorer | None = None,
    record_ids: Sequence[int] | None = None,
    defer_scoring: bool = False,
) -> ResolveResult:
    """Resolve up to ``limit`` dirty source records. The caller commits.

    ``record_ids``: resolve only those of these records that are still dirty (the identity
    worker isolates a failing record this way). Quarantined records are never taken.

    ``scorer`` (e.g. ``identity.streaming.SplinkScorer``) scores records that found no
    deterministic link against candidates; each such record may join the one profile of its
    best edge, under the same guardrails as deterministic links.

    ``defer_scoring`` (with a ``scorer``): records that would need the model (no shared
    identifier, not linked yet) are left dirty and listed in ``result.deferred``; the others
    are resolved without waiting for it. The caller commits, then resolves the deferred ones
    with the scorer: a deterministic link is never held up by model scoring."""
    share_resolver(session)
    if record_ids is not None:
        limit = len(record_ids)
    records = dirty_records(session, limit=limit, record_ids=record_ids)
    objects = [r for r in records if r.record_key.startswith(NON_PERSON_PREFIXES)]
    if objects:
        # deals and other business objects carry events but are not people: never profiles
        clear_dirty(session, objects)
        records = [r for r in records if not r.record_key.startswith(NON_PERSON_PREFIXES)]
    result = ResolveResult(records=len(records) + len(objects))
    if not records:
        return result
    refresh_identifiers(session, records)
    session.flush()
    batch_ids = [r.id for r in records]
    # Concurrent workers: records sharing an identifier value are resolved one pass at a time.
    lock_values(session, batch_ids)

    # Guardrail: shared emails/phones stop linking; profiles they held together are re-checked.
    flagged = flag_generic_identifiers(session, batch_ids)
    result.generic.extend(flagged)
    recheck = profiles_holding(session, flagged)
    if defer_scoring and scorer is not None:
        lonely = set(_needing_the_model(session, batch_ids))
        if lonely and len(lonely) < len(batch_ids):
            result.deferred = sorted(lonely)
            result.records -= len(lonely)
            records = [r for r in records if r.id not in lonely]
            batch_ids = [r.id for r in records]
            scorer = None

    hood = _locked_neighbourhood(session, batch_ids, recheck=recheck, scorer=scorer)
    _place_components(session, hood, link_batch(hood), result)
    if scorer is not None:
        # the model had its say on this pass's records: those it placed nowhere are final
        # (a second stage, or a reader waiting for the outcome, knows they were scored)
        mark_scored(session, batch_ids)
    _finish(session, records, recheck=recheck, result=result)
    return result


def _needing_the_model(
    session: Session,
    batch_ids: list[int],
    pairs: list[tuple[int, int, str, str, str]] | None = None,
) -> list[int]:
    """Records of the batch with no shared linking identifier (``pairs``: the batch's, if
    read already) that are not linked yet: only model scoring can place them."""
    if pairs is None:
        pairs = shared_identifier_pairs(session, batch_ids)
    paired = {p[0] for p in pairs}
    already = linked_record_ids(session, batch_ids)
    return [r for r in batch_ids if r not in paired and r not in already]


def _best_edges(session: Session, scorer: Scorer, lonely: list[int]) -> dict[int, dict[str, Any]]:
    """record -> its best-scoring model edge, for records that found no deterministic link."""
    probable: dict[int, dict[str, Any]] = {}
    for edge in scorer(session, lonely):
        best = probable.get(edge["record_id"])
        if best is None or edge["match_probability"] > best["match_probability"]:
            probable[edge["record_id"]] = edge
    return probable


#: rounds of "read the neighbourhood, lock the profiles it names" before a pass gives up and
#: is retried (each round locks what the previous one found; another worker's merge can move
#: a record onto a profile not yet locked)
LOCK_ROUNDS = 4


def _locked_neighbourhood(
    session: Session, batch_ids: list[int], *, recheck: set[uuid.UUID], scorer: Scorer | None
) -> Neighbourhood:
    """The batch's neighbourhood, read with every profile in it locked (``lock_profiles``,
    in id order): read, lock the profiles it names, read again, until a read names no profile
    that is not locked yet. Only then is it stable: any other writer of these profiles waits
    for this pass. Model edges are scored once, before the locks (reads only)."""
    probable: dict[int, dict[str, Any]] | None = None
    locked: set[uuid.UUID] = set()
    for _ in range(LOCK_ROUNDS):
        hood = _read_neighbourhood(
            session, batch_ids, recheck=recheck, scorer=scorer, probable=probable
        )
        probable = hood.probable
        wanted = set(hood.profile_of.values()) | set(hood.members.values()) | recheck
        missing = wanted - locked
        if not missing:
            return hood
        lock_profiles(session, missing)
        locked |= missing
    raise ConcurrentChange("the neighbourhood kept changing while its profiles were locked")


def _read_neighbourhood(
    session: Session,
    batch_ids: list[int],
    *,
    recheck: set[uuid.UUID],
    scorer: Scorer | None,
    probable: dict[int, dict[str, Any]] | None = None,
) -> Neighbourhood:
    """Everything ``link_batch`` needs about a batch: records sharing a linking identifier
    with it (anywhere), model edges of the records left alone (``probable``: already
    scored), the profiles around them, their exclusive ids and the ops overrides touching
    them."""
    batch_set = set(batch_ids)
    pairs = shared_identifier_pairs(session, batch_ids)
    if probable is None:
        probable = {}
        if scorer is not None:
            lonely = _needing_the_model(session, batch_ids, pairs)
            if lonely:
                probable = _best_edges(session, scorer, lonely)
    neighbour_ids = {p[1] for p in pairs} | {e["candidate_id"] for e in probable.values()}
    profile_of = profiles_of_records(session, neighbour_ids | batch_set)
    record_exclusive = exclusive_ids_of_records(session, neighbour_ids | batch_set)
    around = {profile_of[n] for n in neighbour_ids if n in profile_of and n not in batch_set}
    around |= {profile_of[r] for r in batch_ids if r in profile_of}
    profile_exclusive = exclusive_ids_of_profiles(session, around, excluding=batch_ids)
    members = records_of_profiles(session, around)
    overrides = overrides_touching(session, batch_set | neighbour_ids | set(members))
    return Neighbourhood(
        batch_ids=batch_ids,
        pairs=pairs,
        probable=probable,
        profile_of=profile_of,
        members=members,
        record_ids=record_exclusive,
        profile_ids=profile_exclusive,
        overrides=overrides,
        recheck=recheck,
    )


def _place_components(
    session: Session, hood: Neighbourhood, linking: Linking, result: ResolveResult
) -> None:
    """Give each component holding batch records one profile: the oldest profile in it
    (absorbing the others), else the free profile its records were on, else a new one; then
    write the profiles, their changes and the links."""
    batch_set, profile_of = hood.batch_set, hood.profile_of
    components = linking.uf.components()
    existing_profiles = {n[1] for nodes in components.values() for n in nodes if n[0] == "p"}
    existing_profiles |= {profile_of[r] for r in hood.batch_ids if r in profile_of}
    created = profiles_created_at(session, existing_profiles)
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
                absorb_profile(
                    session,
                    survivor=survivor,
                    absorbed=absorbed,
                    cause="shared_identifier",
                    evidence={"records": record_nodes[:20]},
                    result=result,
                )
        else:
            survivor = uuid.uuid4()
            new_profiles.append({"id": survivor})
            change_rows.append(_new_profile_change(survivor, record_nodes, hood, linking, result))
        taken.add(survivor)
        result.changed_profiles.add(survivor)
        for rid in record_nodes:
            ev: dict[str, Any] = {"shared": linking.evidence.get(rid, [])}
            if linking.blocked.get(rid):
                ev["blocked"] = linking.blocked[rid]
            links.append(
                {
                    "record_id": rid,
                    "profile_id": survivor,
                    "rule": rule_of(linking.evidence.get(rid, [])),
                    "evidence": ev,
                    "model_version": RULE_VERSION,
                }
            )
    write_pass(session, new_profiles=new_profiles, change_rows=change_rows, links=links)


def _new_profile_change(
    survivor: uuid.UUID,
    record_nodes: list[int],
    hood: Neighbourhood,
    linking: Linking,
    result: ResolveResult,
) -> dict[str, Any]:
    """The ``identity_changes`` row of a new profile: created for new records, or split off
    the profile its records were on."""
    profile_of = hood.profile_of
    cause = "split" if any(r in profile_of for r in record_nodes) else "new_record"
    if cause == "split":
        result.changes.append(
            {
                "kind": "split",
                "survivor": str(survivor),
                "from": str(profile_of[record_nodes[0]]) if record_nodes[0] in profile_of else None,
            }
        )
    result.new_profiles += 1
    return {
        "kind": "split" if cause == "split" else "create",
        "profile_id": survivor,
        "other_profile_id": next((profile_of[r] for r in record_nodes if r in profile_of), None),
        "cause": cause,
        "evidence": {
            "records": record_nodes[:20],
            "blocked": [b for r in record_nodes for b in linking.blocked.get(r, [])][:10],
        },
    }


def _finish(
    session: Session,
    records: Sequence[DirtyRecord],
    *,
    recheck: set[uuid.UUID],
    result: ResolveResult,
) -> None:
    """Clear the dirty flags, split the re-checked profiles that fell apart, mark what
    changed stale for the profiles worker."""
    clear_dirty(session, records)
    if recheck:
        result.changes.extend(split_disconnected(session, recheck, cause="generic_identifier"))
    if result.changed_profiles:
        mark_stale(session, result.changed_profiles)
    session.flush()
