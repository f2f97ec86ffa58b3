"""Clean stop on SIGTERM / Ctrl-C for long-running workers."""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from types import FrameType

log = logging.getLogger(__name__)


def stop_on_signals(stop: Callable[[], None], *, name: str = "worker") -> None:
    """Call ``stop`` on SIGTERM or SIGINT: the worker finishes its current batch, commits and
    exits (a second signal is handled the same way; SIGKILL is what aborts)."""

    def handler(signum: int, frame: FrameType | None) -> None:
        log.info("%s: signal %s, finishing the current batch", name, signum)
        stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
