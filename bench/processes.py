"""The benchmarks' child processes: the environment a ``kindred`` child gets, starting one,
and waiting for the API to answer."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

from kindred.infra import free_port
from kindred.kafka import ensure_topics
from kindred.settings import Settings

__all__ = ["process_env", "running_pipeline", "spawn", "stop_all", "wait_http"]


def process_env(settings: Settings, port: int) -> dict[str, str]:
    """This process's environment plus the infrastructure ``settings`` resolved to, for a
    child serving the API on ``port``."""
    return {
        **os.environ,
        "KINDRED_DATABASE_URL": settings.resolved_database_url(),
        "KINDRED_KAFKA_BOOTSTRAP": settings.resolved_kafka_bootstrap(),
        "KINDRED_EVENTS_TOPIC": settings.events_topic,
        "KINDRED_DLQ_TOPIC": settings.dlq_topic,
        "KINDRED_IDENTITY_CHANGES_TOPIC": settings.identity_changes_topic,
        "KINDRED_API_PORT": str(port),
        "KINDRED_LOG_LEVEL": "WARNING",
        # the benchmarks measure the API, not the per-key read limit (50/s by default)
        "KINDRED_READ_RATE_LIMIT": os.environ.get("KINDRED_READ_RATE_LIMIT", "100000"),
        "KINDRED_READ_RATE_BURST": os.environ.get("KINDRED_READ_RATE_BURST", "100000"),
    }


def spawn(
    args: list[str], env: dict[str, str], *, log: Path | None = None
) -> subprocess.Popen[bytes]:
    """Run ``kindred ARGS`` in a child process; its output goes to ``log`` (or nowhere)."""
    out = log.open("ab") if log else None
    try:
        return subprocess.Popen(
            [sys.executable, "-c", "from cli import main; main()", *args],
            env=env,
            stdout=out or subprocess.DEVNULL,
            stderr=subprocess.STDOUT if out else subprocess.DEVNULL,
        )
    finally:
        if out:
            out.close()


def wait_http(base: str, timeout: float = 90) -> None:
    """Wait until ``{base}/healthz`` answers 200; RuntimeError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the API at {base} did not start")


def stop_all(procs: Sequence[subprocess.Popen[bytes]], *, timeout: float = 20) -> None:
    """SIGTERM every child, then wait for each (SIGKILL after ``timeout`` seconds)."""
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()


@contextmanager
def running_pipeline(settings: Settings, workers: Sequence[str]) -> Iterator[str]:
    """The API and the ``workers`` (e.g. ``["ingest", "identity"]``) as child processes on
    the infrastructure of ``settings``, topics created; yields the API's base URL once it
    answers, and stops them all on the way out."""
    port = free_port()
    env = process_env(settings, port)
    ensure_topics(
        settings.resolved_kafka_bootstrap(),
        [settings.events_topic, settings.dlq_topic],
        partitions=settings.topic_partitions,
    )
    procs = [spawn(["serve", "--port", str(port)], env)]
    try:
        procs += [spawn(["worker", kind], env) for kind in workers]
        base = f"http://127.0.0.1:{port}"
        wait_http(base)
        yield base
    finally:
        stop_all(procs)
