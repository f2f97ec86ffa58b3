"""Run the workers in threads of one process (demo, benchmarks, tests), and stop them cleanly."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from sqlalchemy import Engine

from identity.worker import IdentityConfig, IdentityWorker
from ingest.worker import IngestConfig, IngestWorker
from kindred.infra import broker_epoch
from kindred.settings import Settings
from profiles.worker import ProfilesWorker


@dataclass
class Workers:
    ingest: IngestWorker
    identity: IdentityWorker
    profiles: ProfilesWorker
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> Workers:
        for name, target in (
            ("ingest", self.ingest.run),
            ("identity", self.identity.run),
            ("profiles", self.profiles.run),
        ):
            thread = threading.Thread(target=target, name=f"kindred-{name}", daemon=True)
            thread.start()
            self.threads.append(thread)
        return self

    def wait_ready(self, timeout: float = 60.0) -> Workers:
        """Wait until the ingest worker has partitions: the group join takes 3 s on the embedded
        broker (its initial rebalance delay) and more when a round fails, and what is produced
        meanwhile waits for it. Raises ``TimeoutError`` naming the group when it never comes."""
        if not self.ingest.assigned.wait(timeout):
            raise TimeoutError(
                f"the ingest worker (group {self.ingest.config.group_id}) got no partitions "
                f"within {timeout:.0f}s; see its log for the broker's answers"
            )
        return self

    def stop(self, timeout: float = 15.0) -> None:
        self.ingest.stop()
        self.identity.stop()
        self.profiles.stop()
        for thread in self.threads:
            thread.join(timeout)


def ingest_config(settings: Settings, *, group_id: str = "kindred-ingest") -> IngestConfig:
    return IngestConfig(
        bootstrap=settings.resolved_kafka_bootstrap(),
        topic=settings.events_topic,
        dlq_topic=settings.dlq_topic,
        group_id=group_id,
    )


def identity_config(settings: Settings) -> IdentityConfig:
    return IdentityConfig(
        bootstrap=settings.resolved_kafka_bootstrap(),
        changes_topic=settings.identity_changes_topic,
        batch_size=settings.identity_batch_size,
    )


def ingest_worker(
    settings: Settings, engine: Engine, *, group_id: str = "kindred-ingest"
) -> IngestWorker:
    """An ingest worker; with the embedded broker it re-reads its address on reconnects."""
    return IngestWorker(
        ingest_config(settings, group_id=group_id),
        engine,
        bootstrap=settings.resolved_kafka_bootstrap,
        stuck_after=settings.worker_stuck_after_s,
        heartbeat_every=settings.heartbeat_every_s,
        epoch=lambda: broker_epoch(settings),
    )


def identity_worker(settings: Settings, engine: Engine) -> IdentityWorker:
    return IdentityWorker(
        identity_config(settings),
        engine,
        stuck_after=settings.worker_stuck_after_s,
        heartbeat_every=settings.heartbeat_every_s,
    )


def profiles_worker(settings: Settings, engine: Engine) -> ProfilesWorker:
    return ProfilesWorker(
        engine,
        kafka_bootstrap=settings.resolved_kafka_bootstrap(),
        changes_topic=settings.segment_changes_topic,
        stuck_after=settings.worker_stuck_after_s,
        heartbeat_every=settings.heartbeat_every_s,
    )


def build_workers(
    settings: Settings, engine: Engine, *, group_id: str = "kindred-ingest"
) -> Workers:
    return Workers(
        ingest=ingest_worker(settings, engine, group_id=group_id),
        identity=identity_worker(settings, engine),
        profiles=profiles_worker(settings, engine),
    )
