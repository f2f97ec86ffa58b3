"""identity resolution tables

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Blocking keys of the streaming scorer (identity/scoring_repository.py uses these exact
# expressions).
BLOCKING_INDEXES = {
    "ix_source_records_block_name": (
        "lower(coalesce(traits->>'last_name', traits->>'lastName')), "
        "left(lower(coalesce(traits->>'first_name', traits->>'firstName')), 1)"
    ),
    "ix_source_records_block_email_local": (
        "lower(split_part(coalesce(traits->>'email', ''), '@', 1))"
    ),
}


def upgrade() -> None:
    for name, expression in BLOCKING_INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON source_records ({expression})")
    op.add_column(
        "splink_models",
        sa.Column("charts", JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False),
    )
    op.add_column("accounts", sa.Column("merged_into", sa.UUID(), nullable=True))
    op.create_index(op.f("ix_accounts_merged_into"), "accounts", ["merged_into"], unique=False)
    op.create_foreign_key(
        op.f("fk_accounts_merged_into_accounts"), "accounts", "accounts", ["merged_into"], ["id"]
    )
    op.create_table(
        "identity_overrides",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("record_a", sa.BigInteger(), nullable=False),
        sa.Column("record_b", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["record_a"],
            ["source_records.id"],
            name=op.f("fk_identity_overrides_record_a_source_records"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["record_b"],
            ["source_records.id"],
            name=op.f("fk_identity_overrides_record_b_source_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_overrides")),
    )
    op.create_index(
        "ix_identity_overrides_record_a", "identity_overrides", ["record_a"], unique=False
    )
    op.create_index(
        "ix_identity_overrides_record_b", "identity_overrides", ["record_b"], unique=False
    )
    op.create_table(
        "account_links",
        sa.Column("profile_id", sa.UUID(), nullable=False),
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("rule", sa.String(length=100), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column(
            "linked_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_account_links_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["profiles.id"],
            name=op.f("fk_account_links_profile_id_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("profile_id", name=op.f("pk_account_links")),
    )
    op.create_index(
        op.f("ix_account_links_account_id"), "account_links", ["account_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_account_links_account_id"), table_name="account_links")
    op.drop_table("account_links")
    op.drop_index("ix_identity_overrides_record_b", table_name="identity_overrides")
    op.drop_index("ix_identity_overrides_record_a", table_name="identity_overrides")
    op.drop_table("identity_overrides")
    op.drop_constraint(op.f("fk_accounts_merged_into_accounts"), "accounts", type_="foreignkey")
    op.drop_index(op.f("ix_accounts_merged_into"), table_name="accounts")
    op.drop_column("accounts", "merged_into")
    op.drop_column("splink_models", "charts")
    for name in BLOCKING_INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
