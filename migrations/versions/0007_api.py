"""kindred_ts() without an EXCEPTION block, so it is correct under parallel plans

Revision ID: 0007
Revises: 0006

0006 made kindred_ts() PARALLEL RESTRICTED, which is not enough: a restricted function runs
in the leader, but the leader is in parallel mode for as long as a parallel plan executes, and
an EXCEPTION block (a subtransaction) is refused there too ("cannot start subtransactions
during a parallel operation", seen with ``debug_parallel_query = on`` and with any real
parallel plan over a large ``profiles`` table).

PostgreSQL 16 and later have ``pg_input_is_valid``: a plain SQL function with no
subtransaction, PARALLEL SAFE. Older servers (a ``KINDRED_DATABASE_URL`` on PostgreSQL 15) keep
the plpgsql version, declared PARALLEL UNSAFE so the planner never puts it in a parallel plan.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# timestamptz input depends on TimeZone and DateStyle: STABLE, as before
KINDRED_TS_16 = """
CREATE OR REPLACE FUNCTION kindred_ts(v text) RETURNS timestamptz LANGUAGE sql STABLE
PARALLEL SAFE AS $$
SELECT CASE WHEN pg_input_is_valid(v, 'timestamptz') THEN v::timestamptz END
$$;
"""

KINDRED_TS_PLPGSQL = """
CREATE OR REPLACE FUNCTION kindred_ts(v text) RETURNS timestamptz LANGUAGE plpgsql STABLE
PARALLEL {parallel} AS $$
BEGIN
    RETURN v::timestamptz;
EXCEPTION WHEN others THEN
    RETURN NULL;
END $$;
"""


def upgrade() -> None:
    version = int(op.get_bind().exec_driver_sql("SHOW server_version_num").scalar_one())
    if version >= 160000:
        op.execute(KINDRED_TS_16)
    else:
        op.execute(KINDRED_TS_PLPGSQL.format(parallel="UNSAFE"))


def downgrade() -> None:
    op.execute(KINDRED_TS_PLPGSQL.format(parallel="RESTRICTED"))
