"""Where the columns of a CRM file go: the mapping file, the kind of file, the column plan."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors.base import ConnectorError
from connectors.cells import snake
from connectors.crm.columns import (
    ACTIVITY_SIGNALS,
    COLUMNS,
    COMPANY_SIGNALS,
    CONTACT_SIGNALS,
    DEAL_SIGNALS,
    KIND_ALIASES,
    KINDS,
    PRESET_COLUMNS,
    PRESETS,
    SINGULAR,
    TARGET_ALIASES,
)


@dataclass(frozen=True)
class Column:
    """Where one column of the file goes."""

    header: str
    field: str  # canonical field, or the custom trait name
    canonical: bool


def with_mapping_file(config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` with the settings of its ``mapping_file`` (a JSON object) filled in: keys set
    in the config itself win, ``mapping`` entries are merged."""
    merged = dict(config)
    name = config.get("mapping_file")
    if not name:
        return merged
    try:
        loaded = json.loads(Path(str(name)).read_text(encoding="utf-8"))
    except OSError as err:
        raise ConnectorError(f"cannot read mapping file {name}: {err.strerror or err}") from err
    except ValueError as err:
        raise ConnectorError(f"mapping file {name} is not JSON: {err}") from err
    if not isinstance(loaded, dict):
        raise ConnectorError(f"mapping file {name} must hold a JSON object")
    unknown = set(loaded) - {"kind", "preset", "mapping", "delimiter", "encoding"}
    if unknown:
        raise ConnectorError(f"mapping file {name}: unknown keys {sorted(unknown)}")
    for key, value in loaded.items():
        if key == "mapping" and isinstance(value, dict):
            own = config.get("mapping") if isinstance(config.get("mapping"), Mapping) else {}
            merged["mapping"] = {**value, **dict(own or {})}
        else:
            merged.setdefault(key, value)
    return merged


def detect_kind(config: Mapping[str, Any], headers: list[str]) -> str:
    wanted = config.get("kind")
    if wanted is not None:
        kind = KIND_ALIASES.get(str(wanted), str(wanted))
        if kind not in KINDS:
            raise ConnectorError(f"config kind must be one of {', '.join(KINDS)}; not {wanted!r}")
        return kind
    normalised = {snake(h) for h in headers}
    mapping = config.get("mapping")
    if isinstance(mapping, Mapping):
        normalised |= {snake(str(v)) for v in mapping.values() if v}
    if normalised & DEAL_SIGNALS:
        return "deals"
    if normalised & ACTIVITY_SIGNALS:
        return "activities"
    if normalised & CONTACT_SIGNALS:
        return "contacts"
    if normalised & COMPANY_SIGNALS:
        return "companies"
    raise ConnectorError(
        "cannot tell whether this file holds contacts, companies, deals or activities; "
        "set config kind"
    )


def plan_columns(headers: list[str], kind: str, mapping: Any, preset: Any = None) -> list[Column]:
    """Where each column goes: a canonical field or a custom trait; mapped to None: dropped."""
    defaults = dict(COLUMNS[kind])
    if preset is not None:
        name = str(preset).lower()
        if name not in PRESET_COLUMNS:
            raise ConnectorError(f"unknown CRM preset {preset!r}; known: {', '.join(PRESETS)}")
        defaults.update(PRESET_COLUMNS[name].get(kind, {}))
    aliases = TARGET_ALIASES[kind]
    canonical = set(defaults.values()) | {"full_name", "contact_name", "company", "middle_name"}
    overrides: dict[str, Any] = {}
    if mapping is not None:
        if not isinstance(mapping, Mapping):
            raise ConnectorError('config mapping must be an object {"Header": "field"}')
        overrides = {snake(str(k)): v for k, v in mapping.items()}
    plan: list[Column] = []
    for header in headers:
        key = snake(header)
        if key in overrides:
            target = overrides[key]
            if not target:
                continue
            field = aliases.get(str(target), str(target))
            plan.append(Column(header, field, field in canonical))
        elif key in defaults:
            plan.append(Column(header, defaults[key], True))
        elif key:
            plan.append(Column(header, key, False))
    if kind == "activities":
        return plan  # activities without an id column get one from the row
    if kind == "deals" and not any(c.field == "id" and c.canonical for c in plan):
        raise ConnectorError(
            "no deal id column: expected Record ID, Deal ID, Opportunity ID or ID "
            "(or map one with config mapping)"
        )
    if not any(c.field == "id" and c.canonical for c in plan):
        expected = (
            "Record ID, Contact ID or id" if kind == "contacts" else "Record ID or Company ID"
        )
        raise ConnectorError(
            f"no {SINGULAR[kind]} id column: expected one of "
            f"{expected} (or map one with config mapping)"
        )
    return plan
