"""Engine and session factory. The owner of a unit of work commits; services only flush.

Engines ping pooled connections before use (``pool_pre_ping``), so after PostgreSQL restarts
the next checkout reconnects. An engine for the embedded server (no ``KINDRED_DATABASE_URL``)
also re-reads ``infra.json`` on every new connection: if ``kindred infra up`` had to move the
server to another port, running processes follow it without a restart.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Engine,
    MetaData,
    any_,
    bindparam,
    create_engine,
    event,
    make_url,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from kindred.settings import Settings, get_settings, read_infra_state

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def make_engine(url: str, *, pool_size: int = 10, follow: Settings | None = None) -> Engine:
    """An engine with pre-ping. ``follow``: the settings whose embedded ``infra.json`` names
    the server's current host and port; every new connection dials that one (the database
    name and user stay those of ``url``)."""
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=20,
        pool_pre_ping=True,
        connect_args={"connect_timeout": 10},
    )
    if follow is not None:
        follow_embedded(engine, follow)
    return engine


def follow_embedded(engine: Engine, settings: Settings) -> None:
    """Make every new connection of ``engine`` dial the host and port the embedded server's
    ``infra.json`` (of ``settings``) names now."""

    @event.listens_for(engine, "do_connect")
    def _dial_current(
        dialect: Any, conn_rec: Any, cargs: list[Any], cparams: dict[str, Any]
    ) -> None:
        current = read_infra_state(settings).get("database_url")
        if isinstance(current, str):
            where = make_url(current)
            if where.host and where.port:
                cparams["host"], cparams["port"] = where.host, where.port


def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for ``url`` (default: the configured database; for the
    embedded server, one that follows it if it moves to another port)."""
    if url is not None:
        return _engine_for(url)
    settings = get_settings()
    if settings.database_url:
        return _engine_for(settings.resolved_database_url())
    return _embedded_engine(settings)


@lru_cache(maxsize=4)
def _embedded_engine(settings: Settings) -> Engine:
    return make_engine(settings.resolved_database_url(), follow=settings)


@lru_cache(maxsize=8)
def _engine_for(url: str) -> Engine:
    return make_engine(url)


def session_factory(engine: Engine | None = None) -> sessionmaker[Session]:
    return sessionmaker(bind=engine or get_engine(), expire_on_commit=False)


@contextmanager
def unit_of_work(engine: Engine | None = None) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    session = session_factory(engine)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def driver_connection(session: Session) -> Any:
    """The psycopg connection under ``session`` (its transaction), for what SQLAlchemy does
    slowly or not at all: binary array parameters, reads of a million rows, COPY."""
    raw = session.connection().connection.driver_connection
    assert raw is not None
    return raw


def execute_arrays(
    session: Session, sql: str, params: dict[str, list[Any]], *, returning: bool = False
) -> list[tuple[Any, ...]]:
    """Run a bulk statement whose parameters are one array per column (``%(name)b`` binary
    placeholders, unnested server-side) through psycopg directly: a constant number of
    parameters however large the batch, and no text-array escaping."""
    with driver_connection(session).cursor() as cur:
        cur.execute(sql, params)
        return list(cur.fetchall()) if returning else []


def fetch_rows(session: Session, sql: str, params: dict[str, Any] | None = None) -> list[Any]:
    """All rows of a read through psycopg directly, as plain tuples: for reads of a million
    rows, where SQLAlchemy's row objects cost more than the query."""
    with driver_connection(session).cursor() as cur:
        cur.execute(sql, params or {})
        return list(cur.fetchall())


def in_ids(column: Any, values: Collection[Any], *, uuid: bool = False) -> ColumnElement[bool]:
    """``column = ANY(:array)``: one array parameter instead of an IN list of thousands."""
    kind: Any = UUID(as_uuid=True) if uuid else BigInteger()
    return column == any_(bindparam(None, list(values), type_=ARRAY(kind)))
