"""Publishing canonical events to Kafka, keyed so one person's events keep their order."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from kafka import KafkaProducer

from ingest.events import Event
from kindred.kafka import BrokerUnavailable, ensure_topics, make_producer, send_all


class EventPublisher:
    """Thread-safe, lazily connected. ``publish`` returns once the broker acknowledged all."""

    def __init__(self, bootstrap: str, topic: str, *, partitions: int = 4) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.partitions = partitions
        self._producer: KafkaProducer | None = None
        self._lock = threading.Lock()

    def _get(self) -> KafkaProducer:
        with self._lock:
            if self._producer is None:
                ensure_topics(self.bootstrap, [self.topic], partitions=self.partitions)
                self._producer = make_producer(self.bootstrap)
            return self._producer

    def publish(self, events: Sequence[Event], *, timeout: float = 10.0) -> int:
        if not events:
            return 0
        try:
            producer = self._get()
        except BrokerUnavailable:
            raise
        except Exception as err:  # kafka-python raises assorted errors while connecting
            raise BrokerUnavailable(f"cannot reach Kafka at {self.bootstrap}: {err}") from err
        return send_all(
            producer,
            self.topic,
            [(ev.routing_key.encode(), ev.to_bytes()) for ev in events],
            timeout=timeout,
        )

    def close(self) -> None:
        with self._lock:
            if self._producer is not None:
                self._producer.close(timeout=5)
                self._producer = None
