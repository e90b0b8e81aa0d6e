"""Serving the built web UI (``web/`` → Vite → ``modelmate/web_dist/``).

* ``/assets/*`` are the hashed, immutable build files (long cache);
* any other non-API GET/HEAD path gets ``index.html`` (the SPA router handles deep links), or a top-level file of the
  build when one exists with that name (``/favicon.svg``, ``/theme-init.js``); the status is 200 for the app's
  routes (:data:`APP_ROUTES`, the same list as ``web/src/App.tsx``) and 404 for any other path, so that a mistyped
  or stale link is a real 404 for crawlers, link checkers and monitoring, while the SPA still renders its
  "Page not found" view;
* ``/api/...`` paths that match no route stay JSON 404s;
* when the UI has not been built, the same paths get a helpful "UI not built" page (200 on the app's routes).

The build directory is looked up on every request, so ``make web-build`` while the server runs needs no restart.
Routing works through the router's ``default`` handler (called only when no route matched), so routers included
after :func:`mount_web` still win over the SPA fallback.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_DIST = Path(__file__).resolve().parent / "web_dist"

NO_UI_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>ModelMate</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family:system-ui,sans-serif;max-width:42rem;margin:4rem auto;padding:0 1rem;line-height:1.55">
<h1>ModelMate is running</h1>
<p>The web interface has not been built into this installation yet.</p>
<p>From a source checkout, build it with <code>make web-build</code> (or <code>make run</code>, which also serves it);
by hand: <code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code>. Then reload this page.</p>
<p>Meanwhile the API works: <a href="/docs">interactive API docs</a> ·
<a href="/api/v1/openapi.json">OpenAPI schema</a> · <a href="/api/v1/health">health</a>.</p></body></html>"""

# The client-side routes of web/src/App.tsx (``:param`` segments as ``*``); tests/test_web.py checks both lists agree.
APP_ROUTES: tuple[str, ...] = (
    "", "models", "entries/*", "timeline", "compare", "transfer", "search", "login", "signup", "settings", "capture",
    "hub", "hub/train", "hub/train/expert", "hub/runs", "hub/runs/*", "hub/datasets", "hub/datasets/*",
    "hub/base-models", "hub/models/*", "hub/leaderboards", "hub/museum", "hub/changes", "hub/research",
    "hub/lineage", "m/*/*",
)
_ROUTE_RE = re.compile(
    "^/(?:" + "|".join(re.escape(r).replace(r"\*", "[^/]+") for r in APP_ROUTES) + ")/?$"
)


def is_app_route(path: str) -> bool:
    """Whether the SPA has a page at ``path`` (``/m/owner/slug`` yes, ``/nope`` or ``/models/x/y`` no)."""
    return path in ("", "/") or _ROUTE_RE.match(path) is not None


IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"


class _Assets:
    """Static files under ``<dist>/assets`` with a long cache; the directory may appear after startup."""

    def __init__(self, dist: Path) -> None:
        self.files = StaticFiles(directory=dist / "assets", check_dir=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_cached(message: Message) -> None:
            if message["type"] == "http.response.start" and message.get("status") == 200:
                message["headers"] = [*message.get("headers", []), (b"cache-control", IMMUTABLE.encode())]
            await send(message)

        await self.files(scope, receive, send_cached)


def _top_level_file(dist: Path, path: str) -> Path | None:
    """A plain file directly in the build root (``/favicon.svg``), never anything outside it."""
    name = path.strip("/")
    if not name or "/" in name or "\\" in name or name.startswith(".") or name == "index.html":
        return None
    candidate = dist / name
    return candidate if candidate.is_file() else None


def spa_response(dist: Path, path: str) -> Response:
    index = dist / "index.html"
    status = 200 if is_app_route(path) else 404
    if not index.is_file():
        return HTMLResponse(NO_UI_PAGE, status_code=status, headers={"cache-control": NO_CACHE})
    found = _top_level_file(dist, path)
    if found is not None:
        return FileResponse(found, headers={"cache-control": "public, max-age=3600"})
    return FileResponse(index, status_code=status, media_type="text/html", headers={"cache-control": NO_CACHE})


def mount_web(app: FastAPI, dist: Path | None = None) -> None:
    """Serve the built UI from ``dist`` (default: the package's ``web_dist``) with an SPA fallback."""
    dist = (dist or DEFAULT_DIST).resolve()
    app.mount("/assets", _Assets(dist), name="web-assets")
    fallback: ASGIApp = app.router.default

    async def default(scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        is_api = path == "/api" or path.startswith("/api/")
        if scope["type"] != "http" or is_api or scope.get("method") not in ("GET", "HEAD"):
            await fallback(scope, receive, send)
            return
        await spa_response(dist, path)(scope, receive, send)

    app.router.default = default
