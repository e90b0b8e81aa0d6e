"""Research bookkeeping that follows the jobs: capability changes after every stored evaluation."""

from __future__ import annotations

from modelmate.jobs import registry
from modelmate.jobs.registry import EventDelivery
from modelmate.research.changes import after_evaluation


@registry.subscribe("evaluation_stored")
def compare_with_reference(delivery: EventDelivery, *, evaluation_id: int) -> None:
    """The evaluated model vs its parent (else base), and every model whose reference it is. Idempotent (the
    changes are recomputed and replaced), as a leased delivery may run twice after a crash."""
    after_evaluation(delivery.db, evaluation_id)
