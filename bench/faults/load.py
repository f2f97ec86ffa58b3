"""The load: uniquely numbered batches at a steady rate, delivered with retries."""

from __future__ import annotations

import itertools
import json
import queue
import threading
import time
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from bench.faults.plan import USERS_PER_BATCH, now


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
        deadline = now() + flush_timeout
        while self.queue.unfinished_tasks and now() < deadline:
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
        next_at = now()
        while self._generating.is_set():
            self.queue.put(self._make(phase))
            next_at += self.interval
            delay = next_at - now()
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
        batch = Batch(phase, ids, users, json.dumps({"batch": messages}).encode(), now())
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
            started = now()
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
                    batch.acked_at = now()
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
