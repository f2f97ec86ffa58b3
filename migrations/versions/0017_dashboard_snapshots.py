"""dashboard snapshots: the base's figures as the profiles worker last computed them

``GET /v1/dashboard`` scanned every live profile's computed traits per request: 0.5-3 s at
100k profiles, ten times that at 1M. The profiles worker now stores those figures (and what
computing them took) in ``dashboard_snapshots``; the API serves the stored ones once a scan
takes longer than its live budget. Downgrade drops the table (the API then scans again).

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dashboard_snapshots",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("figures", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("took_ms", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("dashboard_snapshots")
