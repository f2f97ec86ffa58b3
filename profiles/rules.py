"""The segment rule language: validation (every problem, each with the path to the offending
part of the rule) and compilation to a parameterised SQL condition.

Values, trait names and property names only ever travel as bind parameters (``%(pN)s``);
the SQL text is assembled from fixed fragments chosen by the validated rule structure.
The language is documented in ``docs/segments.md``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kindred.errors import Unprocessable

LEVELS = ("person", "account")
CHANNELS = ("email", "sms", "ads")
VALUE_OPS = (
    "eq",
    "neq",
    "in",
    "not_in",
    "gt",
    "gte",
    "lt",
    "lte",
    "between",
    "contains",
    "starts_with",
    "contains_any",
    "exists",
    "not_exists",
    "within_last_days",
    "older_than_days",
    "before",
    "after",
)
COUNT_OPS = ("eq", "neq", "gt", "gte", "lt", "lte", "between")
TIME_OPS = ("within_last_days", "older_than_days", "before", "after")
#: shorthands for computed traits: ``{"computed": "lead_score"}`` = ``lead_score.score``
COMPUTED_ALIASES = {
    "lead_score": "lead_score.score",
    "temperature": "temperature.value",
    "lifecycle": "lifecycle.stage",
    "journey_stage": "journey.stage",
    "stuck": "journey.stuck",
    "churn_risk": "churn_risk.probability",
    "churn_level": "churn_risk.level",
    "open_complaints": "complaints.open",
    "overdue_complaints": "complaints.overdue",
    "satisfaction": "complaints.satisfaction.average",
}
FIELD_KINDS = ("trait", "computed", "account", "account_computed")
EVENT_KEYS = {
    "event",
    "type",
    "channel",
    "where",
    "within_days",
    "count",
    "never",
    "first",
    "last",
    "sum",
}
MAX_DEPTH = 12
MAX_NODES = 200
MAX_LIST = 1000
_NAME = re.compile(r"^[^\x00]{1,200}$")


@dataclass
class Problem:
    path: str
    message: str


@dataclass
class Compiled:
    sql: str
    params: dict[str, Any]
    time_based: bool
    level: str


@dataclass
class _Ctx:
    level: str
    params: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    time_based: bool = False
    nodes: int = 0

    def bind(self, value: Any, cast: str | None = None) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"CAST(%({name})s AS {cast})" if cast else f"%({name})s"

    def bad(self, path: str, message: str) -> str:
        self.problems.append(Problem(path, message))
        return "FALSE"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _date(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed


def _path(ctx: _Ctx, where: str, name: Any) -> list[str] | None:
    if not isinstance(name, str) or not _NAME.match(name) or not name.strip():
        ctx.bad(where, "must be a non-empty name (up to 200 characters)")
        return None
    parts = name.split(".")
    if len(parts) > 6 or any(not p for p in parts):
        ctx.bad(where, f"{name!r} is not a valid dotted path (up to 6 non-empty parts)")
        return None
    return parts


def _ago(ctx: _Ctx, days: float) -> str:
    """``now() - <days>`` with the number of seconds bound as a parameter."""
    return f"now() - make_interval(secs => {ctx.bind(float(days) * 86400, 'float8')})"


def _compare(ctx: _Ctx, path: str, j: str, t: str, op: Any, value: Any) -> str:
    """SQL for ``<jsonb expr j / its text t> op value``. Problems are reported at ``path``."""
    if op not in VALUE_OPS:
        return ctx.bad(f"{path}.op", f"unknown operator {op!r}; use one of {list(VALUE_OPS)}")
    if op == "exists":
        return f"({j} IS NOT NULL AND jsonb_typeof({j}) <> 'null')"
    if op == "not_exists":
        return f"({j} IS NULL OR jsonb_typeof({j}) = 'null')"
    vpath = f"{path}.value"
    if op in ("eq", "neq"):
        if isinstance(value, bool):
            cond = f"lower({t}) = {ctx.bind('true' if value else 'false')}"
        elif _is_number(value):
            cond = f"kindred_num({j}) = {ctx.bind(value, 'numeric')}"
        elif isinstance(value, str):
            cond = f"lower({t}) = lower({ctx.bind(value)})"
        else:
            return ctx.bad(vpath, f"{op} needs a string, number or boolean")
        return cond if op == "eq" else f"COALESCE(NOT ({cond}), TRUE)"
    if op in ("in", "not_in", "contains_any"):
        if not isinstance(value, list) or not value or len(value) > MAX_LIST:
            return ctx.bad(vpath, f"{op} needs a non-empty list (up to {MAX_LIST} items)")
        if op == "contains_any":
            if not all(isinstance(v, str) and v for v in value):
                return ctx.bad(vpath, "contains_any needs a list of non-empty strings")
            patterns = ["%" + _like_escape(v) + "%" for v in value]
            return f"({t} ILIKE ANY({ctx.bind(patterns, 'text[]')}))"
        if all(_is_number(v) for v in value):
            cond = f"kindred_num({j}) = ANY({ctx.bind([float(v) for v in value], 'numeric[]')})"
        elif all(isinstance(v, str | int | float | bool) for v in value):
            texts = [str(v).lower() for v in value]
            cond = f"lower({t}) = ANY({ctx.bind(texts, 'text[]')})"
        else:
            return ctx.bad(vpath, f"{op} needs a list of strings or numbers")
        return cond if op == "in" else f"COALESCE(NOT ({cond}), TRUE)"
    if op in ("gt", "gte", "lt", "lte"):
        sign = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[op]
        if _is_number(value):
            return f"kindred_num({j}) {sign} {ctx.bind(value, 'numeric')}"
        if _date(value) is not None:
            return f"kindred_ts({t}) {sign} {ctx.bind(value, 'timestamptz')}"
        return ctx.bad(vpath, f"{op} needs a number or an ISO date")
    if op == "between":
        if not (isinstance(value, list) and len(value) == 2 and all(_is_number(v) for v in value)):
            return ctx.bad(vpath, "between needs [low, high] numbers (inclusive)")
        lo, hi = value
        return f"kindred_num({j}) BETWEEN {ctx.bind(lo, 'numeric')} AND {ctx.bind(hi, 'numeric')}"
    if op in ("contains", "starts_with"):
        if not isinstance(value, str) or not value:
            return ctx.bad(vpath, f"{op} needs a non-empty string")
        pattern = ("%" if op == "contains" else "") + _like_escape(value) + "%"
        return f"({t} ILIKE {ctx.bind(pattern)})"
    # time operators
    ctx.time_based = True
    if op in ("within_last_days", "older_than_days"):
        if not _is_number(value) or not 0 < value <= 36500:
            return ctx.bad(vpath, f"{op} needs a number of days between 0 and 36500")
        sign = ">=" if op == "within_last_days" else "<"
        return f"kindred_ts({t}) {sign} {_ago(ctx, value)}"
    when = _date(value)
    if when is None:
        return ctx.bad(vpath, f"{op} needs an ISO date, e.g. 2026-01-31")
    return f"kindred_ts({t}) {'<' if op == 'before' else '>'} {ctx.bind(value, 'timestamptz')}"


def _ts_compare(ctx: _Ctx, path: str, expr: str, spec: Any) -> str:
    """``first``/``last`` occurrence: a timestamp SQL expression compared by a time op."""
    if not isinstance(spec, dict) or set(spec) - {"op", "value"}:
        return ctx.bad(path, 'must look like {"op": "within_last_days", "value": 30}')
    op: Any = spec.get("op")
    value: Any = spec.get("value")
    ctx.time_based = True
    if op in ("within_last_days", "older_than_days"):
        if not (_is_number(value) and 0 < float(value) <= 36500):
            return ctx.bad(f"{path}.value", "needs a number of days between 0 and 36500")
        sign = ">=" if op == "within_last_days" else "<"
        return f"{expr} {sign} {_ago(ctx, float(value))}"
    if op in ("before", "after"):
        if _date(value) is None:
            return ctx.bad(f"{path}.value", "needs an ISO date")
        return f"{expr} {'<' if op == 'before' else '>'} {ctx.bind(value, 'timestamptz')}"
    return ctx.bad(f"{path}.op", "use within_last_days, older_than_days, before or after")


def _count_compare(ctx: _Ctx, path: str, spec: Any) -> tuple[str, Any] | None:
    if not isinstance(spec, dict) or set(spec) - {"op", "value"}:
        ctx.bad(path, 'must look like {"op": "gte", "value": 3}')
        return None
    op, value = spec.get("op"), spec.get("value")
    if op not in COUNT_OPS:
        ctx.bad(f"{path}.op", f"use one of {list(COUNT_OPS)}")
        return None
    if op == "between":
        if not (isinstance(value, list) and len(value) == 2 and all(_is_number(v) for v in value)):
            ctx.bad(f"{path}.value", "between needs [low, high] numbers")
            return None
    elif not _is_number(value):
        ctx.bad(f"{path}.value", "needs a number")
        return None
    return op, value


def _apply_count(ctx: _Ctx, expr: str, op: str, value: Any) -> str:
    if op == "between":
        return f"{expr} BETWEEN {ctx.bind(value[0], 'numeric')} AND {ctx.bind(value[1], 'numeric')}"
    sign = {"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[op]
    return f"{expr} {sign} {ctx.bind(value, 'numeric')}"


def _event(ctx: _Ctx, path: str, node: dict[str, Any], p: str) -> str:
    if ctx.level != "person" and p == "p":
        return ctx.bad(path, "event conditions need a person; in account segments use contacts")
    unknown = sorted(set(node) - EVENT_KEYS)
    if unknown:
        return ctx.bad(path, f"unknown keys {unknown} in an event condition")
    filters = [f"rl.profile_id = {p}.id"]
    names = node.get("event")
    if names is not None:
        listed = names if isinstance(names, list) else [names]
        if not listed or not all(isinstance(n, str) and n for n in listed):
            ctx.bad(f"{path}.event", "must be an event name or a list of names")
        else:
            filters.append(
                f"lower(t.name) = ANY({ctx.bind([n.lower() for n in listed], 'text[]')})"
            )
    for key in ("type", "channel"):
        if key in node:
            if not isinstance(node[key], str) or not node[key]:
                ctx.bad(f"{path}.{key}", "must be a non-empty string")
            else:
                filters.append(f"t.{key} = {ctx.bind(node[key])}")
    where = node.get("where", [])
    if not isinstance(where, list):
        ctx.bad(f"{path}.where", "must be a list of property filters")
        where = []
    for i, flt in enumerate(where):
        fpath = f"{path}.where[{i}]"
        if not isinstance(flt, dict) or set(flt) - {"property", "op", "value"}:
            ctx.bad(fpath, 'must look like {"property": "plan", "op": "eq", "value": "pro"}')
            continue
        parts = _path(ctx, f"{fpath}.property", flt.get("property"))
        if parts is None:
            continue
        key = ctx.bind(parts, "text[]")
        filters.append(
            _compare(
                ctx,
                fpath,
                f"(t.properties #> {key})",
                f"(t.properties #>> {key})",
                flt.get("op"),
                flt.get("value"),
            )
        )
    if "within_days" in node:
        days = node["within_days"]
        if not _is_number(days) or not 0 < days <= 36500:
            ctx.bad(f"{path}.within_days", "must be a number of days between 0 and 36500")
        else:
            ctx.time_based = True
            filters.append(f"t.occurred_at >= {_ago(ctx, days)}")
    base = (
        "FROM record_links rl JOIN touchpoints t ON t.record_id = rl.record_id WHERE "
        + " AND ".join(filters)
    )
    modes = [k for k in ("count", "never", "first", "last", "sum") if k in node]
    if len(modes) > 1:
        return ctx.bad(path, f"use only one of count, never, first, last, sum (got {modes})")
    mode = modes[0] if modes else None
    if mode is None:
        return f"EXISTS (SELECT 1 {base})"
    if mode == "never":
        if node["never"] is not True:
            return ctx.bad(f"{path}.never", "must be true (or leave it out)")
        return f"NOT EXISTS (SELECT 1 {base})"
    if mode in ("first", "last"):
        agg = "min" if mode == "first" else "max"
        return _ts_compare(
            ctx, f"{path}.{mode}", f"(SELECT {agg}(t.occurred_at) {base})", node[mode]
        )
    if mode == "sum":
        spec = node["sum"]
        if not isinstance(spec, dict) or set(spec) - {"property", "op", "value"}:
            return ctx.bad(
                f"{path}.sum", 'must look like {"property": "revenue", "op": "gte", "value": 1000}'
            )
        parts = _path(ctx, f"{path}.sum.property", spec.get("property"))
        checked = _count_compare(
            ctx, f"{path}.sum", {"op": spec.get("op"), "value": spec.get("value")}
        )
        if parts is None or checked is None:
            return "FALSE"
        key = ctx.bind(parts, "text[]")
        expr = f"(SELECT COALESCE(sum(kindred_num(t.properties #> {key})), 0) {base})"
        return _apply_count(ctx, expr, *checked)
    checked = _count_compare(ctx, f"{path}.count", node["count"])
    if checked is None:
        return "FALSE"
    op, value = checked
    if (op, value) in (("gte", 1), ("gt", 0)):
        return f"EXISTS (SELECT 1 {base})"
    if (op, value) in (("eq", 0), ("lt", 1), ("lte", 0)):
        return f"NOT EXISTS (SELECT 1 {base})"
    return _apply_count(ctx, f"(SELECT count(*) {base})", op, value)


def _field(ctx: _Ctx, path: str, node: dict[str, Any], kind: str, p: str) -> str:
    unknown = sorted(set(node) - {kind, "op", "value"})
    if unknown:
        return ctx.bad(path, f"unknown keys {unknown} in a {kind} condition")
    if kind in ("trait", "computed") and ctx.level != "person" and p == "p":
        return ctx.bad(
            f"{path}.{kind}", f"{kind} conditions need a person; in account segments use contacts"
        )
    name = node.get(kind)
    if kind == "computed" and isinstance(name, str):
        name = COMPUTED_ALIASES.get(name, name)
    parts = _path(ctx, f"{path}.{kind}", name)
    if parts is None:
        return "FALSE"
    if kind == "account_computed":
        ctx.time_based = True  # rollups are refreshed on a schedule
    if kind == "account" and parts in (["name"], ["domain"]):
        j = f"to_jsonb(a.{parts[0]})"
        t = f"a.{parts[0]}"
    else:
        column = {
            "trait": f"{p}.traits",
            "computed": f"{p}.computed",
            "account": "a.traits",
            "account_computed": "ac.computed",
        }[kind]
        key = ctx.bind(parts, "text[]")
        j, t = f"({column} #> {key})", f"({column} #>> {key})"
    if "op" not in node:
        return ctx.bad(f"{path}.op", "is required")
    return _compare(ctx, path, j, t, node.get("op"), node.get("value"))


def _node(ctx: _Ctx, path: str, node: Any, depth: int, p: str = "p") -> str:
    ctx.nodes += 1
    if ctx.nodes > MAX_NODES:
        return ctx.bad(path, f"rule too large (more than {MAX_NODES} conditions)")
    if depth > MAX_DEPTH:
        return ctx.bad(path, f"rule nested deeper than {MAX_DEPTH} levels")
    if not isinstance(node, dict) or not node:
        return ctx.bad(path, "must be a condition object")
    if "all" in node or "any" in node:
        key = "all" if "all" in node else "any"
        if len(node) != 1:
            return ctx.bad(path, f'"{key}" must be the only key of its object')
        items = node[key]
        if not isinstance(items, list) or (key == "any" and not items):
            return ctx.bad(
                f"{path}.{key}",
                "must be a list of conditions" + (" (non-empty)" if key == "any" else ""),
            )
        if not items:
            return "TRUE"
        parts = [
            _node(ctx, f"{path}.{key}[{i}]", item, depth + 1, p) for i, item in enumerate(items)
        ]
        joiner = " AND " if key == "all" else " OR "
        return "(" + joiner.join(parts) + ")"
    if "not" in node:
        if len(node) != 1:
            return ctx.bad(path, '"not" must be the only key of its object')
        return f"NOT COALESCE({_node(ctx, f'{path}.not', node['not'], depth + 1, p)}, FALSE)"
    if "consent" in node:
        if len(node) != 1 or node["consent"] not in CHANNELS:
            return ctx.bad(f"{path}.consent", f"must be one of {list(CHANNELS)}")
        if ctx.level != "person" and p == "p":
            return ctx.bad(path, "consent is per person; in account segments use contacts")
        key = ctx.bind(["consent", node["consent"], "granted"], "text[]")
        return f"(({p}.computed #>> {key}) = 'true')"
    if "contacts" in node:
        if ctx.level != "account":
            return ctx.bad(path, "contacts conditions are for account segments")
        if p != "p":
            return ctx.bad(path, "contacts conditions cannot be nested")
        unknown = sorted(set(node) - {"contacts", "count"})
        if unknown:
            return ctx.bad(path, f"unknown keys {unknown} in a contacts condition")
        ctx.time_based = True
        inner = _node(ctx, f"{path}.contacts", node["contacts"], depth + 1, "cp")
        base = (
            "FROM profiles cp WHERE cp.account_id = a.id AND cp.merged_into IS NULL "
            f"AND NOT cp.deleted AND {inner}"
        )
        if "count" not in node:
            return f"EXISTS (SELECT 1 {base})"
        checked = _count_compare(ctx, f"{path}.count", node["count"])
        if checked is None:
            return "FALSE"
        return _apply_count(ctx, f"(SELECT count(*) {base})", *checked)
    if "event" in node or ("type" in node and "op" not in node):
        return _event(ctx, path, node, p)
    kinds = [k for k in FIELD_KINDS if k in node]
    if len(kinds) == 1:
        return _field(ctx, path, node, kinds[0], p)
    return ctx.bad(
        path,
        "unknown condition: use all/any/not, trait, computed, account, account_computed, "
        "event, consent or contacts",
    )


def compile_rule(rule: Any, *, level: str = "person", path: str = "rules") -> Compiled:
    """Validate ``rule`` and compile it. Raises ``Unprocessable`` listing every problem."""
    if level not in LEVELS:
        raise Unprocessable(
            f"level must be one of {list(LEVELS)}",
            details=[{"path": "level", "message": f"unknown level {level!r}"}],
        )
    ctx = _Ctx(level=level)
    sql = _node(ctx, path, rule, 0)
    if ctx.problems:
        raise Unprocessable(
            "invalid segment rule: " + "; ".join(f"{p.path}: {p.message}" for p in ctx.problems),
            details=[{"path": p.path, "message": p.message} for p in ctx.problems],
        )
    return Compiled(sql=sql, params=ctx.params, time_based=ctx.time_based, level=level)
