"""Request-scoped dependencies: the session (one per request) and authentication."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ingest.producer import EventPublisher
from kindred.security import Principal, authenticate


@dataclass
class AppState:
    engine: Engine
    sessions: sessionmaker[Session]
    publisher: EventPublisher


def state(request: Request) -> AppState:
    value: AppState = request.app.state.kindred
    return value


def get_session(request: Request) -> Iterator[Session]:
    session = state(request).sessions()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def require(scope: str) -> Callable[..., Principal]:
    def dependency(request: Request, session: Session = Depends(get_session)) -> Principal:
        principal = authenticate(session, token=bearer_token(request))
        principal.require(scope)
        return principal

    return dependency
