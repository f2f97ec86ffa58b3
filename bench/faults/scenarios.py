"""The faults themselves: each injects its fault and returns when the fault is over (the
suite then waits for the recovery)."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import suppress

import psutil

from bench.faults.cluster import Cluster
from bench.faults.plan import Outcome, Timings, now, rounded
from kindred import infra
from kindred.infra import port_open
from kindred.settings import read_infra_state


class Faults:
    """Injects the fault of a scenario into ``cluster``, logging through ``say``."""

    def __init__(
        self,
        cluster: Cluster,
        timings: Timings,
        *,
        kills: int,
        say: Callable[[str], None],
        started: float,
    ) -> None:
        self.c = cluster
        self.t = timings
        self.kills = kills
        self.say = say
        self.started = started

    def _kill_worker(self, out: Outcome, names: Sequence[str]) -> None:
        for i in range(self.kills):
            name = names[i % len(names)]
            self.say(f"kill -9 {name} ({i + 1}/{self.kills})")
            self.c.kill(name)
            time.sleep(0.5)
            self.c.spawn(name)
            out.actions.append({"at_s": rounded(now() - self.started), "action": f"kill -9 {name}"})
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
                {"at_s": rounded(now() - self.started), "action": f"{how} ingest-1 + ingest-2"}
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
        out.actions.append({"at_s": rounded(now() - self.started), "action": action})
        time.sleep(self.t.down)
        self.say("kindred infra up")
        up = self.c.infra_up()
        up["pg_port_before"] = before
        out.actions.append(
            {"at_s": rounded(now() - self.started), "action": "kindred infra up", **up}
        )
        self.say(f"PostgreSQL back: port {before} -> {up['pg_port']}")

    def _broker(self, out: Outcome) -> None:
        before = read_infra_state(self.c.settings).get("kafka_port")
        pid = self.c.kafka_pid()
        self.say(f"broker: kill -9 tansu (pid {pid})")
        out.marks["kill"] = now()
        if pid:
            os.kill(pid, signal.SIGKILL)
            with suppress(psutil.Error):
                psutil.Process(pid).wait(10)
        out.actions.append(
            {"at_s": rounded(now() - self.started), "action": f"kill -9 tansu {pid}"}
        )
        time.sleep(self.t.down)
        listening: dict[str, float] = {}

        def watch() -> None:  # when the old port answers again (the broker is back there)
            while "t" not in listening and "stop" not in listening:
                if isinstance(before, int) and port_open("127.0.0.1", before, 0.05):
                    listening["t"] = now()
                time.sleep(0.05)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        self.say("kindred infra up")
        up = self.c.infra_up()
        listening["stop"] = 0.0
        watcher.join()
        out.marks["up"] = min(listening.get("t", now()), now())
        up["kafka_port_before"] = before
        out.actions.append(
            {"at_s": rounded(now() - self.started), "action": "kindred infra up", **up}
        )
        self.say(f"broker back: port {before} -> {up['kafka_port']}")

    def inject(self, name: str, out: Outcome) -> None:
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
