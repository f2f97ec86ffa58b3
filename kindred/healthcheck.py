"""The read side of health: the figures behind ``/metrics`` and the verdict of ``/readyz``.

Everything is read from PostgreSQL in one short read-only transaction (``statement_timeout``
5 s) with counts on indexed predicates: ``source_records.dirty`` and ``profiles.stale`` have
partial indexes, ``dead_letters`` and ``quarantine`` are small. The big tables (``events``,
``source_records``, ``profiles``) are counted exactly while the planner's estimate
(``pg_class.reltuples``) is below :data:`EXACT_COUNT_BELOW` rows, and reported as that estimate
above it; the metric's HELP says so. Ages are computed by the database (``now() - beat_at``),
so the API host's clock does not matter.

Workers
-------
Every worker upserts one row in ``worker_heartbeats`` every ~2 s (``kindred.heartbeat``).
Measured against the threshold ``T = settings.ready_stuck_seconds`` (default 30 s) and the
horizon ``F = settings.ready_forget_seconds`` (default 600 s), a row is

* **live** if its heartbeat is at most ``T`` old,
* **dead** if it is older than ``T`` but at most ``F`` (the process died or hangs),
* **gone** if it is older than ``F``: it is ignored by ``/readyz`` and left out of the
  per-worker series of ``/metrics`` (only counted in ``kindred_workers{state="gone"}``).
  Rows of workers that died long ago (a restart gets a new worker id) therefore never keep
  the platform unready, and a kind whose every row is gone is treated like a kind that is not
  deployed (the API started alone): its backlog still shows in ``/metrics``.

``/readyz`` is unready (503) with one reason per finding when

* a live worker says it is stuck (``status.stuck``, with its ``stuck_reason``);
* a live worker has lag on its partitions and no successful unit of work
  (``last_success_at``, else its start) for more than ``T``;
* a Kafka-fed kind (``ingest``) has lag (the group's lag its workers report as
  ``status.backlog``, or their partitions' lag) and no live worker of it made progress for
  more than ``T`` — e.g. no worker got partitions after a bad rebalance. An idle worker
  without partitions next to busy ones (more workers than partitions) is no reason;
* a kind has dead rows and no live worker: for ``identity`` and ``profiles`` when their
  backlog (dirty records / stale profiles) is older than ``T``; for ``ingest`` (and any
  other kind) always, because its backlog lives in Kafka and cannot be seen from the
  database once its workers are gone, while the collector keeps accepting events;
* ``identity``/``profiles`` have live workers but their backlog is older than ``T`` and no
  live worker of that kind made progress within ``T``.

A worker that stops cleanly deletes its row (``kindred.heartbeat``); a dead row next to a
live worker of the same kind is listed (``state: "dead"``) but is no
reason: it is a scaled-down or restarted worker whose partitions went to the others.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Float, cast, func, select, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from kindred.errors import DatabaseUnavailable, ServiceUnavailable
from kindred.infra import port_open
from kindred.models import DeadLetter, Event, Profile, SourceRecord, WorkerHeartbeat
from kindred.quarantine import quarantine_counts

__all__ = [
    "EXACT_COUNT_BELOW",
    "Figures",
    "Readiness",
    "WorkerHealth",
    "WorkerView",
    "assess",
    "broker_reachable",
    "check_readiness",
    "collect_figures",
    "describe_count",
    "judge_worker",
]

#: tables whose planner estimate is at least this many rows are not counted exactly
EXACT_COUNT_BELOW = 200_000

#: worker kinds whose backlog is visible in the database: (what, count, oldest age)
_DB_BACKLOG = {"identity": "dirty records", "profiles": "stale profiles"}


@dataclass(frozen=True)
class WorkerView:
    """One ``worker_heartbeats`` row with its ages (seconds, by the database clock)."""

    worker_id: str
    kind: str
    host: str
    pid: int
    beat_age: float
    started_age: float
    success_age: float | None
    status: dict[str, Any]

    @property
    def partitions(self) -> list[str]:
        value = self.status.get("partitions") or []
        return [str(p) for p in value] if isinstance(value, list) else []

    @property
    def lag(self) -> dict[str, int]:
        value = self.status.get("lag") or {}
        if not isinstance(value, dict):
            return {}
        return {str(k): _int(v) for k, v in value.items()}

    @property
    def total_lag(self) -> int:
        return sum(max(v, 0) for v in self.lag.values())

    @property
    def backlog(self) -> int:
        """The worker's own view of the work waiting (ingest: the consumer group's lag)."""
        return max(self.counter("backlog"), 0)

    @property
    def progress_age(self) -> float:
        """Seconds since the last successful unit of work (since the start if none yet)."""
        return self.success_age if self.success_age is not None else self.started_age

    def counter(self, key: str) -> int:
        return _int(self.status.get(key))

    def seconds(self, key: str) -> float | None:
        """A duration the worker reported (None when it reported none)."""
        value = self.status.get(key)
        return float(value) if isinstance(value, int | float) else None


@dataclass(frozen=True)
class Figures:
    """What ``/metrics`` exposes and ``/readyz`` judges, read in one transaction."""

    events: int
    events_estimated: bool
    source_records: int
    source_records_estimated: bool
    profiles: int
    profiles_estimated: bool
    dirty_records: int
    oldest_dirty_age: float | None
    stale_profiles: int
    oldest_stale_age: float | None
    dead_letters: int
    dead_letters_pending: int
    quarantine: dict[str, int]
    workers: list[WorkerView]

    def backlog(self, kind: str) -> tuple[int, float | None]:
        """(size, age of the oldest item) of the database backlog a worker kind drains."""
        if kind == "identity":
            return self.dirty_records, self.oldest_dirty_age
        if kind == "profiles":
            return self.stale_profiles, self.oldest_stale_age
        return 0, None


@dataclass
class WorkerHealth:
    view: WorkerView
    state: str  # live | dead | gone
    problems: list[str] = field(default_factory=list)

    @property
    def stuck(self) -> bool:
        return bool(self.problems)

    def as_json(self) -> dict[str, Any]:
        v = self.view
        return {
            "worker_id": v.worker_id,
            "kind": v.kind,
            "host": v.host,
            "pid": v.pid,
            "state": self.state,
            "stuck": self.stuck,
            "problems": list(self.problems),
            "heartbeat_age_seconds": round(v.beat_age, 1),
            "last_success_age_seconds": (
                None if v.success_age is None else round(v.success_age, 1)
            ),
            "partitions": v.partitions,
            "lag": v.total_lag,
            "batches": v.counter("batches"),
            "errors": v.counter("errors"),
            "deadlock_retries": v.counter("deadlock_retries"),
            "last_error": v.status.get("last_error"),
        }


@dataclass
class Readiness:
    checks: dict[str, bool]
    reasons: list[str]
    workers: list[WorkerHealth]

    @property
    def ready(self) -> bool:
        return all(self.checks.values()) and not self.reasons

    def as_json(self) -> dict[str, Any]:
        return {
            "status": "ready" if self.ready else "unavailable",
            "checks": dict(self.checks),
            "reasons": list(self.reasons),
            "workers": [w.as_json() for w in self.workers],
        }


# ---------------------------------------------------------------------------------- reading


def collect_figures(session: Session) -> Figures:
    """Read every figure; :class:`DatabaseUnavailable` (503) if the database cannot answer."""
    try:
        return _collect(session)
    except _OUTAGES as err:
        _rollback(session)
        raise DatabaseUnavailable(f"database unavailable: {_short(err)}") from err


#: errors that mean the database cannot answer now (not a bug of ours): 503, not 500
_OUTAGES = (
    sa_exc.OperationalError,  # no connection, shutting down, statement timeout
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,  # connection pool exhausted
)


def _rollback(session: Session) -> None:
    # the connection may be gone: the first error is the story
    with contextlib.suppress(sa_exc.SQLAlchemyError):
        session.rollback()


def _collect(session: Session) -> Figures:
    session.execute(text("SET LOCAL statement_timeout = 5000"))
    events, events_est = _count(session, Event.__tablename__)
    records, records_est = _count(session, SourceRecord.__tablename__)
    profiles, profiles_est = _live_profiles(session)
    dirty, oldest_dirty = session.execute(
        select(func.count(), _age(func.min(SourceRecord.updated_at))).where(SourceRecord.dirty)
    ).one()
    stale, oldest_stale = session.execute(
        select(func.count(), _age(func.min(Profile.stale_since))).where(Profile.stale)
    ).one()
    letters, pending = session.execute(
        select(
            func.count(),
            func.count().filter(DeadLetter.replayed_at.is_(None)),
        )
    ).one()
    hb = WorkerHeartbeat
    rows = session.execute(
        select(
            hb.worker_id,
            hb.kind,
            hb.host,
            hb.pid,
            _age(hb.beat_at),
            _age(hb.started_at),
            _age(hb.last_success_at),
            hb.status,
        ).order_by(hb.kind, hb.worker_id)
    ).all()
    workers = [
        WorkerView(
            worker_id=r[0],
            kind=r[1],
            host=r[2],
            pid=r[3],
            beat_age=_seconds(r[4]),
            started_age=_seconds(r[5]),
            success_age=None if r[6] is None else _seconds(r[6]),
            status=r[7] if isinstance(r[7], dict) else {},
        )
        for r in rows
    ]
    return Figures(
        events=events,
        events_estimated=events_est,
        source_records=records,
        source_records_estimated=records_est,
        profiles=profiles,
        profiles_estimated=profiles_est,
        dirty_records=int(dirty),
        oldest_dirty_age=None if oldest_dirty is None else _seconds(oldest_dirty),
        stale_profiles=int(stale),
        oldest_stale_age=None if oldest_stale is None else _seconds(oldest_stale),
        dead_letters=int(letters),
        dead_letters_pending=int(pending),
        quarantine=quarantine_counts(session),
        workers=workers,
    )


def _age(column: Any) -> Any:
    """Seconds from ``column`` to the transaction's ``now()``, as a float (NULL stays NULL)."""
    return cast(func.extract("epoch", func.now() - column), Float)


