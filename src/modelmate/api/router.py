"""The /api/v1 router: every domain's endpoints mounted in one place."""

from __future__ import annotations

from fastapi import APIRouter

from modelmate import __version__
from modelmate.api.deps import DatabaseDep
from modelmate.catalog.endpoints import router as catalog_router
from modelmate.tracker.endpoints import router as tracker_router

api_router = APIRouter(prefix="/api/v1")
api_router.include_router(catalog_router)
api_router.include_router(tracker_router)


@api_router.get("/health", tags=["system"], summary="Liveness and database check")
def health(db: DatabaseDep) -> dict[str, str]:
    db.ping()
    return {"status": "ok", "version": __version__, "database": db.dialect}
