"""SQL of the curve history: a base model's earlier runs (the museum's visibility rule) and the band of their compact
curves (``run_curve_points``), percentiles computed in the database.

Percentiles are computed the same way on SQLite and PostgreSQL (SQLite has no ``percentile_cont``): within each
bucket the losses are ranked (``row_number() OVER (PARTITION BY bucket ORDER BY loss)``) and counted
(``count(*) OVER (PARTITION BY bucket)``); quantile q of n values is the linear interpolation between ranks
``floor(q·(n−1))`` and the next one, weighted by the fractional part — exactly ``percentile_cont`` (and numpy's
default ``linear`` method). The integer part is computed by integer division, which both databases do alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from modelmate.enums import FINISHED_RUN_STATUSES
from modelmate.models import Model, RunCurvePoint, TrainingRun, User

QUANTILES = (10, 25, 50, 75, 90)  # percent


@dataclass(frozen=True)
class BandRow:
    bucket: int
    runs: int
    quantiles: dict[int, float]  # percent -> loss


def _earlier_runs(viewer: User, run: TrainingRun):
    """Finished runs on the run's base, created before it, visible to the viewer, that recorded a training loss."""
    output = aliased(Model)
    query = (select(TrainingRun.id).outerjoin(output, output.id == TrainingRun.output_model_id)
             .where(TrainingRun.base_model_id == run.base_model_id,
                    or_(TrainingRun.created_at < run.created_at,
                        and_(TrainingRun.created_at == run.created_at, TrainingRun.id < run.id)),
                    TrainingRun.status.in_(FINISHED_RUN_STATUSES),
                    exists().where(RunCurvePoint.run_id == TrainingRun.id)))
    if not viewer.is_admin:
        query = query.where(or_(TrainingRun.owner_id == viewer.id, output.visibility == "public"))
    return query


def visible_run(session: Session, viewer: User, run_id: int) -> TrainingRun | None:
    """The run if the viewer may see it (own, public output model, or an admin), without its long columns."""
    output = aliased(Model)
    query = (select(TrainingRun).outerjoin(output, output.id == TrainingRun.output_model_id)
             .where(TrainingRun.id == run_id))
    if not viewer.is_admin:
        query = query.where(or_(TrainingRun.owner_id == viewer.id, output.visibility == "public"))
    return session.scalars(query).first()


def count_earlier(session: Session, viewer: User, run: TrainingRun) -> int:
    return int(session.scalar(select(func.count()).select_from(_earlier_runs(viewer, run).subquery())) or 0)


def band(session: Session, viewer: User, run: TrainingRun, *, cap: int) -> list[BandRow]:
    """Per bucket: how many runs reached it and the loss quantiles, over the newest ``cap`` earlier runs."""
    sample = (_earlier_runs(viewer, run).order_by(TrainingRun.created_at.desc(), TrainingRun.id.desc())
              .limit(cap).subquery())
    ranked = (select(RunCurvePoint.bucket, RunCurvePoint.loss,
                     (func.row_number().over(partition_by=RunCurvePoint.bucket,
                                             order_by=RunCurvePoint.loss) - 1).label("rn"),
                     func.count().over(partition_by=RunCurvePoint.bucket).label("n"))
              .join(sample, sample.c.id == RunCurvePoint.run_id).subquery())
    columns = []
    for q in QUANTILES:
        lo = ((ranked.c.n - 1) * q) // 100  # integer division on both databases
        frac = ((ranked.c.n - 1) * q - lo * 100) / 100.0
        columns.append(func.sum(case((ranked.c.rn == lo, ranked.c.loss * (1 - frac)),
                                     (ranked.c.rn == lo + 1, ranked.c.loss * frac), else_=0.0)).label(f"q{q}"))
    rows = session.execute(select(ranked.c.bucket, func.max(ranked.c.n), *columns)
                           .group_by(ranked.c.bucket).order_by(ranked.c.bucket)).all()
    return [BandRow(bucket=int(r[0]), runs=int(r[1]), quantiles={q: float(v) for q, v in zip(QUANTILES, r[2:],
                                                                                             strict=True)})
            for r in rows]


def rank_at(session: Session, viewer: User, run: TrainingRun, *, cap: int, bucket: int, loss: float
            ) -> tuple[int, int]:
    """Of the band's runs that reached ``bucket``: how many had a higher loss there, and how many there are."""
    sample = (_earlier_runs(viewer, run).order_by(TrainingRun.created_at.desc(), TrainingRun.id.desc())
              .limit(cap).subquery())
    below, total = session.execute(
        select(func.sum(case((RunCurvePoint.loss > loss, 1), else_=0)), func.count())
        .join(sample, sample.c.id == RunCurvePoint.run_id).where(RunCurvePoint.bucket == bucket)).one()
    return int(below or 0), int(total or 0)


def same_dataset_runs(session: Session, viewer: User, run: TrainingRun, *, limit: int
                      ) -> list[tuple[int, str | None, str, str | None, datetime]]:
    """The newest earlier runs on the same base and the same dataset: id, name, status, outcome, created_at."""
    if run.dataset_id is None:
        return []
    ids = (_earlier_runs(viewer, run).where(TrainingRun.dataset_id == run.dataset_id)
           .order_by(TrainingRun.created_at.desc(), TrainingRun.id.desc()).limit(limit).subquery())
    rows = session.execute(select(TrainingRun.id, TrainingRun.name, TrainingRun.status, TrainingRun.training_outcome,
                                  TrainingRun.created_at).join(ids, ids.c.id == TrainingRun.id)
                           .order_by(TrainingRun.created_at.desc(), TrainingRun.id.desc())).all()
    return [(int(r[0]), r[1], r[2], r[3], r[4]) for r in rows]


def curve_points(session: Session, run_ids: list[int]) -> dict[int, list[RunCurvePoint]]:
    out: dict[int, list[RunCurvePoint]] = {i: [] for i in run_ids}
    if run_ids:
        for point in session.scalars(select(RunCurvePoint).where(RunCurvePoint.run_id.in_(run_ids))
                                     .order_by(RunCurvePoint.run_id, RunCurvePoint.bucket)):
            out[point.run_id].append(point)
    return out
