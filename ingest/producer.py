"""Publishing canonical events to Kafka, keyed so one person's events keep their order."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from connectors.events import Event
from kindred.kafka import (
    BrokerUnavailable,
    Producer,
    close_now,
    ensure_topics,
    make_producer,
    send_all,
)

log = logging.getLogger(__name__)


class EventPublisher:
    """Thread-safe, lazily connected. ``publish`` returns once the broker acknowledged all.

    Heals by itself: when a send fails, the producer is closed and the next ``publish`` makes
    a new one (a restarted broker does not accept the old idempotent producer's id again, so
    kafka-python's own retries never succeed). ``bootstrap`` may be a function, read again at
    each reconnect (the embedded broker's address comes from ``infra.json``). While the broker
    is unreachable, reconnects are tried at most every ``reconnect_every`` seconds; calls in
    between fail at once instead of queueing behind the connect.
    """

    def __init__(
        self,
        bootstrap: str | Callable[[], str],
        topic: str,
        *,
        partitions: int = 4,
        reconnect_every: float = 1.0,
    ) -> None:
        self._bootstrap_source = bootstrap
        self.bootstrap = bootstrap if isinstance(bootstrap, str) else bootstrap()
        self.topic = topic
        self.partitions = partitions
        self.reconnect_every = reconnect_every
        self._producer: Producer | None = None
        self._lock = threading.Lock()
        self._retry_at = 0.0
        self._last_error = ""

    def _get(self) -> Producer:
        with self._lock:
            if self._producer is not None:
                return self._producer
            if time.monotonic() < self._retry_at:
                raise BrokerUnavailable(
                    f"Kafka at {self.bootstrap} unavailable: {self._last_error}"
                )
            if not isinstance(self._bootstrap_source, str):
                self.bootstrap = self._bootstrap_source()
            try:
                ensure_topics(self.bootstrap, [self.topic], partitions=self.partitions)
                self._producer = make_producer(self.bootstrap)
            except Exception as err:  # kafka-python raises assorted errors while connecting
                self._retry_at = time.monotonic() + self.reconnect_every
                self._last_error = str(err)
                if isinstance(err, BrokerUnavailable):
                    raise
                raise BrokerUnavailable(f"cannot reach Kafka at {self.bootstrap}: {err}") from err
            return self._producer

    def _discard(self, producer: Producer) -> None:
        """Drop ``producer`` (if it is still the current one) so the next call reconnects."""
        with self._lock:
            if self._producer is not producer:
                return  # another caller already replaced it
            self._producer = None
        log.warning("Kafka producer failed; reconnecting on the next publish")
        close_now(producer)

    def publish(self, events: Sequence[Event], *, timeout: float = 10.0) -> int:
        if not events:
            return 0
        producer = self._get()
        try:
            return send_all(
                producer,
                self.topic,
                [(ev.routing_key.encode(), ev.to_bytes()) for ev in events],
                timeout=timeout,
            )
        except BrokerUnavailable:
            self._discard(producer)
            raise
        except Exception as err:  # e.g. a send on a producer closed underneath us
            self._discard(producer)
            raise BrokerUnavailable(f"broker did not acknowledge: {err}") from err

    def close(self) -> None:
        with self._lock:
            if self._producer is not None:
                self._producer.close(timeout=5)
                self._producer = None
