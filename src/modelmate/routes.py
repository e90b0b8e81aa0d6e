"""The /api/v1 router: every domain's endpoints mounted in one place.

A top-level module (above the domains, below ``app``): ``modelmate.api`` is the HTTP plumbing the domains' endpoints
use, so it must not import them back.
"""

from __future__ import annotations

from fastapi import APIRouter

from modelmate import __version__
from modelmate.accounts.endpoints import admin_router as accounts_admin_router
from modelmate.accounts.endpoints import router as accounts_router
from modelmate.api.deps import DatabaseDep
from modelmate.autofill.endpoints import router as autofill_router
from modelmate.benchmarking.endpoints import router as benchmarking_router
from modelmate.catalog.endpoints import router as catalog_router
from modelmate.datasets.endpoints import router as datasets_router
from modelmate.errors import ErrorResponse
from modelmate.finetune.endpoints import router as finetune_router
from modelmate.finetune.external_endpoints import router as external_runs_router
from modelmate.hub.endpoints import router as hub_router
from modelmate.hub.playground_endpoints import router as playground_router
from modelmate.insights.endpoints import router as insights_router
from modelmate.jobs.endpoints import router as jobs_router
from modelmate.research.endpoints import router as research_router
from modelmate.search.endpoints import router as search_router
from modelmate.semantic.endpoints import router as semantic_router
from modelmate.tracker.endpoints import models_router as tracker_models_router
from modelmate.tracker.endpoints import router as tracker_router
from modelmate.transfer.endpoints import router as transfer_router

# Answered by middleware / FastAPI for any operation: a malformed body (bad JSON bytes, bad Content-Length) and an
# oversized body. Documented on every operation so clients (and schemathesis) know them.
COMMON_ERRORS: dict[int | str, dict] = {
    400: {"model": ErrorResponse, "description": "Malformed request (unparsable body, bad Content-Length)"},
    413: {"model": ErrorResponse, "description": "Request body too large"},
}
api_router = APIRouter(prefix="/api/v1", responses=COMMON_ERRORS)
api_router.include_router(accounts_router)
api_router.include_router(accounts_admin_router)
api_router.include_router(catalog_router)
api_router.include_router(tracker_models_router)  # PATCH /models/{id}: refreshes the entries' search documents
api_router.include_router(tracker_router)
api_router.include_router(transfer_router)
api_router.include_router(search_router)
api_router.include_router(insights_router)
api_router.include_router(semantic_router)
api_router.include_router(autofill_router)
api_router.include_router(jobs_router)
api_router.include_router(datasets_router)
api_router.include_router(external_runs_router)
api_router.include_router(finetune_router)
api_router.include_router(benchmarking_router)
api_router.include_router(research_router)
api_router.include_router(hub_router)
api_router.include_router(playground_router)


@api_router.get("/health", tags=["system"], summary="Liveness and database check")
def health(db: DatabaseDep) -> dict[str, str]:
    db.ping()
    return {"status": "ok", "version": __version__, "database": db.dialect}
