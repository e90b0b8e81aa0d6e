"""Application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse

from modelmate import __version__
from modelmate.api.middleware import BodySizeLimitMiddleware, SecurityHeadersMiddleware
from modelmate.api.router import api_router
from modelmate.config import Settings
from modelmate.db import migrate
from modelmate.db.engine import Database
from modelmate.errors import error_response, install_error_handlers

log = logging.getLogger("modelmate")

DESCRIPTION = """ModelMate: a personal diary of every AI model you meet (the tracker), and a hub to fine-tune,
benchmark and publish open LLMs. Errors always have the shape `{"error": {"code", "message", "details"}}`."""


def prepare_database(settings: Settings, db: Database) -> int:
    """Migrate to head, make sure the local user exists, seed the demo log if asked. Returns the local user id."""
    from modelmate.accounts.service import ensure_local_user

    migrate.upgrade(db)
    with db.session() as session:
        user = ensure_local_user(session)
        user_id = user.id
    if settings.seed_demo:
        from modelmate.demo.seed import seed_if_empty

        seed_if_empty(db, user_id)
    return user_id


def create_app(settings: Settings | None = None, *, database: Database | None = None) -> FastAPI:
    settings = settings or Settings()
    db = database or Database.from_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.local_user_id = prepare_database(settings, db)
        yield
        if database is None:
            db.dispose()

    app = FastAPI(title="ModelMate", version=__version__, description=DESCRIPTION, lifespan=lifespan,
                  openapi_url="/api/v1/openapi.json", docs_url="/docs", redoc_url=None)
    app.state.settings = settings
    app.state.db = db
    install_error_handlers(app)

    @app.exception_handler(RecursionError)
    async def _too_deep(_: Request, __: RecursionError) -> JSONResponse:
        return error_response(400, "too_deeply_nested", "request is too deeply nested")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "something went wrong on our side; it has been logged")

    app.include_router(api_router)
    app.add_middleware(BodySizeLimitMiddleware, default_limit=2 * 1024 * 1024,
                       large_limit=settings.max_import_bytes, large_paths=("/api/v1/import",))
    app.add_middleware(SecurityHeadersMiddleware)

    @app.get("/", include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse(NO_UI_PAGE)

    return app


NO_UI_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>ModelMate</title></head>
<body style="font-family:system-ui;max-width:40rem;margin:4rem auto;line-height:1.5">
<h1>ModelMate is running</h1>
<p>The web interface has not been built into this installation. Run <code>make run</code> from a source checkout to
build it, or use the API: <a href="/docs">interactive API docs</a> ·
<a href="/api/v1/openapi.json">OpenAPI schema</a>.</p></body></html>"""
