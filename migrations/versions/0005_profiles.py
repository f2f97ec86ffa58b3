"""profiles, traits and segments tables

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A profile whose identity changes (merged away, deleted) becomes stale so that the profiles
# worker takes it out of every segment; ``stale_since`` is the time of the oldest change the
# worker has not processed yet (the lag that segments report).
STALE_TRIGGER = """
CREATE FUNCTION kindred_profiles_stale() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.merged_into IS DISTINCT FROM OLD.merged_into
       OR (NEW.deleted AND NOT OLD.deleted) THEN
        NEW.stale := true;
    END IF;
    IF NEW.stale AND NOT OLD.stale THEN
        NEW.stale_since := now();
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER profiles_stale BEFORE UPDATE ON profiles
    FOR EACH ROW EXECUTE FUNCTION kindred_profiles_stale();
"""

# Lenient casts used by compiled segment rules: a trait that is not a number / a date is NULL
# (the condition is false) rather than an error that would fail the whole segment.
FUNCTIONS = r"""
CREATE FUNCTION kindred_num(v jsonb) RETURNS numeric LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE jsonb_typeof(v)
    WHEN 'number' THEN (v #>> '{}')::numeric
    WHEN 'string' THEN CASE
        WHEN regexp_replace(v #>> '{}', '[\s,_]', '', 'g') ~ '^-?[0-9]+(\.[0-9]+)?$'
        THEN regexp_replace(v #>> '{}', '[\s,_]', '', 'g')::numeric END
    END
$$;
CREATE FUNCTION kindred_ts(v text) RETURNS timestamptz LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    RETURN v::timestamptz;
EXCEPTION WHEN others THEN
    RETURN NULL;
END $$;
"""


def upgrade() -> None:
    op.add_column(
        "profiles",
        sa.Column(
            "stale_since", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=True
        ),
    )
    op.add_column("profiles", sa.Column("computed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_profiles_stale", "profiles", ["stale_since"], postgresql_where=sa.text("stale")
    )
    op.create_index("ix_profiles_computed_at", "profiles", ["computed_at"])
    op.execute(STALE_TRIGGER)
    op.execute(FUNCTIONS)

    op.add_column("segments", sa.Column("description", sa.Text(), nullable=True))
    op.add_column("segments", sa.Column("consent_channel", sa.String(20), nullable=True))
    op.add_column(
        "segments",
        sa.Column("time_based", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.add_column(
        "segments",
        sa.Column("member_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column(
        "segments", sa.Column("incremental_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "segments",
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
    )
    op.create_index("ix_segment_memberships_profile_id", "segment_memberships", ["profile_id"])
    op.add_column(
        "segment_changes",
        sa.Column(
            "member_kind", sa.String(10), server_default=sa.text("'profile'"), nullable=False
        ),
    )
    op.create_index("ix_segment_changes_segment_id_id", "segment_changes", ["segment_id", "id"])

    op.create_table(
        "profiles_settings",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("value", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_profiles_settings")),
    )
    op.create_table(
        "account_computed",
        sa.Column("account_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column(
            "computed",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "computed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_account_computed_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_account_computed")),
    )
    op.create_table(
        "segment_account_members",
        sa.Column("segment_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("account_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column(
            "entered_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["segments.id"],
            name=op.f("fk_segment_account_members_segment_id_segments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_segment_account_members_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "segment_id", "account_id", name=op.f("pk_segment_account_members")
        ),
    )
    op.create_table(
        "profiles_cursors",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("position", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_profiles_cursors")),
    )


def downgrade() -> None:
    op.drop_table("profiles_cursors")
    op.drop_table("segment_account_members")
    op.drop_table("account_computed")
    op.drop_table("profiles_settings")
    op.drop_index("ix_segment_changes_segment_id_id", table_name="segment_changes")
    op.drop_column("segment_changes", "member_kind")
    op.drop_index("ix_segment_memberships_profile_id", table_name="segment_memberships")
    for column in (
        "updated_at",
        "incremental_at",
        "member_count",
        "time_based",
        "consent_channel",
        "description",
    ):
        op.drop_column("segments", column)
    op.execute("DROP FUNCTION IF EXISTS kindred_ts(text)")
    op.execute("DROP FUNCTION IF EXISTS kindred_num(jsonb)")
    op.execute("DROP TRIGGER IF EXISTS profiles_stale ON profiles")
    op.execute("DROP FUNCTION IF EXISTS kindred_profiles_stale()")
    op.drop_index("ix_profiles_computed_at", table_name="profiles")
    op.drop_index("ix_profiles_stale", table_name="profiles")
    op.drop_column("profiles", "computed_at")
    op.drop_column("profiles", "stale_since")
