"""Alembic environment: the URL comes from Kindred's settings (or ``-x url=...``)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from kindred import models  # noqa: F401  (registers every table on Base.metadata)
from kindred.db import Base
from kindred.settings import get_settings, normalise_database_url

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    explicit = context.get_x_argument(as_dictionary=True).get("url")
    if explicit:
        return normalise_database_url(explicit)
    attached = config.attributes.get("url")
    if attached:
        return str(attached)
    return get_settings().resolved_database_url()


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
