"""API schemas for jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from modelmate.models.enums import JobKind, JobStatus


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
