"""Telling a database outage from a bad record.

A worker that fails on a batch must know which of the two it met: an outage (the server
restarting, a lost connection, a deadlock or serialisation failure) is retried as a whole,
while an error caused by the data (a value PostgreSQL refuses, an index row too large, a bug
on an odd shape) is isolated to the records that cause it. Errors are classified by SQLSTATE,
raw psycopg errors and SQLAlchemy-wrapped ones alike.
"""

from __future__ import annotations

import psycopg
from sqlalchemy import exc as sa_exc

#: SQLSTATE classes and codes that say nothing about the data: retry the whole unit of work
TRANSIENT_CLASSES = ("08", "40", "53", "57", "58")  # connection, rollback, resources, operator
TRANSIENT_CODES = frozenset({"55P03"})  # lock_not_available
DEADLOCK_CODES = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure


def _driver_error(err: BaseException) -> BaseException:
    return getattr(err, "orig", None) or err


def sqlstate(err: BaseException) -> str | None:
    """The SQLSTATE of a (wrapped or raw) psycopg error, if the server sent one."""
    orig = _driver_error(err)
    return getattr(orig, "sqlstate", None) if isinstance(orig, psycopg.Error) else None


def is_transient(err: BaseException) -> bool:
    """True for outages and concurrency aborts; False for errors the data caused."""
    if isinstance(err, sa_exc.DBAPIError) and err.connection_invalidated:
        return True
    if isinstance(err, sa_exc.DisconnectionError | sa_exc.TimeoutError):
        return True
    orig = _driver_error(err)
    if isinstance(orig, psycopg.Error):
        code = getattr(orig, "sqlstate", None)
        if code is None:
            # no SQLSTATE: the client lost the server (connection refused, closed, timed out)
            return isinstance(orig, psycopg.OperationalError | psycopg.InterfaceError)
        return code[:2] in TRANSIENT_CLASSES or code in TRANSIENT_CODES
    return (
        isinstance(err, sa_exc.OperationalError | sa_exc.InterfaceError) and sqlstate(err) is None
    )


def is_deadlock(err: BaseException) -> bool:
    return sqlstate(err) in DEADLOCK_CODES


def describe(err: BaseException, *, limit: int = 300) -> str:
    """A one-line reason for a dead letter or a quarantine entry: the database's message
    (first line) without SQLAlchemy's statement dump, safe to store as text."""
    orig = _driver_error(err)
    text = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    code = sqlstate(err)
    prefix = f"{type(orig).__name__}" + (f" [{code}]" if code else "")
    return storable_text(f"{prefix}: {text}")[:limit]


def storable_text(value: str) -> str:
    """``value`` as text PostgreSQL and Kafka headers accept: NUL written as ``\\x00`` and
    unpaired surrogates as ``\\udXXX`` escapes."""
    return value.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")
