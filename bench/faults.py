"""`kindred bench faults`: what each fault costs, measured from the outside.

A load of uniquely numbered events (identify + track per user ``f-<n>``, unique message ids)
goes through the real collector (``kindred serve``) with a retrying client: a batch is retried
on 5xx, 429 and connection errors with back-off, and only a 2xx counts as acknowledged. The
workers run as separate processes (``worker ingest`` x2, ``identity``, ``profiles``) against
embedded PostgreSQL and the embedded broker in a temporary ``KINDRED_DATA_DIR``; every child
gets only that directory (no URL), exactly as ``kindred infra up`` users run them, so a child
that follows the services after a restart can heal and one that does not is seen not to.

Each scenario is its own phase with its own message ids; the load keeps flowing during the
fault. After the fault the suite sends probes (one new person per Kafka partition every second)
and the scenario has recovered when, for every partition, a probe sent after the fault is
stored and on a fresh profile. Then the load stops, the pipeline drains, and the suite counts:
acknowledged, stored, lost (acknowledged, not stored after the drain), duplicated (events,
touchpoints, source records stored more than once), records left unresolved, profiles left
stale. The suite restarts nothing but what the scenario itself restarts; when a process dies by
itself or the pipeline does not recover, it acts as an operator would (restart the process,
then everything, then reset the ingest consumer group), says so (``person_acted``), and goes on.

The embedded broker keeps messages in memory only: events it acknowledged and the ingest worker
had not yet taken are gone when it dies. The broker scenario counts those separately
(``lost_in_memory_broker``) and checks that no event was acknowledged while no broker ran.
"""

from __future__ import annotations

import itertools
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
from rich.console import Console
from rich.table import Table

from bench.ingest import _spawn, _wait_http
from kindred import infra
from kindred.infra import free_port, port_open
from kindred.settings import Settings, read_infra_state

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


def _now() -> float:
    return time.monotonic()


