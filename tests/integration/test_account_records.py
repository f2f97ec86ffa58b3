"""Accounts have one writer: ingest records what group calls say (``account_records``, dirty),
identity turns the records into accounts and account keys."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from connectors.events import Event, parse_event
from identity.accounts import absorb_account_records
from identity.accounts_repository import clear_dirty_account_records, dirty_account_records
from identity.repository import dirty_backlog
from identity.service import resolve_step
from identity.worker import IdentityConfig, IdentityWorker
from ingest.service import persist_events
from kindred.db import unit_of_work
from kindred.models import Account, AccountKey, AccountRecord
from kindred.models.identity import AccountLink

pytestmark = pytest.mark.integration

START = datetime(2025, 3, 1, tzinfo=UTC)


def group(key: str, *, days: int = 0, user: str | None = None, **traits: Any) -> Event:
    data: dict[str, Any] = {
        "type": "group",
        "messageId": uuid.uuid4().hex,
        "source": "crm",
        "channel": "crm",
        "groupId": key,
        "traits": traits,
        "timestamp": (START + timedelta(days=days)).isoformat(),
    }
    if user is not None:
        data["userId"] = user
    return parse_event(data)


def persist(engine: Engine, *events: Event) -> None:
    with unit_of_work(engine) as session:
        persist_events(session, list(events))


def record(engine: Engine, key: str) -> AccountRecord:
    with unit_of_work(engine) as session:
        found = session.get(AccountRecord, key)
        assert found is not None
        session.expunge(found)
        return found


def account_of(engine: Engine, key: str) -> Account | None:
    with unit_of_work(engine) as session:
        found = session.execute(
            select(Account).join(AccountKey, AccountKey.account_id == Account.id)
            .where(AccountKey.key == key)
        ).scalar_one_or_none()  # fmt: skip
        if found is not None:
            session.expunge(found)
        return found


class TestIngestRecordsAccounts:
    def test_a_group_call_writes_a_dirty_record_and_no_account(self, engine: Engine) -> None:
        persist(
            engine,
            group("crm:1", days=1, name="Acme", website="https://www.Acme.com/about", tier="a"),
            group("crm:1", days=0, name="Acme Old", industry="retail", tier="z"),
        )
        rec = record(engine, "crm:1")
        assert rec.dirty
        assert rec.name == "Acme"  # the later event's name (event-time order)
        assert rec.domain == "acme.com"
        assert rec.traits["tier"] == "a" and rec.traits["industry"] == "retail"
        assert rec.first_seen == START and rec.last_seen == START + timedelta(days=1)
        assert account_of(engine, "crm:1") is None

    def test_a_later_call_merges_into_the_record_and_dirties_it(self, engine: Engine) -> None:
        persist(engine, group("crm:2", name="Beta", domain="beta.io", seats=5))
        with unit_of_work(engine) as session:
            absorb_account_records(session)
        assert not record(engine, "crm:2").dirty
        persist(engine, group("crm:2", days=3, seats=9, plan="pro"))
        rec = record(engine, "crm:2")
        assert rec.dirty
        assert rec.name == "Beta" and rec.domain == "beta.io"  # kept when not given again
        assert rec.traits == {"name": "Beta", "domain": "beta.io", "seats": 9, "plan": "pro"}


class TestIdentityTakesAccountRecords:
    def test_an_unknown_key_becomes_an_account_a_known_one_is_updated(self, engine: Engine) -> None:
        persist(engine, group("acct_x", name="Xylo", website="xylo.dev", size=10))
        with unit_of_work(engine) as session:
            assert absorb_account_records(session) == 1
        first = account_of(engine, "acct_x")
        assert first is not None
        assert (first.name, first.domain) == ("Xylo", "xylo.dev")
        assert first.traits == {"name": "Xylo", "website": "xylo.dev", "size": 10}
        assert not record(engine, "acct_x").dirty

        persist(engine, group("acct_x", days=2, size=20, region="EU"))
        with unit_of_work(engine) as session:
            assert absorb_account_records(session) == 1
            assert absorb_account_records(session) == 0  # nothing left dirty
        again = account_of(engine, "acct_x")
        assert again is not None and again.id == first.id
        assert (again.name, again.domain) == ("Xylo", "xylo.dev")
        assert again.traits == {"name": "Xylo", "website": "xylo.dev", "size": 20, "region": "EU"}

    def test_a_record_changed_meanwhile_stays_dirty(self, engine: Engine) -> None:
        persist(engine, group("crm:3", name="Gamma"))
        with unit_of_work(engine) as session:
            seen = dirty_account_records(session)
        persist(engine, group("crm:3", days=1, name="Gamma Corp"))  # after the read
        with unit_of_work(engine) as session:
            clear_dirty_account_records(session, seen)
        assert record(engine, "crm:3").dirty
        with unit_of_work(engine) as session:
            absorb_account_records(session)
        assert not record(engine, "crm:3").dirty
        account = account_of(engine, "crm:3")
        assert account is not None and account.name == "Gamma Corp"

    def test_a_persons_group_call_finds_its_account_in_the_same_step(self, engine: Engine) -> None:
        persist(engine, group("crm:4", user="u-ann", name="Delta", domain="delta.io"))
        with unit_of_work(engine) as session:
            step = resolve_step(session)
        assert step.accounts == 1 and step.records == 1
        account = account_of(engine, "crm:4")
        assert account is not None
        with unit_of_work(engine) as session:
            links = session.execute(select(AccountLink)).scalars().all()
            assert [(link.account_id, link.rule) for link in links] == [(account.id, "association")]


class TestTheWorkerRunsAPassForAccountRecordsAlone:
    def test_only_account_records_dirty(self, engine: Engine) -> None:
        persist(engine, group("crm:5", name="Epsilon"), group("crm:6", name="Zeta"))
        with engine.connect() as conn:
            assert dirty_backlog(conn)["backlog"] == 2
        worker = IdentityWorker(IdentityConfig(probabilistic=False), engine, heartbeat=False)
        result = worker.run_once()
        assert result.records == 0 and result.accounts == 2
        assert account_of(engine, "crm:5") is not None
        assert account_of(engine, "crm:6") is not None
        with engine.connect() as conn:
            assert dirty_backlog(conn)["backlog"] == 0
