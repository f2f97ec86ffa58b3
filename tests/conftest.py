"""Shared fixtures: real PostgreSQL and a real Kafka-protocol broker.

By default both are the embedded ones (started once per test session under a temporary data
dir). Set KINDRED_TEST_DATABASE_URL / KINDRED_TEST_KAFKA_BOOTSTRAP to use external servers.
Each test gets its own database, cloned from a template built by running the Alembic
migrations, and its own topics and consumer group.

A test class whose tests read one scenario (built once by a class-scoped fixture) uses the
``class_*`` twins of ``settings``, ``engine``, ``workers``, ``server`` and ``cli_env``: the
same isolation, per class instead of per test.

Under pytest-xdist every worker process runs its own session fixture, so each worker has its
own embedded PostgreSQL and broker (own temporary data dir, own free ports).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from cli.runtime import Workers
from kindred import infra
from kindred.db import make_engine
from kindred.migrate import upgrade
from kindred.settings import Settings

TEMPLATE = "kindred_template"


@dataclass(frozen=True)
class Infra:
    admin_url: str  # psycopg URL to a maintenance database on the server
    server_url: str  # SQLAlchemy URL without the database name
    kafka_bootstrap: str
    data_dir: Path


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture(scope="session")
def infra_services() -> Iterator[Infra]:
    ext_db = os.environ.get("KINDRED_TEST_DATABASE_URL")
    ext_kafka = os.environ.get("KINDRED_TEST_KAFKA_BOOTSTRAP")
    data_dir = Path(tempfile.mkdtemp(prefix="kindred-test-"))
    settings = Settings(
        data_dir=data_dir,
        database_url=ext_db or None,
        kafka_bootstrap=ext_kafka or None,
    )
    status = infra.up(settings)
    assert status.database_url and status.kafka_bootstrap
    db_url = status.database_url
    if "+psycopg" not in db_url:
        db_url = db_url.replace("postgresql://", "postgresql+psycopg://", 1)
    server = db_url.rsplit("/", 1)[0]
    admin = _plain(server) + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}"')
        conn.execute(f'CREATE DATABASE "{TEMPLATE}"')
    upgrade(f"{server}/{TEMPLATE}")
    yield Infra(admin, server, status.kafka_bootstrap, data_dir)
    infra.down(settings)
    shutil.rmtree(data_dir, ignore_errors=True)


def create_database(services: Infra) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(services.admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
    return name


def drop_database(services: Infra, name: str) -> None:
    with psycopg.connect(services.admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def isolated_settings(services: Infra) -> Iterator[Settings]:
    """Settings on a new database cloned from the template, with unique topic names."""
    name = create_database(services)
    suffix = uuid.uuid4().hex[:8]
    try:
        yield Settings(
            data_dir=services.data_dir,
            database_url=f"{services.server_url}/{name}",
            kafka_bootstrap=services.kafka_bootstrap,
            events_topic=f"test.events.{suffix}",
            dlq_topic=f"test.dlq.{suffix}",
            identity_changes_topic=f"test.changes.{suffix}",
            topic_partitions=2,
        )
    finally:
        drop_database(services, name)


@contextmanager
def engine_for(settings: Settings) -> Iterator[Engine]:
    eng = make_engine(settings.resolved_database_url(), pool_size=5)
    try:
        yield eng
    finally:
        eng.dispose()


@contextmanager
def running_workers(settings: Settings, engine: Engine) -> Iterator[Workers]:
    """The ingest, identity and profiles workers in threads, on these settings' topics."""
    from cli.runtime import build_workers

    w = build_workers(settings, engine, group_id=f"g-{uuid.uuid4().hex[:6]}").start()
    try:
        yield w
    finally:
        w.stop()


def _cli_environment(settings: Settings) -> dict[str, str]:
    return {
        "KINDRED_DATABASE_URL": settings.resolved_database_url(),
        "KINDRED_KAFKA_BOOTSTRAP": settings.resolved_kafka_bootstrap(),
        "KINDRED_EVENTS_TOPIC": settings.events_topic,
    }


@pytest.fixture
def settings(infra_services: Infra) -> Iterator[Settings]:
    with isolated_settings(infra_services) as s:
        yield s


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    with engine_for(settings) as eng:
        yield eng


@pytest.fixture(autouse=True)
def _fresh_settings_cache() -> Iterator[None]:
    """CLI commands read settings through a process-wide cache; tests change the environment,
    so every test starts (and ends) with an empty cache."""
    from kindred.settings import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """A CLI runner whose ``kindred`` commands talk to this test's database and topics."""
    from kindred.settings import get_settings

    for name, value in _cli_environment(settings).items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


@pytest.fixture
def workers(settings: Settings, engine: Engine) -> Iterator[Workers]:
    """The ingest, identity and profiles workers in threads, on this test's topics."""
    with running_workers(settings, engine) as w:
        yield w


@pytest.fixture
def server(settings: Settings, engine: Engine) -> Iterator[str]:
    """The API on a real socket; yields its base URL."""
    from tests.helpers import live_server

    with live_server(settings, engine) as url:
        yield url


# ------------------------------------------------------------------ the same, once per class


@pytest.fixture(scope="class")
def class_settings(infra_services: Infra) -> Iterator[Settings]:
    with isolated_settings(infra_services) as s:
        yield s


@pytest.fixture(scope="class")
def class_engine(class_settings: Settings) -> Iterator[Engine]:
    with engine_for(class_settings) as eng:
        yield eng


@pytest.fixture(scope="class")
def class_workers(class_settings: Settings, class_engine: Engine) -> Iterator[Workers]:
    with running_workers(class_settings, class_engine) as w:
        yield w


@pytest.fixture(scope="class")
def class_server(class_settings: Settings, class_engine: Engine) -> Iterator[str]:
    from tests.helpers import live_server

    with live_server(class_settings, class_engine) as url:
        yield url


@pytest.fixture(scope="class")
def class_cli_env(class_settings: Settings) -> Iterator[CliRunner]:
    """``cli_env`` for the whole class (the per-test settings cache is still cleared by
    ``_fresh_settings_cache``; the environment stays set until the class ends)."""
    with pytest.MonkeyPatch.context() as mp:
        for name, value in _cli_environment(class_settings).items():
            mp.setenv(name, value)
        yield CliRunner()
