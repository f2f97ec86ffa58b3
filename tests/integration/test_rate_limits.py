"""Rate limits that hold across API processes: one budget per bucket, kept in PostgreSQL.

Two apps on one database stand for two API processes: each has its own limiter (its own
pool and leases), so a per-process limiter would let twice the budget through.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime

import httpx
import pytest
from sqlalchemy import Engine, create_engine, func, select, text

from kindred.db import unit_of_work
from kindred.models import RateLimitBucket, Segment
from kindred.ratelimit import RateLimit, RateLimiter, shared_limiter
from kindred.settings import Settings
from tests.helpers import basic, bearer, free_port, live_server, make_api_key, make_source, message

pytestmark = pytest.mark.integration

#: a refill so slow that none happens during a test: a bucket holds exactly its burst
NO_REFILL = 0.001


def limiter(engine: Engine, settings: Settings, *, lease_seconds: float = 0.0) -> RateLimiter:
    made = shared_limiter(engine, settings)
    made.lease_seconds = lease_seconds
    return made


def buckets(engine: Engine) -> dict[str, tuple[float, datetime]]:
    with unit_of_work(engine) as session:
        rows = session.execute(
            select(RateLimitBucket.key, RateLimitBucket.tokens, RateLimitBucket.updated_at)
        )
        return {key: (tokens, updated_at) for key, tokens, updated_at in rows}


@pytest.fixture
def two_servers(settings: Settings, engine: Engine) -> Iterator[tuple[str, str]]:
    with ExitStack() as stack:
        first = stack.enter_context(live_server(settings, engine))
        second = stack.enter_context(live_server(settings, engine))
        yield first, second


class TestSharedBucket:
    def test_empties_refills_and_is_per_key(self, engine: Engine, settings: Settings) -> None:
        shared = limiter(engine, settings)
        try:
            limit = RateLimit(rate=2.0, burst=3.0)
            assert [shared.take("k", limit) for _ in range(3)] == [0.0, 0.0, 0.0]
            before = buckets(engine)["k"]
            wait = shared.take("k", limit)
            assert 0 < wait <= 0.5 + 1e-6  # one token at 2/s
            assert buckets(engine)["k"] == before  # a refusal writes nothing
            assert shared.take("other", limit) == 0.0  # per key
            assert shared.stats["refused"] == 1 and shared.stats["statements"] == 5
            assert 0 < shared.take("k", limit) < wait  # remembered: no statement
            assert shared.stats["statements"] == 5
            shared.forget()
            with engine.begin() as conn:  # one second passes for the bucket
                conn.execute(
                    text("UPDATE rate_limits SET updated_at = updated_at - interval '1 second'")
                )
            # 2 tokens refilled (+ a few ms' worth)
            assert [shared.take("k", limit) > 0 for _ in range(3)] == [False, False, True]
        finally:
            shared.close()

    def test_two_processes_with_leases_stay_within_the_budget(
        self, engine: Engine, settings: Settings
    ) -> None:
        """Each limiter takes leases of 10 tokens; 8 threads over both fire 4x the burst.
        Never more than the burst (+ the refill) is granted, and at most (lease - 1) per
        process is lost to leases held elsewhere."""
        processes = [limiter(engine, settings, lease_seconds=10.0) for _ in range(2)]
        limit = RateLimit(rate=1.0, burst=100.0)
        assert processes[0].lease_size(limit) == 10
        granted = [0] * 8
        lock = threading.Lock()

        def fire(index: int) -> None:
            shared = processes[index % 2]
            mine = sum(shared.take("lease", limit) == 0 for _ in range(50))
            with lock:
                granted[index] = mine

        started = time.monotonic()
        threads = [threading.Thread(target=fire, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        elapsed = time.monotonic() - started
        try:
            total = sum(granted)
            assert 100 - 2 * 9 <= total <= 100 + limit.rate * elapsed + 1, (total, elapsed)
            statements = sum(p.stats["statements"] for p in processes)
            # leases and remembered refusals: far fewer statements than requests
            assert statements < 400 / 4, statements
        finally:
            for shared in processes:
                shared.close()

    def test_database_down_fails_open(self, settings: Settings) -> None:
        dead = create_engine(
            f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/nothing",
            isolation_level="AUTOCOMMIT",
            connect_args={"connect_timeout": 2},
        )
        shared = RateLimiter(dead, retry_every=60.0)
        limit = RateLimit(rate=1.0, burst=1.0)
        try:
            assert [shared.take("k", limit) for _ in range(3)] == [0.0, 0.0, 0.0]
            assert shared.stats["failed_open"] == 3 and shared.stats["statements"] == 0
        finally:
            shared.close()


class TestCollectorBudget:
    def test_two_api_processes_share_a_source_budget(
        self, engine: Engine, two_servers: tuple[str, str]
    ) -> None:
        budget = 10
        config = {"rate_limit": {"requests_per_second": NO_REFILL, "burst": budget}}
        _, key = make_source(engine, name="shared-site", config=config)
        answers = [
            httpx.post(
                f"{two_servers[i % 2]}/v1/track",
                headers=basic(key),
                json=message("track", userId=f"u{i}", event="Clicked"),
            )
            for i in range(2 * budget)
        ]
        accepted = [r for r in answers if r.status_code == 200]
        refused = [r for r in answers if r.status_code != 200]
        # lease 1 (a tenth of the burst): exact; and no refill to speak of
        assert len(accepted) == budget
        assert {r.status_code for r in refused} == {429}
        for r in refused:
            assert int(r.headers["Retry-After"]) >= 1
            assert r.json()["code"] == r.json()["error"]["code"] == "rate_limited"
        # both processes answered some of each
        assert (
            {r.url.port for r in accepted}
            == {r.url.port for r in refused}
            == {httpx.URL(url).port for url in two_servers}
        )

    def test_per_source_config_is_honoured(
        self, engine: Engine, two_servers: tuple[str, str]
    ) -> None:
        _, tight = make_source(
            engine,
            name="tight",
            config={"rate_limit": {"requests_per_second": NO_REFILL, "burst": 3}},
        )
        _, roomy = make_source(engine, name="roomy")  # the default: 500/s, burst 1000

        def codes(key: str, n: int) -> list[int]:
            return [
                httpx.post(
                    f"{two_servers[i % 2]}/v1/batch",
                    headers=basic(key),
                    json={"batch": [message("track", userId="u", event="E")]},
                ).status_code
                for i in range(n)
            ]

        assert codes(tight, 5) == [200, 200, 200, 429, 429]
        assert codes(roomy, 5) == [200] * 5
        assert buckets(engine).keys() == {"source:tight", "source:roomy"}


class TestReadApiBudget:
    @pytest.fixture
    def tight_servers(self, settings: Settings, engine: Engine) -> Iterator[tuple[str, str]]:
        tight = settings.model_copy(update={"read_rate_limit": NO_REFILL, "read_rate_burst": 4})
        with live_server(tight, engine) as first, live_server(tight, engine) as second:
            yield first, second

    def test_one_key_throttled_across_processes_another_unaffected(
        self, engine: Engine, tight_servers: tuple[str, str]
    ) -> None:
        busy = make_api_key(engine, "read", "write")
        calm = make_api_key(engine, "read")
        answers = [
            httpx.get(f"{tight_servers[i % 2]}/v1/segments", headers=bearer(busy)) for i in range(8)
        ]
        assert [r.status_code for r in answers] == [200] * 4 + [429] * 4
        refused = answers[-1]
        assert int(refused.headers["Retry-After"]) >= 1
        assert refused.json()["error"]["code"] == "rate_limited"
        assert "code" not in refused.json()  # the read API's shape, not Segment's
        for url in tight_servers:
            assert httpx.get(f"{url}/v1/segments", headers=bearer(calm)).status_code == 200

        # a throttled write does nothing
        created = httpx.post(
            f"{tight_servers[0]}/v1/segments",
            headers=bearer(busy),
            json={"name": "late", "rules": {"trait": "plan", "op": "eq", "value": "PRO"}},
        )
        assert created.status_code == 429
        with unit_of_work(engine) as session:
            assert session.scalar(select(func.count()).select_from(Segment)) == 0

        # an unknown key is a 401 and gets no bucket
        unknown = httpx.get(f"{tight_servers[0]}/v1/segments", headers=bearer("kd_nope"))
        assert unknown.status_code == 401
        assert len(buckets(engine)) == 2
