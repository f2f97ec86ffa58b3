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

Cloning a database and dropping it take about half a second each; a background thread clones
the next test's database while the current test runs, and another drops the used ones, so
a test waits for neither (``DatabasePool``).
"""

from __future__ import annotations

import os
import queue
import shutil
import tempfile
import threading
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


def create_database(services: Infra) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(services.admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
    return name


def drop_database(services: Infra, name: str) -> None:
    with psycopg.connect(services.admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class DatabasePool:
    """Test databases cloned from the template ahead of need by one thread, and dropped after
    use by another. ``take`` returns a fresh database (waiting only if none is ready yet);
    ``give_back`` queues it for dropping; ``close`` drops the rest and raises what failed."""

    def __init__(self, services: Infra, *, ahead: int = 2) -> None:
        self._services = services
        self._ready: queue.Queue[str | BaseException] = queue.Queue(maxsize=ahead)
        self._used: queue.Queue[str | None] = queue.Queue()
        self._stop = threading.Event()
        self._errors: list[BaseException] = []
        self._threads = [
            threading.Thread(target=self._clone, name="test-db-clone", daemon=True),
            threading.Thread(target=self._drop, name="test-db-drop", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _clone(self) -> None:
        while not self._stop.is_set():
            item: str | BaseException
            try:
                item = create_database(self._services)
            except BaseException as err:  # handed to the test that takes it
                item = err
            while not self._stop.is_set():
                try:
                    self._ready.put(item, timeout=0.2)
                    break
                except queue.Full:
                    continue
            else:
                if isinstance(item, str):
                    self._used.put(item)

    def _drop(self) -> None:
        while (name := self._used.get()) is not None:
            try:
                drop_database(self._services, name)
            except BaseException as err:  # reported by close()
                self._errors.append(err)

    def take(self) -> str:
        item = self._ready.get(timeout=120)
        if isinstance(item, BaseException):
            raise item
        return item

    def give_back(self, name: str) -> None:
        self._used.put(name)

    def close(self) -> None:
        self._stop.set()
        self._threads[0].join(60)
        while True:
            try:
                item = self._ready.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, str):
                self._used.put(item)
        self._used.put(None)
        self._threads[1].join(120)
        if self._errors:
            raise self._errors[0]


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


@pytest.fixture
def own_data_dir() -> Iterator[Path]:
    """A data dir for a test's own embedded PostgreSQL and broker, outside pytest's tmp tree.
    initdb runs as another user (``pgserver``), who must be able to traverse every parent, and
    each pytest process that starts resets /tmp/pytest-of-<user> to 0700: with a second pytest
    run on the machine, initdb under ``tmp_path`` would fail half-way ("Permission denied")."""
    path = Path(tempfile.mkdtemp(prefix="kindred-own-"))
    yield path / "kd"
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def database_pool(infra_services: Infra) -> Iterator[DatabasePool]:
    pool = DatabasePool(infra_services)
    yield pool
    pool.close()


@contextmanager
def isolated_settings(services: Infra, pool: DatabasePool) -> Iterator[Settings]:
    """Settings on a new database cloned from the template, with unique topic names."""
    name = pool.take()
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
        pool.give_back(name)


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
        w.wait_ready()  # a test's own timeouts then measure the pipeline, not the group join
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
def settings(infra_services: Infra, database_pool: DatabasePool) -> Iterator[Settings]:
    with isolated_settings(infra_services, database_pool) as s:
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
def class_settings(infra_services: Infra, database_pool: DatabasePool) -> Iterator[Settings]:
    with isolated_settings(infra_services, database_pool) as s:
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
