"""The failure museum (failed, partial and poor runs, never pruned) and the run owner's feedback.

A run is in the museum when its outcome is ``failure`` or ``partial``, or it has a failure category (set by the
trainer, by :mod:`modelmate.training.diagnose` when it finished, or ``forgetting`` by the capability hook), or its
owner gave it a thumbs down. You see your own runs and runs whose output model is public; admins see every run.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from modelmate.db.base import utcnow
from modelmate.enums import RunSource
from modelmate.errors import NotFoundError
from modelmate.models import TrainingRun, User
from modelmate.research import repository as repo
from modelmate.research.refs import RefBuilder, visible
from modelmate.research.schemas import DatasetBrief, MuseumItem, MuseumPage, RunFeedbackIn, RunFeedbackOut

CURVE_POINTS = 200


def downsample(curve: list[dict[str, Any]] | None, limit: int = CURVE_POINTS) -> list[dict[str, Any]]:
    """At most ``limit`` points, evenly spaced, always keeping the first and the last (and every eval point
    while there is room)."""
    points = [p for p in curve or [] if isinstance(p, dict)]
    if len(points) <= limit:
        return points
    stride = (len(points) - 1) / (limit - 1)
    keep = sorted({round(i * stride) for i in range(limit)})
    return [points[i] for i in keep]


def museum(session: Session, user: User, *, category: str | None, base_model_id: int | None, outcome: str | None,
           q: str | None, limit: int, offset: int) -> MuseumPage:
    runs, total, counts = repo.museum(session, user, category=category, base_model_id=base_model_id,
                                      outcome=outcome, q=q, limit=limit, offset=offset)
    return MuseumPage(items=items_of(session, user, runs), total=total, counts=counts)


def items_of(session: Session, user: User, runs: list[TrainingRun]) -> list[MuseumItem]:
    models = repo.models_by_id(session, {r.base_model_id for r in runs} | {r.output_model_id or 0 for r in runs})
    datasets = repo.datasets_by_id(session, {r.dataset_id or 0 for r in runs})
    names = repo.usernames(session, {r.owner_id for r in runs})
    ref = RefBuilder(session, list(models.values()))
    out = []
    for run in runs:
        base, model = models.get(run.base_model_id), models.get(run.output_model_id or 0)
        dataset = datasets.get(run.dataset_id or 0)
        dataset_ok = dataset is not None and (dataset.owner_id == user.id or dataset.visibility == "public"
                                              or user.is_admin)
        out.append(MuseumItem(
            run_id=run.id, name=run.name, owner=names.get(run.owner_id),
            base=ref(base) if visible(base, user) else None, model=ref(model) if visible(model, user) else None,
            status=run.status, source=RunSource(run.source or RunSource.MODELMATE.value),
            outcome=run.training_outcome, failure_category=run.failure_category,
            failure_message=run.failure_message, error_type=(run.error or {}).get("type"), config=run.config or {},
            curve=downsample(run.loss_curve_data), feedback_value=run.feedback_value,
            feedback_comment=run.feedback_comment, created_at=run.created_at,
            dataset=(DatasetBrief(id=dataset.id, name=dataset.name, domain=dataset.domain)
                     if dataset is not None and dataset_ok else None)))
    return out


# --- feedback --------------------------------------------------------------------------------------------------

def record_run_feedback(run: TrainingRun, value: int | None, comment: str | None) -> None:
    """Set (or clear, ``value=None``) the run owner's thumbs on the run. The hub's model feedback calls this for
    the owner's own thumbs on the run's output model, so both stay the same."""
    run.feedback_value = value
    run.feedback_comment = comment if value is not None else None


def feedback_out(run: TrainingRun) -> RunFeedbackOut:
    return RunFeedbackOut(run_id=run.id, name=run.name, status=run.status, training_outcome=run.training_outcome,
                          failure_category=run.failure_category, feedback_value=run.feedback_value,
                          feedback_comment=run.feedback_comment, output_model_id=run.output_model_id)


def _owned(session: Session, user: User, run_id: int) -> TrainingRun:
    run = repo.get_owned_run(session, user.id, run_id, lock=True)
    if run is None:
        raise NotFoundError(f"run {run_id} not found")
    return run


def _mirror_model_feedback(session: Session, run: TrainingRun, value: int | None, comment: str | None) -> None:
    """The owner's thumbs on the run are also their thumbs on its output model (one opinion, two places)."""
    if not run.output_model_id:
        return
    row = repo.model_feedback(session, run.owner_id, run.output_model_id)
    if value is None:
        if row is not None:
            repo.delete_row(session, row)
        return
    if row is None:
        repo.add_model_feedback(session, user_id=run.owner_id, model_id=run.output_model_id, run_id=run.id,
                                value=value, comment=comment)
    else:
        row.value, row.comment, row.run_id, row.updated_at = value, comment, run.id, utcnow()


def set_feedback(session: Session, user: User, run_id: int, body: RunFeedbackIn) -> RunFeedbackOut:
    run = _owned(session, user, run_id)
    comment = (body.comment or "").strip() or None
    record_run_feedback(run, body.value, comment)
    _mirror_model_feedback(session, run, body.value, comment)
    session.flush()
    return feedback_out(run)


def clear_feedback(session: Session, user: User, run_id: int) -> None:
    run = _owned(session, user, run_id)
    record_run_feedback(run, None, None)
    _mirror_model_feedback(session, run, None, None)
    session.flush()
