"""Accounts: single-user mode, signup (the first one adopts the local user's data), login, sessions,
API tokens and user administration.

Until a real account exists, one local user (no password, cannot log in) owns everything and every request
acts as it. The first account — made by signup or ``modelmate users create`` — *is* that row, converted in
place, so everything logged before is handed over atomically. Services never commit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from modelmate.accounts import repository as repo
from modelmate.accounts import security
from modelmate.accounts.ratelimit import AuthRateLimiter
from modelmate.accounts.schemas import TokenCreate, UserAdminUpdate
from modelmate.db.base import utcnow
from modelmate.db.engine import Database, immediate_transaction
from modelmate.errors import ConflictError, ForbiddenError, NotFoundError, Unauthorized, ValidationFailed
from modelmate.models import ApiToken, User, UserSession

LOCAL_USERNAME = "local"
SESSION_LIFETIME = timedelta(days=14)
TOUCH_INTERVAL = timedelta(minutes=1)  # sliding expiry / last_used_at written at most once a minute
INVALID_LOGIN = "invalid username or password"


# --- single-user mode ---------------------------------------------------------------------------------------

def ensure_local_user(session: Session) -> User | None:
    """The local user while the server is in single-user mode (created on an empty database); None once
    real accounts exist."""
    user = repo.local_user(session)
    if user is not None:
        return user
    if repo.count_users(session):
        return None
    user = User(username=LOCAL_USERNAME, display_name="You", is_local=True, is_admin=True)
    session.add(user)
    session.flush()
    return user


def cli_user(session: Session, username: str | None = None) -> User:
    """The user a local CLI command acts for: the local user in single-user mode; otherwise the named account,
    or the first active administrator."""
    local = ensure_local_user(session)
    if local is not None and username is None:
        return local
    user = repo.find_by_login(session, username) if username else repo.first_admin(session)
    if user is None:
        raise NotFoundError(f"no account named {username!r}" if username else "no active administrator account")
    return user


def auth_mode(session: Session) -> str:
    return "accounts" if repo.has_accounts(session) else "single_user"


def request_user(session: Session, principal: Principal | None) -> User | None:
    """The user a request acts as (installed as ``app.state.resolve_user`` for :mod:`modelmate.api.deps`): the
    active account a session or API token resolved to; with no credential, the local user in single-user mode
    (recreated if its row was removed) and nobody once real accounts exist."""
    if principal is not None:
        user = session.get(User, principal.user_id)
        return user if user is not None and user.is_active and not user.is_local else None
    if auth_mode(session) == "accounts":
        return None
    return ensure_local_user(session)


# --- accounts -----------------------------------------------------------------------------------------------

def create_account(session: Session, *, username: str, email: str, password: str, admin: bool = False,
                   signup_open: bool = True, first_account_guard: Callable[[Session], None] | None = None) -> User:
    """Create an account. The first one converts the local user (data included) and is an admin.

    ``username``/``email`` must already be normalised (see ``accounts.schemas``). ``first_account_guard`` runs
    (under the write lock) only when this is the first account, and raises to refuse it: a browser signup passes
    the setup-token check (``accounts.setup.require``); ``modelmate users create`` passes none.
    """
    try:
        security.check_password_policy(password, username=username, email=email)
    except security.PasswordPolicyError as exc:
        raise ValidationFailed(str(exc), code="weak_password") from exc
    immediate_transaction(session)
    local = repo.local_user(session, for_update=True)
    first = local is not None and not repo.has_accounts(session)
    if first and first_account_guard is not None:
        first_account_guard(session)
    if not first and not signup_open:
        raise ForbiddenError("signup is closed on this server; ask an administrator for an account",
                             code="signup_closed")
    taken = repo.username_or_email_taken(session, username, email,
                                         exclude_id=local.id if first and local is not None else None)
    if taken:
        raise ConflictError(f"that {taken} is already registered", code=f"{taken}_taken", details={"field": taken})
    password_hash = security.hash_password(password)
    now = utcnow()
    if first:
        assert local is not None
        local.username, local.email, local.password_hash = username, email, password_hash
        local.display_name = username
        local.is_local, local.is_admin, local.is_active = False, True, True
        local.updated_at = now
        session.flush()
        return local
    user = User(username=username, email=email, display_name=username, password_hash=password_hash,
                is_admin=admin, is_active=True, is_local=False, created_at=now, updated_at=now)
    session.add(user)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:  # a concurrent signup took the name between our check and our insert
        raise ConflictError("that username or email is already registered", code="username_taken") from exc
    return user


@dataclass(frozen=True)
class Authenticated:
    """A password login that passed (see :func:`authenticate`), to be completed in the request's session."""

    user_id: int
    new_password_hash: str | None  # the password re-hashed with today's parameters; None: its hash is current


