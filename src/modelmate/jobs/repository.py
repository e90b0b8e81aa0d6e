"""SQL for the job queue. Every state change made by a worker is fenced by the job's fencing token.

Claiming takes the write lock first (SQLite ``BEGIN IMMEDIATE``) or skips rows locked by other claimers
(PostgreSQL ``FOR UPDATE SKIP LOCKED``), so two workers never run the same job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from modelmate.db.base import affected_rows, utcnow
from modelmate.db.engine import immediate_transaction
from modelmate.enums import FINISHED_JOB_STATUSES, JobStatus
from modelmate.models import Evaluation, Job, Model, TrainingRun

FINISHED = FINISHED_JOB_STATUSES
MAX_LOG_CHARS = 20_000


@dataclass(frozen=True)
class Claim:
    """What a worker holds while it runs a job (a snapshot; the row may move on without it)."""

    id: int
    kind: str
    owner_id: int | None
    payload: dict[str, Any]
    attempt: int
    max_attempts: int
    fencing_token: int
    priority: int = 0


def get(session: Session, job_id: int) -> Job | None:
    return session.get(Job, job_id)


def get_owned(session: Session, owner_id: int, job_id: int) -> Job | None:
    return session.scalar(select(Job).where(Job.id == job_id, Job.owner_id == owner_id))


def by_idempotency_key(session: Session, owner_id: int | None, key: str) -> Job | None:
    owner = Job.owner_id.is_(None) if owner_id is None else Job.owner_id == owner_id
    return session.scalar(select(Job).where(owner, Job.idempotency_key == key))


def list_owned(session: Session, owner_id: int, *, kind: str | None, status: str | None, limit: int,
               offset: int) -> tuple[list[Job], int]:
    stmt = select(Job).where(Job.owner_id == owner_id)
    if kind:
        stmt = stmt.where(Job.kind == kind)
    if status:
        stmt = stmt.where(Job.status == status)
    total = session.scalar(stmt.with_only_columns(func.count()).order_by(None)) or 0
    rows = session.scalars(stmt.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit).offset(offset))
    return list(rows), total


def find_queued(session: Session, *, kind: str, owner_id: int | None, payload_key: str, value: int | str) -> Job | None:
    """A queued (not yet claimed) job of this kind whose ``payload[payload_key] == value`` (for coalescing)."""
    owner = Job.owner_id.is_(None) if owner_id is None else Job.owner_id == owner_id
    field = Job.payload[payload_key]
    typed = field.as_integer() if isinstance(value, int) else field.as_string()
    return session.scalar(select(Job).where(Job.status == JobStatus.QUEUED.value, Job.kind == kind, owner,
                                            typed == value).order_by(Job.id).limit(1))


def insert(session: Session, *, kind: str, payload: dict[str, Any], owner_id: int | None,
           idempotency_key: str | None = None, max_attempts: int = 3, priority: int = 0,
           run_after: datetime | None = None) -> tuple[Job, bool]:
    """Write a queued job. With an idempotency key, an existing job with the same key is returned instead
    (``created`` is False), also when a concurrent request inserted it first."""
    if idempotency_key is not None:
        existing = by_idempotency_key(session, owner_id, idempotency_key)
        if existing is not None:
            return existing, False
    now = utcnow()
    job = Job(kind=kind, payload=payload, owner_id=owner_id, idempotency_key=idempotency_key,
              max_attempts=max_attempts, priority=priority, status=JobStatus.QUEUED.value, attempts=0,
              fencing_token=0, progress=0.0, log="", run_after=run_after or now, created_at=now)
    if idempotency_key is None:
        session.add(job)
        session.flush()
        return job, True
    try:
        with session.begin_nested():
            session.add(job)
            session.flush()
    except IntegrityError:
        existing = by_idempotency_key(session, owner_id, idempotency_key)
        if existing is None:
            raise
        return existing, False
    return job, True


def has_runnable(session: Session, kinds: list[str] | None, job_ids: list[int] | None = None, *,
                 now: datetime | None = None) -> bool:
    """A cheap read before taking the write lock to claim (idle workers poll without locking)."""
    stmt = select(Job.id).where(Job.status == JobStatus.QUEUED.value, Job.run_after <= (now or utcnow())).limit(1)
    if kinds is not None:
        stmt = stmt.where(Job.kind.in_(kinds))
    if job_ids is not None:
        stmt = stmt.where(Job.id.in_(job_ids))
    return session.scalar(stmt) is not None


def has_expired_leases(session: Session, *, now: datetime | None = None) -> bool:
    return session.scalar(select(Job.id).where(Job.status == JobStatus.RUNNING.value,
                                               Job.lease_expires_at < (now or utcnow())).limit(1)) is not None


def claim(session: Session, worker_id: str, *, kinds: list[str] | None, lease_s: float,
          job_ids: list[int] | None = None, now: datetime | None = None) -> Claim | None:
    """Take the next runnable job: status running, a lease for ``worker_id``, attempts + 1, a new fencing token.
    ``job_ids`` limits the choice to those jobs (a CLI waiting for its own job)."""
    immediate_transaction(session)
    now = now or utcnow()
    stmt = (select(Job).where(Job.status == JobStatus.QUEUED.value, Job.run_after <= now)
            .order_by(Job.priority.desc(), Job.id).limit(1))
    if kinds is not None:
        stmt = stmt.where(Job.kind.in_(kinds))
    if job_ids is not None:
        stmt = stmt.where(Job.id.in_(job_ids))
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    job = session.scalar(stmt)
    if job is None:
        return None
    job.status = JobStatus.RUNNING.value
    job.attempts += 1
    job.fencing_token += 1
    job.lease_owner = worker_id[:128]
    job.lease_expires_at = now + timedelta(seconds=lease_s)
    job.heartbeat_at = now
    job.started_at = job.started_at or now
    job.error = None
    session.flush()
    return Claim(id=job.id, kind=job.kind, owner_id=job.owner_id, payload=dict(job.payload or {}),
                 attempt=job.attempts, max_attempts=job.max_attempts, fencing_token=job.fencing_token,
                 priority=job.priority)


def _fenced(job_id: int, token: int):
    return update(Job).where(Job.id == job_id, Job.fencing_token == token,
                             Job.status == JobStatus.RUNNING.value)


def heartbeat(session: Session, job_id: int, token: int, *, lease_s: float,
              progress: float | None = None, message: str | None = None, now: datetime | None = None) -> bool:
    """Extend the lease (and record progress). False: the lease was lost (token changed or job finished)."""
    now = now or utcnow()
    values: dict[str, Any] = {"heartbeat_at": now, "lease_expires_at": now + timedelta(seconds=lease_s)}
    if progress is not None:
        values["progress"] = max(0.0, min(1.0, float(progress)))
    if message is not None:
        values["progress_message"] = message[:500]
    return affected_rows(session.execute(_fenced(job_id, token).values(**values))) == 1


def cancel_requested(session: Session, job_id: int) -> bool:
    return bool(session.scalar(select(Job.cancel_requested).where(Job.id == job_id)))


def complete(session: Session, job_id: int, token: int, result: dict[str, Any] | None) -> bool:
    now = utcnow()
    return affected_rows(session.execute(_fenced(job_id, token).values(
        status=JobStatus.SUCCEEDED.value, result=result, progress=1.0, finished_at=now, lease_owner=None,
        lease_expires_at=None))) == 1


def fail(session: Session, job_id: int, token: int, error: dict[str, Any], *, retry_in_s: float | None,
         now: datetime | None = None) -> bool:
    """Fail one attempt: re-queue after ``retry_in_s`` while attempts remain, else mark the job failed."""
    now = now or utcnow()
    job = session.get(Job, job_id)
    if job is None or job.fencing_token != token or job.status != JobStatus.RUNNING.value:
        return False
    values: dict[str, Any] = {"error": error, "lease_owner": None, "lease_expires_at": None}
    if retry_in_s is not None and job.attempts < job.max_attempts:
        values.update(status=JobStatus.QUEUED.value, run_after=now + timedelta(seconds=retry_in_s))
    else:
        values.update(status=JobStatus.FAILED.value, finished_at=now)
    return affected_rows(session.execute(_fenced(job_id, token).values(**values))) == 1


def requeue_yielded(session: Session, job_id: int, token: int, message: str) -> bool:
    """A job that paused itself for higher-priority work goes back to the queue at once; the pause is not a failed
    attempt (``attempts`` is given back) and its progress and message stay as they were written."""
    job = session.get(Job, job_id)
    if job is None or job.fencing_token != token or job.status != JobStatus.RUNNING.value:
        return False
    return affected_rows(session.execute(_fenced(job_id, token).values(
        status=JobStatus.QUEUED.value, attempts=max(0, job.attempts - 1), run_after=utcnow(), lease_owner=None,
        lease_expires_at=None, progress_message=message[:500]))) == 1


# --- the queue as a user sees it -------------------------------------------------------------------------------------

def _runnable(now: datetime, kinds: list[str] | None):
    cond = and_(Job.status == JobStatus.QUEUED.value, Job.run_after <= now)
    return cond if kinds is None else and_(cond, Job.kind.in_(kinds))


def waiting_above(session: Session, priority: int, kinds: list[str] | None = None) -> bool:
    """A runnable queued job with a higher priority than ``priority`` exists (a background job should yield)."""
    stmt = select(Job.id).where(_runnable(utcnow(), kinds), Job.priority > priority).limit(1)
    return session.scalar(stmt) is not None


def ahead_of(session: Session, job: Job, limit: int = 100) -> tuple[list[Job], int]:
    """Queued jobs a worker claims before ``job`` (claim order: priority, then id): the first ``limit`` and the
    count."""
    stmt = select(Job).where(_runnable(utcnow(), None), Job.id != job.id,
                             or_(Job.priority > job.priority, and_(Job.priority == job.priority, Job.id < job.id)))
    total = session.scalar(stmt.with_only_columns(func.count()).order_by(None)) or 0
    rows = session.scalars(stmt.order_by(Job.priority.desc(), Job.id).limit(limit))
    return list(rows), total


def running_jobs(session: Session, limit: int = 20) -> list[Job]:
    return list(session.scalars(select(Job).where(Job.status == JobStatus.RUNNING.value)
                                .order_by(Job.heartbeat_at.desc(), Job.id).limit(limit)))


def job_subjects(session: Session, job_ids: list[int]) -> dict[int, tuple[str | None, float | None]]:
    """What each job works on, by job id: ``(name, estimated seconds)`` — a training run's name and its estimate,
    an evaluation's model name."""
    if not job_ids:
        return {}
    out: dict[int, tuple[str | None, float | None]] = {}
    for job_id, name, estimate in session.execute(select(TrainingRun.job_id, TrainingRun.name, TrainingRun.estimate)
                                                  .where(TrainingRun.job_id.in_(job_ids))):
        seconds = (estimate or {}).get("seconds")
        out[job_id] = (name, float(seconds) if isinstance(seconds, int | float) else None)
    evaluations = (select(Evaluation.job_id, Model.name).join(Model, Model.id == Evaluation.model_id)
                   .where(Evaluation.job_id.in_(job_ids)))
    for job_id, name in session.execute(evaluations):
        if job_id is not None:  # never None here (the IN)
            out.setdefault(job_id, (name, None))
    return out


