"""Request-scoped dependencies: the session (one per request) and authentication."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.http import HTTPBase
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from ingest.producer import EventPublisher
from kindred.ratelimit import RateLimit, RateLimited, RateLimiter, shared_limiter
from kindred.security import Principal, authenticate
from kindred.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class AppState:
    engine: Engine
    sessions: sessionmaker[Session]
    publisher: EventPublisher


def state(request: Request) -> AppState:
    value: AppState = request.app.state.kindred
    return value


def _request_session(request: Request) -> Iterator[Session]:
    session = state(request).sessions()
    try:
        yield session
        session.commit()
    except BaseException:
        try:
            session.rollback()
        except Exception:  # a dead connection: the original error is the one to report
            log.warning("rollback failed", exc_info=True)
        raise
    finally:
        session.close()


def get_session(session: Session = Depends(_request_session, scope="function")) -> Session:
    """The request's session, committed when the path operation returns and BEFORE the
    response is sent (``scope="function"``): a 2xx means the write is durable, and a failed
    commit is answered by the error handlers (409 for a constraint, 503 for an outage).

    A plain function in front of the generator so that every ``Depends(get_session)`` (the
    route's, ``require()``'s) shares one session: FastAPI caches a dependency per call and
    scope, and a generator dependency defaults to the ``"request"`` scope (exit after the
    response is sent)."""
    return session


#: the read/admin API's key, as declared in OpenAPI (``auto_error=False``: a missing key is
#: answered by ``authenticate`` with Kindred's own 401)
api_key_scheme = HTTPBearer(
    scheme_name="apiKey",
    description="An API key (`kindred keys create`): `Authorization: Bearer kd_...`",
    auto_error=False,
)
#: the collector's write key: HTTP Basic with the key as the username and no password
#: (Segment's convention; ``writeKey`` in the body works too). Declared for OpenAPI only;
#: ``api.collector`` parses the header itself, so this never refuses a request.
write_key_scheme = HTTPBase(
    scheme="basic",
    scheme_name="writeKey",
    description="The source's write key as the HTTP Basic username, empty password",
    auto_error=False,
)


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def require(scope: str) -> Callable[..., Principal]:
    def dependency(
        request: Request,
        session: Session = Depends(get_session),
        _: HTTPAuthorizationCredentials | None = Depends(api_key_scheme),
    ) -> Principal:
        principal = authenticate(session, token=bearer_token(request))
        principal.require(scope)
        limit_api_key(request, principal)
        return principal

    return dependency


_limiter_lock = threading.Lock()


def rate_limiter(request: Request) -> RateLimiter:
    """The app's shared rate limiter (``kindred.ratelimit``), built on first use on the app's
    database, closed when the app shuts down."""
    app = request.app
    limiter: RateLimiter | None = getattr(app.state, "rate_limiter", None)
    if limiter is None:
        with _limiter_lock:
            limiter = getattr(app.state, "rate_limiter", None)
            if limiter is None:
                limiter = shared_limiter(state(request).engine, app.state.settings)
                app.state.rate_limiter = limiter
                app.router.add_event_handler("shutdown", limiter.close)
    return limiter


async def take_token(request: Request, key: str, limit: RateLimit) -> float:
    """For async routes: 0 when a token was taken, else the seconds to wait. An answer from
    this process's memory (lease, known refusal) costs no thread hop; otherwise the
    statement runs in a thread."""
    limiter = rate_limiter(request)
    local = limiter.take_local(key)
    if local is not None:
        return local
    return await run_in_threadpool(limiter.take, key, limit)


def limit_api_key(request: Request, principal: Principal) -> None:
    """The per-API-key budget of the read/admin API (``Settings.read_rate_limit`` and
    ``read_rate_burst``, shared by every API process): raises 429 ``rate_limited`` with
    ``Retry-After`` when the key's bucket is empty. Checked after authentication and the
    scope, so an unknown key never gets a bucket."""
    settings: Settings = request.app.state.settings
    if settings.read_rate_limit <= 0:
        return
    limit = RateLimit(rate=settings.read_rate_limit, burst=max(1.0, settings.read_rate_burst))
    wait = rate_limiter(request).take(f"api_key:{principal.key_id}", limit)
    if wait > 0:
        raise RateLimited(
            f"too many requests for this API key (budget {limit.rate:g}/s, burst "
            f"{limit.burst:g}); retry in {wait:.1f} s",
            wait=wait,
        )
