"""Telling a database outage from a bad record: one classification for every caller.

A worker that fails on a batch must know which of the two it met: an outage (the server
restarting, a lost connection) or a concurrency abort (a deadlock, a serialisation failure)
is retried as a whole, while an error caused by the data (a value PostgreSQL refuses, an
index row too large, a bug on an odd shape) is isolated to the records that cause it. The API
answers the same classes with 503, 503, 422 and 409. Errors are classified by SQLSTATE, raw
psycopg errors and SQLAlchemy-wrapped ones alike (the cause chain is followed).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import psycopg
from sqlalchemy import exc as sa_exc

Kind = Literal["unavailable", "busy", "invalid", "conflict"]

#: SQLSTATE classes of an outage: connection, insufficient resources, operator intervention,
#: system error (57014, a statement timeout, is "busy" instead)
UNAVAILABLE_CLASSES = frozenset({"08", "53", "57", "58"})
#: a lock not available, a statement timeout: the data is fine, retry
BUSY_CODES = frozenset({"55P03", "57014"})
#: the value or the statement's data is refused: data exception, program limit exceeded
INVALID_CLASSES = frozenset({"22", "54"})

_LOST = (
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,  # the pool is exhausted
    sa_exc.InterfaceError,
    psycopg.InterfaceError,
    ConnectionError,
    TimeoutError,
)


def _chain(err: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        orig = current.orig if isinstance(current, sa_exc.DBAPIError) else None
        current = orig or current.__cause__ or current.__context__


def sqlstate(err: BaseException) -> str | None:
    """The SQLSTATE of a (wrapped or raw) psycopg error, if the server sent one."""
    for e in _chain(err):
        code = getattr(e, "sqlstate", None)
        if isinstance(e, psycopg.Error) and code:
            return str(code)
    return None


def classify(err: BaseException) -> Kind | None:
    """What kind of database failure ``err`` is; None when it is no database failure we
    recognise (a bug: let it be a 500 / a record's fault)."""
    code = sqlstate(err)
    if code is not None:
        cls = code[:2]
        if cls in INVALID_CLASSES:
            return "invalid"
        if cls == "23":
            return "conflict"
        if cls == "40" or code in BUSY_CODES:
            return "busy"
        if cls in UNAVAILABLE_CLASSES:
            return "unavailable"
        return None
    for e in _chain(err):
        if getattr(type(e), "transient", False) is True:
            return "busy"  # a concurrency abort of our own (e.g. identity's ConcurrentChange)
        if isinstance(e, sa_exc.DBAPIError) and e.connection_invalidated:
            return "unavailable"
        if isinstance(e, _LOST):
            return "unavailable"
        if isinstance(e, sa_exc.OperationalError | psycopg.OperationalError):
            return "unavailable"  # no SQLSTATE: the client lost the server
        if isinstance(e, sa_exc.DataError | psycopg.DataError):
            return "invalid"  # refused by the driver itself (a NUL in a text parameter)
    return None


def is_transient(err: BaseException) -> bool:
    """True for outages and concurrency aborts; False for errors the data caused."""
    return classify(err) in ("unavailable", "busy")


def is_deadlock(err: BaseException) -> bool:
    """A deadlock or serialisation failure: the transaction was rolled back and retrying it
    at once (after a few milliseconds) is right."""
    code = sqlstate(err)
    if code is None:  # a concurrency abort of our own (identity's ConcurrentChange)
        return any(getattr(type(e), "transient", False) is True for e in _chain(err))
    return code[:2] == "40"


def describe(err: BaseException, *, limit: int = 300) -> str:
    """A one-line reason for a dead letter, a quarantine entry or a log: the database's
    message (first line) without SQLAlchemy's statement dump, safe to store as text."""
    root = err.orig if isinstance(err, sa_exc.DBAPIError) and err.orig is not None else err
    first = (str(root).strip().splitlines() or [""])[0]
    code = sqlstate(err)
    name = type(root).__name__ + (f" [{code}]" if code else "")
    text = storable_text(f"{name}: {first}" if first else name)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def storable_text(value: str) -> str:
    """``value`` as text PostgreSQL and Kafka headers accept: NUL written as ``\\x00`` and
    unpaired surrogates as ``\\udXXX`` escapes."""
    return value.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")
