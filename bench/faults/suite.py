"""The suite: one phase per scenario (load, fault, recovery, drain, count), and what a
person does when the pipeline does not recover by itself."""

from __future__ import annotations

import itertools
import time
from contextlib import suppress
from typing import Any

import httpx

from bench.faults.cluster import Cluster
from bench.faults.load import Batch, Load
from bench.faults.plan import INGEST_GROUP, PROCESSES, SOURCE, Outcome, Timings, now, rounded
from bench.faults.scenarios import Faults
from bench.faults.tally import REACHED, count, missing, query_rows, report, required
from bench.processes import wait_http
from kindred.kafka import delete_group, partition_for_key


class Suite:
    def __init__(self, cluster: Cluster, load: Load, timings: Timings, *, kills: int) -> None:
        self.c = cluster
        self.load = load
        self.t = timings
        self.kills = kills
        self.console = cluster.console
        self.partitions = cluster.settings.topic_partitions
        self._probe_n = itertools.count()
        self._probe_client = httpx.Client(base_url=cluster.base, timeout=3.0)
        self.started = now()
        self.faults = Faults(cluster, timings, kills=kills, say=self.say, started=self.started)

    def say(self, text: str) -> None:
        self.console.log(f"[{now() - self.started:6.1f}s] {text}")

    # -- probes and recovery
    def _probe_users(self, tag: str) -> list[str]:
        """One new user per partition (the routing key is the user id)."""
        found: dict[int, str] = {}
        while len(found) < self.partitions:
            user = f"probe-{tag}-{next(self._probe_n)}"
            found.setdefault(partition_for_key(user, self.partitions), user)
        return list(found.values())

    def _send_probe(self, tag: str) -> list[tuple[str, int]]:
        users = self._probe_users(tag)
        batch = [
            {
                "type": "identify",
                "messageId": f"{u}-i",
                "userId": u,
                "traits": {"email": f"{u}@probe.example"},
            }
            for u in users
        ]
        try:
            r = self._probe_client.post(
                "/v1/batch", json={"batch": batch}, auth=(self.c.write_key, "")
            )
        except httpx.HTTPError:
            return []
        if r.status_code != 200:
            return []
        return [(u, partition_for_key(u, self.partitions)) for u in users]

    def await_recovery(self, tag: str, since: float, timeout: float, out: Outcome) -> float | None:
        """Seconds from ``since`` until a probe sent after it reached its profile on every
        partition; None after ``timeout``. Restarts (and reports) processes that died."""
        pending: dict[str, int] = {}
        reached: set[int] = set()
        last_probe = 0.0
        deadline = now() + timeout
        while now() < deadline:
            self.restart_exited(out)
            if now() - last_probe >= 1.0:
                last_probe = now()
                pending.update(self._send_probe(tag))
            if pending:
                rows = query_rows(
                    self.c.plain_db_url(),
                    REACHED,
                    (SOURCE, [f"user:{u}" for u in pending]),
                )
                for (key,) in rows or []:
                    part = pending.pop(key[len("user:") :], None)
                    if part is not None:
                        reached.add(part)
                if len(reached) == self.partitions:
                    return now() - since
            time.sleep(0.3)
        return None

    def restart_exited(self, out: Outcome) -> None:
        for name, code in self.c.exited():
            tail = self.c.log_tail(name)
            self.say(f"[red]{name} exited by itself (code {code}); restarting it[/red]")
            self.c.spawn(name)
            out.interventions.append(
                {
                    "at_s": rounded(now() - out.fault_end) if out.fault_end else None,
                    "action": f"restarted {name}: it exited by itself with code {code}",
                    "log_tail": tail,
                }
            )

    def restart_all(self, out: Outcome, why: str) -> None:
        self.say(f"[red]person acts: restart the API and every worker ({why})[/red]")
        last_lines = {name: self.c.last_line(name) for name in PROCESSES}
        for name in PROCESSES:
            self.c.terminate(name)
        for name in PROCESSES:
            self.c.spawn(name)
        with suppress(RuntimeError):
            wait_http(self.c.base, timeout=60)
        out.interventions.append(
            {
                "at_s": rounded(now() - out.fault_end),
                "action": f"restarted API and workers: {why}",
                "last_log_line_before": last_lines,
            }
        )

    def reset_ingest_group(self, out: Outcome, why: str) -> None:
        self.say(f"[red]person acts: delete consumer group {INGEST_GROUP!r} ({why})[/red]")
        for name in ("ingest-1", "ingest-2"):
            self.c.terminate(name)
        result = "deleted"
        try:
            delete_group(self.c.kafka_bootstrap(), INGEST_GROUP)
        except Exception as err:  # kafka-python raises assorted errors
            result = f"delete failed: {err}"
        for name in ("ingest-1", "ingest-2"):
            self.c.spawn(name)
        out.interventions.append(
            {
                "at_s": rounded(now() - out.fault_end),
                "action": f"deleted consumer group {INGEST_GROUP} and restarted ingest: {why}",
                "result": result,
            }
        )

    def heal(self, tag: str, out: Outcome) -> tuple[float | None, float | None]:
        """(seconds to recover by itself, seconds to recover after a person acted)."""
        rec = self.await_recovery(tag, out.fault_end, self.t.recovery_timeout, out)
        if rec is not None and not out.interventions:
            return rec, None
        if rec is None:
            self.restart_all(out, f"no recovery within {self.t.recovery_timeout:.0f} s")
            rec = self.await_recovery(tag, out.fault_end, self.t.escalation_timeout, out)
        if rec is None:
            self.reset_ingest_group(out, "still no recovery after restarting the processes")
            rec = self.await_recovery(tag, out.fault_end, self.t.escalation_timeout, out)
        return None, rec

    # -- one phase
    def scenario(self, name: str) -> dict[str, Any]:
        self.say(f"[bold]scenario {name}[/bold]")
        out = Outcome()
        self.load.begin(name)
        time.sleep(self.t.warmup)
        self.faults.inject(name, out)
        out.fault_end = now()
        by_itself, after_person = self.heal(name, out)
        if by_itself is not None:
            self.say(f"[green]recovered by itself in {by_itself:.1f} s[/green]")
        else:
            after = "none" if after_person is None else f"{after_person:.1f} s"
            self.say(f"[red]no recovery by itself; after a person acted: {after}[/red]")
        time.sleep(self.t.after_recovery)
        batches = self.load.end(self.t.flush_timeout)
        counts = self.drain_and_count(name, batches, out)
        self.restart_exited(out)
        return report(
            name, batches, out, counts, by_itself, after_person, http=self.load.http[name]
        )

    def drain_and_count(self, name: str, batches: list[Batch], out: Outcome) -> dict[str, Any]:
        must = required(name, batches, out)
        start = now()
        left_now = self._wait_drained(must, self.t.drain_timeout)
        drained = left_now is not None and not any(left_now.values())
        drain_seconds = now() - start
        counts: dict[str, Any] = {"drained": drained, "drain_seconds": rounded(drain_seconds)}
        if not drained:
            # measured as it is; then act so that the next scenarios can run
            counts["left_when_person_acted"] = left_now
            self.restart_all(out, f"not drained within {self.t.drain_timeout:.0f} s")
            left = self._wait_drained(must, self.t.escalation_timeout)
            if left is None or any(left.values()):
                self.reset_ingest_group(out, "still not drained after restarting the processes")
                left = self._wait_drained(must, self.t.escalation_timeout)
            counts["left_after_person_acted"] = left
        time.sleep(self.t.settle)
        counts.update(count(self.c.plain_db_url, name, batches, out))
        return counts

    def _wait_drained(self, batches: list[Batch], timeout: float) -> dict[str, int] | None:
        deadline = now() + timeout
        while True:
            left = missing(self.c.plain_db_url(), batches)
            if (left is not None and not any(left.values())) or now() > deadline:
                return left
            time.sleep(1.0)
