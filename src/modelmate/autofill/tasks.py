"""Job handler ``enrich``: refresh the metadata preview of every entry of the job's owner (nothing is saved
on the entries; the job result lists the proposed changes for the user to confirm)."""

from __future__ import annotations

from typing import Any

from modelmate.autofill import service
from modelmate.enums import JobKind
from modelmate.jobs.registry import JobContext, PermanentJobError, register


@register(JobKind.ENRICH.value)
def run_enrich(ctx: JobContext) -> dict[str, Any]:
    if ctx.owner_id is None:
        raise PermanentJobError("an enrich job needs an owner")
    return service.refresh_all(ctx.db, ctx.settings, ctx.owner_id, ctx.progress)
