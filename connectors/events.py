"""The canonical event envelope, shaped like a Segment spec message.

Every connector turns its vendor's payload into these. Field names on the wire are Segment's
(camelCase: ``messageId``, ``userId``, ``anonymousId``); Kindred adds ``source``, ``channel``
and an optional ``recordKey`` (which source record the event is about, when the vendor has its
own record id, e.g. a CRM contact id). Unknown fields are kept (``extra="allow"``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

EventType = Literal["identify", "track", "page", "screen", "group", "alias"]
Channel = Literal["web", "email", "crm", "ads", "support"]
CHANNELS: tuple[str, ...] = ("web", "email", "crm", "ads", "support")

MAX_ID_LENGTH = 200

#: event times outside this range are refused (a device clock at year 1 or 9999 is not a time
#: the journey, recency or decay can use, and date arithmetic on them overflows)
EARLIEST_TIME = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(2200, 1, 1, tzinfo=UTC)

#: ``model_validate_json`` context for bytes already known to hold no ``\u0000`` escape (the
#: JSON parser itself refuses unpaired surrogates), so the text walk can be skipped
_TEXT_CHECKED = {"text_checked": True}


def unstorable_text(value: Any, path: str = "event") -> str | None:
    """Where ``value`` (any JSON-like data) holds text PostgreSQL cannot store, as a reason
    naming the field, or None. PostgreSQL text and JSONB refuse U+0000 (NUL) and text that is
    not valid UTF-8 (unpaired surrogates such as ``\ud800``); the rule is to refuse the
    message with this reason rather than to alter the customer's data silently."""
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            problem = _text_problem(item)
            if problem:
                return f"{where}: {problem}"
        elif isinstance(item, dict):
            for key, sub in item.items():
                if isinstance(key, str) and (problem := _text_problem(key)):
                    return f"{where}: a key {problem}"
                stack.append((f"{where}.{key}", sub))
        elif isinstance(item, list | tuple):
            stack.extend((f"{where}[{i}]", sub) for i, sub in enumerate(item))
        elif isinstance(item, BaseModel):
            stack.extend((f"{where}.{k}", v) for k, v in _fields_of(item).items())
    return None


def _fields_of(model: BaseModel) -> dict[str, Any]:
    """A model's values by their wire names (``userId``, not ``user_id``), extras included."""
    fields = type(model).model_fields
    named = {(fields[k].alias or k) if k in fields else k: v for k, v in model.__dict__.items()}
    return {**named, **(model.__pydantic_extra__ or {})}


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character (U+0000), which cannot be stored"
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        code = ord(text[err.start])
        return f"contains an unpaired surrogate (U+{code:04X}), which is not valid Unicode text"
    return None


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Page(_Open):
    url: str | None = None
    path: str | None = None
    referrer: str | None = None
    title: str | None = None
    search: str | None = None


class Campaign(_Open):
    name: str | None = None
    source: str | None = None
    medium: str | None = None
    term: str | None = None
    content: str | None = None