def _estimate(session: Session, table: str) -> int:
    value = session.execute(
        text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:t)"), {"t": table}
    ).scalar()
    return int(value) if value is not None and value > 0 else 0


def _count(session: Session, table: str) -> tuple[int, bool]:
    """(rows, estimated?): exact below :data:`EXACT_COUNT_BELOW`, else the planner's figure."""
    estimate = _estimate(session, table)
    if estimate >= EXACT_COUNT_BELOW:
        return estimate, True
    # the table name is one of ours, never user input
    return int(session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()), False


def _live_profiles(session: Session) -> tuple[int, bool]:
    estimate = _estimate(session, Profile.__tablename__)
    if estimate >= EXACT_COUNT_BELOW:
        merged = session.execute(
            select(func.count()).where(Profile.merged_into.is_not(None))
        ).scalar_one()
        return max(estimate - int(merged), 0), True
    live = session.execute(
        select(func.count()).select_from(Profile).where(Profile.merged_into.is_(None))
    ).scalar_one()
    return int(live), False


# --------------------------------------------------------------------------------- judging


def assess(
    figures: Figures, *, stuck_seconds: float, forget_seconds: float
) -> tuple[list[WorkerHealth], list[str]]:
    """Every worker's state and problems, and the reasons the pipeline is not ready."""
    healths = [judge_worker(w, stuck_seconds, forget_seconds) for w in figures.workers]
    reasons = [f"{h.view.kind} worker {h.view.worker_id}: {p}" for h in healths for p in h.problems]
    kinds = sorted({h.view.kind for h in healths if h.state != "gone"})
    for kind in kinds:
        mine = [h for h in healths if h.view.kind == kind and h.state != "gone"]
        live = [h for h in mine if h.state == "live"]
        size, oldest = figures.backlog(kind)
        aged = size > 0 and oldest is not None and oldest > stuck_seconds
        backlog = f"{size} {_DB_BACKLOG.get(kind, 'items')}, the oldest {oldest or 0:.0f} s old"
        if not live:
            last = min(h.view.beat_age for h in mine)
            if kind not in _DB_BACKLOG:
                lag = max(max(h.view.total_lag, h.view.backlog) for h in mine)
                reasons.append(
                    f"{kind}: no live worker (last heartbeat {last:.0f} s ago, last known lag "
                    f"{lag}); nothing consumes what the collector accepts"
                )
            elif aged:
                reasons.append(
                    f"{kind}: {backlog}, and no live worker (last heartbeat {last:.0f} s ago)"
                )
        else:
            progress = min(h.view.progress_age for h in live)
            if progress <= stuck_seconds:
                continue
            if kind in _DB_BACKLOG:
                if aged:
                    reasons.append(
                        f"{kind}: {backlog}, and no worker made progress for {progress:.0f} s"
                    )
                continue
            # a Kafka backlog: the group's lag the workers report, or their partitions' lag
            lag = max(max(h.view.total_lag, h.view.backlog) for h in live)
            if lag > 0 and not any(h.problems for h in live):
                assigned = sum(len(h.view.partitions) for h in live)
                where = (
                    f"no partitions assigned to any of {len(live)} live workers"
                    if assigned == 0
                    else f"{assigned} partitions assigned to {len(live)} live workers"
                )
                reasons.append(
                    f"{kind}: lag {lag} and no worker made progress for {progress:.0f} s ({where})"
                )
    shown = [h for h in healths if h.state != "gone"]
    return shown, reasons


