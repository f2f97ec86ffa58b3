"""privacy: erasure/suppression requests (audit), suppression hashes, per-source drop counts

Revision ID: 0008
Revises: 0009 (numbered 0008 by assignment; 0009 was added on 0007 in parallel)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "privacy_requests",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("type", sa.String(30), nullable=False),
        sa.Column("subject_kind", sa.String(50), nullable=False),
        sa.Column("requested_by", sa.String(250), nullable=False),
        sa.Column("api_key_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(20), server_default=sa.text("'done'"), nullable=False),
        sa.Column("profiles", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "counts",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("hashes", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_requests")),
    )
    op.create_table(
        "suppressions",
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("request_id", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["privacy_requests.id"],
            name=op.f("fk_suppressions_request_id_privacy_requests"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("kind", "hash", name=op.f("pk_suppressions")),
    )
    op.create_index(op.f("ix_suppressions_request_id"), "suppressions", ["request_id"])
    op.create_table(
        "suppression_counts",
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("dropped", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "last_dropped_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_suppression_counts")),
    )


def downgrade() -> None:
    op.drop_table("suppression_counts")
    op.drop_index(op.f("ix_suppressions_request_id"), table_name="suppressions")
    op.drop_table("suppressions")
    op.drop_table("privacy_requests")
