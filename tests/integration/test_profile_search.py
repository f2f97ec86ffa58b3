"""The console search on a few thousand profiles: one typo tolerated, and every arm of the
query answered by an index of migration 0015 (EXPLAIN), never a scan of a whole table."""

from __future__ import annotations

import json
import uuid

from sqlalchemy import text
from sqlalchemy.engine import Engine

from kindred.db import unit_of_work
from profiles.search import deletions, one_edit, plan_search, search_profiles

N = 4000


def _seed(engine: Engine) -> uuid.UUID:
    kenji = uuid.uuid4()
    with unit_of_work(engine) as session:
        session.execute(
            text(
                "INSERT INTO profiles (id, stale, traits) SELECT gen_random_uuid(), false, "
                "jsonb_build_object('name', 'Person' || g || ' Sample' || (g % 97), "
                "'email', 'p' || g || '@example' || (g % 13) || '.com', "
                "'company', 'Company ' || (g % 200)) FROM generate_series(1, :n) g"
            ),
            {"n": N},
        )
        session.execute(
            text("INSERT INTO profiles (id, stale, traits) VALUES (:id, false, CAST(:t AS jsonb))"),
            {
                "id": kenji,
                "t": json.dumps(
                    {
                        "name": "Kenji Thompson",
                        "first_name": "Kenji",
                        "last_name": "Thompson",
                        "email": "kenji.thompson@northwind.io",
                        "company": "Northwind Traders",
                    }
                ),
            },
        )
        session.execute(text("ANALYZE profiles"))
    return kenji


def test_one_edit() -> None:
    assert one_edit("thompsen", "thompson")  # substitution
    assert one_edit("thomson", "thompson") and one_edit("thompsonn", "thompson")
    assert one_edit("thopmson", "thompson")  # neighbours swapped
    assert not one_edit("thimpsen", "thompson") and not one_edit("thom", "thompson")
    assert "thmpson" in deletions("thompson") and deletions("ann") == set()


def test_search_tolerates_one_typo_and_uses_the_indexes(engine: Engine) -> None:
    kenji = _seed(engine)
    with unit_of_work(engine) as session:

        def ids(q: str) -> list[uuid.UUID]:
            return [h.id for h in search_profiles(session, query=q).profiles]

        assert ids("Kenji Thompson") == [kenji]
        assert ids("kenji thom") == [kenji]  # word prefixes
        assert ids("thompson KENJI") == [kenji]  # any order, any case
        found = search_profiles(session, query="Kenji Thompsen").profiles
        assert [h.id for h in found] == [kenji] and found[0].matched == "name (one typo)"
        assert ids("Knji Thompson") == [kenji]
        assert ids("Kenjo Thompsen") == []  # two typos: not the same person
        assert ids("kenji.thompson@north") == [kenji]  # email prefix
        assert ids("Northwind") == [kenji]  # company
        assert len(ids("Person12 Sample")) == 25  # Person12, 120..129, 1200..1299: a page
        assert len(ids("Person3999")) == 1
        keys = "kindred_profile_search_keys(traits)"
        live = "merged_into IS NULL AND NOT deleted"
        plans = {
            "exact": f"SELECT id FROM profiles WHERE {live} AND {keys} @> ARRAY['kenji']",
            "typo": f"SELECT id FROM profiles WHERE {live} AND {keys} && "
            "ARRAY['thompsen', 'hompsen', 'tompsen', 'thmpsen']",
            "email": f"SELECT id FROM profiles WHERE {live} "
            "AND left(lower(traits->>'email'), 200) LIKE 'kenji.th%'",
            "identifier": "SELECT id FROM identifiers WHERE left(lower(value), 200) LIKE 'ann@%'",
            "phone": "SELECT id FROM identifiers WHERE type = 'phone' "
            "AND left(reverse(value), 200) LIKE '4110555212%'",
        }
        # the statements the search runs: every arm can be answered by an index (with seq
        # scans priced out, a part with no index would still show one). At 4,000 rows the
        # planner rightly hashes the final join; the arms' own choice is checked below.
        session.execute(text("SET LOCAL enable_seqscan = off"))
        for q in ("Kenji Thompsen", "kenji.thompson@north", "Northwind", "+1 (212) 555-0114"):
            built = plan_search(q)
            for sql in (built.exact, built.typo):
                if not sql:
                    continue
                lines = session.execute(text(f"EXPLAIN {sql}"), built.params).scalars()
                explained = "\n".join(lines)
                assert "Seq Scan on profiles" not in explained, (q, explained)
                assert "Seq Scan on identifiers" not in explained, (q, explained)
        session.execute(text("SET LOCAL enable_seqscan = on"))
        for name, sql in plans.items():
            plan = "\n".join(r[0] for r in session.execute(text(f"EXPLAIN {sql}")))
            assert "Seq Scan" not in plan, (name, plan)
            assert "ix_" in plan, (name, plan)
