"""The generic-identifier decision: is an email or phone shared by different people?

One pure rule for both resolvers: the batch/dedupe path (``identity.clustering``) and the
streaming path (``identity.repository.flag_generic_identifiers``) gather the records behind
a shared value as ``Holder`` s and ask ``judge``. A value is *generic* (it stops linking)
only when the evidence says the records behind it are different people:

- **names**: the holders are grouped into *persons* by single linkage on name similarity,
  and the value is generic when there are ``min_persons`` or more. Two names are one
  person's when the given names agree (equal, nickname-equivalent, an initial, a prefix
  such as ``chris``/``christopher``, a typo apart - two for long names, since two records
  may each carry one - or Jaro-Winkler >= ``cutoff``) and the family names agree likewise,
  or when first and last are swapped. A blank is not a
  different name: a record with one known name part joins any person it agrees with (it
  never bridges two persons), a record with none is no evidence at all;
- **conflicting strong ids** (``policy.strong_ids``): two different CRM contact ids or
  logins behind one value;
- **counts**: a role local part (``info@``, ``sales@`` ... with ``policy.role_mailboxes``),
  more than ``policy.max_records`` records, or more distinct spellings than anyone's typos
  make (``policy.max_spellings``).

Every generic verdict carries its reason in words (``"2 dissimilar names: ann lee / bob
stone"``, ``"conflicting crm_id: 12 / 99"``, ``"role mailbox info@"``), which the dedupe
summary and ``GET /v1/identity/generic-identifiers`` report.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import jellyfish

from identity.normalize import NICKNAMES, ROLE_LOCAL_PARTS, canonical_first_name


@dataclass(frozen=True)
class GuardrailPolicy:
    """When a shared value counts as generic (see the module docstring)."""

    min_persons: int = 2
    cutoff: float = 0.9
    strong_ids: bool = True
    role_mailboxes: bool = True
    max_records: int | None = None
    max_spellings: int = 200


#: the batch and dedupe resolver: two dissimilar people, two strong ids or a role mailbox
BATCH_POLICY = GuardrailPolicy()
#: the streaming resolver: three dissimilar people. Conflicting strong ids are cannot-links
#: there (the value keeps linking so the refused link explains itself), and one person's
#: ``info@`` keeps linking until a third person uses it.
STREAMING_POLICY = GuardrailPolicy(min_persons=3, strong_ids=False, role_mailboxes=False)


@dataclass(frozen=True)
class Holder:
    """A record holding a shared value: its normalised names (None when blank) and its strong
    ids as ``(namespace, value)`` pairs."""

    first: str | None = None
    last: str | None = None
    strong: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Verdict:
    """The decision on one shared value. ``codes`` name the tests that fired
    (``distinct_first_name``, ``distinct_last_name``, ``several_<namespace>``,
    ``role_mailbox``, ``too_many_records``); ``reason`` says it in words."""

    generic: bool
    persons: int
    records: int
    codes: tuple[str, ...] = ()
    reason: str = ""


# --------------------------------------------------------------------------- names


def same_given_name(a: str, b: str, *, cutoff: float = 0.9) -> bool:
    """Whether two normalised given names can be one person's: equal, nickname-equivalent,
    an initial, a prefix (``chris``/``christopher``), one typo apart (for names of three
    letters or more) or Jaro-Winkler similarity >= ``cutoff``."""
    if a == b:
        return True
    if len(a) == 1 or len(b) == 1:
        return a[0] == b[0]
    if canonical_first_name(a) == canonical_first_name(b):
        return True
    if a.startswith(b) or b.startswith(a):
        return True
    if _close(a, b, cutoff=cutoff, long=7):
        return True
    # a typo of a nickname: ``betyt`` is ``betty``, which is ``elizabeth``
    return any(_close(a, n, cutoff=cutoff, long=7) for n in _nicknames_of(b)) or any(
        _close(b, n, cutoff=cutoff, long=7) for n in _nicknames_of(a)
    )


def same_family_name(a: str, b: str, *, cutoff: float = 0.9) -> bool:
    """Whether two normalised family names can be one person's: equal, an initial, one name
    of a double-barrelled pair (``garcia lopez``/``garcia``), one typo apart or
    Jaro-Winkler similarity >= ``cutoff``."""
    if a == b:
        return True
    if len(a) == 1 or len(b) == 1:
        return a[0] == b[0]
    if (" " in a or " " in b) and set(a.split()) & set(b.split()):
        return True
    return _close(a, b, cutoff=cutoff, long=6)


def _close(a: str, b: str, *, cutoff: float, long: int) -> bool:
    """One edit apart (names of three letters or more), two edits apart (both names at least
    ``long`` letters: each of two records may carry its own typo), or Jaro-Winkler >=
    ``cutoff``."""
    shortest = min(len(a), len(b))
    if shortest >= 3:
        edits = jellyfish.damerau_levenshtein_distance(a, b)
        if edits <= 1 or (edits == 2 and shortest >= long):
            return True
    return jellyfish.jaro_winkler_similarity(a, b) >= cutoff


@lru_cache(maxsize=1)
def _nickname_index() -> dict[str, frozenset[str]]:
    """canonical given name -> its nicknames (``identity.normalize.NICKNAMES`` reversed)."""
    out: dict[str, set[str]] = {}
    for nick, name in NICKNAMES.items():
        out.setdefault(name, set()).add(nick)
    return {name: frozenset(nicks) for name, nicks in out.items()}


def _nicknames_of(name: str) -> frozenset[str]:
    return _nickname_index().get(canonical_first_name(name) or name, frozenset())


Name = tuple[str | None, str | None]


def same_person_name(a: Name, b: Name, *, cutoff: float = 0.9) -> bool:
    """Whether two (first, last) names can be one person's. A blank part agrees with
    anything; a name with first and last swapped is the same name."""
    (fa, la), (fb, lb) = a, b
    first = fa is None or fb is None or same_given_name(fa, fb, cutoff=cutoff)
    last = la is None or lb is None or same_family_name(la, lb, cutoff=cutoff)
    if first and last:
        return True
    return _swapped(a, b, cutoff=cutoff)


def _swapped(a: Name, b: Name, *, cutoff: float) -> bool:
    (fa, la), (fb, lb) = a, b
    known = [(x, y) for x, y in ((fa, lb), (la, fb)) if x is not None and y is not None]
    # a given name read from the surname field was mapped through the nickname table
    return bool(known) and all(
        same_family_name(x, y, cutoff=cutoff) or same_given_name(x, y, cutoff=cutoff)
        for x, y in known
    )


def group_persons(names: Iterable[Name], *, cutoff: float = 0.9) -> list[list[Name]]:
    """The distinct names grouped into persons, most frequent name first in each group.

    Names with both parts known are grouped by single linkage (a typo of a typo is still
    the same person). A name with one known part then joins every person it agrees with
    without bridging them; those that agree with no one are grouped among themselves.
    Names with no known part are left out."""
    counts = Counter(n for n in names if n[0] is not None or n[1] is not None)
    ordered = sorted(counts, key=lambda n: (-counts[n], n[0] or "", n[1] or ""))
    full = [n for n in ordered if n[0] is not None and n[1] is not None]
    partial = [n for n in ordered if n[0] is None or n[1] is None]
    persons = _single_linkage(full, cutoff=cutoff)
    leftover = [
        n
        for n in partial
        if not any(same_person_name(n, m, cutoff=cutoff) for p in persons for m in p)
    ]
    return persons + _single_linkage(leftover, cutoff=cutoff)


def _single_linkage(names: Sequence[Name], *, cutoff: float) -> list[list[Name]]:
    groups: list[list[Name]] = []
    for name in names:
        hits = [g for g in groups if any(same_person_name(name, m, cutoff=cutoff) for m in g)]
        if not hits:
            groups.append([name])
            continue
        head = hits[0]
        for other in hits[1:]:
            head.extend(other)
            groups.remove(other)
        head.append(name)
    return groups


def _label(name: Name) -> str:
    return " ".join(part for part in name if part) or "?"


# --------------------------------------------------------------------------- the decision


def role_local_part(value: str) -> str | None:
    """The role local part of an email (``info`` for ``info@acme.io``, ``sales`` for
    ``sales.team``... only when listed in ``ROLE_LOCAL_PARTS``), else None."""
    local, at, _ = value.rpartition("@")
    if not at:
        return None
    key = local.replace(".", "").replace("_", "")
    return local if key in ROLE_LOCAL_PARTS else None


def judge(
    kind: str, value: str, holders: Sequence[Holder], policy: GuardrailPolicy = BATCH_POLICY
) -> Verdict:
    """Whether ``value`` (an identifier of type ``kind``: ``email`` or ``phone``) held by
    ``holders`` is shared by different people, and why."""
    codes: list[str] = []
    reasons: list[str] = []
    names = [(h.first or None, h.last or None) for h in holders]
    spellings = {n for n in names if n != (None, None)}
    if len(spellings) > policy.max_spellings:
        persons = len(spellings)
        codes.append("distinct_first_name")
        reasons.append(f"{len(spellings)} distinct names on {len(holders)} records")
    else:
        groups = group_persons(names, cutoff=policy.cutoff)
        persons = len(groups)
        if persons >= policy.min_persons:
            heads = [g[0] for g in groups]
            codes.append(_name_code(heads, cutoff=policy.cutoff))
            shown = " / ".join(_label(h) for h in heads[:5]) + (" / ..." if persons > 5 else "")
            reasons.append(f"{persons} dissimilar names: {shown}")
    if policy.strong_ids:
        by_space: dict[str, set[str]] = {}
        for h in holders:
            for space, ident in h.strong:
                by_space.setdefault(space, set()).add(ident)
        for space, idents in sorted(by_space.items()):
            if len(idents) > 1:
                codes.append(f"several_{space}")
                shown = " / ".join(sorted(idents)[:5]) + (" / ..." if len(idents) > 5 else "")
                reasons.append(f"conflicting {space}: {shown}")
    if policy.role_mailboxes and kind == "email":
        role = role_local_part(value)
        if role is not None:
            codes.append("role_mailbox")
            reasons.append(f"role mailbox {role}@")
    if policy.max_records is not None and len(holders) > policy.max_records:
        codes.append("too_many_records")
        reasons.append(f"{len(holders)} records (more than {policy.max_records})")
    return Verdict(
        generic=bool(codes),
        persons=persons,
        records=len(holders),
        codes=tuple(codes),
        reason="; ".join(reasons),
    )


def _name_code(heads: Sequence[Name], *, cutoff: float) -> str:
    """``distinct_last_name`` when the persons share one given name (namesakes, two Davids
    behind a switchboard), else ``distinct_first_name``."""
    firsts = [f for f, _ in heads if f is not None]
    if len(firsts) == len(heads) and all(
        same_given_name(firsts[0], f, cutoff=cutoff) for f in firsts[1:]
    ):
        return "distinct_last_name"
    return "distinct_first_name"
