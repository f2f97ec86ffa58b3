"""Worker heartbeats: each worker keeps one row of ``worker_heartbeats`` current.

A ``Heartbeat`` runs a small daemon thread that upserts the row every ``every`` seconds (also
while the worker is idle or busy in a long batch), each time in its own short transaction; a
database that is down is logged and skipped, never raised into the worker. The worker reports
into it from its own thread (``success``, ``failure``, ``update``); all methods are
thread-safe. ``/readyz`` and ``/metrics`` read the rows; a clean stop deletes the row.

``status`` keys (a contract: the API and the fault bench read them): ``partitions`` (list of
"topic:partition"), ``lag`` ("topic:partition" -> messages behind), ``batches``, ``errors``
(consecutive failures), ``deadlock_retries``, ``last_error``, ``stuck``, ``stuck_reason``,
``backlog`` (dirty records for identity, stale profiles for profiles, the consumer group's
total lag for ingest).

Stuck, for workers that let the heartbeat judge (identity, profiles): work is waiting
(``backlog > 0``) and nothing succeeded for ``stuck_after`` seconds while failing, or for three
times that at all (a hung pass). The ingest worker judges itself (it knows its partitions).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

from kindred.dberrors import describe
from kindred.models.ops import WorkerHeartbeat

log = logging.getLogger(__name__)

#: Reads the worker's backlog (or other status fields) inside the heartbeat's transaction.
Probe = Callable[[Connection], dict[str, Any]]


def worker_id(kind: str) -> str:
    return f"{kind}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Heartbeat:
    def __init__(
        self,
        engine: Engine,
        *,
        kind: str,
        every: float = 2.0,
        stuck_after: float = 20.0,
        probe: Probe | None = None,
        judge_stuck: bool = True,
    ) -> None:
        self.engine = engine
        self.kind = kind
        self.every = every
        self.stuck_after = stuck_after
        self.probe = probe
        self.judge_stuck = judge_stuck
        self.worker_id = worker_id(kind)
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.started_at = datetime.now(UTC)
        self._started = time.monotonic()
        self._lock = threading.Lock()
        self._status: dict[str, Any] = {
            "partitions": [],
            "lag": {},
            "batches": 0,
            "errors": 0,
            "deadlock_retries": 0,
            "last_error": None,
            "stuck": False,
            "stuck_reason": None,
            "backlog": None,
        }
        self._last_success_at: datetime | None = None
        self._last_success = 0.0  # monotonic
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._down = False  # the last write failed (log once per outage)

    # ----------------------------------------------------------------- worker side

    def success(self, **fields: Any) -> None:
        """A unit of work (batch, pass, tick) ended well: count it, clear the failure streak."""
        with self._lock:
            self._status["batches"] += 1
            self._status["errors"] = 0
            self._status.update(fields)
            self._last_success_at = datetime.now(UTC)
            self._last_success = time.monotonic()

    def note(self, **fields: Any) -> None:
        """Set status fields (e.g. the last pass's duration) without counting a unit of work."""
        with self._lock:
            self._status.update(fields)

    def failure(self, err: BaseException | str, *, deadlock: bool = False) -> None:
        """A unit of work failed. A deadlock is counted apart (it is retried at once and is not
        a failure streak)."""
        with self._lock:
            if deadlock:
                self._status["deadlock_retries"] += 1
            else:
                self._status["errors"] += 1
            self._status["last_error"] = _describe(err)

    def update(self, **fields: Any) -> None:
        with self._lock:
            self._status.update(fields)

    def seconds_since_success(self) -> float:
        with self._lock:
            return time.monotonic() - (self._last_success or self._started)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            status = dict(self._status)
            status["partitions"] = list(status["partitions"])
            status["lag"] = dict(status["lag"])
            return status

    # ----------------------------------------------------------------- writer

    def start(self) -> Heartbeat:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"heartbeat-{self.kind}", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop beating and delete the row (a clean stop is not a dead worker)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.every + 10)
            self._thread = None
        try:
            with self.engine.begin() as conn:
                _short(conn)
                conn.execute(
                    delete(WorkerHeartbeat).where(WorkerHeartbeat.worker_id == self.worker_id)
                )
        except Exception as err:  # the row then ages out; readers treat old rows as dead
            log.warning("heartbeat %s: could not delete the row: %s", self.worker_id, err)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.beat()
            self._stop.wait(self.every)

    def beat(self) -> bool:
        """Write the row now; returns whether it was written. Never raises."""
        try:
            with self.engine.begin() as conn:
                _short(conn)
                if self.probe is not None:
                    found = self.probe(conn)
                    with self._lock:
                        self._status.update(found)
                if self.judge_stuck:
                    self._judge()
                status = self.snapshot()
                with self._lock:
                    last_success_at = self._last_success_at
                values = {
                    "worker_id": self.worker_id,
                    "kind": self.kind,
                    "host": self.host[:200],
                    "pid": self.pid,
                    "started_at": self.started_at,
                    "beat_at": datetime.now(UTC),
                    "last_success_at": last_success_at,
                    "status": status,
                }
                stmt = pg_insert(WorkerHeartbeat).values(**values)
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=[WorkerHeartbeat.worker_id],
                        set_={
                            "beat_at": stmt.excluded.beat_at,
                            "last_success_at": stmt.excluded.last_success_at,
                            "status": stmt.excluded.status,
                        },
                    )
                )
        except Exception as err:
            if not self._down:
                log.warning(
                    "heartbeat %s: cannot write (%s); will keep trying", self.worker_id, err
                )
            self._down = True
            return False
        if self._down:
            log.info("heartbeat %s: writing again", self.worker_id)
        self._down = False
        return True

    def _judge(self) -> None:
        with self._lock:
            status = self._status
            backlog = status.get("backlog") or 0
            idle_for = time.monotonic() - (self._last_success or self._started)
            reason = None
            if backlog > 0 and status["errors"] > 0 and idle_for > self.stuck_after:
                reason = (
                    f"{status['errors']} failures in a row and no success for {idle_for:.0f}s "
                    f"with a backlog of {backlog}: {status['last_error']}"
                )
            elif backlog > 0 and idle_for > 3 * self.stuck_after:
                reason = f"no success for {idle_for:.0f}s with a backlog of {backlog}"
            status["stuck"] = reason is not None
            status["stuck_reason"] = reason


def _short(conn: Connection) -> None:
    """Heartbeat statements must never queue behind locks for long."""
    conn.execute(text("SET LOCAL statement_timeout = '5s'"))
    conn.execute(text("SET LOCAL lock_timeout = '2s'"))


def _describe(err: BaseException | str) -> str:
    return err[:500] if isinstance(err, str) else describe(err, limit=500)