def authenticate(db: Database, limiter: AuthRateLimiter, *, ip: str, login: str, password: str) -> Authenticated:
    """Check a username/email + password. Unknown users cost the same work and get the same answer. Failures slow
    down only the client that made them (429 with a growing ``Retry-After``), never the owner elsewhere.

    Runs before the request's own unit of work opens (``endpoints.login``): the limiter's counters are written in
    transactions of their own, so a failed login counts although its request rolls back; the user is read in a
    short transaction; and no write lock is held while the password hash is checked."""
    account = login.strip().casefold()
    limiter.check(ip, account)
    with db.session() as s:
        user = repo.find_by_login(s, account)
    ok = security.verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.is_active:
        limiter.failed(account, ip)
        raise Unauthorized(INVALID_LOGIN, code="invalid_credentials")
    limiter.succeeded(account, ip)
    rehash = security.hash_password(password) if security.needs_rehash(user.password_hash or "") else None
    return Authenticated(user_id=user.id, new_password_hash=rehash)


def complete_login(session: Session, authenticated: Authenticated) -> User:
    """The user of a login that passed :func:`authenticate`, in the request's session (its password hash upgraded
    when due). An account deactivated in between is refused like a wrong password."""
    user = repo.get_user(session, authenticated.user_id)
    if user is None or not user.is_active or user.is_local:
        raise Unauthorized(INVALID_LOGIN, code="invalid_credentials")
    if authenticated.new_password_hash is not None:
        user.password_hash = authenticated.new_password_hash
        session.flush()
    return user


def change_password(session: Session, user: User, *, current: str, new: str,
                    keep_session_id: int | None) -> None:
    if not security.verify_password(user.password_hash, current):
        raise ForbiddenError("the current password is wrong", code="wrong_password")
    try:
        security.check_password_policy(new, username=user.username, email=user.email)
    except security.PasswordPolicyError as exc:
        raise ValidationFailed(str(exc), code="weak_password") from exc
    user.password_hash = security.hash_password(new)
    user.updated_at = utcnow()
    repo.revoke_user_sessions(session, user.id, utcnow(), except_id=keep_session_id)
    session.flush()


# --- sessions -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class NewSession:
    row: UserSession
    session_id: str  # the cookie value: never stored, never logged
    csrf_token: str


def start_session(session: Session, user: User) -> NewSession:
    sid, csrf = security.new_secret(), security.new_secret()
    now = utcnow()
    row = UserSession(user_id=user.id, session_hash=security.digest(sid), csrf_hash=security.digest(csrf),
                      created_at=now, last_seen_at=now, expires_at=now + SESSION_LIFETIME)
    session.add(row)
    session.flush()
    return NewSession(row=row, session_id=sid, csrf_token=csrf)


def end_session(session: Session, session_row_id: int) -> None:
    repo.revoke_session(session, session_row_id, utcnow())


@dataclass(frozen=True)
class Principal:
    """Who a request authenticated as (resolved before the request's own DB session opens)."""

    user_id: int
    kind: str  # "session" | "token"
    session_row_id: int | None = None
    csrf_hash: str | None = None
    token_id: int | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    refreshed: bool = False  # the session's sliding expiry moved: the cookies are re-sent

    @property
    def can_write(self) -> bool:
        return self.kind == "session" or "write" in self.scopes


