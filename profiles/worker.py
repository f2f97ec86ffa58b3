"""The profiles worker: keeps golden records, computed traits and segment membership current.

Each tick, in this order:
1. stale profiles (identity marks a profile stale on any change): merged-away and deleted ones
   leave every segment; live ones get their golden record and computed traits recomputed and
   every person segment re-evaluated for them — one transaction, committed;
2. segment changes committed so far are published to Kafka (``kindred.segments.changes``),
   then the published position is stored: at-least-once, never before the DB commit;
3. on a schedule: account rollups, profiles whose computed traits aged (recency decays
   without events), and full evaluations of time-based segments.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaProducer
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from kindred.db import unit_of_work
from kindred.dberrors import is_deadlock
from kindred.heartbeat import Heartbeat
from kindred.kafka import close_now, ensure_topics, make_producer, send_all
from kindred.quarantine import (
    DEFAULT_MAX_ATTEMPTS,
    KIND_PROFILE,
    Isolated,
    clear_failures,
    has_pending_failures,
    quarantine_failures,
    run_isolated,
)
from kindred.signals import stop_on_signals
from kindred.workloop import Retry, run_loop
from profiles import repository as repo
from profiles.config import ProfilesConfig, load_config
from profiles.dashboard import refresh_dashboard_snapshot
from profiles.materialise import recompute_profiles, refresh_accounts
from profiles.segments import (
    changes_after,
    due_segments,
    evaluate_for_profiles,
    evaluate_segment,
    lock_changes,
    remove_profiles,
)
from profiles.segments.evaluate import apply_full_evaluation, prepare_full_evaluation

log = logging.getLogger(__name__)

SEGMENT_CHANGES_TOPIC = "kindred.segments.changes"
PUBLISH_CURSOR = "segment_changes_published"


@dataclass
class TickResult:
    recomputed: int = 0
    removed: int = 0
    entered: int = 0
    exited: int = 0
    published: int = 0
    scheduled: dict[str, int] = field(default_factory=dict)

    @property
    def busy(self) -> bool:
        return bool(self.recomputed or self.removed or self.published)


def refresh_stale(
    session: Session, *, limit: int = 500, config: ProfilesConfig | None = None
) -> int:
    """Process up to ``limit`` stale profiles; returns how many were taken."""
    return process_stale(session, limit=limit, config=config).recomputed


def process_stale(
    session: Session,
    *,
    limit: int = 500,
    config: ProfilesConfig | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> TickResult:
    """Recompute (or retire) up to ``limit`` stale profiles. The batch runs in a savepoint;
    when it fails on a profile's data it is bisected down to the failing profiles, the others
    are processed, and each failing one is counted (quarantined after ``max_attempts``
    ticks in a row; ``stale_batch`` then skips it). Transient errors propagate."""
    result = TickResult()
    # Lock order: the membership lock first, then profile rows (segment computes take them in
    # the same order). The unlocked peek keeps idle ticks from queueing behind the lock.
    if not repo.has_stale(session):
        return result
    lock_changes(session)  # outside the savepoints, as the row locks of stale_batch
    batch = repo.stale_batch(session, limit=limit)
    if not batch:
        return result
    config = config or load_config(session)
    loaded = config
    outcome = run_isolated(
        session, batch, lambda chunk: _process_stale_batch(session, chunk, loaded)
    )
    for part in outcome.results:
        _add(result, part)
    _count_failures(session, outcome, ref=lambda item: str(item[0]), max_attempts=max_attempts)
    session.flush()
    return result


def _add(into: TickResult, part: TickResult) -> None:
    into.recomputed += part.recomputed
    into.removed += part.removed
    into.entered += part.entered
    into.exited += part.exited


def _count_failures(
    session: Session, outcome: Isolated[Any, Any], *, ref: Any, max_attempts: int
) -> None:
    """Failing profiles counted (quarantined at ``max_attempts``); succeeding ones forgiven."""
    if outcome.failed:
        quarantine_failures(
            session, outcome.failed, kind=KIND_PROFILE, ref=ref, max_attempts=max_attempts
        )
    if outcome.done and has_pending_failures(session, kind=KIND_PROFILE):
        clear_failures(session, kind=KIND_PROFILE, refs=[ref(item) for item in outcome.done])


def _process_stale_batch(
    session: Session,
    batch: list[tuple[uuid.UUID, uuid.UUID | None, bool]],
    config: ProfilesConfig,
) -> TickResult:
    result = TickResult()
    live = [pid for pid, merged_into, deleted in batch if merged_into is None and not deleted]
    gone = [
        (pid, f"merged into {merged_into}" if merged_into else "profile deleted")
        for pid, merged_into, deleted in batch
        if merged_into is not None or deleted
    ]
    if gone:
        result.removed = remove_profiles(session, gone=gone)
        repo.clear_stale(session, profile_ids=[g[0] for g in gone])
    if live:
        result.recomputed = recompute_profiles(session, profile_ids=live, config=config)
        totals = evaluate_for_profiles(session, profile_ids=live, cause="profile changed")
        result.entered, result.exited = totals["entered"], totals["exited"]
    result.recomputed += len(gone)
    return result


def refresh_due_profiles(
    session: Session,
    *,
    config: ProfilesConfig,
    limit: int = 1000,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    older_than_s: float | None = None,
) -> int:
    """Recompute up to ``limit`` profiles whose computed traits aged (time decay), and
    re-evaluate them: set-based reads, one write, one evaluation statement per segment for
    the whole batch. Failing profiles are isolated and counted as in ``process_stale``."""
    if older_than_s is None:
        older_than_s = config.schedule.recompute_after_seconds
    ids = repo.due_batch(session, older_than_s=older_than_s, limit=limit)
    if not ids:
        return 0
    lock_changes(session)

    def refresh(chunk: list[uuid.UUID]) -> None:
        recompute_profiles(session, profile_ids=chunk, config=config)
        evaluate_for_profiles(session, profile_ids=chunk, cause="scheduled refresh")

    outcome = run_isolated(session, ids, refresh)
    _count_failures(session, outcome, ref=str, max_attempts=max_attempts)
    return len(outcome.done)


def refresh_all_due_profiles(
    engine: Engine,
    *,
    config: ProfilesConfig,
    batch: int = 1000,
    budget_s: float = 2.0,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> int:
    """Work through the aged set in batches of ``batch`` (one transaction each, so the
    membership lock is never held long) until none is left or ``budget_s`` has passed (the
    stale path must not starve behind a large aged set). Returns how many were refreshed."""
    start = time.monotonic()
    total = 0
    while True:
        # aged as of the call's start: a profile this call refreshed is not due again in it
        aged = config.schedule.recompute_after_seconds + (time.monotonic() - start)
        with unit_of_work(engine) as session:
            done = refresh_due_profiles(
                session, config=config, limit=batch, max_attempts=max_attempts, older_than_s=aged
            )
        total += done
        # a short batch: the aged set is used up (or some failed: the next tick retries them)
        if done < batch or time.monotonic() - start >= budget_s:
            return total


def refresh_due_segments(session: Session, *, config: ProfilesConfig, max_segments: int = 1) -> int:
    """Full evaluation of (at most ``max_segments``) segments whose schedule is due."""
    due = due_segments(
        session,
        time_based_every_s=config.schedule.segment_refresh_seconds,
        all_every_s=config.schedule.full_refresh_seconds,
    )[:max_segments]
    if not due:
        return 0
    # person segments: the matching set first, without the lock (see prepare_full_evaluation)
    prepared = [prepare_full_evaluation(session, segment=segment) for segment in due]
    lock_changes(session)
    for segment, ready in zip(due, prepared, strict=True):
        cause = "scheduled evaluation" if segment.computed_at else "segment created"
        if ready is None:
            evaluate_segment(session, segment=segment, cause=cause)
        else:
            apply_full_evaluation(session, prepared=ready, cause=cause)
    return len(due)


class SegmentChangesPublisher:
    """Publishes committed segment changes in id order; stores the position after the broker
    acknowledged (at-least-once: consumers dedupe by ``change_id``)."""

    def __init__(self, bootstrap: str, topic: str = SEGMENT_CHANGES_TOPIC) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self._producer: KafkaProducer | None = None

    def _get(self) -> KafkaProducer:
        if self._producer is None:
            ensure_topics(self.bootstrap, [self.topic])
            self._producer = make_producer(self.bootstrap)
        return self._producer

    def publish_pending(self, engine: Engine, *, limit: int = 2000) -> int:
        with unit_of_work(engine) as session:
            position = repo.cursor_position(session, name=PUBLISH_CURSOR)
            changes = changes_after(session, after_id=position, limit=limit)
        if not changes:
            return 0
        send_all(
            self._get(),
            self.topic,
            [(c["member_id"].encode(), json.dumps(c).encode()) for c in changes],
        )
        last = changes[-1]["change_id"]
        with unit_of_work(engine) as session:
            repo.store_cursor(session, name=PUBLISH_CURSOR, position=last)
        return len(changes)

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=5)
            self._producer = None

    def close_now(self) -> None:
        """Drop the producer without waiting (after a failure); the next publish reconnects."""
        if self._producer is not None:
            close_now(self._producer)
            self._producer = None


def _stale_backlog(conn: Connection) -> dict[str, Any]:
    """Stale profiles (counted up to 1,000,000 through the partial index)."""
    return {"backlog": repo.stale_backlog(conn)}


def _default_bootstrap() -> str | None:
    from kindred.settings import get_settings

    try:
        return get_settings().resolved_kafka_bootstrap()
    except RuntimeError:
        return None


class ProfilesWorker:
    def __init__(
        self,
        engine: Engine,
        *,
        idle_sleep: float = 0.2,
        batch_size: int = 500,
        kafka_bootstrap: str | None = None,
        changes_topic: str = SEGMENT_CHANGES_TOPIC,
        publish: bool = True,
        stuck_after: float = 15.0,
        heartbeat_every: float = 2.0,
        heartbeat: bool = True,
    ) -> None:
        self.engine = engine
        #: backlog = stale profiles (capped count, read by the heartbeat thread)
        self.heartbeat = (
            Heartbeat(
                engine,
                kind="profiles",
                every=heartbeat_every,
                stuck_after=stuck_after,
                probe=_stale_backlog,
            )
            if heartbeat
            else None
        )
        self.idle_sleep = idle_sleep
        self.batch_size = batch_size
        self.changes_topic = changes_topic
        self.publish = publish
        self.kafka_bootstrap = kafka_bootstrap
        self._publisher: SegmentChangesPublisher | None = None
        self._stop = threading.Event()
        self._last: dict[str, float] = {}
        self._config: ProfilesConfig | None = None
        self._config_at = 0.0

    def stop(self) -> None:
        self._stop.set()

    def install_signal_handlers(self) -> None:
        stop_on_signals(self.stop, name="profiles worker")

    def config(self) -> ProfilesConfig:
        if self._config is None or time.monotonic() - self._config_at > 10:
            with unit_of_work(self.engine) as session:
                self._config = load_config(session)
            self._config_at = time.monotonic()
        return self._config

    def publisher(self) -> SegmentChangesPublisher | None:
        if not self.publish:
            return None
        if self._publisher is None:
            bootstrap = self.kafka_bootstrap or _default_bootstrap()
            if bootstrap is None:
                log.warning("no Kafka broker configured: segment changes are not published")
                self.publish = False
                return None
            self._publisher = SegmentChangesPublisher(bootstrap, self.changes_topic)
        return self._publisher

    def _due(self, name: str, every: float) -> bool:
        now = time.monotonic()
        if now - self._last.get(name, 0.0) >= every:
            self._last[name] = now
            return True
        return False

    def tick(self) -> TickResult:
        config = self.config()
        with unit_of_work(self.engine) as session:
            result = process_stale(session, limit=self.batch_size, config=config)
        publisher = self.publisher()
        if publisher is not None:
            result.published = publisher.publish_pending(self.engine)
        if not result.busy or self._due("scheduled-max", 5.0):
            result.scheduled = self.scheduled(config)
        return result

    def scheduled(self, config: ProfilesConfig) -> dict[str, Any]:
        done: dict[str, Any] = {}
        if self._due("accounts", config.schedule.accounts_refresh_seconds):
            with unit_of_work(self.engine) as session:
                done["accounts"] = refresh_accounts(session, config=config)
        if self._due("segments", 1.0):
            with unit_of_work(self.engine) as session:
                done["segments"] = refresh_due_segments(session, config=config)
        if self._due("profiles", 1.0):
            done["profiles"] = refresh_all_due_profiles(self.engine, config=config)
        return done

    def _drop_publisher(self, err: BaseException) -> None:
        if self._publisher is not None and not is_deadlock(err):
            self._publisher.close_now()

    def refresh_dashboard(self) -> float:
        """Store the dashboard's figures about the base; returns the seconds to wait before
        the next refresh (the configured interval, at least ten times what this one took)."""
        config = self.config()
        with unit_of_work(self.engine) as session:
            took_ms = refresh_dashboard_snapshot(session, config)
        return max(float(config.schedule.dashboard_refresh_seconds), took_ms / 100)

    def _dashboard_loop(self) -> None:
        """In a thread of its own: a scan of every profile (seconds at 1M) must not hold up
        the stale profiles behind it."""
        while not self._stop.is_set():
            try:
                wait = self.refresh_dashboard()
            except Exception as err:
                log.warning("dashboard snapshot failed (%s); retrying in 30 s", err)
                wait = 30.0
            self._stop.wait(wait)

    def run(self) -> None:
        """Tick until stopped. A deadlock is retried at once; other failures back off (up to
        5 s) and drop the Kafka producer (a restarted broker needs a new one). The dashboard
        snapshot is refreshed in a thread beside the ticks."""
        beat = self.heartbeat
        if beat is not None:
            beat.start()
        threading.Thread(target=self._dashboard_loop, name="kindred-dashboard", daemon=True).start()
        try:
            run_loop(
                lambda: self.tick().busy,
                retry=Retry(self._stop, beat),
                what="profiles worker tick",
                idle=self.idle_sleep,
                on_error=self._drop_publisher,
            )
        finally:
            if self._publisher is not None:
                self._publisher.close()
            if beat is not None:
                beat.stop()
