"""Request dependencies: one DB session per request, settings, the current user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from modelmate.config import Settings
from modelmate.db.engine import Database, immediate_transaction
from modelmate.models import User

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_database(request: Request) -> Database:
    return request.app.state.db


def get_session(request: Request) -> Iterator[Session]:
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


def get_current_user(request: Request, session: Annotated[Session, Depends(get_session)]) -> User:
    """Single-user mode: the local user owns everything until accounts arrive."""
    user = session.get(User, request.app.state.local_user_id)
    if user is None:  # the row was removed under us; recreate it
        from modelmate.accounts.service import ensure_local_user

        user = ensure_local_user(session)
        request.app.state.local_user_id = user.id
    return user


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
SessionDep = Annotated[Session, Depends(get_session)]
CurrentUser = Annotated[User, Depends(get_current_user)]
