"""rebuild the golden record of profiles with a name (name survivorship changed)

``name``, ``first_name`` and ``last_name`` now survive as one group (one record gives all
three, a missing part is derived from the others), so a stored golden record may still show
``name`` "Andy Young" beside ``first_name`` "Andrew", ``last_name`` "Yung". Marking those
profiles stale makes the profiles worker rebuild them (set-based, in batches) with the new
rule; nothing else changes. Downgrade: nothing to undo.

Revision ID: 0016
Revises: 0015
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "UPDATE profiles SET stale = true, updated_at = now() "
        "WHERE merged_into IS NULL AND NOT deleted AND NOT stale "
        "AND (traits ? 'name' OR traits ? 'first_name' OR traits ? 'last_name')"
    )


def downgrade() -> None:
    pass
