"""Free-text profile search for the console's one search box.

One query matches a live profile by any of: its name (each word of the query starts a word of
the name, case- and accent-insensitive, in any order; one word may carry one typo), its email
or an email prefix, a phone written in any format (matched on its digits), its company, or any
identifier value (exact, or a prefix). No extension is needed (the embedded PostgreSQL has no
pg_trgm): accents are folded with ``translate`` over a fixed table, and every arm of the query
is answered by an index of migration 0015 — the name words by a GIN index over each word's
prefixes and one-letter deletions (``kindred_search_keys``). Only when nothing matches
exactly are typo candidates (sharing a deletion neighbour) fetched and
verified here with ``one_edit``.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.orm import Session

from kindred.errors import InvalidValue

MAX_QUERY = 200
MAX_LIMIT = 100

_ACCENTED = "àáâãäåāăąçćčďèéêëēėęěìíîïīįłñńňòóôõöøōőŕřśšşťţùúûüūůűųýÿźżž"


def _strip(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def fold(value: str) -> str:
    """Lowercase without accents (the Python twin of the SQL ``translate`` below)."""
    return _strip(value.lower())


#: each accented letter's plain twin (``ł`` and ``ø`` have no decomposition: spelled out)
_PLAIN = "".join({"ł": "l", "ø": "o"}.get(c) or _strip(c) for c in _ACCENTED)


def _fold_sql(expr: str) -> str:
    return f"translate(lower({expr}), '{_ACCENTED}', '{_PLAIN}')"


def _like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SearchHit(BaseModel):
    id: uuid.UUID
    name: str | None
    company: str | None
    email: str | None
    last_seen: datetime | None
    records: int
    matched: str


class SearchResults(BaseModel):
    query: str
    profiles: list[SearchHit]


_NAME = (
    "coalesce(nullif(p.traits->>'name', ''), "
    "nullif(concat_ws(' ', p.traits->>'first_name', p.traits->>'last_name'), ''))"
)
_COMPANY = "coalesce(a.name, p.traits->>'company')"
#: exactly the expression of the GIN index ix_profiles_search_keys (migration 0015)
_KEYS = "kindred_profile_search_keys(p.traits)"
_LIVE = "p.merged_into IS NULL AND NOT p.deleted"
#: at most this many query words take part in the name match (the rest must still match)
MAX_WORDS = 6
#: typo candidates verified in Python per query
MAX_FUZZY = 200

# LIKE escapes with a backslash by default (``_like`` relies on it). Every arm is answered by
# an index of migration 0015 (the OR-ed arms by a BitmapOr), none scans a whole table.
_BY_IDENTIFIER = """
    SELECT DISTINCT rl.profile_id, 'identifier' AS matched
    FROM identifiers i JOIN record_links rl ON rl.record_id = i.record_id
    WHERE left(lower(i.value), 200) LIKE :prefix
       OR (:digits <> '' AND i.type = 'phone' AND left(reverse(i.value), 200) LIKE :rphone)
