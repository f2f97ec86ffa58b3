"""The embedded services in a temporary data dir and the Kindred processes that use them."""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

import psutil
from rich.console import Console

from bench.faults.plan import PROCESSES, SOURCE, now, rounded
from bench.processes import spawn, wait_http
from kindred import infra
from kindred.infra import free_port
from kindred.settings import Settings, read_infra_state


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
        wait_http(self.base, timeout=60)

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
        self.procs[name] = spawn(args, self.env, log=log)

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
        start = now()
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
            "infra_up_seconds": rounded(now() - start),
            "infra_up_attempts": attempts,
            "pg_port": state.get("pg_port"),
            "kafka_port": state.get("kafka_port"),
        }
