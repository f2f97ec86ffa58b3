"""Token buckets shared by every API process, kept in PostgreSQL (table ``rate_limits``).

One limiter serves the collector (a bucket per source: ``source:<name>``, sized by the
source config's ``rate_limit``) and the read API (a bucket per API key: ``api_key:<id>``,
sized by ``Settings.read_rate_limit`` / ``read_rate_burst``). N API processes share one
budget because the bucket lives in one row that all of them update.

Taking tokens is one statement, one round trip, on the limiter's own small autocommit pool
(never the request's session: the row lock lasts one statement, not a request, and a 429
writes nothing else). The statement refills the bucket by the time elapsed on the
database's clock, then takes up to a lease of tokens if at least one is there; a refusal
writes nothing and returns the level, from which ``Retry-After`` is computed.

**Leases.** A process may take several tokens at once (``lease_seconds`` of the bucket's
rate, at least 1, at most a tenth of the burst and ``MAX_LEASE``) and hand them out from
memory; unused ones expire after ``lease_ttl``. So at high rates there is one statement per
lease, not per request. A refusal is remembered too (until a token can be there, at most
``lease_ttl``): a flood over the budget costs one statement per second and process, not one
per request. Tolerance: the global budget is never exceeded (every token handed
out was taken from the row); a bucket may refuse early by at most ``(lease - 1)`` tokens per
other process (held there, or expired unused). With the defaults (10 ms of the rate) a bucket
of 50/s or less is exact (lease 1); at 500/s the lease is 5.

**Failure.** When the database cannot be reached (or the statement times out), the limiter
fails open: the request goes on, and the database is left alone for ``retry_every`` seconds
so an outage costs no connect timeout per request. A request that needs the database
answers 503 on its own; the collector's durable part is the broker.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy import exc as sa_exc

from kindred.db import follow_embedded
from kindred.errors import KindredError
from kindred.settings import Settings

log = logging.getLogger(__name__)

#: the most tokens one process takes at once
MAX_LEASE = 100


@dataclass(frozen=True)
class RateLimit:
    """A token bucket: ``rate`` requests per second on average, bursts up to ``burst``."""

    rate: float = 500.0
    burst: float = 1000.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any], default: RateLimit) -> RateLimit:
        """``config["rate_limit"] = {"requests_per_second": r, "burst": b}`` overrides."""
        raw = config.get("rate_limit")
        if not isinstance(raw, Mapping):
            return default
        try:
            rate = float(raw.get("requests_per_second", default.rate))
            burst = float(raw.get("burst", max(1.0, rate * 2)))
        except (TypeError, ValueError):
            return default
        if not (rate > 0 and math.isfinite(rate)) or not (burst >= 1 and math.isfinite(burst)):
            return default
        return cls(rate=rate, burst=burst)


def retry_after(wait: float) -> str:
    """The ``Retry-After`` header value (whole seconds, at least 1)."""
    return str(max(1, math.ceil(wait)))


class RateLimited(KindredError):
    """429: the key's bucket is empty; ``retry_after`` is the header value."""

    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, wait: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after(wait)


def _available(alias: str) -> str:
    """The bucket's level now: refilled by the elapsed time, capped at the burst."""
    return (
        f"least(:burst, {alias}.tokens + :rate * "
        f"greatest(0.0, extract(epoch FROM now() - {alias}.updated_at)::float8))"
    )


# Autocommit: ``now()`` is this statement's start. Concurrent takers of one key queue on the
# row lock and each sees the row its predecessor wrote (READ COMMITTED re-check), so the
# refill is counted once (``updated_at`` never moves back). The ``WHERE`` skips the update
# when not even one token is there; the second branch then reads the level (for
# ``Retry-After``) from the statement's snapshot.
TAKE = text(
    f"""
WITH up AS (
    INSERT INTO rate_limits AS b (key, tokens, taken, updated_at)
    VALUES (:key, :burst - least(:want, floor(:burst)), least(:want, floor(:burst)), now())
    ON CONFLICT (key) DO UPDATE SET
        taken = least(:want, floor({_available("b")})),
        tokens = {_available("b")} - least(:want, floor({_available("b")})),
        updated_at = greatest(b.updated_at, now())
    WHERE {_available("b")} >= 1
    RETURNING b.taken, b.tokens
)
SELECT taken, tokens FROM up
UNION ALL
SELECT 0.0::float8, {_available("r")} FROM rate_limits r
WHERE r.key = :key AND NOT EXISTS (SELECT FROM up)
"""
)


@dataclass
class _Lease:
    tokens: int
    expires: float


