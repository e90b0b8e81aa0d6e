"""SQL for the hub: models by owner/slug, their runs, datasets, feedback, benchmark rows and families."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from modelmate.db.base import affected_rows
from modelmate.models import BenchmarkResult, Dataset, Evaluation, Model, ModelFeedback, TrainingRun, User


def get_model(session: Session, model_id: int) -> Model | None:
    return session.get(Model, model_id)


def user_by_username(session: Session, username: str) -> User | None:
    return session.scalars(select(User).where(func.lower(User.username) == username.lower())).first()


def model_by_owner_slug(session: Session, owner_id: int, slug: str) -> Model | None:
    return session.scalars(select(Model).where(Model.owner_id == owner_id, Model.slug == slug.lower())).first()


def usernames(session: Session, user_ids: set[int]) -> dict[int, str]:
    ids = [i for i in user_ids if i is not None]
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.username).where(User.id.in_(ids))).all())


def models_by_id(session: Session, ids: set[int]) -> dict[int, Model]:
    if not ids:
        return {}
    return {m.id: m for m in session.scalars(select(Model).where(Model.id.in_(list(ids)))).all()}


def run_of_model(session: Session, model: Model) -> TrainingRun | None:
    run_id = (model.hub_info or {}).get("run_id")
    if isinstance(run_id, int):
        run = session.get(TrainingRun, run_id)
        if run is not None and run.output_model_id == model.id:
            return run
    return session.scalars(select(TrainingRun).where(TrainingRun.output_model_id == model.id)
                           .order_by(TrainingRun.id)).first()


def runs_of_models(session: Session, model_ids: set[int]) -> dict[int, TrainingRun]:
    if not model_ids:
        return {}
    rows = session.scalars(select(TrainingRun).where(TrainingRun.output_model_id.in_(list(model_ids)))
                           .order_by(TrainingRun.id)).all()
    out: dict[int, TrainingRun] = {}
    for run in rows:
        if run.output_model_id is not None:  # never None here (the IN)
            out.setdefault(run.output_model_id, run)
    return out


def datasets_by_id(session: Session, ids: set[int]) -> dict[int, Dataset]:
    if not ids:
        return {}
    return {d.id: d for d in session.scalars(select(Dataset).where(Dataset.id.in_(list(ids)))).all()}


# --- feedback -------------------------------------------------------------------------------------------------

def feedback_counts(session: Session, model_id: int) -> tuple[int, int]:
    rows = session.execute(select(ModelFeedback.value, func.count()).where(ModelFeedback.model_id == model_id)
                           .group_by(ModelFeedback.value)).all()
    counts = dict(rows)
    return int(counts.get(1, 0)), int(counts.get(-1, 0))


def feedback_of(session: Session, user_id: int, model_id: int) -> ModelFeedback | None:
    return session.scalars(select(ModelFeedback).where(ModelFeedback.user_id == user_id,
                                                       ModelFeedback.model_id == model_id)).first()


def recent_feedback(session: Session, model_id: int, limit: int = 20) -> list[tuple[ModelFeedback, str | None]]:
    rows = session.execute(select(ModelFeedback, User.username).join(User, User.id == ModelFeedback.user_id)
                           .where(ModelFeedback.model_id == model_id)
                           .order_by(ModelFeedback.updated_at.desc(), ModelFeedback.id.desc()).limit(limit)).all()
    return [(f, name) for f, name in rows]


def add_feedback(session: Session, values: dict[str, Any]) -> ModelFeedback:
    row = ModelFeedback(**values)
    session.add(row)
    session.flush()
    return row


def delete_feedback(session: Session, user_id: int, model_id: int) -> int:
    result = session.execute(delete(ModelFeedback).where(ModelFeedback.user_id == user_id,
                                                         ModelFeedback.model_id == model_id))
    return affected_rows(result)


# --- scores ---------------------------------------------------------------------------------------------------

def final_benchmark_rows(session: Session, model_id: int) -> list[BenchmarkResult]:
    """The model's scored rows of FINAL evaluations, newest first (callers keep the first per task/metric)."""
    return list(session.scalars(
        select(BenchmarkResult).join(Evaluation, Evaluation.id == BenchmarkResult.evaluation_id)
        .where(BenchmarkResult.model_id == model_id, BenchmarkResult.status == "final",
               BenchmarkResult.value.is_not(None), Evaluation.status == "final")
        .order_by(BenchmarkResult.created_at.desc(), BenchmarkResult.id.desc())).all())


# --- lineage --------------------------------------------------------------------------------------------------

def _visible(viewer_id: int | None):
    if viewer_id is None:
        return Model.visibility == "public"
    return or_(Model.visibility == "public", Model.owner_id == viewer_id)


def family_members(session: Session, root_id: int, viewer_id: int | None) -> list[Model]:
    """Visible models descending from ``root_id`` (as their base, or as a parent)."""
    return list(session.scalars(select(Model).where(
        or_(Model.base_model_id == root_id, Model.parent_model_id == root_id), _visible(viewer_id))
        .order_by(Model.id)).all())


def children_of(session: Session, parent_ids: set[int], viewer_id: int | None) -> list[Model]:
    if not parent_ids:
        return []
    return list(session.scalars(select(Model).where(Model.parent_model_id.in_(list(parent_ids)),
                                                    _visible(viewer_id)).order_by(Model.id)).all())


def visible_finetuned(session: Session, viewer_id: int | None, limit: int) -> list[Model]:
    return list(session.scalars(select(Model).where(Model.kind == "finetuned", _visible(viewer_id))
                                .order_by(Model.id.desc()).limit(limit)).all())