def _r(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


# --------------------------------------------------------------------------- processes


class Cluster:
    """Embedded services in a temporary data dir and the Kindred processes that use them."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.data_dir = Path(tempfile.mkdtemp(prefix="kindred-faults-"))
        self.log_dir = Path(tempfile.mkdtemp(prefix="kindred-faults-logs-"))
        # explicit None: the embedded services, whatever the caller's environment says
        self.settings = Settings(data_dir=self.data_dir, database_url=None, kafka_bootstrap=None)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("KINDRED_")}
        self.env.update(
            {
                "KINDRED_DATA_DIR": str(self.data_dir),
                "KINDRED_API_PORT": str(self.port),
                "KINDRED_LOG_LEVEL": "WARNING",
            }
        )
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, Path] = {}
        self._generation = itertools.count(1)
        self.write_key = ""

    # -- services
    def start(self) -> None:
        from ingest.sources import create_source
        from kindred.db import make_engine, unit_of_work
        from kindred.kafka import ensure_topics
        from kindred.migrate import upgrade

        infra.up(self.settings)
        url = self.settings.resolved_database_url()
        upgrade(url)
        engine = make_engine(url)
        with unit_of_work(engine) as session:
            _, self.write_key = create_source(session, name=SOURCE, connector="web")
        engine.dispose()
        s = self.settings
        ensure_topics(
            s.resolved_kafka_bootstrap(),
            [s.events_topic, s.dlq_topic, s.identity_changes_topic, s.segment_changes_topic],
            partitions=s.topic_partitions,
        )
        for name in PROCESSES:
            self.spawn(name)
        _wait_http(self.base, timeout=60)

    def stop(self) -> None:
        for name in list(self.procs):
            self.terminate(name)
        with suppress(Exception):
            infra.down(self.settings)
        self._kill_leftovers()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def _kill_leftovers(self) -> None:
        """A postmaster killed with -9 can leave backends; a failed `infra up` a broker."""
        for proc in psutil.process_iter(["cmdline"]):
            with suppress(psutil.Error):
                if str(self.data_dir) in " ".join(proc.info["cmdline"] or []):
                    proc.kill()

    def plain_db_url(self) -> str:
        """Where the database is now (it may have moved after `infra up`)."""
        url = self.settings.resolved_database_url()
        return url.replace("postgresql+psycopg://", "postgresql://")

    def kafka_bootstrap(self) -> str:
        return self.settings.resolved_kafka_bootstrap()

    # -- kindred processes
    def spawn(self, name: str) -> None:
        args = list(PROCESSES[name])
        if name == "api":
            args += ["--port", str(self.port)]
        log = self.log_dir / f"{name}.{next(self._generation)}.log"
        self.logs[name] = log
        self.procs[name] = _spawn(args, self.env, log=log)

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        with suppress(ProcessLookupError):
            proc.send_signal(signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):
            proc.wait(10)

    def terminate(self, name: str) -> None:
        proc = self.procs[name]
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill(name)

    def exited(self) -> list[tuple[str, int]]:
        return [(n, p.returncode) for n, p in self.procs.items() if p.poll() is not None]

    def log_tail(self, name: str, chars: int = 600) -> str:
        try:
            return self.logs[name].read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def last_line(self, name: str) -> str | None:
        """The last line a process logged that is not part of a traceback's indented body."""
        lines = [ln for ln in self.log_tail(name, 4000).splitlines() if ln and ln[0] != " "]
        return lines[-1][:300] if lines else None

    # -- service faults
    def pg_pid(self) -> int | None:
        pidfile = self.data_dir / "pgdata" / "postmaster.pid"
        try:
            return int(pidfile.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None

    def kafka_pid(self) -> int | None:
        pid = read_infra_state(self.settings).get("kafka_pid")
        return pid if isinstance(pid, int) else None

    def infra_up(self) -> dict[str, Any]:
        """`kindred infra up` as an operator (or a supervisor) would run it."""
        start = _now()
        attempts: list[str] = []
        for _ in range(3):
            done = subprocess.run(
                [sys.executable, "-c", "from cli import main; main()", "infra", "up"],
                env=self.env,
                capture_output=True,
                timeout=180,
                check=False,
            )
            if done.returncode == 0:
                attempts.append("ok")
                break
            attempts.append(done.stderr.decode(errors="replace")[-300:])
            time.sleep(2)
        state = read_infra_state(self.settings)
        return {
            "infra_up_seconds": _r(_now() - start),
            "infra_up_attempts": attempts,
            "pg_port": state.get("pg_port"),
            "kafka_port": state.get("kafka_port"),
        }


# --------------------------------------------------------------------------- load


@dataclass
class Batch:
    phase: str
    message_ids: list[str]
    users: list[str]
    body: bytes
    created: float
    attempts: int = 0
    acked_at: float | None = None
    ack_attempt_started: float | None = None
    rejected: set[int] = field(default_factory=set)  # indexes the collector refused
    failed_status: int | None = None  # a 4xx that is not retried

    def acked_ids(self) -> list[str]:
        if self.acked_at is None:
            return []
        return [m for i, m in enumerate(self.message_ids) if i not in self.rejected]


class Load:
    """Batches at a steady rate into a queue; sender threads deliver them with retries."""

    def __init__(self, base: str, write_key: str, *, rate: float, senders: int = 4) -> None:
        self.base = base
        self.auth = (write_key, "")
        self.interval = 2 * USERS_PER_BATCH / max(rate, 1.0)
        self.numbers = itertools.count()
        self.queue: queue.Queue[Batch] = queue.Queue()
        self.batches: dict[str, list[Batch]] = {}
        self.http: dict[str, Counter[str]] = {}
        self._phase: str | None = None
        self._generating = threading.Event()
        self._abandon = threading.Event()
        self._closed = threading.Event()
        self._generator: threading.Thread | None = None
        self._senders = [
            threading.Thread(target=self._send_loop, daemon=True, name=f"faults-sender-{i}")
            for i in range(senders)
        ]
        for t in self._senders:
            t.start()

    def begin(self, phase: str) -> None:
        self._phase = phase
        self.batches[phase] = []
        self.http[phase] = Counter()
        self._generating.set()
        self._generator = threading.Thread(target=self._generate, args=(phase,), daemon=True)
        self._generator.start()

    def end(self, flush_timeout: float) -> list[Batch]:
        """Stop making batches; wait until the queued ones are delivered (or give up)."""
        phase = self._phase
        assert phase is not None
        self._generating.clear()
        if self._generator:
            self._generator.join()
        deadline = _now() + flush_timeout
        while self.queue.unfinished_tasks and _now() < deadline:
            time.sleep(0.1)
        if self.queue.unfinished_tasks:
            self._abandon.set()
            while self.queue.unfinished_tasks:
                time.sleep(0.1)
            self._abandon.clear()
        return self.batches[phase]

    def close(self) -> None:
        self._closed.set()
        self._abandon.set()

    def _generate(self, phase: str) -> None:
        next_at = _now()
        while self._generating.is_set():
            self.queue.put(self._make(phase))
            next_at += self.interval
            delay = next_at - _now()
            if delay > 0:
                time.sleep(delay)

    def _make(self, phase: str) -> Batch:
        messages: list[dict[str, Any]] = []
        ids: list[str] = []
        users: list[str] = []
        ts = datetime.now(UTC).isoformat()
        for _ in range(USERS_PER_BATCH):
            n = next(self.numbers)
            user = f"f-{n}"
            users.append(user)
            for kind in ("identify", "track"):
                mid = f"{phase}-{n}-{kind[0]}"
                ids.append(mid)
                msg: dict[str, Any] = {
                    "type": kind,
                    "messageId": mid,
                    "userId": user,
                    "timestamp": ts,
                }
                if kind == "identify":
                    msg["traits"] = {"email": f"{user}@faults.example", "name": f"Fault {n}"}
                else:
                    msg["event"] = "Fault Suite Step"
                    msg["properties"] = {"n": n, "phase": phase}
                messages.append(msg)
        batch = Batch(phase, ids, users, json.dumps({"batch": messages}).encode(), _now())
        self.batches[phase].append(batch)
        return batch

    def _send_loop(self) -> None:
        # an SDK's timeout (analytics-python: 15 s), longer than the collector's broker wait
        with httpx.Client(base_url=self.base, timeout=15.0) as client:
            while not self._closed.is_set():
                try:
                    batch = self.queue.get(timeout=0.2)
                except queue.Empty:
                    continue
                try:
                    self._deliver(client, batch)
                finally:
                    self.queue.task_done()

    def _deliver(self, client: httpx.Client, batch: Batch) -> None:
        delay = 0.1
        counts = self.http[batch.phase]
        while not self._abandon.is_set():
            started = _now()
            batch.attempts += 1
            try:
                r = client.post(
                    "/v1/batch",
                    content=batch.body,
                    auth=self.auth,
                    headers={"Content-Type": "application/json"},
                )
            except httpx.HTTPError as err:
                counts[f"error:{type(err).__name__}"] += 1
            else:
                counts[str(r.status_code)] += 1
                if 200 <= r.status_code < 300:
                    batch.acked_at = _now()
                    batch.ack_attempt_started = started
                    with suppress(ValueError, TypeError, AttributeError):
                        for item in r.json().get("rejected") or []:
                            batch.rejected.add(int(item["index"]))
                    return
                if r.status_code < 500 and r.status_code != 429:
                    batch.failed_status = r.status_code
                    return
            time.sleep(delay)
            delay = min(2.0, delay * 2)


# --------------------------------------------------------------------------- the database


def _rows(url: str, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]] | None:
    """One query on a fresh connection; None while the database does not answer."""
    try:
        with psycopg.connect(url, connect_timeout=3, autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()
    except psycopg.Error:
        return None


_REACHED = (
    "SELECT r.record_key FROM source_records r "
    "JOIN record_links l ON l.record_id = r.id JOIN profiles p ON p.id = l.profile_id "
    "WHERE r.source = %s AND r.record_key = ANY(%s) AND NOT r.dirty AND NOT p.stale "
    "AND position(substr(r.record_key, 6) in p.traits::text) > 0"
)


def _partition_of(key: str, partitions: int) -> int:
    from kafka.partitioner.default import murmur2

    return int((murmur2(key.encode()) & 0x7FFFFFFF) % partitions)


# --------------------------------------------------------------------------- the suite


@dataclass
class Outcome:
    """What happened during one scenario besides the counts."""

    actions: list[dict[str, Any]] = field(default_factory=list)
    interventions: list[dict[str, Any]] = field(default_factory=list)
    fault_end: float = 0.0
    marks: dict[str, float] = field(default_factory=dict)  # monotonic times (broker)


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
        self.started = _now()

    def say(self, text: str) -> None:
        self.console.log(f"[{_now() - self.started:6.1f}s] {text}")

    # -- probes and recovery
    def _probe_users(self, tag: str) -> list[str]:
        """One new user per partition (the routing key is the user id)."""
        found: dict[int, str] = {}
        while len(found) < self.partitions:
            user = f"probe-{tag}-{next(self._probe_n)}"
            found.setdefault(_partition_of(user, self.partitions), user)
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
        return [(u, _partition_of(u, self.partitions)) for u in users]

    def await_recovery(self, tag: str, since: float, timeout: float, out: Outcome) -> float | None:
        """Seconds from ``since`` until a probe sent after it reached its profile on every
        partition; None after ``timeout``. Restarts (and reports) processes that died."""
        pending: dict[str, int] = {}
        reached: set[int] = set()
        last_probe = 0.0
        deadline = _now() + timeout
        while _now() < deadline:
            self.restart_exited(out)
            if _now() - last_probe >= 1.0:
                last_probe = _now()
                pending.update(self._send_probe(tag))
            if pending:
                rows = _rows(
                    self.c.plain_db_url(),
                    _REACHED,
                    (SOURCE, [f"user:{u}" for u in pending]),
                )
                for (key,) in rows or []:
                    part = pending.pop(key[len("user:") :], None)
                    if part is not None:
                        reached.add(part)
                if len(reached) == self.partitions:
                    return _now() - since
            time.sleep(0.3)
        return None

    def restart_exited(self, out: Outcome) -> None:
        for name, code in self.c.exited():
            tail = self.c.log_tail(name)
            self.say(f"[red]{name} exited by itself (code {code}); restarting it[/red]")
            self.c.spawn(name)
            out.interventions.append(
                {
                    "at_s": _r(_now() - out.fault_end) if out.fault_end else None,
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
            _wait_http(self.c.base, timeout=60)
        out.interventions.append(
            {
                "at_s": _r(_now() - out.fault_end),
                "action": f"restarted API and workers: {why}",
                "last_log_line_before": last_lines,
            }
        )

    def reset_ingest_group(self, out: Outcome, why: str) -> None:
        from kafka import KafkaAdminClient

        self.say(f"[red]person acts: delete consumer group {INGEST_GROUP!r} ({why})[/red]")
        for name in ("ingest-1", "ingest-2"):
            self.c.terminate(name)
        result = "deleted"
        try:
            admin = KafkaAdminClient(bootstrap_servers=self.c.kafka_bootstrap())
            try:
                admin.delete_groups([INGEST_GROUP])
            finally:
                admin.close()
        except Exception as err:  # kafka-python raises assorted errors
            result = f"delete failed: {err}"
        for name in ("ingest-1", "ingest-2"):
            self.c.spawn(name)
        out.interventions.append(
            {
                "at_s": _r(_now() - out.fault_end),
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

    # -- scenarios (each returns when its own fault is over)
    def _kill_worker(self, out: Outcome, names: Sequence[str]) -> None:
        for i in range(self.kills):
            name = names[i % len(names)]
            self.say(f"kill -9 {name} ({i + 1}/{self.kills})")
            self.c.kill(name)
            time.sleep(0.5)
            self.c.spawn(name)
            out.actions.append({"at_s": _r(_now() - self.started), "action": f"kill -9 {name}"})
            if i < self.kills - 1:
                time.sleep(self.t.kill_interval)

    def _stall_group(self, out: Outcome) -> None:
        """Every ingest worker at once, then new ones; repeated. Odd rounds stop them with
        SIGTERM (each leaves the group cleanly, all together), even rounds with kill -9."""
        for i in range(self.kills):
            sig, how = (signal.SIGKILL, "kill -9") if i % 2 == 0 else (signal.SIGTERM, "SIGTERM")
            self.say(f"{how} both ingest workers at once, start two new ones ({i + 1})")
            procs = [self.c.procs[n] for n in ("ingest-1", "ingest-2")]
            for p in procs:
                with suppress(ProcessLookupError):
                    p.send_signal(sig)
            for p in procs:
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(10)
            self.c.spawn("ingest-1")
            self.c.spawn("ingest-2")
            out.actions.append(
                {"at_s": _r(_now() - self.started), "action": f"{how} ingest-1 + ingest-2"}
            )
            if i < self.kills - 1:
                time.sleep(self.t.stall_interval * (0.5, 1.0, 1.5)[i % 3])

    def _postgres(self, out: Outcome, *, how: str) -> None:
        before = read_infra_state(self.c.settings).get("pg_port")
        if how == "fast":
            self.say("PostgreSQL: fast stop")
            infra.stop_postgres(self.c.settings)
            action = "pg_ctl stop -m fast"
        else:
            pid = self.c.pg_pid()
            self.say(f"PostgreSQL: kill -9 the postmaster (pid {pid})")
            if pid:
                os.kill(pid, signal.SIGKILL)
                with suppress(psutil.Error):
                    psutil.Process(pid).wait(10)
            action = f"kill -9 postmaster {pid}"
        out.actions.append({"at_s": _r(_now() - self.started), "action": action})
        time.sleep(self.t.down)
        self.say("kindred infra up")
        up = self.c.infra_up()
        up["pg_port_before"] = before
        out.actions.append({"at_s": _r(_now() - self.started), "action": "kindred infra up", **up})
        self.say(f"PostgreSQL back: port {before} -> {up['pg_port']}")

    def _broker(self, out: Outcome) -> None:
        before = read_infra_state(self.c.settings).get("kafka_port")
        pid = self.c.kafka_pid()
        self.say(f"broker: kill -9 tansu (pid {pid})")
        out.marks["kill"] = _now()
        if pid:
            os.kill(pid, signal.SIGKILL)
            with suppress(psutil.Error):
                psutil.Process(pid).wait(10)
        out.actions.append({"at_s": _r(_now() - self.started), "action": f"kill -9 tansu {pid}"})
        time.sleep(self.t.down)
        listening: dict[str, float] = {}

        def watch() -> None:  # when the old port answers again (the broker is back there)
            while "t" not in listening and "stop" not in listening:
                if isinstance(before, int) and port_open("127.0.0.1", before, 0.05):
                    listening["t"] = _now()
                time.sleep(0.05)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        self.say("kindred infra up")
        up = self.c.infra_up()
        listening["stop"] = 0.0
        watcher.join()
        out.marks["up"] = min(listening.get("t", _now()), _now())
        up["kafka_port_before"] = before
        out.actions.append({"at_s": _r(_now() - self.started), "action": "kindred infra up", **up})
        self.say(f"broker back: port {before} -> {up['kafka_port']}")

    def fault(self, name: str, out: Outcome) -> None:
        faults: dict[str, Callable[[], None]] = {
            "kill-ingest": lambda: self._kill_worker(out, ["ingest-1", "ingest-2"]),
            "kill-identity": lambda: self._kill_worker(out, ["identity"]),
            "kill-profiles": lambda: self._kill_worker(out, ["profiles"]),
            "ingest-group-stall": lambda: self._stall_group(out),
            "postgres-fast-stop": lambda: self._postgres(out, how="fast"),
            "postgres-kill": lambda: self._postgres(out, how="kill"),
            "broker-restart": lambda: self._broker(out),
        }
        faults[name]()

    # -- one phase
    def scenario(self, name: str) -> dict[str, Any]:
        self.say(f"[bold]scenario {name}[/bold]")
        out = Outcome()
        self.load.begin(name)
        time.sleep(self.t.warmup)
        self.fault(name, out)
        out.fault_end = _now()
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
        return self.report(name, batches, out, counts, by_itself, after_person)

    def _required(self, name: str, batches: list[Batch], out: Outcome) -> list[Batch]:
        """Batches whose events must be stored (for the broker: acknowledged after the kill)."""
        acked = [b for b in batches if b.acked_at is not None]
        if name in BROKER_SCENARIOS:
            kill = out.marks.get("kill", 0.0)
            return [b for b in acked if (b.ack_attempt_started or 0.0) >= kill]
        return acked

    def _missing(self, name: str, batches: list[Batch]) -> dict[str, int] | None:
        ids = [m for b in batches for m in b.acked_ids()]
        users = sorted({u for b in batches if b.acked_at is not None for u in b.users})
        keys = [f"user:{u}" for u in users]
        url = self.c.plain_db_url()
        stored = _rows(
            url,
            "SELECT count(*) FROM events WHERE source = %s AND message_id = ANY(%s)",
            (SOURCE, ids),
        )
        unresolved = _rows(
            url,
            "SELECT count(*) FROM source_records r LEFT JOIN record_links l "
            "ON l.record_id = r.id WHERE r.source = %s AND r.record_key = ANY(%s) "
            "AND (r.dirty OR l.record_id IS NULL)",
            (SOURCE, keys),
        )
        stale = _rows(
            url,
            "SELECT count(DISTINCT p.id) FROM source_records r "
            "JOIN record_links l ON l.record_id = r.id JOIN profiles p ON p.id = l.profile_id "
            "WHERE r.source = %s AND r.record_key = ANY(%s) AND p.stale",
            (SOURCE, keys),
        )
        records = _rows(
            url,
            "SELECT count(DISTINCT record_key) FROM source_records "
            "WHERE source = %s AND record_key = ANY(%s)",
            (SOURCE, keys),
        )
        if stored is None or unresolved is None or stale is None or records is None:
            return None
        return {
            "unstored": len(ids) - int(stored[0][0]),
            "unresolved": int(unresolved[0][0]),
            "no_record": len(keys) - int(records[0][0]),
            "stale": int(stale[0][0]),
        }

    def drain_and_count(self, name: str, batches: list[Batch], out: Outcome) -> dict[str, Any]:
        required = self._required(name, batches, out)
        start = _now()
        missing = self._wait_drained(name, required, self.t.drain_timeout)
        drained = missing is not None and not any(missing.values())
        drain_seconds = _now() - start
        counts: dict[str, Any] = {"drained": drained, "drain_seconds": _r(drain_seconds)}
        if not drained:
            # measured as it is; then act so that the next scenarios can run
            counts["left_when_person_acted"] = missing
            self.restart_all(out, f"not drained within {self.t.drain_timeout:.0f} s")
            left = self._wait_drained(name, required, self.t.escalation_timeout)
            if left is None or any(left.values()):
                self.reset_ingest_group(out, "still not drained after restarting the processes")
                left = self._wait_drained(name, required, self.t.escalation_timeout)
            counts["left_after_person_acted"] = left
        time.sleep(self.t.settle)
        counts.update(self.count(name, batches, out))
        return counts

    def _wait_drained(
        self, name: str, required: list[Batch], timeout: float
    ) -> dict[str, int] | None:
        deadline = _now() + timeout
        missing = None
        while True:
            missing = self._missing(name, required)
            if (missing is not None and not any(missing.values())) or _now() > deadline:
                return missing
            time.sleep(1.0)

    def count(self, name: str, batches: list[Batch], out: Outcome) -> dict[str, Any]:
        url = self.c.plain_db_url()
        prefix = f"{name}-"
        acked = [b for b in batches if b.acked_at is not None]
        ids = [m for b in acked for m in b.acked_ids()]
        users = sorted({u for b in acked for u in b.users})
        keys = [f"user:{u}" for u in users]

        def one(sql: str, params: Sequence[Any]) -> tuple[Any, ...]:
            deadline = _now() + 30
            while (rows := _rows(self.c.plain_db_url(), sql, params)) is None:
                if _now() > deadline:
                    raise RuntimeError(f"the database did not answer for 30 s: {sql[:60]}")
                time.sleep(1)
            return rows[0]

        stored_acked = int(
            one(
                "SELECT count(*) FROM events WHERE source = %s AND message_id = ANY(%s)",
                (SOURCE, ids),
            )[0]
        )
        ev_total, ev_distinct, tp_total, tp_distinct, no_tp = one(
            "SELECT count(DISTINCT e.id), count(DISTINCT e.message_id), count(t.id), "
            "count(DISTINCT t.event_id), count(*) FILTER (WHERE t.id IS NULL) "
            "FROM events e LEFT JOIN touchpoints t ON t.event_id = e.id "
            "WHERE e.source = %s AND starts_with(e.message_id, %s)",
            (SOURCE, prefix),
        )
        rec_total, rec_distinct = one(
            "SELECT count(*), count(DISTINCT record_key) FROM source_records "
            "WHERE source = %s AND record_key = ANY(%s)",
            (SOURCE, keys),
        )
        (unresolved,) = one(
            "SELECT count(*) FROM source_records r LEFT JOIN record_links l "
            "ON l.record_id = r.id WHERE r.source = %s AND r.record_key = ANY(%s) "
            "AND (r.dirty OR l.record_id IS NULL)",
            (SOURCE, keys),
        )
        stale, shared = one(
            "SELECT count(DISTINCT p.id) FILTER (WHERE p.stale), "
            "(SELECT count(*) FROM (SELECT l2.profile_id FROM source_records r2 "
            "  JOIN record_links l2 ON l2.record_id = r2.id "
            "  WHERE r2.source = %s AND r2.record_key = ANY(%s) "
            "  GROUP BY l2.profile_id HAVING count(*) > 1) s) "
            "FROM source_records r JOIN record_links l ON l.record_id = r.id "
            "JOIN profiles p ON p.id = l.profile_id "
            "WHERE r.source = %s AND r.record_key = ANY(%s)",
            (SOURCE, keys, SOURCE, keys),
        )
        dup = {
            "events": int(ev_total) - int(ev_distinct),
            "touchpoints": int(tp_total) - int(tp_distinct),
            "source_records": int(rec_total) - int(rec_distinct),
        }
        result: dict[str, Any] = {
            "stored": int(ev_total),
            "stored_of_acknowledged": stored_acked,
            "stored_not_acknowledged": int(ev_total) - stored_acked,
            "lost": len(ids) - stored_acked,
            "duplicated": sum(dup.values()),
            "duplicates": dup,
            "events_without_touchpoint": int(no_tp),
            "users_without_record": len(keys) - int(rec_distinct),
            "profiles_holding_several_test_users": int(shared),
            "records_left_unresolved": int(unresolved),
            "profiles_left_stale": int(stale),
        }
        if name in BROKER_SCENARIOS:
            result.update(self._broker_counts(url, acked, out))
        return result

    def _broker_counts(self, url: str, acked: list[Batch], out: Outcome) -> dict[str, Any]:
        kill, up = out.marks["kill"], out.marks["up"]
        before = [b for b in acked if (b.ack_attempt_started or 0.0) < kill]
        during = [
            b for b in acked if (b.ack_attempt_started or 0.0) >= kill and (b.acked_at or 0.0) < up
        ]
        ids_before = [m for b in before for m in b.acked_ids()]
        rows = _rows(
            url,
            "SELECT count(*) FROM events WHERE source = %s AND message_id = ANY(%s)",
            (SOURCE, ids_before),
        )
        stored_before = int(rows[0][0]) if rows else 0
        lost_memory = len(ids_before) - stored_before
        return {
            "acknowledged_before_kill": len(ids_before),
            "lost_in_memory_broker": lost_memory,
            "acknowledged_while_broker_down": sum(len(b.acked_ids()) for b in during),
            "seconds_broker_down": _r(up - kill),
        }

    def report(
        self,
        name: str,
        batches: list[Batch],
        out: Outcome,
        counts: dict[str, Any],
        by_itself: float | None,
        after_person: float | None,
    ) -> dict[str, Any]:
        acked = [b for b in batches if b.acked_at is not None]
        sent = sum(len(b.message_ids) for b in batches)
        acknowledged = sum(len(b.acked_ids()) for b in acked)
        person = bool(out.interventions)
        doc: dict[str, Any] = {
            "name": name,
            "sent": sent,
            "acknowledged": acknowledged,
            "not_acknowledged": sent - acknowledged,
            "refused_4xx": sum(len(b.message_ids) for b in batches if b.failed_status),
            "http_attempts": dict(sorted(self.load.http[name].items())),
            **counts,
            "seconds_to_recover": _r(by_itself),
            "recovered_by_itself": by_itself is not None,
            "person_acted": person,
            "seconds_to_recover_after_person_acted": _r(after_person),
            "faults": out.actions,
            "interventions": out.interventions,
        }
        if name in BROKER_SCENARIOS:
            # events the in-memory broker took with it are reported, not counted as lost
            doc["lost"] = doc["lost"] - doc["lost_in_memory_broker"]
        failed = []
        if doc["lost"] != 0:
            failed.append(f"{doc['lost']} acknowledged events not stored")
        if doc["duplicated"] != 0:
            failed.append(f"{doc['duplicated']} stored more than once")
        if doc["records_left_unresolved"]:
            failed.append(f"{doc['records_left_unresolved']} records left unresolved")
        if doc["profiles_left_stale"]:
            failed.append(f"{doc['profiles_left_stale']} profiles left stale")
        if by_itself is None:
            failed.append("did not recover by itself")
        elif by_itself > TARGETS["seconds_to_recover_max"]:
            failed.append(f"recovered in {by_itself:.1f} s (> 30 s)")
        if person:
            failed.append("a person had to act")
        if doc.get("acknowledged_while_broker_down"):
            failed.append("2xx for events while no broker ran")
        doc["pass"] = not failed
        doc["failed"] = failed
        return doc


def summary_table(results: Sequence[dict[str, Any]]) -> Table:
    """One line per scenario, for people (the JSON on stdout is the record)."""
    table = Table(title="kindred bench faults")
    columns = {
        "scenario": "name",
        "acked": "acknowledged",
        "stored": "stored",
        "lost": "lost",
        "in-memory lost": "lost_in_memory_broker",
        "dup": "duplicated",
        "unresolved": "records_left_unresolved",
        "stale": "profiles_left_stale",
        "recover s": "seconds_to_recover",
        "person": "person_acted",
        "pass": "pass",
    }
    for title in columns:
        table.add_column(title, justify="left" if title == "scenario" else "right")
    for r in results:
        table.add_row(*("-" if r.get(k) is None else str(r.get(k)) for k in columns.values()))
    return table


@contextmanager
def _cluster(console: Console) -> Iterator[Cluster]:
    cluster = Cluster(console)
    try:
        yield cluster
    finally:
        cluster.stop()


def run(
    *,
    events_per_second: float = 100.0,
    kills: int = 3,
    scenarios: Sequence[str] | None = None,
    short: bool = False,
    timings: Timings | None = None,
    console: Console | None = None,
) -> dict[str, Any]:
    """Run the fault suite; returns the JSON document ``kindred bench faults`` prints."""
    console = console or Console(stderr=True)
    if short:
        kills = 1
    chosen = list(scenarios or (SHORT_SCENARIOS if short else SCENARIOS))
    unknown = [s for s in chosen if s not in SCENARIOS]
    if unknown:
        raise ValueError(f"unknown scenarios {unknown}; choose from {', '.join(SCENARIOS)}")
    timings = timings or (SHORT_TIMINGS if short else Timings())
    started = _now()
    results: list[dict[str, Any]] = []
    with _cluster(console) as cluster:
        console.log(f"starting embedded services and processes in {cluster.data_dir}")
        cluster.start()
        load = Load(cluster.base, cluster.write_key, rate=events_per_second)
        suite = Suite(cluster, load, timings, kills=kills)
        warm = Outcome(fault_end=_now())
        ready = suite.await_recovery("warmup", warm.fault_end, 120.0, warm)
        if ready is None:
            raise RuntimeError(f"the pipeline never became ready; logs in {cluster.log_dir}")
        console.log(f"pipeline ready in {ready:.1f} s; logs in {cluster.log_dir}")
        try:
            for name in chosen:
                results.append(suite.scenario(name))
                r = results[-1]
                colour = "green" if r["pass"] else "red"
                console.log(
                    f"[{colour}]{name}: acknowledged {r['acknowledged']}, lost {r['lost']}, "
                    f"duplicated {r['duplicated']}, recover {r['seconds_to_recover']} s, "
                    f"person acted {r['person_acted']}[/{colour}]"
                )
        finally:
            load.close()
        log_dir = str(cluster.log_dir)
    console.print(summary_table(results))
    return {
        "benchmark": "faults",
        "machine": {"cpus": os.cpu_count()},
        "config": {
            "events_per_second": events_per_second,
            "kills": kills,
            "short": short,
            "scenarios": chosen,
            "timings": asdict(timings),
            "broker": "embedded tansu (memory storage)",
            "database": "embedded PostgreSQL 16",
        },
        "targets": TARGETS,
        "scenarios": results,
        "passed": all(r["pass"] for r in results),
        "seconds": _r(_now() - started, 1),
        "logs": log_dir,
    }
