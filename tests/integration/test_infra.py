"""Embedded infrastructure and external servers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, inspect

from kindred import infra
from kindred.migrate import check, upgrade
from kindred.settings import Settings

pytestmark = pytest.mark.integration

SYSTEM_PG = "postgresql://postgres@127.0.0.1:5432/test"


class TestEmbeddedInfra:
    def test_up_twice_is_harmless_and_down_stops_what_up_started(self, own_data_dir: Path) -> None:
        settings = Settings(data_dir=own_data_dir)
        first = infra.up(settings)
        try:
            assert first.database_running and first.kafka_running
            again = infra.up(settings)
            assert again.database_url == first.database_url
            assert again.kafka_bootstrap == first.kafka_bootstrap
        finally:
            stopped = infra.down(settings)
        assert stopped == {"database": True, "kafka": True}
        after = infra.status(settings)
        assert not after.database_running and not after.kafka_running
        assert infra.down(settings) == {"database": False, "kafka": False}

    def test_external_servers_are_neither_started_nor_stopped(self, tmp_path: Path) -> None:
        settings = Settings(
            data_dir=tmp_path / "kd", database_url=SYSTEM_PG, kafka_bootstrap="127.0.0.1:1"
        )
        assert infra.down(settings) == {"database": False, "kafka": False}
        status = infra.status(settings)
        assert status.database_external and status.kafka_external
        assert not status.kafka_running


@pytest.fixture
def system_database() -> Iterator[str]:
    try:
        with psycopg.connect(SYSTEM_PG, autocommit=True, connect_timeout=3) as conn:
            name = f"kindred_ci_{uuid.uuid4().hex[:8]}"
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as err:
        pytest.skip(f"no system PostgreSQL at 127.0.0.1:5432 ({err})")
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    yield url
    with psycopg.connect(SYSTEM_PG, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class TestSystemPostgres:
    def test_migrations_run_on_the_system_server(self, system_database: str) -> None:
        settings = Settings(database_url=system_database.replace("+psycopg", ""))
        assert settings.resolved_database_url() == system_database
        assert infra.status(settings).database_running
        upgrade(settings.resolved_database_url())
        check(settings.resolved_database_url())
        engine = create_engine(system_database)
        tables = set(inspect(engine).get_table_names())
        engine.dispose()
        assert {"events", "source_records", "profiles", "record_links", "accounts"} <= tables
