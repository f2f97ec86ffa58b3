"""The connector SDK: what every source connector implements, and the registry.

A connector turns one vendor's native payload (an HTTP body) or export file into canonical
:class:`ingest.events.Event` objects. It never talks to Kafka or the database; ``ingest``
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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, ClassVar

from ingest.events import Event, InvalidEvent, parse_event

ENTRY_POINT_GROUP = "kindred.connectors"


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

    def add(self, index: int | None, data: dict[str, Any], raw: Any = None) -> None:
        """Validate ``data`` as an Event; keep it, or record why not."""
        try:
            self.events.append(parse_event(data))
        except InvalidEvent as err:
            self.rejected.append(Rejection(index, err.reason, raw if raw is not None else data))

    def extend(self, other: ParseResult) -> None:
        self.events.extend(other.events)
        self.rejected.extend(other.rejected)


class Connector:
    """Base class. Subclasses set ``name``/``channel`` and override what they support."""

    name: ClassVar[str] = ""
    channel: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: accepts HTTP payloads at /v1/webhooks/{name}/{source}
    webhook: ClassVar[bool] = False
    #: accepts files through `kindred import {name} FILE`
    files: ClassVar[bool] = False

    def verify(self, *, headers: Mapping[str, str], body: bytes, config: Mapping[str, Any]) -> None:
        """Check a vendor signature; raise ConnectorError(status_code=401) when it fails.
        The default accepts (the source's key in the URL already authenticated the caller)."""

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


# --------------------------------------------------------------------------- registry


def _builtin() -> dict[str, type[Connector]]:
    from connectors.ads import LeadFormConnector
    from connectors.crm import CrmCsvConnector
    from connectors.email import SendGridConnector
    from connectors.web import WebConnector

    return {
        c.name: c for c in (WebConnector, SendGridConnector, CrmCsvConnector, LeadFormConnector)
    }


#: family names accepted as aliases of the first-cut connectors
ALIASES = {"segment": "web", "email": "sendgrid", "ads": "leadform"}


@lru_cache(maxsize=1)
def available() -> dict[str, type[Connector]]:
    """Every connector: built-ins first, then entry points (which may not shadow built-ins).
    Read once per process; call ``available.cache_clear()`` after installing a connector."""
    found = _builtin()
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in found:
            continue
        cls = ep.load()
        if isinstance(cls, type) and issubclass(cls, Connector):
            found[ep.name] = cls
    return found


def get_connector(name: str) -> Connector:
    registry = available()
    key = ALIASES.get(name, name)
    if key not in registry:
        known = ", ".join(sorted(registry))
        raise ConnectorError(
            f"unknown connector {name!r}; known: {known}", status_code=404, code="unknown_connector"
        )
    return registry[key]()
