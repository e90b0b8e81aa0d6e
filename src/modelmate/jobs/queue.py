"""The queue as a user sees it: position, what runs now (named only when it is the viewer's own job), the wait.

Claim order is priority (higher first), then age. User work queues at :data:`USER_PRIORITY`; background work — the
hub demo's runs and their automatic evaluations — at :data:`BACKGROUND_PRIORITY`, and a running background
evaluation yields between benchmark tasks when user work is waiting (``benchmarking.tasks``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from modelmate.db.base import utcnow
from modelmate.enums import JobStatus
from modelmate.jobs import repository as repo
from modelmate.jobs.schemas import QueueInfo, QueueNeighbour
from modelmate.models import Job

USER_PRIORITY = 0
BACKGROUND_PRIORITY = -10  # the hub demo and its evaluations: below every job a user queues
ANOTHER_USER = "another user's job"
BACKGROUND = "a background job"
MIN_PROGRESS_FOR_ETA = 0.02
MIN_ELAPSED_FOR_ETA_S = 5.0
SHOWN_AHEAD = 5


def paused(job: Job) -> bool:
    """Queued again after it yielded to higher-priority work (it ran before; a retry after a failure has an error)."""
    return job.status == JobStatus.QUEUED.value and job.started_at is not None and not job.error


def remaining_s(job: Job, estimate_s: float | None, now: datetime) -> float | None:
    """Seconds a job still needs: extrapolated from its progress once it has run a while, else its estimate
    (training) minus the progress made, else extrapolated from whatever progress there is; None when nothing is
    known."""
    progress = job.progress or 0.0
    if job.status == JobStatus.QUEUED.value:
        return round(estimate_s * (1 - progress), 1) if estimate_s is not None else None
    began = job.started_at or job.heartbeat_at
    elapsed = max(0.0, (now - began).total_seconds()) if began is not None else 0.0
    # a job that paused or retried started long ago: its elapsed time says little about its speed
    measurable = progress >= MIN_PROGRESS_FOR_ETA and elapsed > 0 and job.attempts <= 1
    if measurable and (elapsed >= MIN_ELAPSED_FOR_ETA_S or estimate_s is None):
        return round(elapsed * (1 - progress) / progress, 1)
    if estimate_s is not None:
        return round(estimate_s * (1 - progress), 1)
    return None


def neighbour(job: Job, viewer_id: int, subject: tuple[str | None, float | None], now: datetime) -> QueueNeighbour:
    name, estimate_s = subject
    mine = job.owner_id is not None and job.owner_id == viewer_id
    label = (name or job.kind) if mine else (BACKGROUND if job.owner_id is None else ANOTHER_USER)
    running = job.status == JobStatus.RUNNING.value
    return QueueNeighbour(kind=job.kind, label=label, mine=mine, background=job.priority < USER_PRIORITY,
                          progress=job.progress if running else None,
                          progress_message=job.progress_message if mine and running else None,
                          remaining_s=remaining_s(job, estimate_s, now))


def queue_info(session: Session, job: Job, viewer_id: int) -> QueueInfo:
    now = utcnow()
    queued = job.status == JobStatus.QUEUED.value
    info = QueueInfo(job_id=job.id, status=job.status, position=0, ahead=0, priority=job.priority,
                     queued_since=job.created_at, paused=paused(job))
    if not queued:
        return info
    running = repo.running_jobs(session)
    ahead, count = repo.ahead_of(session, job)
    subjects = repo.job_subjects(session, [j.id for j in running + ahead])
    info.running = [neighbour(j, viewer_id, subjects.get(j.id, (None, None)), now) for j in running]
    ahead_out = [neighbour(j, viewer_id, subjects.get(j.id, (None, None)), now) for j in ahead]
    info.next_up = ahead_out[:SHOWN_AHEAD]
    info.ahead, info.position = count, count + 1
    # one worker takes jobs one at a time: the wait is what the running jobs still need plus the jobs ahead
    parts = [n.remaining_s for n in info.running] + [n.remaining_s for n in ahead_out]
    known = [p for p in parts if p is not None]
    info.wait_is_minimum = len(known) < len(parts) or count > len(ahead_out)
    info.wait_s = round(sum(known), 1) if known or not parts else None
    return info
