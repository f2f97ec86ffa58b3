"""indexes for the console's free-text profile search (GET /v1/profiles/search)

The search matched names and companies with ``LIKE '%word%'`` and identifiers with
``lower(value) LIKE 'x%'`` / ``value LIKE '%digits'``: every query scanned ``profiles`` and
``identifiers`` whole. pg_trgm is not available everywhere Kindred runs (the embedded
PostgreSQL of the tests ships no contrib extensions), so the name index needs none:

- ``kindred_search_keys(text)`` (and ``kindred_profile_search_keys(traits)`` over a profile's
  name, first and last name and company): for each word of the folded (lower-case,
  accent-free) text, every prefix of the word and every one-letter deletion of it. A GIN
  index over the keys of
  the live profiles' name and company answers "each query word starts a word of the name"
  (``keys @> ARRAY[word]``) and, for one typo, "the word and the name word share a deletion
  neighbour" (``keys && ARRAY[word, deletions...]``, verified in Python). The folding table
  is the one of ``profiles.search`` (copied: migrations do not import application code).
- the email trait and identifier values by left-anchored prefix (``text_pattern_ops`` on the
  first 200 characters: a btree row is at most ~2,700 bytes, see 0010);
- phone identifiers by their reversed value, so "the number ends in these digits" is a
  left-anchored prefix too.

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACCENTED = "àáâãäåāăąçćčďèéêëēėęěìíîïīįłñńňòóôõöøōőŕřśšşťţùúûüūůűųýÿźżž"
PLAIN = "aaaaaaaaacccdeeeeeeeeiiiiiilnnnoooooooorrsssttuuuuuuuuyyzzz"

KEYS_FUNCTION = f"""
CREATE OR REPLACE FUNCTION kindred_search_keys(value text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT k), '{{}}') FROM (
        SELECT left(w, n) AS k
        FROM regexp_split_to_table(
                 left(translate(lower(coalesce(value, '')), '{ACCENTED}', '{PLAIN}'), 300),
                 '[^a-z0-9]+') AS w,
             generate_series(1, least(length(w), 30)) AS n
        WHERE w <> ''
        UNION ALL
        SELECT left(w, i - 1) || substr(w, i + 1)
        FROM regexp_split_to_table(
                 left(translate(lower(coalesce(value, '')), '{ACCENTED}', '{PLAIN}'), 300),
                 '[^a-z0-9]+') AS w,
             generate_series(1, least(length(w), 30)) AS i
        WHERE length(w) >= 4
    ) keys
$$
"""

#: a profile's name and company keys (``concat_ws`` is only STABLE, so it sits inside an
#: IMMUTABLE function); the index expression must be spelled exactly so in profiles/search.py
PROFILE_KEYS_FUNCTION = """
CREATE OR REPLACE FUNCTION kindred_profile_search_keys(traits jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT kindred_search_keys(concat_ws(' ', traits->>'name', traits->>'first_name',
                                         traits->>'last_name', traits->>'company'))
$$
"""
PROFILE_KEYS = "kindred_profile_search_keys(traits)"
LIVE = "merged_into IS NULL AND NOT deleted"


def upgrade() -> None:
    assert len(ACCENTED) == len(PLAIN)
    op.execute(KEYS_FUNCTION)
    op.execute(PROFILE_KEYS_FUNCTION)
    op.execute(
        "CREATE INDEX ix_profiles_search_keys ON profiles "
        f"USING gin (({PROFILE_KEYS})) WHERE {LIVE}"
    )
    op.execute(
        "CREATE INDEX ix_profiles_search_email ON profiles "
        f"((left(lower(traits->>'email'), 200)) text_pattern_ops) WHERE {LIVE}"
    )
    op.execute(
        "CREATE INDEX ix_identifiers_search_value ON identifiers "
        "((left(lower(value), 200)) text_pattern_ops)"
    )
    op.execute(
        "CREATE INDEX ix_identifiers_search_phone ON identifiers "
        "((left(reverse(value), 200)) text_pattern_ops) WHERE type = 'phone'"
    )


def downgrade() -> None:
    for name in (
        "ix_identifiers_search_phone",
        "ix_identifiers_search_value",
        "ix_profiles_search_email",
        "ix_profiles_search_keys",
    ):
        op.execute(f"DROP INDEX IF EXISTS {name}")
    op.execute("DROP FUNCTION IF EXISTS kindred_profile_search_keys(jsonb)")
    op.execute("DROP FUNCTION IF EXISTS kindred_search_keys(text)")
