"""SQL for users, browser sessions and API tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from modelmate.db.base import affected_rows
from modelmate.models import ApiToken, User, UserSession

# --- users ---------------------------------------------------------------------------------------------------

def get_user(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def local_user(session: Session, *, for_update: bool = False) -> User | None:
    stmt = select(User).where(User.is_local.is_(True)).order_by(User.id).limit(1)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).first()


def has_accounts(session: Session) -> bool:
    """True once any real (non-local) account exists: the server is then in accounts mode."""
    return session.scalar(select(User.id).where(User.is_local.is_(False)).limit(1)) is not None


def count_users(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User)) or 0


def find_by_login(session: Session, login: str) -> User | None:
    """A real account by username or email (case-insensitive)."""
    key = login.strip().casefold()
    column = func.lower(User.email) if "@" in key else func.lower(User.username)
    return session.scalars(select(User).where(column == key, User.is_local.is_(False)).limit(1)).first()


def username_or_email_taken(session: Session, username: str, email: str, *,
                            exclude_id: int | None = None) -> str | None:
    for field, column, value in (("username", func.lower(User.username), username.casefold()),
                                 ("email", func.lower(User.email), email.casefold())):
        stmt = select(User.id).where(column == value)
        if exclude_id is not None:
            stmt = stmt.where(User.id != exclude_id)
        if session.scalar(stmt.limit(1)) is not None:
            return field
    return None


def list_users(session: Session, *, limit: int, offset: int) -> tuple[list[User], int]:
    total = session.scalar(select(func.count()).select_from(User)) or 0
    return list(session.scalars(select(User).order_by(User.id).limit(limit).offset(offset))), total


def first_admin(session: Session) -> User | None:
    return session.scalars(select(User).where(User.is_admin.is_(True), User.is_active.is_(True),
                                              User.is_local.is_(False)).order_by(User.id).limit(1)).first()


def count_active_admins(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User).where(
        User.is_admin.is_(True), User.is_active.is_(True), User.is_local.is_(False))) or 0


# --- sessions ------------------------------------------------------------------------------------------------

def session_by_hash(session: Session, session_hash: str) -> tuple[UserSession, User] | None:
    row = session.execute(select(UserSession, User).join(User, User.id == UserSession.user_id)
                          .where(UserSession.session_hash == session_hash)).first()
    return (row[0], row[1]) if row else None


def touch_session(session: Session, session_id: int, *, now: datetime, expires_at: datetime,
                  stale_before: datetime) -> None:
    session.execute(update(UserSession)
                    .where(UserSession.id == session_id, UserSession.revoked_at.is_(None),
                           UserSession.last_seen_at < stale_before)
                    .values(last_seen_at=now, expires_at=expires_at))


def revoke_session(session: Session, session_id: int, now: datetime) -> None:
    session.execute(update(UserSession).where(UserSession.id == session_id, UserSession.revoked_at.is_(None))
                    .values(revoked_at=now))


def revoke_user_sessions(session: Session, user_id: int, now: datetime, *, except_id: int | None = None) -> int:
    stmt = update(UserSession).where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
    if except_id is not None:
        stmt = stmt.where(UserSession.id != except_id)
    return affected_rows(session.execute(stmt.values(revoked_at=now))) or 0


# --- API tokens ----------------------------------------------------------------------------------------------

def token_by_hash(session: Session, token_hash: str) -> tuple[ApiToken, User] | None:
    row = session.execute(select(ApiToken, User).join(User, User.id == ApiToken.user_id)
                          .where(ApiToken.token_hash == token_hash)).first()
    return (row[0], row[1]) if row else None


def touch_token(session: Session, token_id: int, *, now: datetime, stale_before: datetime) -> None:
    session.execute(update(ApiToken)
                    .where(ApiToken.id == token_id,
                           (ApiToken.last_used_at.is_(None)) | (ApiToken.last_used_at < stale_before))
                    .values(last_used_at=now))


def list_tokens(session: Session, user_id: int) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user_id)
                                .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


def get_token(session: Session, user_id: int, token_id: int) -> ApiToken | None:
    return session.scalars(select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user_id)).first()


def revoke_user_tokens(session: Session, user_id: int, now: datetime) -> int:
    return affected_rows(session.execute(update(ApiToken).where(ApiToken.user_id == user_id,
                                                                ApiToken.revoked_at.is_(None))
                                         .values(revoked_at=now))) or 0
