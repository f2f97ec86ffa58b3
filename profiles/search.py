"""Free-text profile search for the console's one search box.

One query matches a live profile by any of: its name (a substring, case- and
accent-insensitive, each word of the query anywhere in the name), its email or an email
prefix, a phone written in any format (matched on its digits), its company, or any identifier
value (exact, or a prefix). No extension is needed: accents are folded with ``translate``
over a fixed table, so the query runs on any PostgreSQL. Typo tolerance (pg_trgm) would need
the extension and a migration; it is not here.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from datetime import datetime

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

# LIKE escapes with a backslash by default (``_like`` relies on it)
_SEARCH = f"""
WITH by_identifier AS (
    SELECT DISTINCT rl.profile_id, 'identifier' AS matched
    FROM identifiers i JOIN record_links rl ON rl.record_id = i.record_id
    WHERE lower(i.value) = :exact OR lower(i.value) LIKE :prefix
       OR (:digits <> '' AND i.type = 'phone' AND i.value LIKE :phone)
), by_profile AS (
    SELECT p.id AS profile_id,
           CASE WHEN {_fold_sql(_NAME)} LIKE ALL(CAST(:words AS text[]))
                THEN 'name' ELSE 'company' END AS matched
    FROM profiles p LEFT JOIN accounts a ON a.id = p.account_id
    WHERE p.merged_into IS NULL AND NOT p.deleted
      AND ({_fold_sql(_NAME)} LIKE ALL(CAST(:words AS text[]))
           OR {_fold_sql(_COMPANY)} LIKE :contains
           OR lower(p.traits->>'email') LIKE :prefix)
), hits AS (
    SELECT profile_id, min(matched) AS matched FROM (
        SELECT * FROM by_identifier UNION ALL SELECT * FROM by_profile
    ) u GROUP BY profile_id
)
SELECT p.id, {_NAME} AS name, {_COMPANY} AS company, p.traits->>'email' AS email,
       (SELECT max(r.last_seen) FROM record_links rl JOIN source_records r ON r.id = rl.record_id
        WHERE rl.profile_id = p.id AND NOT r.deleted) AS last_seen,
       (SELECT count(*) FROM record_links rl WHERE rl.profile_id = p.id) AS records,
       h.matched
FROM hits h JOIN profiles p ON p.id = h.profile_id
LEFT JOIN accounts a ON a.id = p.account_id
WHERE p.merged_into IS NULL AND NOT p.deleted
ORDER BY (h.matched = 'identifier') DESC, last_seen DESC NULLS LAST, p.id
LIMIT :limit
"""


def search_profiles(session: Session, *, query: str, limit: int = 25) -> SearchResults:
    """Live profiles matching ``query`` by name, email (or prefix), phone, company or any
    identifier; identifier matches first, then the most recently seen."""
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
    words = [f"%{_like(w)}%" for w in folded.split()] or [f"%{_like(folded)}%"]
    digits = re.sub(r"\D", "", lowered)
    # a phone needs enough digits to mean something; match the national number's tail
    digits = digits if len(digits) >= 7 and not re.search(r"[a-z@]", lowered) else ""
    rows = session.execute(
        text(_SEARCH),
        {
            "exact": lowered,
            "prefix": f"{_like(lowered)}%" if len(lowered) >= 3 else _like(lowered),
            "contains": f"%{_like(folded)}%",
            "words": words,
            "digits": digits,
            "phone": f"%{digits[-10:]}" if digits else "",
            "limit": limit,
        },
    ).all()
    return SearchResults(
        query=cleaned,
        profiles=[
            SearchHit(
                id=r.id,
                name=r.name,
                company=r.company,
                email=r.email,
                last_seen=r.last_seen,
                records=r.records,
                matched=r.matched,
            )
            for r in rows
        ],
    )
