"""Kafka client wrappers (kafka-python): topic creation, a durable producer, consumers.

Nothing here assumes the embedded broker: the same code runs against a real cluster through
``KINDRED_KAFKA_BOOTSTRAP``.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

log = logging.getLogger(__name__)

# Consumer groups join in ~3 s with these; kafka-python's defaults can take 20 s+.
GROUP_TIMEOUTS: dict[str, Any] = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 500}


class BrokerUnavailable(RuntimeError):
    """The broker did not answer or did not acknowledge a write."""


def ensure_topics(bootstrap: str, topics: Iterable[str], *, partitions: int = 4) -> None:
    """Create topics that do not exist yet (harmless when they do)."""
    wanted = list(topics)
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap, request_timeout_ms=10000, bootstrap_timeout_ms=5000
        )
    except KafkaError as err:
        raise BrokerUnavailable(f"no Kafka broker at {bootstrap}: {err}") from err
    try:
        existing = set(admin.list_topics())
        missing = [t for t in wanted if t not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(
                    [NewTopic(t, num_partitions=partitions, replication_factor=1) for t in missing]
                )
    finally:
        admin.close()


def make_producer(bootstrap: str, **overrides: Any) -> KafkaProducer:
    """acks=all, idempotent-ish retries, small linger so batches form under load."""
    config: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "acks": "all",
        "retries": 5,
        "enable_idempotence": True,  # with up to 5 in flight, still no reordering or dupes
        "linger_ms": 5,
        "batch_size": 256 * 1024,
        "max_request_size": 2 * 1024 * 1024,
        "request_timeout_ms": 10000,
        "max_block_ms": 10000,
        "bootstrap_timeout_ms": 5000,
        "max_in_flight_requests_per_connection": 5,
    }
    config.update(overrides)
    try:
        return KafkaProducer(**config)
    except KafkaError as err:
        raise BrokerUnavailable(f"no Kafka broker at {bootstrap}: {err}") from err


def make_consumer(
    bootstrap: str, *, group_id: str, topics: Sequence[str], **overrides: Any
) -> KafkaConsumer:
    config: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "max_poll_records": 2000,
        "fetch_max_bytes": 16 * 1024 * 1024,
        **GROUP_TIMEOUTS,
    }
    config.update(overrides)
    consumer = KafkaConsumer(**config)
    consumer.subscribe(list(topics))
    return consumer


def send_all(
    producer: KafkaProducer,
    topic: str,
    messages: Iterable[tuple[bytes | None, bytes]],
    *,
    headers: list[tuple[str, bytes]] | None = None,
    timeout: float = 10.0,
) -> int:
    """Send and wait until every message is acknowledged; raise BrokerUnavailable otherwise.
    Waits on this call's own futures (not a global flush), so concurrent callers batch together."""
    futures = [producer.send(topic, key=k, value=v, headers=headers) for k, v in messages]
    deadline = time.monotonic() + timeout
    for fut in futures:
        try:
            fut.get(timeout=max(0.1, deadline - time.monotonic()))
        except KafkaError as err:
            raise BrokerUnavailable(f"broker did not acknowledge: {err}") from err
    return len(futures)
