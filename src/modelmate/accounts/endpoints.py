"""Accounts API: /api/v1/auth (signup, login, logout, state, me, password, API tokens) and /api/v1/admin/users."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel

from modelmate.accounts import service, setup
from modelmate.accounts.middleware import CSRF_COOKIE, SESSION_COOKIE, cookies_secure, set_session_cookies
from modelmate.accounts.schemas import (
    AuthState,
    LoginRequest,
    PasswordChange,
    SignupRequest,
    TokenCreate,
    TokenCreated,
    TokenOut,
    UserAdminUpdate,
    UserOut,
    UserPage,
)
from modelmate.api.deps import (
    CurrentUser,
    DatabaseDep,
    IdPath,
    OptionalUser,
    SessionDep,
    SessionUser,
    SettingsDep,
    get_principal,
)
from modelmate.errors import ConflictError, ErrorResponse, OpenApiResponses

router = APIRouter(prefix="/auth", tags=["auth"])
admin_router = APIRouter(prefix="/admin", tags=["admin"])
ERRORS: OpenApiResponses = {401: {"model": ErrorResponse}, 403: {"model": ErrorResponse}, 404: {"model": ErrorResponse},
                            409: {"model": ErrorResponse}, 429: {"model": ErrorResponse}}


class SessionStarted(BaseModel):
    user: UserOut


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _start(request: Request, response: Response, session: SessionDep, user) -> SessionStarted:
    previous = get_principal(request)
    if previous is not None and previous.kind == "session" and previous.session_row_id:
        service.end_session(session, previous.session_row_id)  # a fresh id on every sign-in
    new = service.start_session(session, user)
    set_session_cookies(response, new.session_id, new.csrf_token, secure=cookies_secure(request.scope))
    return SessionStarted(user=UserOut.model_validate(user))


# The rate limiter writes its counters in transactions of its own, which must commit whatever the request's outcome
# (a failed login counts although its request rolls back). So login and signup meet the limiter in a dependency
# declared BEFORE the request's session: FastAPI solves dependencies in order, so it runs before that session opens
# (and takes SQLite's write lock, which the limiter's own transactions would otherwise wait for).

def _signup_allowed(payload: SignupRequest, request: Request) -> None:
    del payload  # declared so that a malformed body is refused (422) before it costs a slot
    request.app.state.auth_limiter.check(_client_ip(request))


def _password_checked(payload: LoginRequest, request: Request, db: DatabaseDep) -> service.Authenticated:
    return service.authenticate(db, request.app.state.auth_limiter, ip=_client_ip(request), login=payload.username,
                                password=payload.password)


@router.post("/signup", response_model=SessionStarted, status_code=201, responses=ERRORS,
             summary="Create an account (the first one needs the setup token and takes over the single-user "
                     "data) and sign in")
def signup(_allowed: Annotated[None, Depends(_signup_allowed)], payload: SignupRequest, request: Request,
           response: Response, session: SessionDep, settings: SettingsDep) -> SessionStarted:
    user = service.create_account(session, username=payload.username, email=payload.email,
                                  password=payload.password, signup_open=settings.signup_open,
                                  first_account_guard=partial(setup.require, settings, payload.setup_token))
    return _start(request, response, session, user)


@router.post("/login", response_model=SessionStarted, responses=ERRORS, summary="Sign in with a password")
def login(authenticated: Annotated[service.Authenticated, Depends(_password_checked)], request: Request,
          response: Response, session: SessionDep) -> SessionStarted:
    return _start(request, response, session, service.complete_login(session, authenticated))


@router.post("/logout", status_code=204, responses=ERRORS, summary="Sign out (the session is revoked server-side)")
def logout(request: Request, session: SessionDep) -> Response:
    principal = get_principal(request)
    if principal is not None and principal.kind == "session" and principal.session_row_id:
        service.end_session(session, principal.session_row_id)
    response = Response(status_code=204)
    secure = cookies_secure(request.scope)
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        response.delete_cookie(name, path="/", secure=secure, httponly=name == SESSION_COOKIE, samesite="lax")
    return response


@router.get("/state", response_model=AuthState, summary="Single-user or accounts mode, and who is signed in")
def state(session: SessionDep, user: OptionalUser, settings: SettingsDep) -> AuthState:
    mode = service.auth_mode(session)
    return AuthState(mode=mode, user=UserOut.model_validate(user) if user else None,
                     signup_open=mode == "single_user" or settings.signup_open,
                     setup_required=mode == "single_user")


@router.get("/me", response_model=UserOut, responses=ERRORS, summary="The signed-in user")
def me(user: CurrentUser) -> UserOut:
    return UserOut.model_validate(user)


@router.post("/password", status_code=204, responses=ERRORS,
             summary="Change your password (signs out your other sessions)")
def change_password(payload: PasswordChange, request: Request, session: SessionDep, user: SessionUser) -> Response:
    principal = get_principal(request)
    if principal is None:
        raise ConflictError("single-user mode has no password; create an account first", code="accounts_required")
    service.change_password(session, user, current=payload.current_password, new=payload.new_password,
                            keep_session_id=principal.session_row_id)
    return Response(status_code=204)


def _token_out(row, cls=TokenOut, **extra):
    return cls(id=row.id, name=row.name, prefix=row.prefix, scopes=service.token_scopes(row),
               created_at=row.created_at, expires_at=row.expires_at, last_used_at=row.last_used_at,
               revoked_at=row.revoked_at, **extra)


@router.post("/tokens", response_model=TokenCreated, status_code=201, responses=ERRORS,
             summary="Create an API token (the secret is shown once)")
def create_token(payload: TokenCreate, session: SessionDep, user: SessionUser) -> TokenCreated:
    if user.is_local:
        raise ConflictError("API tokens need an account; create one first (single-user mode needs no token)",
                            code="accounts_required")
    created = service.create_token(session, user, payload)
    return _token_out(created.row, TokenCreated, token=created.token)


@router.get("/tokens", response_model=list[TokenOut], responses=ERRORS, summary="Your API tokens (no secrets)")
def list_tokens(session: SessionDep, user: CurrentUser) -> list[TokenOut]:
    return [_token_out(t) for t in service.list_tokens(session, user)]


@router.delete("/tokens/{token_id}", status_code=204, responses=ERRORS, summary="Revoke an API token")
def revoke_token(token_id: IdPath, session: SessionDep, user: CurrentUser) -> Response:
    service.revoke_token(session, user, token_id)
    return Response(status_code=204)


@admin_router.get("/users", response_model=UserPage, responses=ERRORS, summary="All accounts (admins only)")
def admin_list_users(session: SessionDep, user: CurrentUser,
                     limit: Annotated[int, Query(ge=1, le=500)] = 100,
                     offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> UserPage:
    items, total = service.list_users(session, user, limit=limit, offset=offset)
    return UserPage(items=[UserOut.model_validate(u) for u in items], total=total, limit=limit, offset=offset)


@admin_router.patch("/users/{user_id}", response_model=UserOut, responses=ERRORS,
                    summary="Activate/deactivate an account or change its admin flag (admins only)")
def admin_update_user(user_id: IdPath, payload: UserAdminUpdate, session: SessionDep, user: CurrentUser) -> UserOut:
    return UserOut.model_validate(service.admin_update_user(session, user, user_id, payload))
