"""Capability changes: recomputed after every stored (final or partial) evaluation, the global feed, and the
aggregate patterns across models.

After an evaluation of model M is stored, :func:`recompute` compares M with its reference (its parent if it was
forked, else its base) and every model whose reference is M with M, replacing each pair's previous rows (one row
per task/metric and one per domain aggregate, see :mod:`modelmate.research.capability`). Only rows of the same
evaluation mode (quick or full) are compared; where both evaluations kept per-document outcomes the test is paired
on the documents both scored (matched by lm-eval's doc hash), else it falls back to the unpaired z-test. It then
sets the ``forgetting`` failure category of a fine-tune's run when the model shows a flagged DOWN change in a domain
other than its dataset's (only when the run has no category yet; a ``forgetting`` set earlier is cleared when the
evidence is gone).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from modelmate.datasets import contamination
from modelmate.datasets.schemas import TrainingContamination
from modelmate.db.engine import Database
from modelmate.errors import NotFoundError
from modelmate.models import Evaluation, Model, User
from modelmate.research import (
    capability,
    change_totals,  # noqa: F401  (its flush hooks keep the aggregates' totals in step)
)
from modelmate.research import repository as repo
from modelmate.research.refs import RefBuilder, visible
from modelmate.research.schemas import (
    BaseAggregate,
    CapabilityAggregates,
    CapabilityChangeOut,
    CapabilityChangePage,
    DomainAggregate,
)

log = logging.getLogger("modelmate.research")

ALPHA = 0.05
MIN_EFFECT = 0.02
CORRECTION = "holm"


def reference_of(session: Session, model: Model) -> tuple[Model | None, str]:
    if model.parent_model_id:
        return repo.get_model(session, model.parent_model_id), "parent"
    if model.base_model_id and model.base_model_id != model.id:
        return repo.get_model(session, model.base_model_id), "base"
    return None, "base"


@dataclass
class PairPlan:
    """The comparisons of ``model`` vs ``reference``, and the inputs they were computed from."""

    model_id: int
    reference_id: int
    kind: str
    inputs: tuple | None  # (latest evaluation, the score rows' evaluations); None: the model has no scores
    evaluation_id: int | None
    comparisons: list[capability.Comparison] = field(default_factory=list)


def _inputs(session: Session, model: Model, reference: Model) -> tuple[Any, list, list, tuple | None]:
    evaluation = repo.latest_scored_evaluation(session, model.id)
    if evaluation is None:
        return None, [], [], None
    mine = repo.score_rows(session, model.id, evaluation.mode)
    theirs = repo.score_rows(session, reference.id, evaluation.mode)
    key = (evaluation.id, tuple(sorted((r["task"], r["metric"], r["evaluation_id"]) for r in mine)),
           tuple(sorted((r["task"], r["metric"], r["evaluation_id"]) for r in theirs)))
    return evaluation, mine, theirs, key


def plan_pair(session: Session, model: Model, reference: Model, kind: str) -> PairPlan:
    """Compute (no lock, nothing written) the changes of ``model`` vs ``reference``: the paired tests on
    per-document outcomes can take seconds on a full evaluation."""
    evaluation, mine, theirs, key = _inputs(session, model, reference)
    if evaluation is None:
        return PairPlan(model.id, reference.id, kind, None, None)
    comparisons = capability.compare(mine, theirs, model_outcomes=repo.outcomes_of(session, mine),
                                     reference_outcomes=repo.outcomes_of(session, theirs), alpha=ALPHA,
                                     min_effect=MIN_EFFECT, correction=CORRECTION, reference_kind=kind)
    return PairPlan(model.id, reference.id, kind, key, evaluation.id, comparisons)


def store_pair(session: Session, plan: PairPlan) -> list[capability.Comparison]:
    """Under the model's lock: store the plan's comparisons — recomputed first when an evaluation was stored since
    the plan was made — replacing the model's previous rows. Returns what was stored."""
    model = repo.lock_model(session, plan.model_id)  # one writer per model's rows (the model's and its base's hooks)
    reference = repo.get_model(session, plan.reference_id)
    if model is None or reference is None:
        return []
    if _inputs(session, model, reference)[3] != plan.inputs:
        plan = plan_pair(session, model, reference, plan.kind)
    if plan.evaluation_id is None:
        repo.clear_changes(session, model.id)
        return []
    repo.replace_changes(session, model.id, reference.id, [{
        "reference_kind": plan.kind, "evaluation_id": plan.evaluation_id, "domain": c.domain[:32],
        "task": c.task[:100] if c.task else None, "metric": c.metric[:100] if c.metric else None,
        "value": c.value, "reference_value": c.reference_value, "delta": c.delta,
        "relative_delta": c.relative_delta, "z_score": c.z_score, "p_value": c.p_value,
        "p_adjusted": c.p_adjusted, "test": c.test, "n": c.n, "flagged": c.flagged, "direction": c.direction,
        "sentence": c.sentence,
    } for c in plan.comparisons])
    _forgetting(session, model, plan.comparisons)
    return plan.comparisons


def compare_pair(session: Session, model: Model, reference: Model, kind: str) -> list[capability.Comparison]:
    """Recompute and store the changes of ``model`` vs ``reference``; returns them."""
    repo.lock_model(session, model.id)
    return store_pair(session, plan_pair(session, model, reference, kind))


