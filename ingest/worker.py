"""The ingest worker: Kafka -> validate -> one Postgres transaction -> commit -> offsets.

Order per poll batch (never the other way round):
1. decode and validate every message; invalid ones become dead letters (with the reason);
2. one database transaction of idempotent writes (events, records, touchpoints, dead letters);
3. database commit;
4. dead letters published to the DLQ topic (acknowledged);
5. Kafka offsets committed.
A crash anywhere before 5 replays the batch, which changes nothing. SIGTERM finishes the
current batch and exits. Steps 1, 2 and 4 are ``ingest.batch``; this module is the Kafka side.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kafka import (
    ConsumerRebalanceListener,
    KafkaAdminClient,
    KafkaConsumer,
    KafkaProducer,
    OffsetAndMetadata,
    TopicPartition,
)
from kafka.errors import KafkaError
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from ingest import repository
from ingest.batch import BatchOutcome, process_batch, publish_dead_letters
from kindred.db import unit_of_work
from kindred.heartbeat import Heartbeat
from kindred.kafka import (
    BrokerUnavailable,
    close_now,
    ensure_topics,
    make_admin,
    make_consumer,
    make_producer,
    probe_consumer,
    reset_group,
)
from kindred.signals import stop_on_signals
from kindred.workloop import Retry, run_loop

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestConfig:
    bootstrap: str
    topic: str
    dlq_topic: str
    group_id: str = "kindred-ingest"
    max_records: int = 2000
    poll_timeout_ms: int = 500


@dataclass
class Stats:
    batches: int = 0
    messages: int = 0
    persisted: int = 0
    duplicates: int = 0
    dead_letters: int = 0


def offsets_after(messages: Sequence[Any]) -> dict[TopicPartition, OffsetAndMetadata]:
    last: dict[TopicPartition, int] = {}
    for m in messages:
        tp = TopicPartition(m.topic, m.partition)
        last[tp] = max(last.get(tp, -1), m.offset)
    return {tp: OffsetAndMetadata(off + 1, None, -1) for tp, off in last.items()}


def store_offsets(
    session: Session,
    *,
    group_id: str,
    epoch: str,
    offsets: dict[TopicPartition, OffsetAndMetadata],
) -> None:
    """Remember where the group stands, in the transaction that stored the batch: the
    database, not the broker, is the record of what has been ingested."""
    items = sorted(offsets.items(), key=lambda kv: (kv[0].topic, kv[0].partition))
    repository.store_offsets(
        session,
        group_id=group_id,
        epoch=epoch,
        offsets=[(tp.topic, tp.partition, om.offset) for tp, om in items],
    )


class _StartFromStored(ConsumerRebalanceListener):
    """On assignment, start each partition where the database says the group stands."""

    def __init__(self, worker: IngestWorker) -> None:
        self.worker = worker

    def on_partitions_revoked(self, revoked: Any) -> None:
        return None

    def on_partitions_assigned(self, assigned: Any) -> None:
        self.worker.start_from_stored(list(assigned))
        if assigned:
            self.worker.assigned.set()


class IngestWorker:
    """A consumer-group member. ``run()`` loops until ``stop()`` (or SIGTERM).

    It cannot get stuck quietly: every ``heartbeat_every`` seconds it asks the broker where it
    stands (its partitions, its lag, the group's committed offsets) and writes that to its
    heartbeat row. When the group has lag but this member has had no partitions and the group
    made no progress for ``stuck_after`` seconds (a consumer group wedged in a rebalance, which
    the embedded broker does after several members leave together), it says so in its
    heartbeat and heals itself: it leaves, resets the group keeping its committed offsets
    (``kindred.kafka.reset_group``: a real cluster refuses to delete a group with live
    members, so there it only rejoins as a new member) and joins again. A member that has
    partitions and lag but stores nothing while nothing fails gets a new consumer.
    A deadlock is retried at once; other failures back off up to 5 s.
    """

    def __init__(
        self,
        config: IngestConfig,
        engine: Engine,
        *,
        on_batch: Callable[[BatchOutcome], None] | None = None,
        bootstrap: Callable[[], str] | None = None,
        stuck_after: float = 15.0,
        heartbeat_every: float = 2.0,
        heartbeat: bool = True,
        epoch: Callable[[], str] | None = None,
    ) -> None:
        self.config = config
        #: the broker log the offsets belong to (``kindred.infra.broker_epoch``)
        self.epoch = epoch or (lambda: "external")
        self.engine = engine
        self.on_batch = on_batch
        self.stats = Stats()
        self.bootstrap = bootstrap or (lambda: config.bootstrap)
        # a little jitter so members that stalled together do not all reset at once
        self.stuck_after = stuck_after + random.uniform(0, min(3.0, stuck_after / 5))
        self.heartbeat_every = heartbeat_every
        self.heartbeat = (
            Heartbeat(
                engine,
                kind="ingest",
                every=heartbeat_every,
                stuck_after=stuck_after,
                judge_stuck=False,
            )
            if heartbeat
            else None
        )
        self.recoveries = 0
        self._stop = threading.Event()
        self.assigned = threading.Event()  # set once the group has given this member partitions
        self._consumer: KafkaConsumer | None = None
        self._producer: KafkaProducer | None = None
        self._admin: KafkaAdminClient | None = None
        self._reset_lock: Connection | None = None  # held a while after resetting the group
        self._reset_lock_until = 0.0
        self._retry = Retry(self._stop, self.heartbeat)
        self._batch: list[Any] = []  # the messages of the batch being stored
        now = time.monotonic()
        self._joined_at = now  # the current consumer's creation
        self._stored_at = now  # the last batch stored
        self._had_partitions_at = now
        self._group_moved_at = now  # the group's committed offsets last changed
        self._committed: dict[str, int] | None = None
        self._next_probe = now

    def stop(self) -> None:
        self._stop.set()

    def install_signal_handlers(self) -> None:
        stop_on_signals(self.stop, name="ingest worker")

    def _connect(self) -> KafkaConsumer:
        cfg = self.config
        bootstrap = self.bootstrap()
        ensure_topics(bootstrap, [cfg.topic, cfg.dlq_topic])
        self._consumer = make_consumer(
            bootstrap, group_id=cfg.group_id, topics=[cfg.topic], listener=_StartFromStored(self)
        )
        self._joined_at = time.monotonic()
        return self._consumer

    def start_from_stored(self, assigned: Sequence[TopicPartition]) -> None:
        """Seek newly assigned partitions to the offsets stored with the batches. A group
        that was recreated (its broker-side offsets gone) thus resumes where it was instead
        of replaying the topic, and a crash between the database commit and the broker
        commit replays nothing. Without a stored offset the broker's committed one is used."""
        consumer = self._consumer
        if consumer is None or not assigned:
            return
        try:
            stored = repository.stored_offsets(
                self.engine,
                group_id=self.config.group_id,
                topic=self.config.topic,
                epoch=self.epoch(),
            )
            for tp in assigned:
                if tp.partition in stored:
                    consumer.seek(tp, stored[tp.partition])
        except Exception as err:  # the database is down: the broker's offsets still hold
            log.warning("could not read stored offsets (%s); using the broker's", err)

    def _disconnect(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            try:
                consumer.close(autocommit=False)
            except Exception:
                log.debug("closing the consumer raised", exc_info=True)

    def dlq_producer(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = make_producer(self.bootstrap())
        return self._producer

    def run(self) -> Stats:
        if self.heartbeat is not None:
            self.heartbeat.start()
        try:
            run_loop(
                self._poll_and_store,
                retry=self._retry,
                what="ingest",
                on_error=self._undo_failed_step,
                idle_is_success=False,
            )
        finally:
            self._disconnect()
            if self._producer is not None:
                close_now(self._producer)
            if self._admin is not None:
                with contextlib.suppress(Exception):
                    self._admin.close()
            self._release_reset_lock(force=True)
            if self.heartbeat is not None:
                self.heartbeat.stop()
        return self.stats

    def _poll_and_store(self) -> bool:
        """One poll and, if it brought messages, their batch (one transaction); whether there
        was a batch. The poll itself waits up to ``poll_timeout_ms``, so the loop does not
        idle on top of it."""
        cfg = self.config
        self._batch = []
        self._watch(self._consumer or self._connect())
        consumer = self._consumer or self._connect()  # _watch may have replaced it
        polled = consumer.poll(timeout_ms=cfg.poll_timeout_ms, max_records=cfg.max_records)
        self._batch = [m for batch in polled.values() for m in batch]
        if self._batch:
            self.handle(self._batch)
            self._stored_at = time.monotonic()
        stored, self._batch = bool(self._batch), []
        return stored

    def _undo_failed_step(self, err: BaseException) -> None:
        """After a failed poll (broker gone or restarting) reconnect; after a failed batch
        (nothing was committed) rewind to the batch start. Drop a producer a broker restart
        broke."""
        batch, self._batch = self._batch, []
        if not batch:
            self._disconnect()
        else:
            try:
                self._rewind(batch)
            except Exception:  # partitions revoked meanwhile: start from the commits
                self._disconnect()
        self._drop_producer(err)

    def _drop_producer(self, err: BaseException) -> None:
        if isinstance(err, KafkaError | BrokerUnavailable) and self._producer is not None:
            close_now(self._producer)  # a broker restart leaves it unusable: make a new one
            self._producer = None

    def _release_reset_lock(self, *, force: bool = False) -> None:
        lock = self._reset_lock
        if lock is None or (not force and time.monotonic() < self._reset_lock_until):
            return
        self._reset_lock = None
        with contextlib.suppress(Exception):
            lock.close()  # the session ends, and its advisory lock with it

    def _watch(self, consumer: KafkaConsumer) -> None:
        """Every ``heartbeat_every`` s: where do we stand, are we stuck, heal if so."""
        now = time.monotonic()
        if now < self._next_probe:
            return
        self._release_reset_lock()
        self._next_probe = now + self.heartbeat_every
        try:
            if self._admin is None:
                self._admin = make_admin(self.bootstrap())
            probe = probe_consumer(
                consumer, self.config.topic, admin=self._admin, group_id=self.config.group_id
            )
        except Exception as err:
            log.debug("consumer probe failed: %s", err)
            if self._admin is not None:
                with contextlib.suppress(Exception):
                    self._admin.close()
                self._admin = None
            return
        if probe.partitions:
            self._had_partitions_at = now
        if probe.committed != self._committed:
            self._committed = probe.committed
            self._group_moved_at = now
        reason = None
        mine = sum(probe.lag.values())
        if probe.group_lag > 0 and not probe.partitions:
            since = max(self._had_partitions_at, self._group_moved_at, self._joined_at)
            if now - since > self.stuck_after:
                reason = (
                    f"no partitions assigned for {now - since:.0f}s while the group has a lag "
                    f"of {probe.group_lag} and makes no progress"
                )
        elif mine > 0:
            since = max(self._stored_at, self._joined_at)
            if now - since > self.stuck_after:
                reason = f"nothing stored for {now - since:.0f}s with a lag of {mine}"
        if self.heartbeat is not None:
            self.heartbeat.update(
                partitions=probe.partitions,
                lag=probe.lag,
                backlog=probe.group_lag,
                stuck=reason is not None,
                stuck_reason=reason,
            )
        if reason is None:
            return
        if probe.partitions and self._retry.failures:
            return  # batches fail (database down?): a new consumer would not help; retries go on
        log.warning("ingest worker stuck: %s; recovering", reason)
        self._recover(consumer, reset=not probe.partitions)

    def _recover(self, consumer: KafkaConsumer, *, reset: bool) -> None:
        topic = self.config.topic
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        self._disconnect()
        self.recoveries += 1
        outcome = "rejoined with a new consumer"
        if reset and partitions and self._reset_lock is None:
            try:
                # One member resets the group, and holds a session lock for ``stuck_after``
                # afterwards: members that stalled with it just rejoin the new group instead
                # of deleting it again under the feet of those already joining.
                conn = self.engine.connect()
                key = f"kindred:kafka-group-reset:{self.config.group_id}"
                if repository.try_session_lock(conn, key):
                    conn.commit()
                    self._reset_lock = conn
                    self._reset_lock_until = time.monotonic() + self.stuck_after
                    outcome = reset_group(self.bootstrap(), self.config.group_id, partitions)
                else:
                    conn.close()
                    # let the resetting member delete and restore the group before we join it
                    self._stop.wait(3.0)
                    outcome = "another member is resetting the group; rejoined"
            except Exception as err:
                outcome = f"group reset failed ({err}); rejoined with a new consumer"
        log.warning("ingest worker recovery: %s", outcome)
        if self.heartbeat is not None:
            self.heartbeat.update(recoveries=self.recoveries, last_recovery=outcome)
        now = time.monotonic()
        self._had_partitions_at = self._group_moved_at = self._stored_at = now

    def _rewind(self, messages: Sequence[Any]) -> None:
        assert self._consumer is not None
        first: dict[TopicPartition, int] = {}
        for m in messages:
            tp = TopicPartition(m.topic, m.partition)
            first[tp] = min(first.get(tp, m.offset), m.offset)
        for tp, offset in first.items():
            self._consumer.seek(tp, offset)

    def handle(self, messages: Sequence[Any]) -> None:
        assert self._consumer is not None
        offsets = offsets_after(messages)
        with unit_of_work(self.engine) as session:
            outcome = process_batch(session, messages)
            store_offsets(
                session, group_id=self.config.group_id, epoch=self.epoch(), offsets=offsets
            )
        # DB committed: now the DLQ, then the broker's offsets.
        if outcome.dead:
            publish_dead_letters(self.dlq_producer(), self.config.dlq_topic, outcome.dead)
        self._consumer.commit(offsets)
        self.stats.batches += 1
        self.stats.messages += len(messages)
        self.stats.persisted += outcome.persisted
        self.stats.duplicates += outcome.duplicates
        self.stats.dead_letters += len(outcome.dead)
        if self.on_batch:
            self.on_batch(outcome)