def cancel_finished_run(session: Session, job_id: int, token: int) -> bool:
    now = utcnow()
    return affected_rows(session.execute(_fenced(job_id, token).values(
        status=JobStatus.CANCELLED.value, finished_at=now, lease_owner=None, lease_expires_at=None))) == 1


def request_cancel(session: Session, job: Job) -> None:
    """Queued → cancelled at once; running → ``cancel_requested`` (the worker stops it); finished: no-op."""
    if job.status == JobStatus.QUEUED.value:
        job.status = JobStatus.CANCELLED.value
        job.finished_at = utcnow()
    elif job.status == JobStatus.RUNNING.value:
        job.cancel_requested = True
    session.flush()


def append_log(session: Session, job_id: int, token: int, line: str) -> bool:
    job = session.get(Job, job_id)
    if job is None or job.fencing_token != token:
        return False
    job.log = ((job.log or "") + line.rstrip("\n") + "\n")[-MAX_LOG_CHARS:]
    session.flush()
    return True


def reclaim_expired(session: Session, *, now: datetime | None = None) -> int:
    """Running jobs whose lease expired (a dead, stuck or paused worker): re-queued, or failed as "worker lost"
    when their attempts are spent. The fencing token moves on, so the old worker's writes are rejected."""
    immediate_transaction(session)
    now = now or utcnow()
    stmt = select(Job).where(Job.status == JobStatus.RUNNING.value, Job.lease_expires_at < now)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    count = 0
    for job in session.scalars(stmt):
        job.fencing_token += 1
        lost = {"type": "worker_lost", "message": f"worker {job.lease_owner or '?'} stopped renewing its lease "
                                                  f"(attempt {job.attempts} of {job.max_attempts})"}
        job.error = lost
        job.lease_owner = None
        job.lease_expires_at = None
        if job.cancel_requested:
            job.status = JobStatus.CANCELLED.value
            job.finished_at = now
        elif job.attempts >= job.max_attempts:
            job.status = JobStatus.FAILED.value
            job.finished_at = now
        else:
            job.status = JobStatus.QUEUED.value
            job.run_after = utcnow()
        count += 1
    session.flush()
    return count
