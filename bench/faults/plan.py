"""What the fault suite runs: the scenarios, the targets, the processes, the timings, and
the record of one scenario besides its counts."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

WORKER_SCENARIOS = ("kill-ingest", "kill-identity", "kill-profiles", "ingest-group-stall")
DATABASE_SCENARIOS = ("postgres-fast-stop", "postgres-kill")
BROKER_SCENARIOS = ("broker-restart",)
SCENARIOS = WORKER_SCENARIOS + DATABASE_SCENARIOS + BROKER_SCENARIOS
SHORT_SCENARIOS = ("kill-ingest", "kill-identity", "kill-profiles", "ingest-group-stall",
                   "postgres-fast-stop")  # fmt: skip

TARGETS: dict[str, Any] = {
    "lost": 0,
    "duplicated": 0,
    "records_left_unresolved": 0,
    "profiles_left_stale": 0,
    "seconds_to_recover_max": 30.0,
    "person_acted": False,
    "acknowledged_while_broker_down": 0,
    "note": "lost_in_memory_broker is counted and reported, not a target: the embedded broker "
    "keeps messages in memory only (use a real Kafka cluster, KINDRED_KAFKA_BOOTSTRAP)",
}

SOURCE = "faults-web"
PROCESSES: dict[str, list[str]] = {
    "api": ["serve"],
    "ingest-1": ["worker", "ingest"],
    "ingest-2": ["worker", "ingest"],
    "identity": ["worker", "identity"],
    "profiles": ["worker", "profiles"],
}
INGEST_GROUP = "kindred-ingest"
USERS_PER_BATCH = 10  # one identify + one track each: 20 events per request


@dataclass(frozen=True)
class Timings:
    warmup: float = 5.0  # load before the fault
    kill_interval: float = 6.0  # between two kills of a worker
    # between two "all ingest workers at once" kills; cycled x0.5, x1, x1.5 so that the kills
    # land at different moments of the new workers' start-up and group join
    stall_interval: float = 4.0
    down: float = 5.0  # how long PostgreSQL / the broker stay down
    recovery_timeout: float = 60.0  # how long the suite waits before a person acts
    escalation_timeout: float = 45.0  # after each intervention
    after_recovery: float = 3.0  # load after recovery, before the phase ends
    flush_timeout: float = 60.0  # to deliver the batches still being retried
    drain_timeout: float = 90.0  # until acknowledged events must be stored and resolved
    settle: float = 2.0  # anything still in flight would show up as a duplicate now


SHORT_TIMINGS = Timings(
    warmup=3.0,
    kill_interval=3.0,
    stall_interval=3.0,
    down=3.0,
    recovery_timeout=40.0,
    escalation_timeout=30.0,
    after_recovery=1.0,
    flush_timeout=30.0,
    drain_timeout=40.0,
    settle=1.0,
)


def now() -> float:
    return time.monotonic()


def rounded(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


@dataclass
class Outcome:
    """What happened during one scenario besides the counts."""

    actions: list[dict[str, Any]] = field(default_factory=list)
    interventions: list[dict[str, Any]] = field(default_factory=list)
    fault_end: float = 0.0
    marks: dict[str, float] = field(default_factory=dict)  # monotonic times (broker)
