"""SQL of benchmark contamination: a dataset's latest check, its per-task overlaps, and which models' training data
overlaps a domain.

Lineage: a model's training data is the dataset of the run that produced it **and** its parent's training data (a
fork continues from the parent's weights, which saw the parent's data): a fork of a contaminated model is
contaminated too. :func:`tainted_models` follows ``models.parent_model_id`` down from the models of the runs whose
dataset overlaps; :func:`lineage_datasets` follows it up from given models.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session, aliased

from modelmate.models import ContaminationOverlap, DatasetContamination, Model, TrainingRun

ANY_DOMAIN = "overall"  # a board over every domain: an overlap in any domain taints the model


def get(session: Session, dataset_id: int) -> DatasetContamination | None:
    return session.get(DatasetContamination, dataset_id)


def lock(session: Session, dataset_id: int) -> DatasetContamination | None:
    return session.scalars(select(DatasetContamination).where(DatasetContamination.dataset_id == dataset_id)
                           .with_for_update()).first()


def set_status(session: Session, dataset_id: int, values: dict[str, Any]) -> DatasetContamination:
    """Create or update a dataset's check row with ``values`` (status, message, job_id, ...)."""
    row = lock(session, dataset_id)
    if row is None:
        row = DatasetContamination(dataset_id=dataset_id, **values)
        session.add(row)
    else:
        for key, value in values.items():
            setattr(row, key, value)
    session.flush()
    return row


def replace_overlaps(session: Session, dataset_id: int, rows: list[dict[str, Any]]) -> None:
    """A dataset's per-task overlaps, replaced (the caller's transaction stores the report with them)."""
    session.execute(delete(ContaminationOverlap).where(ContaminationOverlap.dataset_id == dataset_id))
    if rows:
        session.execute(insert(ContaminationOverlap), [{"dataset_id": dataset_id, **r} for r in rows])


def statuses(session: Session, dataset_ids: set[int]) -> dict[int, str]:
    """The check status of each dataset that has a check row."""
    ids = sorted(i for i in dataset_ids if i)
    if not ids:
        return {}
    return dict(session.execute(select(DatasetContamination.dataset_id, DatasetContamination.status)
                                .where(DatasetContamination.dataset_id.in_(ids))).tuples().all())


def overlaps_of(session: Session, dataset_ids: set[int]) -> list[ContaminationOverlap]:
    """The overlap rows (documents > 0) of these datasets, most documents first."""
    ids = sorted(i for i in dataset_ids if i)
    if not ids:
        return []
    return list(session.scalars(select(ContaminationOverlap).where(
        ContaminationOverlap.dataset_id.in_(ids), ContaminationOverlap.documents > 0)
        .order_by(ContaminationOverlap.documents.desc(), ContaminationOverlap.task)).all())


def tainted_models(domain: str | None = None) -> Any:
    """A recursive CTE (columns ``model_id``, ``domain``: a row per tainted domain) of the models whose training
    data overlaps ``domain``'s test documents (``None`` or ``"overall"``: any domain): the output models of runs on
    an overlapping dataset, and their forks, recursively."""
    seed = (select(TrainingRun.output_model_id.label("model_id"), ContaminationOverlap.domain.label("domain"))
            .join(ContaminationOverlap, ContaminationOverlap.dataset_id == TrainingRun.dataset_id)
            .where(TrainingRun.output_model_id.is_not(None), ContaminationOverlap.documents > 0))
    if domain is not None and domain != ANY_DOMAIN:
        seed = seed.where(ContaminationOverlap.domain == domain)
    tainted = seed.cte("tainted", recursive=True)
    child = aliased(Model, name="child")
    return tainted.union(select(child.id, tainted.c.domain).where(child.parent_model_id == tainted.c.model_id))


def tainted_ids(session: Session, domain: str | None = None) -> frozenset[int]:
    """Every model tainted for ``domain`` (see :func:`tainted_models`): a small set, read once per board."""
    tainted = tainted_models(domain)
    return frozenset(int(i) for i in session.scalars(select(tainted.c.model_id).distinct()))


def tainted_among(session: Session, model_ids: list[int], domain: str | None = None) -> set[int]:
    """Which of these models are tainted for ``domain`` (see :func:`tainted_models`)."""
    if not model_ids:
        return set()
    tainted = tainted_models(domain)
    return set(session.scalars(select(tainted.c.model_id).where(tainted.c.model_id.in_(model_ids)).distinct()))


def lineage_datasets(session: Session, model_ids: list[int]) -> dict[int, set[int]]:
    """The datasets each model was trained on through its lineage: the datasets of the runs that produced it or any
    of its ancestors (``parent_model_id``, recursively)."""
    ids = sorted({i for i in model_ids if i})
    if not ids:
        return {}
    up = select(Model.id.label("model_id"), Model.id.label("ancestor_id")).where(Model.id.in_(ids)) \
        .cte("ancestry", recursive=True)
    parent = aliased(Model, name="parent_row")
    me = aliased(Model, name="me")
    up = up.union(select(up.c.model_id, parent.id).join(me, me.id == up.c.ancestor_id)
                  .join(parent, parent.id == me.parent_model_id))
    stmt = (select(up.c.model_id, TrainingRun.dataset_id)
            .join(TrainingRun, TrainingRun.output_model_id == up.c.ancestor_id)
            .where(TrainingRun.dataset_id.is_not(None)).distinct())
    out: dict[int, set[int]] = {i: set() for i in ids}
    for model_id, dataset_id in session.execute(stmt):
        out[int(model_id)].add(int(dataset_id))
    return out
