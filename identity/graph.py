"""The identity graph as pure code: identifier rules, union-find, and the linking of a batch.

Nothing here touches the database. ``identity.service`` reads what a batch needs through
``identity.repository`` into a ``Neighbourhood``, ``link_batch`` decides which records and
profiles are one person (strong and explicit evidence first, never joining two different
exclusive ids or an ops cannot-link), and the service writes the outcome.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from identity.normalize import normalise_email, normalise_id, normalise_phone

# --------------------------------------------------------------------------- identifiers


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


def exclusive_key(kind: str, value: str) -> tuple[str, str] | None:
    """(slot, value): crm ids are exclusive per CRM source, user ids globally."""
    if kind == "user_id":
        return ("user_id", value)
    if kind == "crm_contact_id":
        source, _, ident = value.partition(":")
        return (f"crm_contact_id:{source}", ident)
    return None


def rule_of(evidence: list[dict[str, Any]]) -> str:
    """The link rule recorded for a record, from the evidence that placed it."""
    if not evidence:
        return "new_record"
    if all(e.get("type") == "splink" for e in evidence):
        return "splink"
    return "shared_identifier"


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


@dataclass
class ResolveResult:
    records: int = 0
    new_profiles: int = 0
    merges: int = 0
    changed_profiles: set[uuid.UUID] = field(default_factory=set)
    changes: list[dict[str, Any]] = field(default_factory=list)
    generic: list[dict[str, Any]] = field(default_factory=list)
    #: account records turned into accounts (``identity.accounts.absorb_account_records``)
    accounts: int = 0
    #: records left dirty for a pass with model scoring (``resolve_dirty(defer_scoring=True)``)
    deferred: list[int] = field(default_factory=list)

    def absorb(self, other: ResolveResult) -> None:
        """Add the outcome of another pass (or part of one) to this one."""
        self.records += other.records
        self.accounts += other.accounts
        self.new_profiles += other.new_profiles
        self.merges += other.merges
        self.changed_profiles |= other.changed_profiles
        self.changes.extend(other.changes)
        self.generic.extend(other.generic)
        self.deferred.extend(other.deferred)


# --------------------------------------------------------------------------- union-find

N = TypeVar("N", bound=Hashable)


class UnionFind(Generic[N]):
    """Disjoint sets with path halving; a node joins on first sight. ``union(a, b)`` keeps
    the root of ``a``; subclasses that carry data per set override ``join``."""

    def __init__(self, nodes: Iterable[N] = ()) -> None:
        self.parent: dict[N, N] = {x: x for x in nodes}

    def find(self, x: N) -> N:
        parent = self.parent
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def join(self, ra: N, rb: N) -> N:
        """Hang root ``rb`` under root ``ra`` (two different roots); returns the new root."""
        self.parent[rb] = ra
        return ra

    def union(self, a: N, b: N) -> N:
        ra, rb = self.find(a), self.find(b)
        return ra if ra == rb else self.join(ra, rb)

    def components(self) -> dict[N, list[N]]:
        """root -> its nodes, in the order the nodes were first seen."""
        groups: dict[N, list[N]] = defaultdict(list)
        for item in list(self.parent):
            groups[self.find(item)].append(item)
        return groups


class ConstrainedUnion(UnionFind[Any]):
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

    def join(self, ra: Any, rb: Any) -> Any:
        root = super().join(ra, rb)
        self.exclusive[root] = {**self.exclusive.pop(rb, {}), **self.exclusive.pop(ra, {})}
        return root


# --------------------------------------------------------------------------- one batch

Node = tuple[str, Any]  # ("r", record id) or ("p", profile id)


@dataclass
class Neighbourhood:
    """What the resolver read about a batch of dirty records and what surrounds it."""

    batch_ids: list[int]
    #: (batch record, other record, type, value, other type) sharing a linking identifier
    pairs: list[tuple[int, int, str, str, str]]
    #: batch record -> best model edge (records without a deterministic link only)
    probable: dict[int, dict[str, Any]]
    #: record -> profile, for batch records and their neighbours
    profile_of: dict[int, uuid.UUID]
    #: record -> profile, for every record of the neighbour and batch profiles
    members: dict[int, uuid.UUID]
    #: (record, type, value) exclusive ids of batch records and neighbours
    record_ids: list[tuple[int, str, str]]
    #: (profile, type, value) exclusive ids held by neighbour and batch profiles
    profile_ids: list[tuple[uuid.UUID, str, str]]
    #: (override id, kind, record a, record b) ops overrides touching any of these records
    overrides: list[tuple[int, str, int, int]]
    #: profiles a generic identifier held together: their records are free to move
    recheck: set[uuid.UUID]

    @property
    def batch_set(self) -> set[int]:
        return set(self.batch_ids)

    @property
    def neighbour_ids(self) -> set[int]:
        return {p[1] for p in self.pairs} | {e["candidate_id"] for e in self.probable.values()}


@dataclass
class Linking:
    """The outcome of ``link_batch``: the components, and why each record joined or not."""

    uf: ConstrainedUnion
    evidence: dict[int, list[dict[str, Any]]]
    blocked: dict[int, list[dict[str, Any]]]


def link_batch(hood: Neighbourhood) -> Linking:
    """Join batch records with each other and with neighbour records/profiles, strongest
    evidence first, refusing any union across exclusive ids or an ops cannot-link."""
    batch_ids, profile_of, members = hood.batch_ids, hood.profile_of, hood.members
    batch_set, neighbour_ids = hood.batch_set, hood.neighbour_ids

    def node(rid: int) -> Node:
        if rid in profile_of and rid not in batch_set:
            return ("p", profile_of[rid])
        return ("r", rid)

    def locate(rid: int) -> Node | None:
        if rid in batch_set or (rid in neighbour_ids and rid not in profile_of):
            return ("r", rid)
        pid = profile_of.get(rid) or members.get(rid)
        return ("p", pid) if pid is not None else None

    uf = ConstrainedUnion()
    # exclusive ids of batch records, unlinked neighbours and neighbour profiles
    for rid, kind, value in hood.record_ids:
        key = exclusive_key(kind, value)
        if key and node(rid)[0] == "r":
            uf.add_ids(("r", rid), {key[0]: key[1]})
    for pid, kind, value in hood.profile_ids:
        key = exclusive_key(kind, value)
        if key:
            uf.add_ids(("p", pid), {key[0]: key[1]})

    # Ops overrides: cannot-links become exclusive slots, must-links explicit pairs.
    forced: list[tuple[int, int]] = []
    for oid, kind, rec_a, rec_b in hood.overrides:
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
            and current not in hood.recheck
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
        hood.pairs, key=lambda p: min(LINK_PRIORITY.get(p[2], 5), LINK_PRIORITY.get(p[4], 5))
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
    for rid, edge in hood.probable.items():
        target = node(edge["candidate_id"])
        reason = uf.conflict(("r", rid), target)
        item = splink_evidence(edge)
        if reason is not None:
            blocked[rid].append({**item, "reason": reason})
            continue
        evidence[rid].append(item)
        uf.union(("r", rid), target)
    return Linking(uf=uf, evidence=evidence, blocked=blocked)
