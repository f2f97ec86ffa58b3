"""key lifecycle (expiry, last use, write-key rotation) and source secrets encrypted at rest

Revision ID: 0009
Revises: 0007

Upgrade encrypts the secrets already stored in plain text in ``sources.config`` with the
key of the process that runs the migration (``KINDRED_SECRET_KEY``, else
``KINDRED_DATA_DIR/secret.key``): run ``kindred migrate`` with the same environment as
``kindred serve``. Downgrade decrypts them again, for the code before this revision.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _rewrite_configs(*, encrypt: bool) -> None:
    from kindred.secrets import is_encrypted, is_secret_name, keyring

    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, config FROM sources")).all()
    ring = None
    for source_id, config in rows:
        config = dict(config or {})
        if encrypt:
            todo = any(
                is_secret_name(k) and isinstance(v, str) and v and not is_encrypted(v)
                for k, v in config.items()
            )
        else:
            todo = any(is_encrypted(v) for v in config.values())
        if not todo:
            continue
        ring = ring or keyring()
        new = ring.seal(config) if encrypt else ring.open(config)
        conn.execute(
            sa.text("UPDATE sources SET config = :config WHERE id = :id").bindparams(
                sa.bindparam("config", type_=postgresql.JSONB)
            ),
            {"config": new, "id": source_id},
        )


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("expires_at", sa.DateTime(timezone=True)))
    op.add_column("api_keys", sa.Column("last_used_at", sa.DateTime(timezone=True)))
    op.add_column("sources", sa.Column("previous_key_hash", sa.String(64)))
    op.add_column("sources", sa.Column("previous_key_expires_at", sa.DateTime(timezone=True)))
    op.add_column("sources", sa.Column("key_rotated_at", sa.DateTime(timezone=True)))
    op.create_index(op.f("ix_sources_previous_key_hash"), "sources", ["previous_key_hash"])
    _rewrite_configs(encrypt=True)


def downgrade() -> None:
    _rewrite_configs(encrypt=False)
    op.drop_index(op.f("ix_sources_previous_key_hash"), table_name="sources")
    op.drop_column("sources", "key_rotated_at")
    op.drop_column("sources", "previous_key_expires_at")
    op.drop_column("sources", "previous_key_hash")
    op.drop_column("api_keys", "last_used_at")
    op.drop_column("api_keys", "expires_at")
