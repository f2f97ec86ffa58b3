"""account records: what ingest saw of each account key, for identity to turn into accounts

Until now ingest wrote ``accounts`` and ``account_keys`` itself from group calls, beside
identity. Ingest now records what a group call said in ``account_records`` (one row per key,
marked dirty) and identity alone writes the accounts. The backfill gives every existing key
that came from a group call or a CRM company row its record (the values of the account it
points at), clean, so nothing is re-applied; ``domain:`` keys are identity's own (accounts it
created for corporate email domains) and get none.

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BACKFILL = """
INSERT INTO account_records (key, name, domain, traits, first_seen, last_seen, dirty)
SELECT k.key, a.name, a.domain, a.traits, a.created_at, a.updated_at, false
FROM account_keys k JOIN accounts a ON a.id = k.account_id
WHERE k.key NOT LIKE 'domain:%'
ON CONFLICT (key) DO NOTHING
"""


def upgrade() -> None:
    op.create_table(
        "account_records",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("domain", sa.Text(), nullable=True),
        sa.Column(
            "traits",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dirty", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_account_records")),
    )
    op.create_index(
        "ix_account_records_dirty",
        "account_records",
        ["key"],
        unique=False,
        postgresql_where=sa.text("dirty"),
    )
    op.execute(BACKFILL)


def downgrade() -> None:
    op.drop_index(
        "ix_account_records_dirty", table_name="account_records", postgresql_where=sa.text("dirty")
    )
    op.drop_table("account_records")
