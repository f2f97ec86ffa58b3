"""identifiers by (type, value): the profile lookup by identifier

``GET /v1/profiles?identifier=TYPE:VALUE`` filters identifiers on ``type`` and ``value``; the
only index led by ``value`` is ``(link_type, value)``, which that filter cannot use (a
``user_id`` links in the ``segment_id`` namespace), so each lookup scanned the whole table:
16 ms at 100k profiles, growing linearly with the table (`kindred bench reads`).

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_identifiers_type_value", "identifiers", ["type", "value"])


def downgrade() -> None:
    op.drop_index("ix_identifiers_type_value", table_name="identifiers")
