"""``/metrics``: the Prometheus exposition of the health figures (:mod:`kindred.healthcheck`
reads them and judges the workers; this module only renders them)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy.orm import Session

from kindred.healthcheck import Figures, assess, collect_figures, describe_count, judge_worker

__all__ = ["metrics_text"]


class _FiguresCollector:
    """A prometheus-client collector over one :class:`Figures` snapshot."""

    def __init__(self, figures: Figures, *, stuck_seconds: float, forget_seconds: float):
        self.figures = figures
        self.stuck_seconds = stuck_seconds
        self.forget_seconds = forget_seconds

    def collect(self) -> Iterable[Metric]:
        return list(self._families())

    def _families(self) -> Iterator[Metric]:
        f = self.figures
        yield _gauge(
            "kindred_events_total", describe_count("Events stored", f.events_estimated), f.events
        )
        yield _gauge(
            "kindred_source_records",
            describe_count("Source records", f.source_records_estimated),
            f.source_records,
        )
        yield _gauge(
            "kindred_unresolved_records",
            "Source records waiting for identity resolution (source_records.dirty; exact)",
            f.dirty_records,
        )
        yield _gauge(
            "kindred_profiles",
            describe_count("Unified profiles (not merged away)", f.profiles_estimated),
            f.profiles,
        )
        yield _gauge(
            "kindred_dirty_records",
            "Dirty-record backlog of the identity worker (source_records.dirty; exact)",
            f.dirty_records,
        )
        yield _gauge(
            "kindred_dirty_record_oldest_age_seconds",
            "Seconds since the oldest dirty source record was last written (0 if none)",
            f.oldest_dirty_age or 0.0,
        )
        yield _gauge(
            "kindred_stale_profiles",
            "Stale-profile backlog of the profiles worker (profiles.stale; exact)",
            f.stale_profiles,
        )
        yield _gauge(
            "kindred_stale_profile_oldest_age_seconds",
            "Seconds since the oldest stale profile turned stale (profiles.stale_since; 0 if none)",
            f.oldest_stale_age or 0.0,
        )
        yield _gauge(
            "kindred_dead_letters",
            "Rows in the dead-letter table (dead_letters; exact), replayed ones included",
            f.dead_letters,
        )
        yield _gauge(
            "kindred_dead_letters_pending",
            "Dead letters not replayed yet (exact)",
            f.dead_letters_pending,
        )
        quarantine = GaugeMetricFamily(
            "kindred_quarantined",
            "Records and profiles in quarantine (skipped by the workers until released)",
            labels=["kind"],
        )
        for kind in sorted({"record", "profile", *f.quarantine}):
            quarantine.add_metric([kind], f.quarantine.get(kind, 0))
        yield quarantine
        yield from self._worker_families()

    def _worker_families(self) -> Iterator[Metric]:
        healths, reasons = assess(
            self.figures, stuck_seconds=self.stuck_seconds, forget_seconds=self.forget_seconds
        )
        labels = ["kind", "worker"]
        age = GaugeMetricFamily(
            "kindred_worker_heartbeat_age_seconds",
            "Seconds since the worker's last heartbeat (rows gone for long are left out)",
            labels=labels,
        )
        success = GaugeMetricFamily(
            "kindred_worker_last_success_age_seconds",
            "Seconds since the worker's last successful unit of work (absent if none yet)",
            labels=labels,
        )
        up = GaugeMetricFamily(
            "kindred_worker_up",
            "1 if the worker's heartbeat is fresh (within the readiness threshold), else 0",
            labels=labels,
        )
        stuck = GaugeMetricFamily(
            "kindred_worker_stuck",
            "1 if the worker says it is stuck or has lag without progress past the threshold",
            labels=labels,
        )
        errors = GaugeMetricFamily(
            "kindred_worker_consecutive_errors",
            "Consecutive failed units of work reported by the worker",
            labels=labels,
        )
        partitions = GaugeMetricFamily(
            "kindred_worker_assigned_partitions",
            "Kafka partitions assigned to the worker",
            labels=labels,
        )
        deadlocks = CounterMetricFamily(
            "kindred_worker_deadlock_retries",
            "Transactions retried after a deadlock, since the worker started",
            labels=labels,
        )
        batches = CounterMetricFamily(
            "kindred_worker_batches",
            "Units of work (batches, passes) completed, since the worker started",
            labels=labels,
        )
        pass_s = GaugeMetricFamily(
            "kindred_worker_last_pass_seconds",
            "Duration of the worker's last pass that did work (identity: resolve pass)",
            labels=labels,
        )
        lag = GaugeMetricFamily(
            "kindred_consumer_lag",
            "Messages behind the end of the partition, as last reported by the worker",
            labels=["worker", "topic", "partition"],
        )
        for h in healths:
            v = h.view
            key = [v.kind, v.worker_id]
            age.add_metric(key, v.beat_age)
            if v.success_age is not None:
                success.add_metric(key, v.success_age)
            up.add_metric(key, 1 if h.state == "live" else 0)
            stuck.add_metric(key, 1 if h.stuck else 0)
            errors.add_metric(key, v.counter("errors"))
            partitions.add_metric(key, len(v.partitions))
            deadlocks.add_metric(key, v.counter("deadlock_retries"))
            batches.add_metric(key, v.counter("batches"))
            if (took := v.seconds("last_pass_s")) is not None:
                pass_s.add_metric(key, took)
            for tp, behind in sorted(v.lag.items()):
                topic, _, part = tp.rpartition(":")
                lag.add_metric([v.worker_id, topic or tp, part if topic else ""], behind)
        yield from (age, success, up, stuck, errors, partitions, deadlocks, batches, pass_s, lag)
        counts = GaugeMetricFamily(
            "kindred_workers",
            "Worker heartbeat rows by state: live, dead (stale heartbeat), gone (long dead)",
            labels=["kind", "state"],
        )
        tally: dict[tuple[str, str], int] = {}
        for view in self.figures.workers:
            state = judge_worker(view, self.stuck_seconds, self.forget_seconds).state
            tally[(view.kind, state)] = tally.get((view.kind, state), 0) + 1
        for kind in sorted({v.kind for v in self.figures.workers}):
            for state in ("live", "dead", "gone"):
                counts.add_metric([kind, state], tally.get((kind, state), 0))
        yield counts
        yield _gauge(
            "kindred_pipeline_problems",
            "Reasons /readyz would give from the workers and backlogs (0 when healthy)",
            len(reasons),
        )


def metrics_text(
    session: Session, *, stuck_seconds: float = 30.0, forget_seconds: float = 600.0
) -> bytes:
    """The Prometheus text exposition of the current figures (one registry per scrape)."""
    figures = collect_figures(session)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(
        _FiguresCollector(figures, stuck_seconds=stuck_seconds, forget_seconds=forget_seconds)
    )
    return generate_latest(registry)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)
