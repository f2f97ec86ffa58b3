"""Kafka client wrappers (kafka-python): topic creation, a durable producer, consumers.

Nothing here assumes the embedded broker: the same code runs against a real cluster through
``KINDRED_KAFKA_BOOTSTRAP``.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kafka import (
    ConsumerRebalanceListener,
    KafkaAdminClient,
    KafkaConsumer,
    KafkaProducer,
    TopicPartition,
)
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError
from kafka.partitioner.default import murmur2

from kindred.settings import get_settings

log = logging.getLogger(__name__)

#: the producer type, for modules that hold one without importing kafka-python themselves
Producer = KafkaProducer

# Consumer groups join in ~3 s with these; kafka-python's defaults can take 20 s+.
GROUP_TIMEOUTS: dict[str, Any] = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 500}


class BrokerUnavailable(RuntimeError):
    """The broker did not answer or did not acknowledge a write."""


def ensure_topics(bootstrap: str, topics: Iterable[str], *, partitions: int | None = None) -> None:
    """Create topics that do not exist yet (harmless when they do), with ``partitions``
    partitions (default: ``KINDRED_KAFKA_PARTITIONS``, 4 when unset)."""
    if partitions is None:
        partitions = get_settings().topic_partitions
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


def partition_for_key(key: str, partitions: int) -> int:
    """The partition the default partitioner sends ``key`` to (kafka-python's murmur2)."""
    return int((murmur2(key.encode()) & 0x7FFFFFFF) % partitions)


def make_consumer(
    bootstrap: str,
    *,
    group_id: str,
    topics: Sequence[str],
    listener: ConsumerRebalanceListener | None = None,
    **overrides: Any,
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
    if listener is None:
        consumer.subscribe(list(topics))
    else:
        consumer.subscribe(list(topics), listener=listener)
    return consumer


def close_now(producer: KafkaProducer) -> None:
    """Close a producer that failed, without waiting for what it still holds.

    ``KafkaProducer.close(timeout=0)`` raises while batches are pending (it flushes first) and
    then never stops its I/O thread, which would keep retrying against a broker that no longer
    knows its producer id. So on that error the sender is force-closed (it fails the pending
    futures), then the producer closed. Never raises."""
    try:
        producer.close(timeout=0)
        return
    except Exception:
        log.debug("producer close raised; forcing it", exc_info=True)
    sender = getattr(producer, "_sender", None)  # no public API for a forced close
    if sender is not None:
        with contextlib.suppress(Exception):
            sender.force_close()
            sender.join(5)
    with contextlib.suppress(Exception):
        producer.close(timeout=0)


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


@dataclass
class ConsumerProbe:
    """Where a group member stands: its partitions, its lag on them, and the group's."""

    partitions: list[str] = field(default_factory=list)  # "topic:partition" assigned to us
    lag: dict[str, int] = field(default_factory=dict)  # ours: end offset - position
    group_lag: int = 0  # every partition of the topic: end offset - committed offset
    committed: dict[str, int] = field(default_factory=dict)  # the group's, per partition


def make_admin(bootstrap: str) -> KafkaAdminClient:
    return KafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=5000, bootstrap_timeout_ms=5000
    )


def delete_group(bootstrap: str, group_id: str) -> None:
    """Delete a consumer group outright, committed offsets and all (an operator's last
    resort; :func:`reset_group` keeps the offsets). Raises what the client raises."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.delete_groups([group_id])
    finally:
        admin.close()


def probe_consumer(
    consumer: KafkaConsumer,
    topic: str,
    *,
    admin: KafkaAdminClient,
    group_id: str,
    timeout_ms: int = 2000,
) -> ConsumerProbe:
    """Ask the broker (from the consumer's own thread: KafkaConsumer is not thread-safe).
    The group's committed offsets come through ``admin``: the consumer's own lookup blocks
    while its group rebalances, and a member must keep polling to finish joining. What cannot
    be learnt now is left out, not raised."""
    out = ConsumerProbe()
    mine = sorted(consumer.assignment(), key=lambda tp: (tp.topic, tp.partition))
    out.partitions = [f"{tp.topic}:{tp.partition}" for tp in mine]
    ids = consumer.partitions_for_topic(topic) or set()
    every = [TopicPartition(topic, p) for p in sorted(ids)]
    if not every:
        return out
    try:
        ends = consumer.end_offsets(every, timeout_ms=timeout_ms)
    except KafkaError as err:
        log.debug("end offsets of %s unknown: %s", topic, err)
        return out
    try:
        found = admin.list_group_offsets({group_id: every}).get(group_id, {})
    except KafkaError as err:
        log.debug("committed offsets of %s unknown: %s", group_id, err)
        found = None
    if found is not None:
        starts: dict[TopicPartition, int] | None = None
        for tp in every:
            om = found.get(tp)
            if om is not None and om.offset >= 0:
                done = int(om.offset)
            else:  # nothing committed yet: the group starts at the beginning
                starts = starts or consumer.beginning_offsets(every, timeout_ms=timeout_ms)
                done = int(starts.get(tp, 0))
            out.committed[f"{tp.topic}:{tp.partition}"] = done
            out.group_lag += max(0, int(ends.get(tp, 0)) - done)
    for tp in mine:
        if tp not in ends:
            continue
        try:
            position = consumer.position(tp, timeout_ms=timeout_ms)
        except KafkaError as err:
            log.debug("position on %s unknown: %s", tp, err)
            continue
        if position is not None:
            out.lag[f"{tp.topic}:{tp.partition}"] = max(0, int(ends[tp]) - int(position))
    return out


def reset_group(bootstrap: str, group_id: str, partitions: Sequence[TopicPartition]) -> str:
    """Delete a consumer group whose membership cannot settle, keeping its committed offsets.

    Reads the group's committed offsets for ``partitions``, deletes the group, writes the
    offsets back at once (as a standalone committer). A broker that follows the protocol
    deletes only an empty group (``NON_EMPTY_GROUP`` otherwise), so against a real cluster
    this never disturbs live members; the embedded broker deletes a group wedged in a
    rebalance, which frees it. Members then rejoin the new group. The worst case of a race (a
    member fetches its start position between the delete and the write-back) is a replay,
    never a skip: offsets only ever go back to values that were committed. Returns what
    happened, for the log and the heartbeat."""
    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=10000, bootstrap_timeout_ms=5000
    )
    try:
        found = admin.list_group_offsets({group_id: list(partitions)}).get(group_id, {})
        offsets = {tp: om for tp, om in found.items() if om.offset >= 0}
        outcome = admin.delete_groups([group_id]).get(group_id, "no answer")
    finally:
        admin.close()
    if outcome != "OK":
        return f"group {group_id} not deleted: {outcome}"
    if offsets:
        # The admin's OffsetCommit is refused by the embedded broker for a just-deleted
        # group; a consumer with manual assignment commits the same thing and is accepted.
        committer = KafkaConsumer(
            bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False
        )
        try:
            committer.assign(list(offsets))
            committer.commit(offsets)
        finally:
            committer.close(autocommit=False)
    return f"group {group_id} deleted and recreated with {len(offsets)} committed offsets"
