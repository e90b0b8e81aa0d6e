"""API schemas for jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from modelmate.enums import JobKind, JobStatus


class JobOut(BaseModel):
    id: int
    kind: JobKind
    status: JobStatus
    progress: float = Field(description="0..1")
    progress_message: str | None = None
    attempts: int
    max_attempts: int
    cancel_requested: bool
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = Field(None, description="type and message of the last failure")
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None


class JobPage(BaseModel):
    items: list[JobOut]
    total: int
    limit: int
    offset: int


class JobAccepted(BaseModel):
    job_id: int
    status: JobStatus


class QueueNeighbour(BaseModel):
    """A job in the queue as another user may see it: its name only when it is the viewer's own."""

    kind: str = Field(description="train, evaluate, enrich, embed, import_model")
    label: str = Field(description="The run's or evaluated model's name for your own jobs; \"another user's job\" "
                                   "(or \"a background job\") otherwise")
    mine: bool
    background: bool = Field(description="Queued below user work (the hub demo, automatic evaluations of demo "
                                         "models); it yields to your jobs")
    progress: float | None = Field(None, description="0..1, for a running job")
    progress_message: str | None = Field(None, description="Only for your own jobs")
    remaining_s: float | None = Field(None, description="Estimated seconds until it finishes (null: unknown)")


class QueueInfo(BaseModel):
    """Where a queued job stands: what runs now, what is ahead, and roughly when it starts."""

    job_id: int
    status: JobStatus
    position: int = Field(description="1: the next job a worker takes; 0 when the job is not queued")
    ahead: int = Field(description="Queued jobs a worker takes before this one")
    priority: int = Field(description="Higher runs first; your jobs 0, background work (the demo) below 0")
    queued_since: datetime
    paused: bool = Field(False, description="It ran before and yielded to higher-priority work; it resumes where "
                                            "it stopped")
    running: list[QueueNeighbour] = Field(default_factory=list, description="Jobs running now")
    next_up: list[QueueNeighbour] = Field(default_factory=list, description="The first jobs ahead of this one")
    wait_s: float | None = Field(None, description="Estimated seconds until it starts (null: unknown)")
    wait_is_minimum: bool = Field(False, description="Some work ahead has no estimate: the wait is at least this")
