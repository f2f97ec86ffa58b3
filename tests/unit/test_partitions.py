"""KINDRED_KAFKA_PARTITIONS and per-person keying (issue 12, item 4)."""

from __future__ import annotations

import pytest

from connectors.events import Event
from kindred.kafka import partition_for_key
from kindred.settings import Settings


def test_partitions_default_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KINDRED_KAFKA_PARTITIONS", raising=False)
    monkeypatch.delenv("KINDRED_TOPIC_PARTITIONS", raising=False)
    assert Settings().topic_partitions == 4
    monkeypatch.setenv("KINDRED_KAFKA_PARTITIONS", "8")
    assert Settings().topic_partitions == 8
    assert Settings(topic_partitions=2).topic_partitions == 2
    monkeypatch.delenv("KINDRED_KAFKA_PARTITIONS")
    monkeypatch.setenv("KINDRED_TOPIC_PARTITIONS", "3")  # the older name still works
    assert Settings().topic_partitions == 3


def test_one_persons_events_share_a_partition() -> None:
    events = [
        Event.model_validate(
            {
                "type": "track",
                "event": f"e{i}",
                "userId": "u-42",
                "messageId": f"m{i}",
                "source": "web",
                "channel": "web",
                "timestamp": "2026-01-01T00:00:00Z",
            }
        )
        for i in range(20)
    ]
    keys = {ev.routing_key for ev in events}
    assert keys == {"u-42"}
    for n in (1, 2, 4, 16):
        assert len({partition_for_key(k, n) for k in keys}) == 1
