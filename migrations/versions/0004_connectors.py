"""connector tables

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "connector_dead_letters",
        sa.Column("dead_letter_id", sa.BigInteger(), nullable=False),
        sa.Column("connector", sa.String(length=100), nullable=False),
        sa.Column("origin", sa.String(length=20), nullable=False),
        sa.Column("call_type", sa.String(length=20), nullable=True),
        sa.Column("content_type", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["dead_letter_id"],
            ["dead_letters.id"],
            name=op.f("fk_connector_dead_letters_dead_letter_id_dead_letters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("dead_letter_id", name=op.f("pk_connector_dead_letters")),
    )


def downgrade() -> None:
    op.drop_table("connector_dead_letters")
