"""Values PostgreSQL cannot store are refused at the edge, with the field named.

PostgreSQL text and jsonb hold no NUL byte (U+0000), UTF-8 holds no lone surrogate
(U+D800..U+DFFF, which JSON's ``\\ud800`` escape can produce), jsonb holds no NaN or
Infinity, and bigint columns hold 64 bits. Such a value reaching a query is a
``DataError`` (or a driver ``UnicodeEncodeError``) deep in a service; ``api.errors`` maps
those to 422 as a safety net, but the answer is better here, where the field is known:

- :func:`reject_unstorable`, an app-wide dependency, checks every path and query parameter;
- :data:`StorableStr`, :data:`StorableJson` and :class:`StorableModel` check request bodies
  (pydantic reports the field's location, ``body.reason``);
- :data:`JsonInt` bounds integers (and ``StorableModel`` any int field) to a bigint.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, BaseModel, Field, field_validator

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
#: the largest integer every JSON client reads exactly (I-JSON, RFC 7493), well within bigint
JSON_INT_MAX = 2**53 - 1


def text_problem(value: str) -> str | None:
    """Why PostgreSQL cannot store this text, or None when it can."""
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    if found.group() == "\x00":
        return "contains a NUL byte (U+0000), which PostgreSQL cannot store"
    return f"contains a lone surrogate (U+{ord(found.group()):04X}), which is not valid Unicode"


def json_problem(value: Any, path: str = "") -> str | None:
    """The first value in a JSON tree that PostgreSQL cannot store, as ``path: why``."""
    here = path or "value"
    if isinstance(value, str):
        why = text_problem(value)
        return f"{here} {why}" if why else None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{here} is {value}, which JSON cannot hold"
    if isinstance(value, dict):
        for key, item in value.items():
            key_text = str(key)
            why = text_problem(key_text)
            if why:
                return f"key {key_text!r} in {here} {why}"
            found = json_problem(item, f"{path}.{key_text}" if path else key_text)
            if found:
                return found
        return None
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = json_problem(item, f"{path}[{i}]" if path else f"[{i}]")
            if found:
                return found
    return None


def _storable_text(value: str) -> str:
    why = text_problem(value)
    if why:
        raise ValueError(f"value {why}")
    return value


def _storable_json(value: Any) -> Any:
    why = json_problem(value)
    if why:
        raise ValueError(why)
    return value


#: what OpenAPI says of every such string (JSON Schema regexes are ECMA-262: ``\u0000``)
NO_NUL_PATTERN = "^[^\\u0000]*$"

#: a string PostgreSQL can store (no NUL, no lone surrogate)
StorableStr = Annotated[
    str,
    AfterValidator(_storable_text),
    # said in the schema only (the validator above gives the better message)
    Field(json_schema_extra={"pattern": NO_NUL_PATTERN}),
]
#: any JSON value whose strings, keys and numbers PostgreSQL can store
StorableJson = Annotated[Any, AfterValidator(_storable_json)]
#: a JSON object (as a whole request body) PostgreSQL can store
StorableJsonObject = Annotated[dict[str, Any], AfterValidator(_storable_json)]
#: an integer id or offset: fits a bigint column, and any JSON client reads it exactly
JsonInt = Annotated[int, Field(ge=-JSON_INT_MAX, le=JSON_INT_MAX)]


class StorableModel(BaseModel):
    """A request body whose every field (nested JSON included) PostgreSQL can store."""

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        if isinstance(value, BaseModel):
            return value  # validated by its own class
        if isinstance(value, int) and not isinstance(value, bool):
            if not INT64_MIN <= value <= INT64_MAX:
                raise ValueError("integer does not fit 64 bits")
            return value
        return _storable_json(value)


def declare_storable_parameters(openapi: dict[str, Any]) -> dict[str, Any]:
    """Say in the spec what :func:`reject_unstorable` enforces: every free-text path and query
    parameter gets ``pattern: ^[^\u0000]*$`` (clients and fuzzers then know NUL is refused)."""
    for item in openapi.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                if parameter.get("in") in ("path", "query"):
                    _no_nul(parameter.get("schema", {}))
    return openapi


def _no_nul(schema: dict[str, Any]) -> None:
    for sub in schema.get("anyOf", []):
        _no_nul(sub)
    if schema.get("type") == "string" and not {"format", "pattern", "enum", "const"} & set(schema):
        schema["pattern"] = NO_NUL_PATTERN


def reject_unstorable(request: Request) -> None:
    """App-wide dependency: 422 naming the parameter when a path or query value (or a query
    parameter's name) holds a NUL byte or a lone surrogate. Runs before the endpoint's own
    dependencies touch the database, on every route (authenticated or not)."""
    errors: list[dict[str, Any]] = []
    for name, value in request.path_params.items():
        why = text_problem(str(value))
        if why:
            errors.append(_error(("path", name), value, why))
    for name, value in request.query_params.multi_items():
        why = text_problem(name)
        if why:
            errors.append(_error(("query", name), name, f"parameter name {why}"))
        why = text_problem(value)
        if why:
            errors.append(_error(("query", name), value, why))
    if errors:
        raise RequestValidationError(errors)


def _error(loc: tuple[str, str], value: Any, why: str) -> dict[str, Any]:
    return {"type": "value_error", "loc": loc, "msg": f"Value error, value {why}", "input": value}
