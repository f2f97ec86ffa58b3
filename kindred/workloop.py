"""How every worker treats a failed unit of work, and the loop the simple ones run.

One policy for the ingest, identity and profiles workers: a deadlock or serialisation failure
is retried at once (after a few milliseconds: the other transaction has finished); any other
failure backs off exponentially, up to ``cap`` seconds, so an outage heals soon after it ends.
Both are reported to the worker's heartbeat.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable

from kindred.dberrors import is_deadlock
from kindred.heartbeat import Heartbeat

log = logging.getLogger(__name__)


class Retry:
    """The failure streak of one worker loop."""

    def __init__(
        self, stop: threading.Event, heartbeat: Heartbeat | None, *, cap: float = 5.0
    ) -> None:
        self.stop = stop
        self.heartbeat = heartbeat
        self.cap = cap
        self.failures = 0

    def succeeded(self) -> None:
        self.failures = 0
        if self.heartbeat is not None:
            self.heartbeat.success()

    def failed(self, err: BaseException, *, what: str) -> None:
        """Report ``err`` and wait before the next attempt."""
        deadlock = is_deadlock(err)
        if self.heartbeat is not None:
            self.heartbeat.failure(err, deadlock=deadlock)
        if deadlock:
            log.warning("%s hit a deadlock; retrying at once", what)
            self.stop.wait(random.uniform(0.02, 0.2))
            return
        self.failures += 1
        log.error("%s failed (attempt %d); retrying", what, self.failures, exc_info=err)
        self.stop.wait(min(self.cap, 0.25 * 2**self.failures))


def run_loop(
    step: Callable[[], bool],
    *,
    retry: Retry,
    what: str,
    idle: float = 0.0,
    on_error: Callable[[BaseException], None] | None = None,
    idle_is_success: bool = True,
) -> None:
    """Run ``step`` until ``retry.stop`` is set; ``step`` returns whether it found work (no
    work: wait ``idle`` seconds before the next). A failed step is reported to ``on_error``
    first (every failure, deadlocks too: the worker undoes or drops what the failure left,
    e.g. rewinds a consumer or closes a Kafka producer), then retried by ``retry``'s policy.
    ``idle_is_success=False``: a step that found no work does not count as a success (the
    ingest worker's empty poll says nothing about whether it can store)."""
    while not retry.stop.is_set():
        try:
            busy = step()
        except Exception as err:
            if on_error is not None:
                on_error(err)
            retry.failed(err, what=what)
            continue
        if busy or idle_is_success:
            retry.succeeded()
        if not busy and idle:
            retry.stop.wait(idle)