def _forgetting(session: Session, model: Model, comparisons: list[capability.Comparison]) -> None:
    run = repo.run_of_model(session, model.id)
    if run is None or (run.failure_category and run.failure_category != "forgetting"):
        return
    dataset = repo.datasets_by_id(session, {run.dataset_id}).get(run.dataset_id) if run.dataset_id else None
    own = dataset.domain if dataset is not None else None
    forgot = any(c.flagged and c.direction == "down" and c.domain != own for c in comparisons)
    if forgot:
        run.failure_category = "forgetting"
    elif run.failure_category == "forgetting":
        run.failure_category = None


def _pairs(session: Session, model: Model) -> list[tuple[Model, Model, str]]:
    """(model, reference, kind) of the model vs its reference and of its dependents vs it."""
    out = []
    reference, kind = reference_of(session, model)
    if reference is not None:
        out.append((model, reference, kind))
    for child in repo.dependents(session, model.id):
        if child.id != model.id:
            out.append((child, model, "parent" if child.parent_model_id else "base"))
    return out


def recompute(session: Session, model_id: int) -> int:
    """Changes of the model vs its reference and of its dependents vs it. Returns the comparisons stored."""
    model = repo.lock_model(session, model_id)
    if model is None:
        return 0
    stored = sum(len(compare_pair(session, m, r, kind)) for m, r, kind in _pairs(session, model))
    session.flush()
    return stored


def after_evaluation(db: Database, evaluation_id: int) -> None:
    """The hook the evaluate job calls once an evaluation is stored; it never fails the evaluation. The tests run in
    a read-only session first, the rows are written in a short locked one (recomputed there only if another
    evaluation was stored in between), so SQLite's write lock is not held while the statistics run."""
    try:
        with db.session() as session:
            evaluation = session.get(Evaluation, evaluation_id)
            if evaluation is None or evaluation.status not in ("final", "partial"):
                return
            model = repo.get_model(session, evaluation.model_id)
            plans = [plan_pair(session, m, r, kind) for m, r, kind in _pairs(session, model)] if model else []
        for plan in plans:
            with db.session() as session:
                store_pair(session, plan)
    except Exception:  # noqa: BLE001 - research bookkeeping must never lose an evaluation
        log.exception("capability changes after evaluation %s could not be computed", evaluation_id)


# --- reading -------------------------------------------------------------------------------------------------------

def list_changes(session: Session, viewer: User | None, *, model_id: int | None, flagged: bool | None,
                 direction: str | None, domain: str | None, limit: int, offset: int) -> CapabilityChangePage:
    if model_id is not None and not visible(repo.get_model(session, model_id), viewer):
        raise NotFoundError(f"model {model_id} not found")
    rows, total = repo.list_changes(session, viewer, model_id=model_id, flagged=flagged, direction=direction,
                                    domain=domain, limit=limit, offset=offset)
    models = repo.models_by_id(session, {r.model_id for r, _ in rows} | {r.reference_model_id for r, _ in rows})
    ref = RefBuilder(session, list(models.values()))
    tainted = contamination.models_contamination(session, sorted({r.model_id for r, bad in rows if bad}))
    return CapabilityChangePage(total=total, items=[CapabilityChangeOut(
        id=r.id, model=ref(models[r.model_id]), reference=ref(models[r.reference_model_id]),
        reference_kind=r.reference_kind, domain=r.domain, task=r.task, metric=r.metric, value=r.value,
        reference_value=r.reference_value, delta=r.delta, relative_delta=r.relative_delta, z_score=r.z_score,
        p_value=r.p_value, p_adjusted=r.p_adjusted, test=r.test, n=r.n, flagged=r.flagged, direction=r.direction,
        sentence=r.sentence, contaminated=bad,
        contamination=contamination_label(tainted.get(r.model_id), r.domain) if bad else None,
        headline=r.flagged and not (bad and r.direction == "up"), created_at=r.created_at) for r, bad in rows])


def contamination_label(found: TrainingContamination | None, domain: str) -> str:
    """``"contaminated: trained on GSM8K test items"``: the overlapping tasks of the change's domain."""
    titles = list(dict.fromkeys(t.title for t in (found.tasks if found else []) if t.domain == domain))
    return f"contaminated: trained on {', '.join(titles) if titles else domain} test items"


def _sorted(rows: list[tuple[Any, str, float, int, int, int]]) -> list[tuple[Any, str, float, int, int, int]]:
    return sorted(rows, key=lambda r: (str(r[0]), str(r[1])))


def aggregates(session: Session, viewer: User | None) -> CapabilityAggregates:
    """Mean domain-level change of visible models, by the domain of the data they were fine-tuned on and by base:
    sums of the maintained totals (``repository.domain_change_aggregates``), O(groups) per request."""
    by_domain = _sorted(repo.domain_change_aggregates(session, viewer, by="training_domain"))
    by_base = _sorted(repo.domain_change_aggregates(session, viewer, by="base"))
    bases = repo.models_by_id(session, {k for k, *_ in by_base})
    bases = {i: m for i, m in bases.items() if visible(m, viewer)}
    ref = RefBuilder(session, list(bases.values()))
    return CapabilityAggregates(
        by_training_domain=[DomainAggregate(training_domain=k, target_domain=d, mean_delta=mean, n_models=n,
                                            n_up=up, n_down=down)
                            for k, d, mean, n, up, down in by_domain],
        by_base=[BaseAggregate(base=ref(bases[k]), target_domain=d, mean_delta=mean, n_models=n, n_up=up,
                               n_down=down)
                 for k, d, mean, n, up, down in by_base if k in bases])
