"""Research bookkeeping that follows the jobs: capability changes after every stored evaluation."""

from __future__ import annotations

from modelmate.jobs import registry
from modelmate.jobs.registry import JobContext
from modelmate.research.changes import after_evaluation


@registry.subscribe("evaluation_stored")
def compare_with_reference(ctx: JobContext, *, evaluation_id: int) -> None:
    """The evaluated model vs its parent (else base), and every model whose reference it is."""
    after_evaluation(ctx.db, evaluation_id)
