"""Fixtures shared by the integration tests beyond tests/conftest.py: the console world."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from kindred.settings import Settings
from tests.conftest import DatabasePool, Infra, engine_for, isolated_settings, running_workers
from tests.integration.browser_support import browser  # noqa: F401  (a fixture for the modules)

#: the console world's size: every channel, a few dozen companies (CI has 2 cores)
WORLD_COMPANIES = 12
WORLD_PEOPLE = 150


@dataclass(frozen=True)
class ConsoleWorld:
    """The demo's sample world, fed through the real pipeline (HTTP collector, webhooks, CRM
    import, Kafka, the workers, still running), with the demo segments created."""

    server: str
    settings: Settings
    engine: Engine
    api_key: str  # admin + read + write
    write_keys: dict[str, str]
    events: int


@pytest.fixture(scope="session")
def console_world(infra_services: Infra, database_pool: DatabasePool) -> Iterator[ConsoleWorld]:
    """Once per pytest process: every console page test reads the same settled world."""
    from cli.demo import DEMO_SOURCES, ensure_source, feed_world, wait_until_settled
    from kindred.db import unit_of_work
    from kindred.security import create_api_key
    from samples.demo.world import generate_world
    from samples.segments import create_demo_segments
    from tests.helpers import live_server

    now = datetime.now(UTC).replace(microsecond=0)
    world = generate_world(companies=WORLD_COMPANIES, people=WORLD_PEOPLE, now=now)
    with (
        isolated_settings(infra_services, database_pool) as settings,
        engine_for(settings) as engine,
    ):
        keys: dict[str, str] = {}
        with unit_of_work(engine) as session:
            _, api_key = create_api_key(
                session, name="console-admin", scopes=["admin", "read", "write"]
            )
            for name, connector in DEMO_SOURCES:
                keys[name] = ensure_source(session, name=name, connector=connector, key=None)
        with running_workers(settings, engine), live_server(settings, engine) as server:
            sent = feed_world(server, keys, settings, world)
            wait_until_settled(engine, expected_events=sent, timeout=240)
            with unit_of_work(engine) as session:
                create_demo_segments(session)
            yield ConsoleWorld(server, settings, engine, api_key, keys, sent)
