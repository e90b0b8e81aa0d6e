"""Keeps the capability-change aggregates' totals (``capability_change_facts`` / ``capability_change_totals``, see
``research.repository``) in step with what they read, from the ORM's flushes:

* a model's visibility, owner or base changes, or it is deleted: its facts and those of the models whose changes
  are against it (their scope reads the reference's visibility) are recounted;
* a run gets, changes or loses its output model or dataset, or is deleted: the output model's facts (its first
  run's dataset is its training domain);
* a dataset's domain changes: the facts of the models trained on it.

The changes themselves are recounted where they are written (``repository.replace_changes`` / ``clear_changes``).
Writes that skip the ORM (a bulk load) call ``repository.rebuild_change_totals``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import get_history

from modelmate.models import Dataset, Model, TrainingRun
from modelmate.research import repository as repo

KEY = "change_totals_models"
MODEL_SOURCES = ("visibility", "owner_id", "base_model_id")
RUN_SOURCES = ("output_model_id", "dataset_id")


def _changed(obj: Any, attributes: tuple[str, ...]) -> bool:
    return any(get_history(obj, a).has_changes() for a in attributes)


def _run_models(run: TrainingRun) -> set[int]:
    """The run's output model, and the one it had before this flush."""
    history = get_history(run, "output_model_id")
    return {i for i in (*history.added, *history.unchanged, *history.deleted) if i}


@event.listens_for(Session, "before_flush")
def _note(session: Session, _context: Any, _instances: Any) -> None:
    models: set[int] = set()
    references: set[int] = set()
    datasets: set[int] = set()
    for obj in session.dirty:
        if isinstance(obj, Model) and obj.id is not None and _changed(obj, MODEL_SOURCES):
            models.add(obj.id)
            references.add(obj.id)
        elif isinstance(obj, TrainingRun) and _changed(obj, RUN_SOURCES):
            models |= _run_models(obj)
        elif isinstance(obj, Dataset) and obj.id is not None and _changed(obj, ("domain",)):
            datasets.add(obj.id)
    for obj in session.new:
        if isinstance(obj, TrainingRun) and obj.output_model_id:
            models.add(obj.output_model_id)
    for obj in session.deleted:
        if isinstance(obj, Model) and obj.id is not None:
            models.add(obj.id)
            references.add(obj.id)
        elif isinstance(obj, TrainingRun):
            models |= _run_models(obj)
    # read before the flush: a deleted model's dependents go with it (ON DELETE CASCADE)
    models |= repo.models_referencing(session, references) | repo.models_trained_on(session, datasets)
    if models:
        session.info.setdefault(KEY, set()).update(models)


@event.listens_for(Session, "after_flush")
def _refresh(session: Session, _context: Any) -> None:
    models = session.info.pop(KEY, None)
    if models:
        repo.refresh_change_totals(session, models)
