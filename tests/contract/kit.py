"""The connector contract kit: what every connector, built-in or plugged in, must satisfy.

Give it a :class:`Sample` (a valid payload or file in the vendor's shape, plus a payload with
bad items) and call :func:`check_connector`. It asserts:

- round trip: every event is a valid canonical Event of the connector's channel and the
  given source, and survives serialisation (``Event.to_bytes`` -> ``event_from_bytes``);
- idempotency: the same input gives the same message ids, and they are unique in a payload;
- bad input: each bad item is rejected with a reason while its valid siblings still come
  through; unreadable payloads/files raise ``ConnectorError`` (a 4xx), never another
  exception; assorted garbage never escapes as an uncaught exception.

External connector packages can import this module from Kindred's test suite or copy it.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from connectors.base import Connector, ConnectorError, ParseResult
from connectors.events import CHANNELS, event_from_bytes
from connectors.registry import get_connector

SOURCE = "contract-src"

GARBAGE_BODIES: tuple[bytes, ...] = (
    b"",
    b"{",
    b"null",
    b"42",
    b'"text"',
    b"[]",
    b"{}",
    b"[1, 2, 3]",
    b"[{}]",
    b'[{"email": null}]',
    b"\xff\xfe\x00garbage",
    b"[" * 5000 + b"]" * 5000,
    b'{"batch": "no"}',
    b"type=&data[email]=",
    b"a=1&b=2",
)


@dataclass
class Sample:
    """Vendor-shaped input for one connector."""

    connector: str
    #: a valid webhook body (payload connectors)
    payload: bytes | None = None
    content_type: str = "application/json"
    #: a body whose items are partly invalid: (body, number of bad items expected)
    mixed: tuple[bytes, int] | None = None
    #: a valid file (file connectors): (file name, bytes)
    file: tuple[str, bytes] | None = None
    #: a file with bad rows: (file name, bytes, number of bad rows expected)
    mixed_file: tuple[str, bytes, int] | None = None
    config: dict[str, object] = field(default_factory=dict)
    #: expected minimal number of events from ``payload`` / ``file``
    min_events: int = 1


def _collect(results: list[ParseResult]) -> ParseResult:
    total = ParseResult()
    for result in results:
        total.extend(result)
    return total


def parse(sample: Sample, connector: Connector, tmp: Path) -> ParseResult:
    if sample.payload is not None:
        return connector.parse_payload(
            sample.payload, source=SOURCE, content_type=sample.content_type, config=sample.config
        )
    assert sample.file is not None, "a sample needs a payload or a file"
    name, data = sample.file
    path = tmp / name
    path.write_bytes(data)
    return _collect(list(connector.parse_file(path, source=SOURCE, config=sample.config)))


def check_round_trip(sample: Sample, connector: Connector, tmp: Path) -> ParseResult:
    result = parse(sample, connector, tmp)
    assert result.rejected == [], [r.reason for r in result.rejected]
    assert len(result.events) >= sample.min_events
    assert connector.channel in CHANNELS
    for event in result.events:
        assert event.source == SOURCE
        assert event.channel == connector.channel, (event.channel, connector.channel)
        again = event_from_bytes(event.to_bytes())
        assert again.model_dump() == event.model_dump()
        assert event.person_key or event.type == "group"
    return result


def check_idempotent(sample: Sample, connector: Connector, tmp: Path) -> None:
    first = [e.message_id for e in parse(sample, connector, tmp).events]
    second = [e.message_id for e in parse(sample, connector, tmp).events]
    assert first == second
    assert len(set(first)) == len(first), "message ids must be unique within one input"


def _never_crashes(call: Callable[[], object]) -> None:
    try:
        result = call()
    except ConnectorError as err:
        assert err.message and 400 <= err.status_code < 500, (err.status_code, err.message)
        return
    if isinstance(result, ParseResult):
        for rejection in result.rejected:
            assert rejection.reason, "a rejection must say why"


def check_bad_input(sample: Sample, connector: Connector, tmp: Path) -> None:
    if sample.mixed is not None:
        body, bad = sample.mixed
        result = connector.parse_payload(
            body, source=SOURCE, content_type=sample.content_type, config=sample.config
        )
        assert len(result.rejected) == bad, [r.reason for r in result.rejected]
        assert all(r.reason for r in result.rejected)
        assert result.events, "valid siblings of bad items must still come through"
    if sample.mixed_file is not None:
        name, data, bad = sample.mixed_file
        path = tmp / ("mixed-" + name)
        path.write_bytes(data)
        result = _collect(list(connector.parse_file(path, source=SOURCE, config=sample.config)))
        assert len(result.rejected) == bad, [r.reason for r in result.rejected]
        assert all(r.reason and r.index for r in result.rejected)
        assert result.events
    rng = random.Random(connector.name)
    bodies = [*GARBAGE_BODIES, *(rng.randbytes(rng.randint(1, 200)) for _ in range(20))]
    if connector.webhook or sample.payload is not None:
        for body in bodies:
            _never_crashes(
                lambda body=body: connector.parse_payload(  # type: ignore[misc]
                    body, source=SOURCE, content_type=sample.content_type, config=sample.config
                )
            )
        if sample.payload is not None:
            # every item alone, with each field blanked in turn, must not crash
            try:
                items = json.loads(sample.payload)
            except ValueError:
                items = None
            for item in items if isinstance(items, list) else []:
                for key in item if isinstance(item, dict) else []:
                    for value in (None, "", 0, [], {}, True):
                        broken = json.dumps([{**item, key: value}]).encode()
                        _never_crashes(
                            lambda b=broken: connector.parse_payload(  # type: ignore[misc]
                                b, source=SOURCE, config=sample.config
                            )
                        )
    if connector.files:
        for index, body in enumerate(bodies[:12]):
            path = tmp / f"garbage-{index}.csv"
            path.write_bytes(body)
            _never_crashes(
                lambda p=path: list(  # type: ignore[misc]
                    connector.parse_file(p, source=SOURCE, config=sample.config)
                )
            )
        _never_crashes(
            lambda: list(connector.parse_file(tmp / "missing.csv", source=SOURCE, config={}))
        )


def check_connector(sample: Sample, tmp: Path) -> None:
    connector = get_connector(sample.connector)
    assert connector.name, "a connector needs a name"
    assert connector.webhook or connector.files or sample.connector == "web"
    check_round_trip(sample, connector, tmp)
    check_idempotent(sample, connector, tmp)
    check_bad_input(sample, connector, tmp)