"""


def _by_profile(word_conditions: list[str]) -> str:
    """Name words, email prefix and company as separate arms: an OR of them (with the
    company's sub-select) would make the planner filter a scan of the whole table."""
    words = " AND ".join(word_conditions) or "false"
    return f"""
    SELECT p.id AS profile_id, 'profile' AS matched FROM profiles p
    WHERE {_LIVE} AND {words}
    UNION ALL
    SELECT p.id, 'profile' FROM profiles p
    WHERE {_LIVE} AND left(lower(p.traits->>'email'), 200) LIKE :prefix
    UNION ALL
    SELECT p.id, 'profile' FROM accounts a JOIN profiles p ON p.account_id = a.id
    WHERE {_LIVE} AND {_fold_sql("a.name")} LIKE :contains
"""


def _search_sql(word_conditions: list[str]) -> str:
    return f"""
WITH hits AS (
    SELECT profile_id, min(matched) AS matched FROM (
        {_BY_IDENTIFIER} UNION ALL {_by_profile(word_conditions)}
    ) u GROUP BY profile_id
)
SELECT p.id, {_NAME} AS name, {_COMPANY} AS company, p.traits->>'email' AS email,
       (SELECT max(r.last_seen) FROM record_links rl JOIN source_records r ON r.id = rl.record_id
        WHERE rl.profile_id = p.id AND NOT r.deleted) AS last_seen,
       (SELECT count(*) FROM record_links rl WHERE rl.profile_id = p.id) AS records,
       h.matched
FROM hits h JOIN profiles p ON p.id = h.profile_id
LEFT JOIN accounts a ON a.id = p.account_id
WHERE {_LIVE}
ORDER BY (h.matched = 'identifier') DESC, last_seen DESC NULLS LAST, p.id
LIMIT :limit
"""


def _fuzzy_sql(word_conditions: list[str]) -> str:
    return f"""
SELECT p.id, {_NAME} AS name, {_COMPANY} AS company, p.traits->>'email' AS email,
       (SELECT max(r.last_seen) FROM record_links rl JOIN source_records r ON r.id = rl.record_id
        WHERE rl.profile_id = p.id AND NOT r.deleted) AS last_seen,
       (SELECT count(*) FROM record_links rl WHERE rl.profile_id = p.id) AS records,
       'name' AS matched
FROM (SELECT p.id FROM profiles p WHERE {_LIVE} AND {" AND ".join(word_conditions)}
      LIMIT {MAX_FUZZY}) c
JOIN profiles p ON p.id = c.id LEFT JOIN accounts a ON a.id = p.account_id
"""


def words_of(value: str) -> list[str]:
    """The words of ``value`` as the index sees them (folded, split on non-alphanumerics)."""
    return [w for w in re.split(r"[^a-z0-9]+", fold(value)) if w]


def deletions(word: str) -> set[str]:
    """``word`` with one letter left out, every way (the index's deletion neighbours)."""
    if len(word) < 4:
        return set()
    return {word[:i] + word[i + 1 :] for i in range(min(len(word), 30))}


def one_edit(a: str, b: str) -> bool:
    """At most one insertion, deletion, substitution or swap of neighbours apart."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        i = diff[0]
        return len(diff) == 2 and diff[1] == i + 1 and a[i] == b[i + 1] and a[i + 1] == b[i]
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def _typo_match(query: list[str], name: list[str]) -> bool:
    """Every query word starts a name word, except at most one within one edit of a word."""
    typos = 0
    for q in query:
        if any(w.startswith(q) for w in name):
            continue
        if (
            len(q) >= 4
            and q.isalpha()
            and any(one_edit(q, w) or one_edit(q, w[: len(q)]) for w in name)
        ):
            typos += 1
            continue
        return False
    return typos <= 1


@dataclass(frozen=True)
class SearchPlan:
    """One query's statements: ``exact`` (identifiers, word prefixes, email, company) and
    ``typo`` (candidates within one edit, verified in Python), with their parameters."""

    query: str
    words: list[str]
    short: str
    exact: str
    typo: str
    params: dict[str, Any]


def plan_search(query: str, *, limit: int = 25) -> SearchPlan:
    """Validate ``query`` and build its statements (``search_profiles`` runs them; tests
    EXPLAIN them)."""
    cleaned = "".join(c for c in query if c.isprintable()).strip()
    if not cleaned:
        raise InvalidValue("query.q: type something to search for")
    if len(cleaned) > MAX_QUERY:
        raise InvalidValue(f"query.q: at most {MAX_QUERY} characters")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidValue(f"query.limit: between 1 and {MAX_LIMIT}")
    lowered = cleaned.lower()
    if re.match(r"^[a-z_]+:", lowered):
        lowered = lowered.split(":", 1)[1].strip() or lowered  # "email:ann@x" → "ann@x"
    folded = fold(lowered)
    words = words_of(lowered)[:MAX_WORDS]
    digits = re.sub(r"\D", "", lowered)
    # a phone needs enough digits to mean something; match the national number's tail
    digits = digits if len(digits) >= 7 and not re.search(r"[a-z@]", lowered) else ""
    short = lowered[:200]
    params: dict[str, Any] = {
        "prefix": f"{_like(short)}%" if len(short) >= 3 else _like(short),
        "contains": f"%{_like(folded)}%",
        "digits": digits,
        "rphone": f"{_like(digits[-10:][::-1])}%" if digits else "",
        "limit": limit,
    }
    exact: list[str] = []
    loose: list[str] = []
    for n, word in enumerate(words):
        params[f"w{n}"] = word
        params[f"t{n}"] = sorted({word} | deletions(word))
        exact.append(f"{_KEYS} @> ARRAY[CAST(:w{n} AS text)]")
        loose.append(f"{_KEYS} && CAST(:t{n} AS text[])")
    return SearchPlan(
        cleaned, words, short, _search_sql(exact), _fuzzy_sql(loose) if loose else "", params
    )


def search_profiles(session: Session, *, query: str, limit: int = 25) -> SearchResults:
    """Live profiles matching ``query`` by name, email (or prefix), phone, company or any
    identifier; identifier matches first, then the most recently seen. Only when nothing
    matches exactly: names within one typo."""
    plan = plan_search(query, limit=limit)
    words, short = plan.words, plan.short
    rows = session.execute(text(plan.exact), plan.params).all()
    hits = [_hit(r, words, short) for r in rows]
    if not hits and plan.typo and any(len(w) >= 4 and w.isalpha() for w in words):
        fuzzy = [
            r
            for r in session.execute(text(plan.typo), plan.params).all()
            if _typo_match(words, words_of(r.name or ""))
        ]
        fuzzy.sort(
            key=lambda r: (r.last_seen is None, -(r.last_seen or _EPOCH).timestamp(), str(r.id))
        )
        hits = [_hit(r, words, short) for r in fuzzy[:limit]]
    return SearchResults(query=plan.query, profiles=hits)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _hit(r: Any, words: list[str], short: str) -> SearchHit:
    matched = r.matched
    name = words_of(r.name or "")
    named = bool(words) and all(any(w.startswith(q) for w in name) for q in words)
    if matched == "profile":
        emailed = bool(r.email) and str(r.email).lower().startswith(short)
        matched = "name" if named else "email" if emailed else "company"
    elif matched == "name" and not named:
        matched = "name (one typo)"
    return SearchHit(
        id=r.id,
        name=r.name,
        company=r.company,
        email=r.email,
        last_seen=r.last_seen,
        records=r.records,
        matched=matched,
    )
