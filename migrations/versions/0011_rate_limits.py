"""rate_limits: token buckets shared by every API process (kindred.ratelimit)

One row per limited key (a collector source, a read API key), updated in place by one
``INSERT ... ON CONFLICT DO UPDATE`` per taken lease. No indexed column changes on update,
and a fillfactor of 50 leaves room on each page, so the updates stay HOT (no index writes).

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_limits",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("taken", sa.Float(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_limits")),
    )
    op.execute("ALTER TABLE rate_limits SET (fillfactor = 50)")


def downgrade() -> None:
    op.drop_table("rate_limits")