class ExternalId(_Open):
    id: str
    type: str
    collection: str | None = None
    encoding: str | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _stringify(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v


class Context(_Open):
    page: Page | None = None
    campaign: Campaign | None = None
    ip: str | None = None
    user_agent: str | None = Field(default=None, alias="userAgent")
    traits: dict[str, Any] | None = None
    external_ids: list[ExternalId] | None = Field(default=None, alias="externalIds")
    group_id: str | None = Field(default=None, alias="groupId")


class Event(BaseModel):
    """One canonical event. Validation errors name the offending field."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    type: EventType
    message_id: str = Field(alias="messageId", min_length=1, max_length=MAX_ID_LENGTH)
    source: str = Field(min_length=1, max_length=200)
    channel: Channel
    user_id: str | None = Field(default=None, alias="userId", max_length=MAX_ID_LENGTH)
    anonymous_id: str | None = Field(default=None, alias="anonymousId", max_length=MAX_ID_LENGTH)
    previous_id: str | None = Field(default=None, alias="previousId", max_length=MAX_ID_LENGTH)
    group_id: str | None = Field(default=None, alias="groupId", max_length=MAX_ID_LENGTH)
    record_key: str | None = Field(default=None, alias="recordKey", max_length=500)
    event: str | None = Field(default=None, max_length=300)
    name: str | None = Field(default=None, max_length=300)
    traits: dict[str, Any] = Field(default_factory=dict)
    properties: dict[str, Any] = Field(default_factory=dict)
    context: Context = Field(default_factory=Context)
    timestamp: datetime | None = None
    original_timestamp: datetime | None = Field(default=None, alias="originalTimestamp")
    sent_at: datetime | None = Field(default=None, alias="sentAt")
    received_at: datetime | None = Field(default=None, alias="receivedAt")

    @field_validator("user_id", "anonymous_id", "previous_id", "group_id", mode="before")
    @classmethod
    def _ids_as_strings(cls, v: Any) -> Any:
        # Segment SDKs send numeric ids as numbers; an empty string means "absent".
        if isinstance(v, bool):
            raise ValueError("must be a string, not a boolean")
        if isinstance(v, int | float):
            return str(v)
        if isinstance(v, str) and not v.strip():
            return None
        return v

    @field_validator("traits", "properties", mode="before")
    @classmethod
    def _null_as_empty(cls, v: Any) -> Any:
        return {} if v is None else v

    @field_validator("context", mode="before")
    @classmethod
    def _null_context(cls, v: Any) -> Any:
        return {} if v is None else v

    @model_validator(mode="after")
    def _check_call(self, info: ValidationInfo) -> Event:
        if self.type == "track" and not self.event:
            raise ValueError("a track call needs `event` (the name of the action)")
        if self.type == "alias" and not (self.previous_id and self.user_id):
            raise ValueError("an alias call needs both `previousId` and `userId`")
        if self.type == "group" and not self.group_id:
            raise ValueError("a group call needs `groupId`")
        if self.type != "group" and not (self.user_id or self.anonymous_id or self.record_key):
            raise ValueError("needs `userId` or `anonymousId`")
        for name in ("timestamp", "original_timestamp", "sent_at", "received_at"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                value = value.replace(tzinfo=UTC)
                setattr(self, name, value)
            if value is not None and not (EARLIEST_TIME <= value < LATEST_TIME):
                field = self.model_fields[name].alias or name
                raise ValueError(
                    f"`{field}` {value.isoformat()} is outside the supported range "
                    f"{EARLIEST_TIME.year}-{LATEST_TIME.year - 1}; send the real time of the event"
                )
        if not (info.context or {}).get("text_checked"):
            problem = unstorable_text(_fields_of(self), "")
            if problem:
                raise ValueError(problem.lstrip("."))
        return self

    # ----------------------------------------------------------------- derived values

    @property
    def occurred_at(self) -> datetime:
        """When the event happened: ``timestamp``, else ``originalTimestamp``, else receipt."""
        return self.timestamp or self.original_timestamp or self.received_at or datetime.now(UTC)

    @property
    def person_key(self) -> str | None:
        """The source record this event is about (None for an account-only group call)."""
        if self.record_key:
            return self.record_key
        if self.user_id:
            return f"user:{self.user_id}"
        if self.anonymous_id:
            return f"anon:{self.anonymous_id}"
        return None

    @property
    def routing_key(self) -> str:
        """Kafka key: one person's events go to one partition and keep their order."""
        return (
            self.user_id or self.anonymous_id or self.record_key or self.group_id or self.message_id
        )

    @property
    def all_traits(self) -> dict[str, Any]:
        """Traits at the root win over ``context.traits`` (Segment allows both)."""
        merged = dict(self.context.traits or {})
        merged.update(self.traits)
        return merged

    @property
    def display_name(self) -> str:
        if self.type == "track":
            return self.event or "track"
        if self.type in ("page", "screen"):
            label = self.name or (self.context.page.title if self.context.page else None)
            return (
                f"Viewed {label}"
                if label
                else ("Page Viewed" if self.type == "page" else "Screen Viewed")
            )
        return {"identify": "Identified", "group": "Joined Account", "alias": "Aliased"}[self.type]

    def to_bytes(self) -> bytes:
        return self.model_dump_json(by_alias=True, exclude_none=True).encode()


class InvalidEvent(ValueError):
    """A payload that cannot become an Event; ``reason`` names the fields at fault."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def describe_validation_error(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


def parse_event(data: dict[str, Any]) -> Event:
    try:
        return Event.model_validate(data)
    except ValidationError as err:
        raise InvalidEvent(describe_validation_error(err)) from err


def event_from_bytes(raw: bytes) -> Event:
    """Parse and validate in one pass (pydantic-core reads the JSON itself)."""
    try:
        checked = b"\\u0000" not in raw
        return Event.model_validate_json(raw, context=_TEXT_CHECKED if checked else None)
    except ValidationError as err:
        kinds = {e["type"] for e in err.errors()}
        if "json_invalid" in kinds:
            detail = err.errors()[0]["msg"]
            raise InvalidEvent(f"not JSON: {detail}") from err
        if "model_type" in kinds and len(err.errors()) == 1:
            raise InvalidEvent("an event must be a JSON object") from err
        raise InvalidEvent(describe_validation_error(err)) from err
    except (ValueError, RecursionError) as err:
        raise InvalidEvent(f"not JSON: {err}") from err
