"""Job handler ``contamination``: payload ``{"dataset_id": n}``: check a stored dataset against the benchmark test
sets and store its report (queued on every upload and by "Check again")."""

from __future__ import annotations

from typing import Any

from modelmate.datasets import contamination
from modelmate.enums import JobKind
from modelmate.jobs.registry import JobContext, PermanentJobError, register


@register(JobKind.CONTAMINATION.value)
def run_contamination(ctx: JobContext) -> dict[str, Any]:
    dataset_id = ctx.payload.get("dataset_id")
    if not isinstance(dataset_id, int):
        raise PermanentJobError(f"bad contamination payload: {ctx.payload!r}")
    return contamination.run_check(ctx.db, ctx.settings, dataset_id, job_id=ctx.job_id,
                                   progress=lambda fraction, message: ctx.progress(fraction, message))
