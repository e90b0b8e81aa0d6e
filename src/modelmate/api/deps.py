"""Request dependencies: one DB session per request, settings, the current user."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from sqlalchemy.orm import Session

from modelmate.config import Settings
from modelmate.db.engine import Database, immediate_transaction
from modelmate.errors import ForbiddenError, Unauthorized
from modelmate.models import User

MAX_ID = 2**63 - 1  # BIGINT; larger ids cannot exist, and the drivers overflow on them (500)
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SIGN_IN = "sign in to continue (or send an API token: Authorization: Bearer mm_...)"


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_database(request: Request) -> Database:
    return request.app.state.db


async def sqlite_write_slot(request: Request) -> AsyncIterator[None]:
    """On SQLite, let one write request at a time into the worker threads (FIFO, waiting costs no thread).

    Without it, concurrent writers each block a threadpool thread waiting for the write lock, and the
    request holding the lock can wait for a free thread to finish: 50 concurrent writers starved past the
    30 s busy timeout ("database is locked"; tests/reliability/test_concurrent_writers.py).
    """
    db: Database = request.app.state.db
    if not db.is_sqlite or request.method in SAFE_METHODS:
        yield
        return
    gate = getattr(request.app.state, "sqlite_write_gate", None)
    if gate is None:
        gate = request.app.state.sqlite_write_gate = asyncio.Lock()
    async with gate:
        yield


def get_session(request: Request, _slot: Annotated[None, Depends(sqlite_write_slot)]) -> Iterator[Session]:
    """One session per request, committed on success and rolled back on any error.

    Unsafe methods take SQLite's write lock up front (``BEGIN IMMEDIATE``): every write request
    is a read-then-write unit of work, and a deferred transaction could not upgrade its lock
    after another writer committed.
    """
    db: Database = request.app.state.db
    session = db.session_factory()
    try:
        if request.method not in SAFE_METHODS:
            immediate_transaction(session)
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# scope="function": the session is committed BEFORE the response is sent. With FastAPI's default ("request")
# scope the commit ran after the response had gone out, so a client could be told 201 for work that then failed
# to commit or was lost in a crash (seen in tests/reliability/test_kill9.py). Use this one Depends everywhere,
# so every dependency of a request shares the same session.
SESSION = Depends(get_session, scope="function")


def get_principal(request: Request):
    """What the authentication middleware resolved (a session or an API token), or None."""
    return getattr(request.state, "principal", None)


# Who a request acts as is the accounts domain's rule; it sits above this module, so the app factory hands the
# rule in (``accounts.middleware.install`` sets ``app.state.resolve_user`` to ``accounts.service.request_user``).
UserResolver = Callable[[Session, Any], User | None]


def get_optional_user(request: Request, session: Annotated[Session, SESSION]) -> User | None:
    """The signed-in user; in single-user mode (no real account yet) the local user; otherwise None."""
    resolve: UserResolver = request.app.state.resolve_user
    user = resolve(session, get_principal(request))
    if user is not None and user.is_local:
        request.app.state.local_user_id = user.id  # recreated if the row was removed under us
    return user


def get_current_user(user: Annotated[User | None, Depends(get_optional_user)]) -> User:
    """The user a request acts as. Anonymous requests once accounts exist → 401."""
    if user is None:
        raise Unauthorized(SIGN_IN)
    return user


def require_session_auth(request: Request, user: Annotated[User, Depends(get_current_user)]) -> User:
    """Sensitive account actions (new API tokens, password change) need a browser session, not a token."""
    principal = get_principal(request)
    if principal is not None and principal.kind != "session":
        raise ForbiddenError("API tokens cannot do this; sign in with your password", code="session_required")
    return user


@contextmanager
def preflight(request: Request) -> Iterator[tuple[Session, User]]:
    """The signed-in user (anonymous → 401), in a short unit of work of its own that runs BEFORE the request's.

    For the write requests that first read a large upload (a dataset, a GGUF file, an import): they check the
    caller and the upload before the request takes the database's write lock (:func:`get_session`, and on SQLite
    the write slot), so a slow upload never holds it up for others, and nothing is parsed for anonymous callers.
    Use it only in a dependency declared before ``SessionDep`` (FastAPI solves dependencies in order). It reads;
    the one write it can make is the local user recreated in single-user mode, as :func:`get_optional_user` does.
    """
    db: Database = request.app.state.db
    with db.session() as session:
        yield session, get_current_user(get_optional_user(request, session))


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
SessionDep = Annotated[Session, SESSION]
CurrentUser = Annotated[User, Depends(get_current_user)]
OptionalUser = Annotated[User | None, Depends(get_optional_user)]
SessionUser = Annotated[User, Depends(require_session_auth)]
