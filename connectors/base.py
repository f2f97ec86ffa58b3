"""The connector SDK: what every source connector implements, and the registry.

A connector turns one vendor's native payload (an HTTP body) or export file into canonical
:class:`connectors.events.Event` objects. It never talks to Kafka or the database; ``ingest``
publishes what it returns. Bad items are *rejected with a reason*, never dropped silently, and
never take their valid siblings down with them.

Connectors are discovered from the built-ins below and from the entry-point group
``kindred.connectors`` (so a connector may live in its own pip package)::

    [project.entry-points."kindred.connectors"]
    helpdesk = "kindred_helpdesk:HelpdeskConnector"
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from connectors.events import Event, InvalidEvent, parse_event

ENTRY_POINT_GROUP = "kindred.connectors"
log = logging.getLogger(__name__)


class ConnectorError(ValueError):
    """The payload as a whole cannot be read (not JSON, wrong shape, bad signature...)."""

    def __init__(self, message: str, *, status_code: int = 400, code: str = "bad_payload") -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code


@dataclass(frozen=True)
class Rejection:
    """One item that could not become an event. ``index`` is its position in the payload
    (0-based) or, for files, its 1-based line number."""

    index: int | None
    reason: str
    raw: Any = None


@dataclass
class ParseResult:
    events: list[Event] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    #: items understood and deliberately not turned into events (e.g. a list-level
    #: notification with no recipient), each with why: acknowledged, not dropped silently
    notes: list[str] = field(default_factory=list)

    def add(self, index: int | None, data: dict[str, Any], raw: Any = None) -> None:
        """Validate ``data`` as an Event; keep it, or record why not."""
        try:
            self.events.append(parse_event(data))
        except InvalidEvent as err:
            self.rejected.append(Rejection(index, err.reason, raw if raw is not None else data))

    def extend(self, other: ParseResult) -> None:
        self.events.extend(other.events)
        self.rejected.extend(other.rejected)
        self.notes.extend(other.notes)


@dataclass(frozen=True)
class HandshakeReply:
    """What to answer a vendor's GET verification request (Facebook's ``hub.challenge``,
    Mailchimp's validation ping)."""

    body: str = ""
    status_code: int = 200
    media_type: str = "text/plain"


class Connector:
    """Base class. Subclasses set ``name``/``channel`` and override what they support."""

    name: ClassVar[str] = ""
    channel: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: accepts HTTP payloads at /v1/webhooks/{name}/{source}
    webhook: ClassVar[bool] = False
    #: accepts files through `kindred import {name} FILE`
    files: ClassVar[bool] = False
    #: identifier types the events carry (documentation and `kindred connectors list`)
    identifiers: ClassVar[tuple[str, ...]] = ()
    #: traits the events may set
    traits: ClassVar[tuple[str, ...]] = ()
    #: source config keys the connector reads (secrets included: say which in the docs)
    config_keys: ClassVar[tuple[str, ...]] = ()
    #: other connectors whose sources this one may also feed (HubSpot webhooks and HubSpot
    #: CSV exports update the same ``contact:<id>`` records of one ``crm`` source)
    shares_sources_with: ClassVar[tuple[str, ...]] = ()

    def verify(self, *, headers: Mapping[str, str], body: bytes, config: Mapping[str, Any]) -> None:
        """Check a vendor signature; raise ConnectorError(status_code=401) when it fails.
        The default accepts (the source's key in the URL already authenticated the caller)."""

    def verify_request(
        self,
        *,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        config: Mapping[str, Any],
    ) -> None:
        """Like :meth:`verify`, for vendors that also sign the method and URL (HubSpot v3).
        The default delegates to :meth:`verify`, so most connectors override only that."""
        self.verify(headers=headers, body=body, config=config)

    def handshake(self, *, params: Mapping[str, str], config: Mapping[str, Any]) -> HandshakeReply:
        """Answer a GET on the webhook URL (a subscription check). Default: not supported."""
        raise ConnectorError(
            f"connector {self.name!r} has no GET verification handshake",
            status_code=405,
            code="method_not_allowed",
        )

    def replay_item(
        self, raw: Any, *, source: str, config: Mapping[str, Any] | None = None
    ) -> ParseResult:
        """Re-parse one item that was rejected earlier (a DLQ replay). The default wraps it
        in a JSON array, which suits connectors whose payload is an array of items."""
        return self.parse_payload(
            json.dumps([raw], ensure_ascii=False).encode(), source=source, config=config or {}
        )

    def parse_payload(
        self,
        body: bytes,
        *,
        source: str,
        content_type: str | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> ParseResult:
        raise ConnectorError(
            f"connector {self.name!r} does not accept HTTP payloads", status_code=404
        )

    def parse_file(
        self,
        path: Path,
        *,
        source: str,
        config: Mapping[str, Any] | None = None,
        batch_size: int = 1000,
    ) -> Iterator[ParseResult]:
        """Yield results in batches so large files stream."""
        raise ConnectorError(f"connector {self.name!r} does not import files")
        yield ParseResult()  # pragma: no cover


def stable_message_id(*parts: Any) -> str:
    """A deterministic message id for vendors that have none: the same input row or webhook
    item always yields the same id, so re-importing a file or a retried webhook is a no-op."""
    digest = hashlib.sha256(
        json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False).encode()
    ).hexdigest()
    return digest[:32]


def load_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        raise ConnectorError(f"body is not valid JSON: {err}", code="invalid_json") from err


def load_json_items(body: bytes, *, error: str) -> list[Any]:
    """A JSON body holding an array of items, or one item (an object), as a list; any other
    JSON: ``ConnectorError(error)``."""
    data = load_json(body)  # bad or too deeply nested JSON -> ConnectorError
    items = [data] if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ConnectorError(error)
    return items