class RateLimiter:
    """Shared token buckets (see the module docstring). Thread-safe; one per API app."""

    def __init__(
        self,
        engine: Engine,
        *,
        lease_seconds: float = 0.0,
        lease_ttl: float = 1.0,
        retry_every: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        #: an engine whose connections autocommit (``shared_limiter`` builds one)
        self.engine = engine
        self.lease_seconds = lease_seconds
        self.lease_ttl = lease_ttl
        self.retry_every = retry_every
        self._clock = clock
        self._leases: dict[str, _Lease] = {}
        #: key -> (until when a refusal is answered from memory, when a token is there)
        self._refused: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self._down_until = 0.0
        #: statements run, tokens granted/refused, requests let through while failing open
        self.stats: Counter[str] = Counter()

    def lease_size(self, limit: RateLimit) -> int:
        by_rate = int(limit.rate * self.lease_seconds)
        return max(1, min(by_rate, int(limit.burst // 10), MAX_LEASE))

    def take_local(self, key: str) -> float | None:
        """Answer from this process's memory, without I/O (the async fast path): 0.0 for a
        token of the lease, the seconds left for a refusal still known, None to ask the
        database."""
        now = self._clock()
        with self._lock:
            # a token this process holds is a token, whatever another thread was refused
            lease = self._leases.get(key)
            if lease is not None:
                if now < lease.expires:
                    lease.tokens -= 1
                    if lease.tokens <= 0:
                        del self._leases[key]
                    return 0.0
                del self._leases[key]
            refused = self._refused.get(key)
            if refused is not None:
                until, token_at = refused
                if now < until:
                    self.stats["refused_locally"] += 1
                    return token_at - now
                del self._refused[key]
            return None

    def take(self, key: str, limit: RateLimit) -> float:
        """Take one token; 0 when allowed, else the seconds until one is likely there."""
        local = self.take_local(key)
        if local is not None:
            return local
        if self._clock() < self._down_until:
            self.stats["failed_open"] += 1
            return 0.0
        want = self.lease_size(limit)
        params = {"key": key, "rate": limit.rate, "burst": limit.burst, "want": float(want)}
        try:
            with self.engine.connect() as conn:
                row = conn.execute(TAKE, params).first()
        except (sa_exc.DBAPIError, sa_exc.TimeoutError) as err:
            self._down_until = self._clock() + self.retry_every
            self.stats["failed_open"] += 1
            log.warning(
                "rate limiter: database unavailable, letting requests through for %.0f s: %s",
                self.retry_every,
                str(err).splitlines()[0] if str(err) else type(err).__name__,
            )
            return 0.0
        self.stats["statements"] += 1
        taken, level = (int(row[0]), float(row[1])) if row is not None else (0, 0.0)
        if taken < 1:
            self.stats["refused"] += 1
            wait = max(1.0 - level, 0.0) / limit.rate or 1.0 / limit.rate
            now = self._clock()
            with self._lock:  # no token can be there sooner: refuse from memory meanwhile
                self._refused[key] = (now + min(wait, self.lease_ttl), now + wait)
            return wait
        self.stats["granted"] += taken
        with self._lock:
            self._refused.pop(key, None)  # the budget had tokens after all
            if taken > 1:
                lease = self._leases.setdefault(key, _Lease(0, 0.0))
                lease.tokens += taken - 1
                lease.expires = self._clock() + self.lease_ttl
        return 0.0

    def forget(self) -> None:
        """Drop this process's leases (their tokens are lost to the budget) and refusals."""
        with self._lock:
            self._leases.clear()
            self._refused.clear()

    def close(self) -> None:
        self.forget()
        self.engine.dispose()


def shared_limiter(engine: Engine, settings: Settings) -> RateLimiter:
    """A limiter on the database of ``engine``, with its own small autocommit pool: a
    request holding a pooled connection never waits for a second one from the same pool,
    and no pre-ping round trip (a dead connection fails one take, open). Connections give
    up fast (connect 2 s, statement 1 s, pool wait 0.5 s): the limiter must not be what
    makes a request slow. ``synchronous_commit=off``: a take does not wait for the WAL
    flush (a crash may forget the last takes, i.e. hand out a little more budget once)."""
    limiter_engine = create_engine(
        engine.url,
        pool_size=2,
        max_overflow=6,
        pool_timeout=0.5,
        isolation_level="AUTOCOMMIT",
        # a bucket's last few hundred ms may be lost in a crash: no WAL flush per take
        connect_args={
            "connect_timeout": 2,
            "options": "-c statement_timeout=1000 -c synchronous_commit=off",
        },
    )
    if not settings.database_url:  # the embedded server: follow it if it moves port
        follow_embedded(limiter_engine, settings)
    return RateLimiter(limiter_engine, lease_seconds=settings.rate_limit_lease_seconds)
