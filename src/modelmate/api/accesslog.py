"""The access log, without query values.

Query strings carry search text and, now and then, something secret pasted into a URL. The access log records
``client - "METHOD /path?name=…" status duration``: parameter names are kept (they help debugging; only short
lowercase snake_case names, so a token pasted bare is not mistaken for one), values never are.
:class:`AccessLogMiddleware` writes that line to the ``modelmate.access`` logger; ``modelmate serve`` turns
uvicorn's own access log off and sends ours to standard output. For a server started another way (``uvicorn
--factory modelmate.app:create_app``), :func:`redact_uvicorn_access_log` strips the query values from uvicorn's
access lines as well.
"""

from __future__ import annotations

import copy
import logging
import re
import time
from typing import Any
from urllib.parse import quote, unquote_plus

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ACCESS_LOGGER = "modelmate.access"
log = logging.getLogger(ACCESS_LOGGER)
# Our parameter names are short snake_case words; anything else (a pasted token, a bare value) is not logged.
_PARAM_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


def redact_query(query: str) -> str:
    """``q=my+secret&limit=5`` → ``q=…&limit=…``. A part without ``=`` or whose name is not a short lowercase
    snake_case word (``?hf_AbC…`` pasted bare) becomes ``…``."""
    parts = []
    for item in query.split("&"):
        if not item:
            continue
        name, sep, _ = item.partition("=")
        name = unquote_plus(name)
        parts.append(f"{name}=…" if sep and _PARAM_NAME.match(name) else "…")
    return "&".join(parts)


def loggable_target(path: str, query: str) -> str:
    """The request target as logged: the path percent-encoded (no control characters), the query redacted."""
    target = quote(path, safe=_PATH_SAFE)
    redacted = redact_query(query) if query else ""
    return f"{target}?{redacted}" if redacted else target


class AccessLogMiddleware:
    """One ``modelmate.access`` INFO line per HTTP request: client, method, path, status, milliseconds."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: int | None = None

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            # Read after the call: the host guard (inside) replaces a trusted proxy's address with the client's.
            client = scope.get("client")
            query = scope.get("query_string", b"").decode("latin-1")
            log.info('%s - "%s %s" %d %.1fms', f"{client[0]}:{client[1]}" if client else "-",
                     scope.get("method", "-"), loggable_target(scope.get("path", ""), query), status or 500,
                     (time.perf_counter() - started) * 1000)


class RedactQueryFilter(logging.Filter):
    """Rewrites uvicorn's access records (``client, method, path?query, http_version, status``) in place."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) and "?" in args[2]:
            path, _, query = args[2].partition("?")
            record.args = (*args[:2], loggable_target(path, query), *args[3:])
        return True


def redact_uvicorn_access_log() -> None:
    """Install :class:`RedactQueryFilter` on ``uvicorn.access`` (once)."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactQueryFilter) for f in logger.filters):
        logger.addFilter(RedactQueryFilter())


def serve_log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging config plus ours: ``modelmate`` messages to stderr, the access log to stdout."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["handlers"]["modelmate"] = {"formatter": "default", "class": "logging.StreamHandler",
                                       "stream": "ext://sys.stderr"}
    config["handlers"]["modelmate_access"] = {"formatter": "default", "class": "logging.StreamHandler",
                                              "stream": "ext://sys.stdout"}
    config["loggers"]["modelmate"] = {"handlers": ["modelmate"], "level": level.upper(), "propagate": False}
    config["loggers"][ACCESS_LOGGER] = {"handlers": ["modelmate_access"], "level": level.upper(),
                                        "propagate": False}
    return config
