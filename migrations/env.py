"""Alembic environment: the URL comes from Kindred's settings (or ``-x url=...``)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from kindred import models  # noqa: F401  (registers every table on Base.metadata)
from kindred.db import Base
from kindred.settings import get_settings, normalise_database_url

config = context.config
target_metadata = Base.metadata

#: indexes created with raw SQL in migrations (expression indexes the models cannot express
#: in a way autogenerate compares reliably); `alembic check` must not propose dropping them
RAW_SQL_INDEXES = {
    "ix_source_records_block_name",
    "ix_source_records_block_email_local",
    # the console search's expression indexes (migration 0015: SQL functions of their own)
    "ix_identifiers_search_phone",
    "ix_identifiers_search_value",
    "ix_profiles_search_email",
    "ix_profiles_search_keys",
}


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    return not (type_ == "index" and name in RAW_SQL_INDEXES)


def _url() -> str:
    explicit = context.get_x_argument(as_dictionary=True).get("url")
    if explicit:
        return normalise_database_url(explicit)
    attached = config.attributes.get("url")
    if attached:
        return str(attached)
    return get_settings().resolved_database_url()


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as conn:
        context.configure(
            connection=conn, target_metadata=target_metadata, include_object=include_object
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