def resolve_session_cookie(db: Database, session_id: str) -> Principal | None:
    """A live session for this cookie value (not revoked, not expired, user active); slides its expiry."""
    now = utcnow()
    with db.session() as s:
        found = repo.session_by_hash(s, security.digest(session_id))
        if found is None:
            return None
        row, user = found
        if row.revoked_at is not None or row.expires_at <= now or not user.is_active or user.is_local:
            return None
        stale = row.last_seen_at < now - TOUCH_INTERVAL
        principal = Principal(user_id=user.id, kind="session", session_row_id=row.id, csrf_hash=row.csrf_hash,
                              refreshed=stale)
    if stale:
        _best_effort_write(db, lambda s: repo.touch_session(s, principal.session_row_id or 0, now=now,
                                                            expires_at=now + SESSION_LIFETIME,
                                                            stale_before=now - TOUCH_INTERVAL))
    return principal


def resolve_api_token(db: Database, token: str) -> Principal | None:
    if not security.looks_like_api_token(token):
        return None
    now = utcnow()
    with db.session() as s:
        found = repo.token_by_hash(s, security.digest(token))
        if found is None:
            return None
        row, user = found
        if (row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now)
                or not user.is_active or user.is_local):
            return None
        principal = Principal(user_id=user.id, kind="token", token_id=row.id, scopes=frozenset(_scopes(row)))
        stale = row.last_used_at is None or row.last_used_at < now - TOUCH_INTERVAL
    if stale:
        _best_effort_write(db, lambda s: repo.touch_token(s, principal.token_id or 0, now=now,
                                                          stale_before=now - TOUCH_INTERVAL))
    return principal


def _best_effort_write(db: Database, work) -> None:
    """Bookkeeping writes (last seen/used) in their own short transaction; never fail the request."""
    import logging

    from sqlalchemy.exc import OperationalError

    try:
        with db.session() as s:
            immediate_transaction(s)
            work(s)
    except OperationalError:  # pragma: no cover - a busy database only delays the bookkeeping
        logging.getLogger("modelmate.accounts").debug("skipped a session/token touch: database busy")


# --- API tokens ---------------------------------------------------------------------------------------------

def _scopes(token: ApiToken) -> list[str]:
    return [s for s in (token.scopes or "").split(",") if s]


@dataclass(frozen=True)
class CreatedToken:
    row: ApiToken
    token: str


def create_token(session: Session, user: User, payload: TokenCreate) -> CreatedToken:
    new = security.new_api_token()
    now = utcnow()
    expires = now + timedelta(days=payload.expires_in_days) if payload.expires_in_days else None
    row = ApiToken(user_id=user.id, name=payload.name, prefix=new.prefix, token_hash=new.token_hash,
                   scopes=",".join(payload.scopes), created_at=now, expires_at=expires)
    session.add(row)
    session.flush()
    return CreatedToken(row=row, token=new.token)


def list_tokens(session: Session, user: User) -> list[ApiToken]:
    return repo.list_tokens(session, user.id)


def revoke_token(session: Session, user: User, token_id: int) -> None:
    row = repo.get_token(session, user.id, token_id)
    if row is None:
        raise NotFoundError(f"token {token_id} not found")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()


def token_scopes(token: ApiToken) -> list[str]:
    return _scopes(token)


# --- administration -----------------------------------------------------------------------------------------

def require_admin(user: User) -> None:
    if not user.is_admin:
        raise ForbiddenError("only administrators can do this", code="admin_only")


def list_users(session: Session, admin: User, *, limit: int, offset: int) -> tuple[list[User], int]:
    require_admin(admin)
    return repo.list_users(session, limit=limit, offset=offset)


def admin_update_user(session: Session, admin: User, user_id: int, changes: UserAdminUpdate) -> User:
    require_admin(admin)
    immediate_transaction(session)
    user = repo.get_user(session, user_id)
    if user is None or user.is_local:
        raise NotFoundError(f"user {user_id} not found")
    values = changes.model_dump(exclude_unset=True, exclude_none=True)
    removes_admin = (values.get("is_active") is False or values.get("is_admin") is False) and user.is_admin
    if removes_admin and user.is_active and repo.count_active_admins(session) <= 1:
        raise ConflictError("this is the last active administrator; make someone else an admin first",
                            code="last_admin")
    for key, value in values.items():
        setattr(user, key, value)
    if values.get("is_active") is False:
        repo.revoke_user_sessions(session, user.id, utcnow())
    user.updated_at = utcnow()
    session.flush()
    return user


def get_user(session: Session, user_id: int) -> User | None:
    return repo.get_user(session, user_id)
