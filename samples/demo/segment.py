"""Segment ``/v1/batch`` bodies: batching, and a fast synthetic stream for the ingest bench."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from samples.demo import webpages as site
from samples.demo.variants import DEFAULT_NOW, iso_z, new_uuid, paused_gc

Timed = tuple[datetime, dict[str, Any]]
MAX_BATCH_BYTES = 390_000  # Segment allows 500 KB per batch; keep well under 400 KB


def to_batches(
    rng: random.Random, timed: list[Timed], batch_size: int = 100, max_bytes: int | None = None
) -> list[dict[str, Any]]:
    """Cut time-ordered messages into bodies of ``batch_size`` (and under ``max_bytes``)."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    batches: list[dict[str, Any]] = []
    chunk: list[dict[str, Any]] = []
    size = 0
    last = DEFAULT_NOW
    for moment, msg in timed:
        weight = len(json.dumps(msg, ensure_ascii=False).encode()) + 1 if max_bytes else 0
        if chunk and (len(chunk) >= batch_size or (max_bytes and size + weight > max_bytes)):
            batches.append(_body(rng, chunk, last))
            chunk, size = [], 0
        chunk.append(msg)
        size += weight
        last = moment
    if chunk:
        batches.append(_body(rng, chunk, last))
    return batches


def _body(rng: random.Random, chunk: list[dict[str, Any]], last: datetime) -> dict[str, Any]:
    sent = last + timedelta(seconds=rng.uniform(0.5, 20))
    return {"batch": chunk, "sentAt": iso_z(sent)}


_PAGES = site.BLOG + site.CONSIDER + site.SERVICE
_EVENTS = (
    "Signed Up", "Demo Requested", "Whitepaper Downloaded", "Webinar Registered",
    "Trial Started", "Order Completed",
)  # fmt: skip


def segment_events_for_bench(
    n: int, *, seed: int = 1, batch_size: int = 100
) -> list[dict[str, Any]]:
    """Exactly ``n`` messages in ``/v1/batch`` bodies of ``batch_size``.

    About 60% page, 20% track, 15% identify and 5% group calls from ~n/10 people over the 30
    days before the default demo date; messageIds are unique and the output depends only on
    the arguments.
    """
    if n < 0:
        raise ValueError("n must not be negative")
    with paused_gc():
        return _bench(random.Random(seed), n, batch_size)


def _bench(rng: random.Random, n: int, batch_size: int) -> list[dict[str, Any]]:
    rand = rng.random
    people = [(new_uuid(rng), f"usr_{i + 1}") for i in range(max(1, n // 10))]
    known: set[int] = set()
    pages = [
        {"path": p.path, "url": site.SITE + p.path, "title": p.title, "referrer": ""}
        for p in _PAGES
    ]
    start = DEFAULT_NOW.replace(tzinfo=None) - timedelta(days=30)
    step_ms = 30 * 86_400_000 // max(n, 1)
    timed: list[Timed] = []
    for i in range(n):
        who = int(rand() * len(people))
        anon, user_id = people[who]
        t = start + timedelta(milliseconds=i * step_ms)
        page = pages[int(rand() * len(pages))]
        context = {"library": dict(site.LIBRARY), "ip": f"10.{who % 250}.{who // 250 % 250}.7"}
        context["page"] = dict(page)
        msg: dict[str, Any] = {"messageId": new_uuid(rng), "anonymousId": anon}
        r = rand()
        if r < 0.15:
            known.add(who)
            msg["type"] = "identify"
            msg["userId"] = user_id
            msg["traits"] = {"email": f"user{who}@example.com", "first_name": f"User{who}"}
        else:
            if who in known:
                msg["userId"] = user_id
            if r < 0.20:
                msg["type"] = "group"
                msg["groupId"] = f"acct_{who % 97}"
                msg["traits"] = {"employees": who}
            elif r < 0.40:
                msg["type"] = "track"
                msg["event"] = _EVENTS[int(rand() * len(_EVENTS))]
                msg["properties"] = {"n": i}
            else:
                msg["type"] = "page"
                msg["name"] = page["title"]
                msg["properties"] = dict(page)
        msg["timestamp"] = t.isoformat(timespec="milliseconds") + "Z"
        msg["context"] = context
        timed.append((t.replace(tzinfo=UTC), msg))
    return to_batches(rng, timed, batch_size=batch_size)
