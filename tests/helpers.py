"""Small typed helpers for tests."""

from __future__ import annotations

import base64
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import uvicorn
from sqlalchemy import Engine

from api.app import create_app
from ingest.sources import create_source
from kindred.db import unit_of_work
from kindred.security import create_api_key
from kindred.settings import Settings

T = TypeVar("T")


def wait_for(check: Callable[[], T | None], *, timeout: float = 20.0, every: float = 0.1) -> T:
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")


def make_source(
    engine: Engine,
    *,
    connector: str = "web",
    name: str | None = None,
    config: dict[str, Any] | None = None,
) -> tuple[str, str]:
    name = name or f"{connector}-{uuid.uuid4().hex[:6]}"
    with unit_of_work(engine) as session:
        _, key = create_source(session, name=name, connector=connector, config=config)
    return name, key


def make_api_key(engine: Engine, *scopes: str) -> str:
    with unit_of_work(engine) as session:
        _, secret = create_api_key(session, name="test", scopes=list(scopes or ("read",)))
    return secret


def basic(write_key: str) -> dict[str, str]:
    token = base64.b64encode(f"{write_key}:".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def message(kind: str, **fields: Any) -> dict[str, Any]:
    msg: dict[str, Any] = {"type": kind, "messageId": str(uuid.uuid4())}
    msg.update(fields)
    return msg


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_server(settings: Settings, engine: Engine) -> Iterator[str]:
    """The real app on a real socket; yields its base URL."""
    port = free_port()
    app = create_app(settings, engine=engine)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout=10)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
