"""blocking indexes of the streaming scorer on bounded prefixes

A btree index row holds at most ~2,700 bytes: an identify whose email local part (or last
name) was 5,000 characters failed the source-record upsert with ProgramLimitExceeded on the
expression indexes of 0003. Blocking only needs a prefix: the indexes (and the scorer's
candidate query in identity/scoring_repository.py, which must use the exact same expressions) take
the first 100 characters (at most 400 bytes).

Revision ID: 0010
Revises: 0008
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BLOCKING_INDEXES = {
    "ix_source_records_block_name": (
        "left(lower(coalesce(traits->>'last_name', traits->>'lastName')), 100), "
        "left(lower(coalesce(traits->>'first_name', traits->>'firstName')), 1)"
    ),
    "ix_source_records_block_email_local": (
        "left(lower(split_part(coalesce(traits->>'email', ''), '@', 1)), 100)"
    ),
}
PREVIOUS = {
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
        op.execute(f"DROP INDEX IF EXISTS {name}")
        op.execute(f"CREATE INDEX {name} ON source_records ({expression})")


def downgrade() -> None:
    for name, expression in PREVIOUS.items():
        op.execute(f"DROP INDEX IF EXISTS {name}")
        op.execute(f"CREATE INDEX {name} ON source_records ({expression})")
