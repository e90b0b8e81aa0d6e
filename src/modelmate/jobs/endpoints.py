"""/api/v1/jobs: your background jobs and their progress."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from modelmate.api.deps import CurrentUser, IdPath, SessionDep
from modelmate.enums import JobKind, JobStatus
from modelmate.errors import ErrorResponse
from modelmate.jobs import service
from modelmate.jobs.schemas import JobOut, JobPage, QueueInfo

router = APIRouter(tags=["jobs"])


@router.get("/jobs", response_model=JobPage, summary="Your background jobs, newest first")
def list_jobs(session: SessionDep, user: CurrentUser, kind: JobKind | None = None, status: JobStatus | None = None,
              limit: Annotated[int, Query(ge=1, le=200)] = 50,
              offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> JobPage:
    return service.list_jobs(session, user, kind=kind, status=status, limit=limit, offset=offset)


@router.get("/jobs/{job_id}", response_model=JobOut, responses={404: {"model": ErrorResponse}},
            summary="One of your jobs: status, progress, result or error")
def get_job(job_id: IdPath, session: SessionDep, user: CurrentUser) -> JobOut:
    return service.to_out(service.get_job(session, user, job_id))


@router.get("/jobs/{job_id}/queue", response_model=QueueInfo, responses={404: {"model": ErrorResponse}},
            summary="Where one of your queued jobs stands: position, what runs now, the estimated wait")
def job_queue(job_id: IdPath, session: SessionDep, user: CurrentUser) -> QueueInfo:
    return service.queue_position(session, user, job_id)


@router.post("/jobs/{job_id}/cancel", response_model=JobOut, responses={404: {"model": ErrorResponse}},
             summary="Cancel a job (idempotent): a queued job stops at once, a running one at its next step")
def cancel_job(job_id: IdPath, session: SessionDep, user: CurrentUser) -> JobOut:
    return service.to_out(service.cancel_job(session, user, job_id))
