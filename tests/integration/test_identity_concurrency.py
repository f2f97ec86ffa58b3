"""Several identity workers at once (issue 12): no global resolver lock, the same clusters.

Records of one person are spread over several records that link only transitively (user id
-> email -> phone -> anonymous id), fed in random order and random chunks by several threads
while 1 or 3 identity workers resolve with tiny passes, so records of one person are taken by
different workers at the same moment. The clusters must equal the connected components of
the identifiers (an oracle computed here, without the database), no record may stay dirty or
point at a merged-away profile, and no profile may hold two user ids.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import defaultdict
from typing import Any

import pytest
from sqlalchemy import Engine, text

from connectors.events import parse_event
from identity.graph import UnionFind
from identity.worker import IdentityConfig, IdentityWorker
from ingest.service import persist_events
from kindred.db import unit_of_work

pytestmark = pytest.mark.integration

PEOPLE = 40


def _people(rng: random.Random) -> list[dict[str, Any]]:
    """Records of ``PEOPLE`` people; consecutive records of one person share one identifier,
    so only the whole chain makes the person."""
    messages: list[dict[str, Any]] = []
    for p in range(PEOPLE):
        first, last = f"First{p}", f"Last{p}"
        chain = [
            {"userId": f"user-{p}", "traits": {"email": f"p{p}@corp{p % 7}.example"}},
            {"traits": {"email": f"p{p}@corp{p % 7}.example", "phone": f"+1212555{p:04d}"}},
            {"anonymousId": f"anon-{p}", "traits": {"phone": f"+1212555{p:04d}"}},
            {"anonymousId": f"anon-{p}", "traits": {"email": f"p{p}.alt@mail{p}.example"}},
            {"traits": {"email": f"p{p}.alt@mail{p}.example"}},
        ]
        for i, part in enumerate(chain[: rng.randint(3, len(chain))]):
            traits = {"first_name": first, "last_name": last, **part.get("traits", {})}
            messages.append(
                {
                    "type": "identify",
                    "recordKey": f"p{p}-r{i}",
                    **{k: v for k, v in part.items() if k != "traits"},
                    "traits": traits,
                    "_person": p,
                }
            )
    return messages


def _oracle(messages: list[dict[str, Any]]) -> set[frozenset[str]]:
    """Connected components over shared identifiers (the data holds no conflict)."""
    uf: UnionFind[str] = UnionFind()
    for m in messages:
        key = m["recordKey"]
        uf.find(key)
        values = [m.get("userId"), m.get("anonymousId"), *m["traits"].values()]
        for value in values:
            if value and not str(value).startswith(("First", "Last")):
                uf.union(key, f"id:{value}")
    groups: dict[str, set[str]] = defaultdict(set)
    for m in messages:
        groups[uf.find(m["recordKey"])].add(m["recordKey"])
    return {frozenset(g) for g in groups.values()}


def _feed(engine: Engine, messages: list[dict[str, Any]], rng: random.Random, feeders: int) -> None:
    """Persist the messages in random chunks from ``feeders`` threads at once."""
    order = list(messages)
    rng.shuffle(order)
    chunks: list[list[dict[str, Any]]] = []
    while order:
        size = rng.randint(1, 6)
        chunks.append(order[:size])
        order = order[size:]
    parts = [chunks[i::feeders] for i in range(feeders)]

    def run(mine: list[list[dict[str, Any]]]) -> None:
        for chunk in mine:
            events = [
                parse_event(
                    {
                        "messageId": str(uuid.uuid4()),
                        "source": "web",
                        "channel": "web",
                        **{k: v for k, v in m.items() if k != "_person"},
                    }
                )
                for m in chunk
            ]
            with unit_of_work(engine) as session:
                persist_events(session, events)
            time.sleep(rng.uniform(0, 0.01))

    threads = [threading.Thread(target=run, args=(p,)) for p in parts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _settled(engine: Engine) -> bool:
    with engine.connect() as conn:
        pending = conn.execute(
            text(
                "SELECT count(*) FROM source_records r LEFT JOIN record_links l "
                "ON l.record_id = r.id WHERE r.dirty OR l.record_id IS NULL"
            )
        ).scalar_one()
    return int(pending) == 0


def _clusters(engine: Engine) -> tuple[set[frozenset[str]], int, int]:
    """(clusters of record keys, links to merged-away profiles, profiles with 2+ user ids)."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT r.record_key, l.profile_id FROM record_links l "
                "JOIN source_records r ON r.id = l.record_id"
            )
        ).all()
        dead = conn.execute(
            text(
                "SELECT count(*) FROM record_links l JOIN profiles p ON p.id = l.profile_id "
                "WHERE p.merged_into IS NOT NULL"
            )
        ).scalar_one()
        conflicting = conn.execute(
            text(
                "SELECT count(*) FROM (SELECT l.profile_id FROM record_links l "
                "JOIN identifiers i ON i.record_id = l.record_id WHERE i.type = 'user_id' "
                "GROUP BY l.profile_id HAVING count(DISTINCT i.value) > 1) c"
            )
        ).scalar_one()
    groups: dict[Any, set[str]] = defaultdict(set)
    for key, pid in rows:
        groups[pid].add(key)
    return {frozenset(g) for g in groups.values()}, int(dead), int(conflicting)


@pytest.mark.parametrize(("workers", "seed"), [(1, 11), (3, 11), (3, 12)])
def test_concurrent_workers_give_the_clusters_of_the_identifiers(
    engine: Engine, workers: int, seed: int
) -> None:
    rng = random.Random(seed)
    messages = _people(rng)
    expected = _oracle(messages)
    assert len(expected) == PEOPLE
    config = IdentityConfig(batch_size=3, idle_sleep=0.005, probabilistic=False)
    pool = [IdentityWorker(config, engine, heartbeat=False) for _ in range(workers)]
    threads = [threading.Thread(target=w.run, daemon=True) for w in pool]
    for t in threads:
        t.start()
    try:
        _feed(engine, messages, rng, feeders=3)
        deadline = time.monotonic() + 90
        while not _settled(engine) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        for w in pool:
            w.stop()
        for t in threads:
            t.join(30)
    assert _settled(engine), "records left dirty or unlinked"
    clusters, dead, conflicting = _clusters(engine)
    assert dead == 0
    assert conflicting == 0
    assert clusters == expected
    if workers > 1:
        assert sum(w.resolved for w in pool if w.resolved) >= len(messages)
        assert sum(1 for w in pool if w.resolved) >= 2, "only one worker did any work"
