"""The identity worker: resolves dirty source records continuously, in micro-batches.

Each pass is two transactions: the dirty account records first, when no other worker is
taking them (a pass with nothing else to do still takes them: CRM company rows carry no
person), then ``resolve_step`` over the dirty records this worker *claimed*.

Several identity workers run at once (``kindred worker identity`` started N times, or
``--concurrency N``): each claims disjoint dirty records (advisory claim locks, skipped by
the others), locks the identifier values of its records and the profiles its pass touches in
a fixed order, and retries the pass when another worker merged one of them meanwhile or a
deadlock was detected. They hold the graph lock shared; a batch run or an erasure holds it
exclusive, so they pause for it. Merges are published to the ``kindred.identity.changes``
topic after the commit.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.process import BaseProcess

from kafka import KafkaProducer
from sqlalchemy import Engine

from identity.accounts import absorb_account_records
from identity.merge import lock_accounts
from identity.repository import dirty_backlog
from identity.service import ResolveResult, dirty_record_ids, resolve_step, share_resolver
from identity.streaming import RefineResult, SplinkScorer, refine_singletons
from kindred.db import unit_of_work
from kindred.heartbeat import Heartbeat
from kindred.kafka import close_now, ensure_topics, make_producer, send_all
from kindred.quarantine import (
    DEFAULT_MAX_ATTEMPTS,
    KIND_RECORD,
    clear_failures,
    has_pending_failures,
    quarantine_failures,
    run_isolated,
)
from kindred.signals import stop_on_signals
from kindred.workloop import Retry, run_loop

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IdentityConfig:
    batch_size: int = 1000
    idle_sleep: float = 0.05
    changes_topic: str | None = None
    bootstrap: str | None = None
    probabilistic: bool = True
    #: score leftovers in a second stage (deterministic links are then never held up by the
    #: model); off by default until it beats the single stage in `bench identity-stream`
    two_stage: bool = False
    #: a record whose resolution fails this many passes in a row is quarantined (skipped
    #: until released with ``kindred dlq``); the rest of its pass is resolved all the same
    max_attempts: int = DEFAULT_MAX_ATTEMPTS


class IdentityWorker:
    def __init__(
        self,
        config: IdentityConfig,
        engine: Engine,
        *,
        stuck_after: float = 15.0,
        heartbeat_every: float = 2.0,
        heartbeat: bool = True,
    ) -> None:
        self.config = config
        self.engine = engine
        self._stop = threading.Event()
        self._producer: KafkaProducer | None = None
        self.resolved = 0
        self.scorer = SplinkScorer() if config.probabilistic else None
        #: backlog = dirty source and account records (capped counts, read by the heartbeat)
        self.heartbeat = (
            Heartbeat(
                engine,
                kind="identity",
                every=heartbeat_every,
                stuck_after=stuck_after,
                probe=dirty_backlog,
            )
            if heartbeat
            else None
        )

    def stop(self) -> None:
        self._stop.set()

    def install_signal_handlers(self) -> None:
        stop_on_signals(self.stop, name="identity worker")

    def run_once(self) -> ResolveResult:
        """One pass: deterministic links, plus model scoring of records without one (unless
        the second stage does that)."""
        scorer = None if self.config.two_stage else self.scorer

        result = ResolveResult()
        started = time.perf_counter()
        with unit_of_work(self.engine) as session:
            # the account records in a short transaction of their own; skipped while another
            # worker takes them (it takes ours too: every dirty account record)
            if lock_accounts(session, wait=False):
                result.accounts = absorb_account_records(session)
        ids = self._resolve_claimed(result, scorer=scorer, defer=scorer is not None)
        if ids is None:
            return result
        if result.deferred:
            # the deterministic links are committed; now the records only the model can place
            deferred, result.deferred = result.deferred, []
            self._resolve_claimed(result, scorer=scorer, record_ids=deferred)
        self.resolved += result.records
        if self.heartbeat is not None:  # back-pressure in /metrics: the pass's duration
            self.heartbeat.note(
                last_pass_s=round(time.perf_counter() - started, 4), last_pass_records=len(ids)
            )
        if result.changes:
            self._publish(result)
        return result

    def _resolve_claimed(
        self,
        result: ResolveResult,
        *,
        scorer: SplinkScorer | None,
        defer: bool = False,
        record_ids: list[int] | None = None,
    ) -> list[int] | None:
        """Claim dirty records (the next batch, or those of ``record_ids`` still dirty and
        not claimed by another worker), resolve them in one transaction, add the outcome to
        ``result``; the claimed ids, or None when there was nothing to claim. ``defer``:
        records needing the model are left for a pass of their own (``result.deferred``)."""
        with unit_of_work(self.engine) as session:
            # the locks outside the savepoints: a rollback to one must not release them
            share_resolver(session)
            ids = dirty_record_ids(
                session, limit=self.config.batch_size, claim=True, record_ids=record_ids
            )
            if not ids:
                return None
            # One savepoint for the whole pass; when it fails on a record's data, bisect to
            # the failing records, resolve the others, count the failures (quarantine).
            outcome = run_isolated(
                session,
                ids,
                lambda chunk: resolve_step(
                    session, record_ids=chunk, scorer=scorer, accounts=False, defer_scoring=defer
                ),
            )
            for part in outcome.results:
                result.absorb(part)
            if outcome.failed:
                quarantine_failures(
                    session,
                    outcome.failed,
                    kind=KIND_RECORD,
                    ref=str,
                    max_attempts=self.config.max_attempts,
                )
            if has_pending_failures(session, kind=KIND_RECORD):
                clear_failures(session, kind=KIND_RECORD, refs=[str(r) for r in outcome.done])
        return ids

    def refine_once(self) -> RefineResult:
        """Stage two: score the records stage one left alone; merge the confident ones."""
        assert self.scorer is not None
        out = refine_singletons(self.engine, self.scorer)
        if out.changes:
            self._publish(ResolveResult(changes=out.changes))
        return out

    def _loop(self, step: Callable[[], bool], *, what: str, idle: float) -> None:
        run_loop(step, retry=Retry(self._stop, self.heartbeat), what=what, idle=idle)

    def _publish(self, result: ResolveResult) -> None:
        cfg = self.config
        if not (cfg.bootstrap and cfg.changes_topic):
            return
        try:
            if self._producer is None:
                ensure_topics(cfg.bootstrap, [cfg.changes_topic])
                self._producer = make_producer(cfg.bootstrap)
            send_all(
                self._producer,
                cfg.changes_topic,
                [(c["survivor"].encode(), json.dumps(c).encode()) for c in result.changes],
            )
        except Exception:  # the table keeps the history; the topic is a convenience feed
            log.exception("could not publish identity changes")
            if self._producer is not None:  # a restarted broker needs a new producer
                close_now(self._producer)
                self._producer = None

    def run(self) -> None:
        if self.heartbeat is not None:
            self.heartbeat.start()
        try:
            self._run()
        finally:
            if self.heartbeat is not None:
                self.heartbeat.stop()

    def _run(self) -> None:
        refiner = None
        if self.scorer is not None and self.config.two_stage:
            refiner = threading.Thread(
                target=self._loop,
                args=(lambda: self.refine_once().scored > 0,),
                kwargs={"what": "identity scoring pass", "idle": self.config.idle_sleep * 4},
                name="identity-refine",
                daemon=True,
            )
            refiner.start()
        self._loop(
            lambda: self.run_once().records > 0,
            what="identity pass",
            idle=self.config.idle_sleep,
        )
        if refiner is not None:
            refiner.join(30)
        if self._producer is not None:
            self._producer.close(timeout=5)


# --------------------------------------------------------------------------- several workers


def _worker_process(database_url: str, config: IdentityConfig) -> None:
    """One identity worker in a process of its own (the target of ``start_workers``)."""
    from kindred.db import make_engine

    engine = make_engine(database_url)
    worker = IdentityWorker(config, engine)
    worker.install_signal_handlers()
    try:
        worker.run()
    finally:
        engine.dispose()


def start_workers(database_url: str, config: IdentityConfig, count: int) -> list[BaseProcess]:
    """Start ``count`` identity workers, each in its own process (the resolver is CPU-bound
    Python: threads would share one core). Stop them with ``stop_workers``."""
    ctx = multiprocessing.get_context("spawn")
    procs: list[BaseProcess] = []
    for n in range(count):
        proc = ctx.Process(
            target=_worker_process,
            args=(database_url, config),
            name=f"kindred-identity-{n + 1}",
            daemon=True,
        )
        proc.start()
        procs.append(proc)
    return procs


def stop_workers(procs: list[BaseProcess], *, timeout: float = 30.0) -> None:
    """SIGTERM every worker (each finishes its pass), then wait; kill the ones that hang."""
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
    for proc in procs:
        proc.join(timeout)
        if proc.is_alive():
            proc.kill()
            proc.join(5)