def judge_worker(view: WorkerView, stuck_seconds: float, forget_seconds: float) -> WorkerHealth:
    if view.beat_age > forget_seconds:
        return WorkerHealth(view, "gone")
    if view.beat_age > stuck_seconds:
        return WorkerHealth(view, "dead")
    health = WorkerHealth(view, "live")
    if view.status.get("stuck"):
        why = view.status.get("stuck_reason") or "reported by the worker"
        health.problems.append(f"stuck: {why}")
    lag = view.total_lag
    if lag > 0 and view.progress_age > stuck_seconds:
        where = "no partitions assigned" if not view.partitions else "partitions assigned"
        health.problems.append(
            f"{where}, no successful batch for {view.progress_age:.0f} s with lag {lag}"
        )
    return health


def broker_reachable(bootstrap: str, *, timeout: float = 1.0) -> bool:
    """Whether one of the bootstrap servers accepts a TCP connection."""
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        if port.isdigit() and port_open(host or "127.0.0.1", int(port), timeout=timeout):
            return True
    return False


def check_readiness(
    session: Session,
    *,
    bootstrap: str,
    stuck_seconds: float,
    forget_seconds: float,
) -> Readiness:
    """Database, broker and workers; never raises for an outage (it is a reason)."""
    checks = {"database": True, "kafka": broker_reachable(bootstrap), "workers": True}
    reasons: list[str] = []
    healths: list[WorkerHealth] = []
    try:
        figures = collect_figures(session)
    except ServiceUnavailable as err:
        checks["database"] = False
        reasons.append(err.message)
    except sa_exc.SQLAlchemyError as err:  # e.g. migrations not applied: not ready either
        _rollback(session)
        checks["database"] = False
        reasons.append(f"database error: {_short(err)}")
    else:
        healths, worker_reasons = assess(
            figures, stuck_seconds=stuck_seconds, forget_seconds=forget_seconds
        )
        checks["workers"] = not worker_reasons
        reasons.extend(worker_reasons)
    if not checks["kafka"]:
        reasons.insert(0 if checks["database"] else 1, f"kafka: no broker answers at {bootstrap}")
    return Readiness(checks=checks, reasons=reasons, workers=healths)


def describe_count(what: str, estimated: bool) -> str:
    """How a table's figure was counted, for a metric's HELP (see :func:`collect_figures`)."""
    if estimated:
        return f"{what} (planner estimate pg_class.reltuples: the table is large)"
    return f"{what} (exact below {EXACT_COUNT_BELOW} rows, planner estimate above)"


def _seconds(value: Any) -> float:
    return max(float(value), 0.0)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _short(err: BaseException) -> str:
    first = str(getattr(err, "orig", None) or err).strip().splitlines()
    return first[0][:200] if first else type(err).__name__
