"""Request authentication and cross-site request defences (pure ASGI, before any route runs).

For every request:
* ``Authorization: Bearer mm_…`` → the token's user (revoked/expired/unknown → 401; read-only on an
  unsafe method → 403 ``insufficient_scope``). Tokens are never accepted anywhere else (no query strings).
* otherwise the ``mm_session`` cookie → the session's user (an invalid cookie is simply anonymous).

For every unsafe method (POST/PUT/PATCH/DELETE), authenticated or not, single-user mode included:
* an ``Origin`` that is not one of the site's origins → 403 ``csrf_failed``. The site's origins are set by the
  host guard (``api/hosts.py``, which runs first): the request's own scheme + Host once that Host is one we serve,
  and ``MODELMATE_PUBLIC_URL``. A Host that was never validated is never trusted (no site origins: refused);
* ``Sec-Fetch-Site: cross-site`` → 403 ``csrf_failed``;
* when the cookie authenticated the request: ``X-CSRF-Token`` must equal the ``mm_csrf`` cookie and match the
  session's stored digest → else 403 ``csrf_failed``.

The resolved :class:`~modelmate.accounts.service.Principal` is put in ``request.state.principal``.
The DB work runs in a worker thread with its own short transactions, before the request's own session opens.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Collection

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelmate.accounts import security
from modelmate.accounts.ratelimit import AuthRateLimiter, DatabaseBackend, RateLimited
from modelmate.accounts.service import (
    SESSION_LIFETIME,
    Principal,
    request_user,
    resolve_api_token,
    resolve_session_cookie,
)
from modelmate.errors import error_response
from modelmate.hostnames import Origin, origin_of_url

SESSION_COOKIE = "mm_session"
CSRF_COOKIE = "mm_csrf"
CSRF_HEADER = "x-csrf-token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SESSION_MAX_AGE = int(SESSION_LIFETIME.total_seconds())


def origin_allowed(origin: str, allowed: Collection[Origin]) -> bool:
    """Is the browser-sent ``Origin`` exactly one of ``allowed`` (scheme + host + port)?"""
    theirs = origin_of_url(origin)
    return theirs is not None and theirs in allowed


def same_origin(origin: str, scheme: str, host_header: str) -> bool:
    """Is the browser-sent ``Origin`` exactly this scheme + Host header (host + port)?"""
    if not host_header or any(c in host_header for c in "/?#@"):
        return False
    ours = origin_of_url(f"{scheme}://{host_header}")
    return ours is not None and origin_allowed(origin, {ours})


def cookies_secure(scope: Scope) -> bool:
    """Session cookies are ``Secure`` on https requests (a trusted proxy's X-Forwarded-Proto counts) and always
    when ``MODELMATE_PUBLIC_URL`` is https."""
    settings = scope["app"].state.settings
    return scope.get("scheme") == "https" or settings.cookies_secure


class AuthMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: dict[str, str] = {}
        for k, v in scope.get("headers", []):
            name = k.decode("latin-1").lower()
            # Keep the first of repeated headers except Origin: two Origins are never legitimate.
            if name == "origin" and name in headers:
                headers[name] = "\x00conflict"
            headers.setdefault(name, v.decode("latin-1"))
        method = scope.get("method", "GET").upper()
        unsafe = method in UNSAFE_METHODS
        state = scope.setdefault("state", {})
        state["principal"] = None

        if unsafe:
            refusal = self._cross_site_refusal(scope, headers)
            if refusal:
                await _send_error(scope, receive, send, 403, "csrf_failed", refusal)
                return

        if not scope.get("path", "").startswith("/api/"):
            await self.app(scope, receive, send)  # the UI's files and docs need no user: no DB lookup for them
            return
        db = scope["app"].state.db
        auth = headers.get("authorization")
        if auth is not None:
            kind, _, value = auth.strip().partition(" ")
            if kind.lower() != "bearer" or not value.strip():
                await _send_error(scope, receive, send, 401, "unauthorized",
                                  "unsupported Authorization header; use 'Bearer <api token>'", bearer=True)
                return
            principal = await run_in_threadpool(resolve_api_token, db, value.strip())
            if principal is None:
                await _send_error(scope, receive, send, 401, "unauthorized",
                                  "the API token is invalid, expired or revoked", bearer=True)
                return
            if unsafe and not principal.can_write:
                await _send_error(scope, receive, send, 403, "insufficient_scope",
                                  "this API token is read-only; create one with the 'write' scope")
                return
            state["principal"] = principal
            await self.app(scope, receive, send)
            return

        cookies = cookie_parser(headers.get("cookie", ""))
        session_id = cookies.get(SESSION_COOKIE)
        if session_id:
            principal = await run_in_threadpool(resolve_session_cookie, db, session_id)
            if principal is not None:
                if unsafe and not _csrf_ok(principal, cookies.get(CSRF_COOKIE), headers.get(CSRF_HEADER)):
                    await _send_error(scope, receive, send, 403, "csrf_failed",
                                      "missing or wrong CSRF token (send the mm_csrf cookie's value in X-CSRF-Token)")
                    return
                state["principal"] = principal
                csrf_value = cookies.get(CSRF_COOKIE)
                if principal.refreshed and csrf_value:
                    send = _refreshing_send(send, session_id, csrf_value, secure=cookies_secure(scope))
        await self.app(scope, receive, send)

    @staticmethod
    def _cross_site_refusal(scope: Scope, headers: dict[str, str]) -> str | None:
        if headers.get("sec-fetch-site", "").strip().lower() == "cross-site":
            return "cross-site request refused"
        origin = headers.get("origin")
        if origin is not None:
            site_origins = scope.get("state", {}).get("site_origins") or ()  # set by the host guard only
            if not origin_allowed(origin.strip(), site_origins):
                return "cross-origin request refused"
        return None


def _refreshing_send(send: Send, session_id: str, csrf_value: str, *, secure: bool) -> Send:
    """Re-send the session cookies with a fresh Max-Age (sliding expiry), unless the route set its own."""
    carrier = Response()
    set_session_cookies(carrier, session_id, csrf_value, secure=secure)
    fresh = [(k, v) for k, v in carrier.raw_headers if k == b"set-cookie"]

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            names = [v.split(b"=", 1)[0].strip() for k, v in headers if k.lower() == b"set-cookie"]
            if SESSION_COOKIE.encode() not in names and CSRF_COOKIE.encode() not in names:
                message["headers"] = headers + fresh
        await send(message)

    return wrapped


def _csrf_ok(principal: Principal, cookie_value: str | None, header_value: str | None) -> bool:
    if not cookie_value or not header_value:
        return False
    if not hmac.compare_digest(cookie_value.encode(), header_value.encode()):
        return False
    return security.digests_match(header_value, principal.csrf_hash)


async def _send_error(scope: Scope, receive: Receive, send: Send, status: int, code: str, message: str,
                      *, bearer: bool = False) -> None:
    extra = {"WWW-Authenticate": 'Bearer realm="modelmate"'} if bearer else None
    response = JSONResponse({"error": {"code": code, "message": message, "details": None}}, status_code=status,
                            headers=extra)
    await response(scope, receive, send)


def set_session_cookies(response: Response, session_id: str, csrf_token: str, *, secure: bool) -> None:
    """``mm_session`` (HttpOnly) and ``mm_csrf`` (readable by our own scripts), both SameSite=Lax."""
    response.set_cookie(SESSION_COOKIE, session_id, max_age=SESSION_MAX_AGE, path="/", secure=secure,
                        httponly=True, samesite="lax")
    response.set_cookie(CSRF_COOKIE, csrf_token, max_age=SESSION_MAX_AGE, path="/", secure=secure,
                        httponly=False, samesite="lax")


def install(app: FastAPI) -> None:
    """Add the authentication middleware, the request-user rule, the login rate limiter and the 429 error handler.
    The limiter's counters live in the app's database, shared with every other server process using it
    (wall-clock times)."""
    app.state.auth_limiter = AuthRateLimiter(DatabaseBackend(app.state.db), clock=time.time)
    app.state.resolve_user = request_user  # who a request acts as, for modelmate.api.deps (below the domains)
    app.add_middleware(AuthMiddleware)

    @app.exception_handler(RateLimited)
    async def _rate_limited(_: Request, exc: RateLimited) -> JSONResponse:
        return error_response(429, "rate_limited", str(exc), {"retry_after": exc.retry_after},
                              headers={"Retry-After": str(exc.retry_after)})


__all__ = ["CSRF_COOKIE", "SESSION_COOKIE", "AuthMiddleware", "cookies_secure", "install", "origin_allowed",
           "same_origin"]
