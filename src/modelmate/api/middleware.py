"""ASGI middleware: request body size caps and security headers."""

from __future__ import annotations

import contextlib
import json
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy",
     b"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
     b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
# The interactive API docs load their assets from a CDN; they get a looser policy.
DOCS_CSP = (b"default-src 'self'; img-src 'self' data: https:; style-src 'self' 'unsafe-inline' https:; "
            b"script-src 'self' 'unsafe-inline' https:; frame-ancestors 'none'")


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_docs = scope.get("path", "") in ("/docs", "/redoc")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"content-security-policy"]
                present = {h[0].lower() for h in headers}
                for name, value in SECURITY_HEADERS:
                    if name == b"content-security-policy" and is_docs:
                        value = DOCS_CSP
                    if name not in present:
                        headers.append((name, value))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RejectNulMiddleware:
    """Answer 422 for a NUL character in the URL path or query string.

    No field of ours may hold NUL (PostgreSQL text cannot store it), and rejecting it at the edge keeps every
    endpoint, present and future, from turning it into a database error.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            query = scope.get("query_string", b"").lower()
            path = scope.get("path", "")
            if b"%00" in query or b"\x00" in query or "\x00" in path:
                await _reject(send, 422, "invalid_request", "URLs must not contain NUL characters")
                return
        await self.app(scope, receive, send)


class BodySizeLimitMiddleware:
    """Reject bodies over a per-path limit with 413, counting streamed bytes (no Content-Length needed)."""

    def __init__(self, app: ASGIApp, *, default_limit: int, large_limit: int, large_paths: tuple[str, ...],
                 path_limits: dict[str, int] | None = None, pattern_limits: dict[str, int] | None = None) -> None:
        self.app = app
        self.default_limit = default_limit
        self.large_limit = large_limit
        self.large_paths = large_paths
        self.path_limits = path_limits or {}  # path prefix -> its own limit (dataset uploads)
        # path regex (matched at the start) -> its own limit: uploads under an id (an external run's adapter)
        self.pattern_limits = [(re.compile(p), limit) for p, limit in (pattern_limits or {}).items()]

    def _limit(self, path: str) -> int:
        for prefix, limit in self.path_limits.items():
            if path.startswith(prefix):
                return limit
        for pattern, limit in self.pattern_limits:
            if pattern.match(path):
                return limit
        return self.large_limit if path.startswith(self.large_paths) else self.default_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope.get("path", ""))
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _reject(send, 400, "bad_request", "invalid Content-Length")
                    return
                if declared > limit:
                    await _reject(send, 413, "payload_too_large", f"request body is larger than {limit} bytes")
                    return
        received = 0
        response_started = False
        rejected = False

        async def limited_receive() -> Message:
            nonlocal received, rejected, response_started
            if rejected:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Answer 413 here: frameworks wrap errors raised while reading the body (FastAPI turns them
                    # into 400 "error parsing the body"), so the exception alone cannot carry the status out.
                    rejected = True
                    if not response_started:
                        response_started = True
                        await _reject(send, 413, "payload_too_large", f"request body is larger than {limit} bytes")
                    raise _TooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if rejected:
                return  # the 413 has been sent; drop whatever the app answers after its body read failed
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        with contextlib.suppress(_TooLarge):
            await self.app(scope, limited_receive, tracking_send)


class _TooLarge(Exception):
    pass


async def _reject(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": {"code": code, "message": message, "details": None}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
