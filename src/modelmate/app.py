"""Application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from modelmate import __version__
from modelmate.accounts import setup as account_setup
from modelmate.accounts.middleware import install as install_accounts
from modelmate.accounts.service import ensure_local_user
from modelmate.api.accesslog import AccessLogMiddleware, redact_uvicorn_access_log
from modelmate.api.hosts import HostGuardMiddleware, HostPolicy, describe
from modelmate.api.middleware import BodySizeLimitMiddleware, RejectNulMiddleware, SecurityHeadersMiddleware
from modelmate.benchmarking.service import reconcile_evaluations
from modelmate.config import Settings
from modelmate.datasets.schemas import UPLOAD_FORM_OVERHEAD
from modelmate.db import migrate
from modelmate.db.engine import Database
from modelmate.demo import hub_runs as hub_demo
from modelmate.demo.seed import seed_if_empty
from modelmate.errors import error_response, install_error_handlers
from modelmate.finetune import base_catalog, import_service
from modelmate.finetune import service as finetune_service
from modelmate.finetune.base_catalog import start_background_tiny_build
from modelmate.finetune.model_imports import start_background_install
from modelmate.hub.hf_compat import router as hf_router
from modelmate.jobs.worker import Worker
from modelmate.routes import api_router
from modelmate.semantic import embedder
from modelmate.storage.private import secure_data_dir, use_private_umask
from modelmate.transfer.batches import recover
from modelmate.web import mount_web

log = logging.getLogger("modelmate")

DESCRIPTION = """ModelMate: a personal diary of every AI model you meet (the tracker), and a hub to fine-tune,
benchmark and publish open LLMs. Errors always have the shape `{"error": {"code", "message", "details"}}`."""


def prepare_database(settings: Settings, db: Database) -> int | None:
    """Migrate to head, make sure the local user exists while in single-user mode, seed the demo log if asked.
    Returns the local user id (None once real accounts exist)."""
    secure_data_dir(settings.data_dir)  # an upgraded install's group/other-readable files become private (0700/0600)
    migrate.upgrade(db)
    db.analyze()  # SQLite's planner statistics
    with db.session() as session:
        user = ensure_local_user(session)
        user_id = user.id if user is not None else None

    recover(db)  # an import a crash interrupted: discarded before its decision, finished after it
    prepare_finetuning(settings, db)
    if settings.seed_demo and user_id is not None:
        seed_if_empty(db, user_id)
    return user_id


def prepare_finetuning(settings: Settings, db: Database) -> None:
    """Base models in the catalog (before the demo, so its log links to them) and runs reconciled with their
    jobs (a run left 'running' by a server that died gets its job's status)."""
    if settings.base_models_enabled:
        base_catalog.seed_base_models(db, settings)
    finetune_service.reconcile_runs(db)
    import_service.sweep_uploads(db, settings)  # GGUF uploads a crash left behind

    reconcile_evaluations(db)


def start_worker(settings: Settings, db: Database):
    """The in-process job worker (``MODELMATE_RUN_WORKER``; off by default when environment is ``test``)."""
    embedder.configure(settings.embedder)
    if not settings.worker_enabled:
        return None

    worker = Worker(db, settings, lease_s=settings.job_lease_s, poll_s=settings.job_poll_s)
    worker.start()
    return worker


def create_app(settings: Settings | None = None, *, database: Database | None = None) -> FastAPI:
    settings = settings or Settings()
    use_private_umask()  # everything the server, its worker and child processes write is private (0700/0600)
    db = database or Database.from_settings(settings)
    host_policy = HostPolicy.from_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.local_user_id = prepare_database(settings, db)
        # While no account exists, a new one-time setup token for the first browser signup, printed in the log.
        account_setup.announce(settings, accounts_exist=app.state.local_user_id is None)
        log.info("serving the hosts %s", ", ".join(describe(host_policy)))
        worker = start_worker(settings, db)  # background jobs (training, embeddings, metadata refresh), if enabled
        finetune_service.warm_machine_probe(settings)  # what the training machine can run, probed once
        install, hub_demo_stop = None, None
        if settings.tiny_on_start and settings.base_models_enabled:
            start_background_tiny_build(settings, db)  # the toy base model, built once (seconds)
        if settings.builtin_models_on_start and settings.base_models_enabled:
            install = start_background_install(settings, db)  # SmolLM2 from its bundled GGUF, once (~30 s)
        if settings.hub_demo_enabled and settings.base_models_enabled and app.state.local_user_id is not None:
            _, hub_demo_stop = hub_demo.start(db, settings, app.state.local_user_id, after=install)
        app.state.worker = worker
        yield
        if hub_demo_stop is not None:
            hub_demo_stop.set()
        if worker is not None:
            worker.stop()
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
    app.include_router(hf_router)  # /hf: read-only Hugging Face compatible endpoint (outside /api/v1)
    install_accounts(app)  # authentication (sessions, API tokens), CSRF/Origin checks, login rate limits
    app.add_middleware(BodySizeLimitMiddleware, default_limit=2 * 1024 * 1024,
                       large_limit=settings.max_import_bytes, large_paths=("/api/v1/import",),
                       path_limits={"/api/v1/datasets": settings.max_dataset_bytes + UPLOAD_FORM_OVERHEAD,
                                    "/api/v1/base-models/gguf": settings.max_gguf_bytes + UPLOAD_FORM_OVERHEAD},
                       pattern_limits={r"/api/v1/runs/external/\d+/adapter/":
                                       settings.max_adapter_bytes + UPLOAD_FORM_OVERHEAD})
    app.add_middleware(RejectNulMiddleware)
    # Before anything else that reads the request: a Host we do not serve (DNS rebinding) gets 421 here.
    app.add_middleware(HostGuardMiddleware, policy=host_policy)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(AccessLogMiddleware)  # outermost: refused requests are logged too, never a query value
    redact_uvicorn_access_log()  # for servers started without `modelmate serve` (uvicorn's own access log)

    mount_web(app)  # the built UI + SPA fallback (a "UI not built" page when web_dist is missing); keep last

    return app

