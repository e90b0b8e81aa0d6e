"""Job handler ``embed``: payload ``{"entry_id": n}`` (one entry, queued by the tracker when its text changes)
or ``{"scope": "owner" | "all", "force": bool}`` (a sweep: the job owner's entries, or everyone's)."""

from __future__ import annotations

from typing import Any

from modelmate.enums import JobKind
from modelmate.jobs.registry import JobContext, PermanentJobError, register
from modelmate.semantic import embedder, service


@register(JobKind.EMBED.value)
def run_embed(ctx: JobContext) -> dict[str, Any]:
    if not ctx.settings.semantic_enabled:
        return {"skipped": "semantic search is turned off"}
    name = ctx.settings.embedder
    if name not in embedder.SUPPORTED:
        raise PermanentJobError(f"unknown embedder {name!r}")
    payload = ctx.payload
    if "entry_id" in payload:
        return service.embed_entries(ctx.db, [int(payload["entry_id"])], name=name).as_dict()
    scope = payload.get("scope")
    if scope not in ("owner", "all"):
        raise PermanentJobError(f"bad embed payload: {payload!r}")
    owner = None if scope == "all" else ctx.owner_id

    def progress(done: int, total: int) -> None:
        ctx.progress(done / total if total else 1.0, f"embedded {done} of {total} entries")

    return service.embed_all(ctx.db, owner_id=owner, force=bool(payload.get("force")), name=name,
                             progress=progress).as_dict()
