"""Job rules for the API: enqueue for a user, read your own jobs (someone else's job is 404), cancel."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from modelmate.enums import JobKind, JobStatus
from modelmate.errors import NotFoundError
from modelmate.jobs import queue
from modelmate.jobs import repository as repo
from modelmate.jobs.schemas import JobOut, JobPage, QueueInfo
from modelmate.models import Job, User


def enqueue(session: Session, *, kind: JobKind, owner_id: int | None, payload: dict[str, Any],
            idempotency_key: str | None = None, max_attempts: int = 3, priority: int = 0) -> tuple[Job, bool]:
    return repo.insert(session, kind=kind.value, payload=payload, owner_id=owner_id,
                       idempotency_key=idempotency_key, max_attempts=max_attempts, priority=priority)


def enqueue_coalesced(session: Session, *, kind: JobKind, owner_id: int | None, payload: dict[str, Any],
                      key: str, priority: int = 0) -> Job:
    """Enqueue unless a queued job of this kind already has ``payload[key]`` equal to ours (it will see the
    latest state when it runs, so one is enough)."""
    existing = repo.find_queued(session, kind=kind.value, owner_id=owner_id, payload_key=key, value=payload[key])
    if existing is not None:
        return existing
    job, _ = repo.insert(session, kind=kind.value, payload=payload, owner_id=owner_id, priority=priority)
    return job


def to_out(job: Job) -> JobOut:
    error = job.error
    if error:  # the traceback stays in the database (for the operator); the owner sees type and message
        error = {k: v for k, v in error.items() if k != "traceback"}
    return JobOut(id=job.id, kind=job.kind, status=job.status, progress=job.progress,
                  progress_message=job.progress_message, attempts=job.attempts, max_attempts=job.max_attempts,
                  cancel_requested=job.cancel_requested, result=job.result, error=error, created_at=job.created_at,
                  started_at=job.started_at, finished_at=job.finished_at)


def get_job(session: Session, user: User, job_id: int) -> Job:
    job = repo.get_owned(session, user.id, job_id)
    if job is None:
        raise NotFoundError(f"job {job_id} not found")
    return job


def list_jobs(session: Session, user: User, *, kind: JobKind | None, status: JobStatus | None, limit: int,
              offset: int) -> JobPage:
    rows, total = repo.list_owned(session, user.id, kind=kind.value if kind else None,
                                  status=status.value if status else None, limit=limit, offset=offset)
    return JobPage(items=[to_out(j) for j in rows], total=total, limit=limit, offset=offset)


def cancel_job(session: Session, user: User, job_id: int) -> Job:
    job = get_job(session, user, job_id)
    repo.request_cancel(session, job)
    return job


def queue_position(session: Session, user: User, job_id: int) -> QueueInfo:
    return queue.queue_info(session, get_job(session, user, job_id), user.id)
