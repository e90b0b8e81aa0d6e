"""SQL of the curve history: a base model's earlier runs (the museum's visibility rule) and the band of their compact
curves (``run_curve_points``), percentiles computed in the database.

Percentiles: PostgreSQL's ``percentile_cont``; SQLite has none, so there the same values are computed from ranks:
within each bucket the losses are ranked (``row_number() OVER (PARTITION BY bucket ORDER BY loss)``) and counted
(GROUP BY); quantile q of n values is the linear interpolation between ranks
``floor(q·(n−1))`` and the next one, weighted by the fractional part — exactly ``percentile_cont`` (and numpy's
default ``linear`` method). The integer part is an integer division.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, exists, func, literal, or_, select, union_all
from sqlalchemy.orm import Session, defer

from modelmate.enums import FINISHED_RUN_STATUSES
from modelmate.models import RunCurvePoint, TrainingRun, User
from modelmate.research.repository import visible_runs_query

QUANTILES = (10, 25, 50, 75, 90)  # percent


@dataclass(frozen=True)
class BandRow:
    bucket: int
    runs: int
    quantiles: dict[int, float]  # percent -> loss


def _earlier_runs(viewer: User, run: TrainingRun):
    """Finished runs on the run's base, created before it, visible to the viewer (the museum rule,
    :func:`modelmate.research.repository.visible_runs_query`), that recorded a training loss."""
    return (visible_runs_query(viewer).with_only_columns(TrainingRun.id)
            .where(TrainingRun.base_model_id == run.base_model_id,
                   TrainingRun.created_at <= run.created_at,  # a range the index serves; then the tie-break
                   or_(TrainingRun.created_at < run.created_at, TrainingRun.id < run.id),
                   TrainingRun.status.in_(FINISHED_RUN_STATUSES),
                   exists().where(RunCurvePoint.run_id == TrainingRun.id)))


def visible_run(session: Session, viewer: User, run_id: int) -> TrainingRun | None:
    """The run if the viewer may see it (the museum rule), without its long columns."""
    return session.scalars(visible_runs_query(viewer).where(TrainingRun.id == run_id).options(
        defer(TrainingRun.loss_curve_data), defer(TrainingRun.config), defer(TrainingRun.environment),
        defer(TrainingRun.error), defer(TrainingRun.estimate), defer(TrainingRun.early_stopping))).first()


def count_earlier(session: Session, viewer: User, run: TrainingRun, *, limit: int | None = None) -> int:
    """How many earlier runs there are (counting stops at ``limit``)."""
    query = _earlier_runs(viewer, run)
    if limit is not None:
        query = query.limit(limit)
    return int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)


def band(session: Session, viewer: User, run: TrainingRun, *, cap: int, loss_at: tuple[int, float] | None = None
         ) -> tuple[list[BandRow], tuple[int, int]]:
    """Per bucket: how many runs reached it and the loss quantiles, over the newest ``cap`` earlier runs. With
    ``loss_at`` ``(bucket, loss)``: also how many of them had a higher loss at that bucket, and how many reached it.

    PostgreSQL: ``percentile_cont(q) WITHIN GROUP (ORDER BY loss)`` per bucket. SQLite (no percentile function), one
    statement computing the same values: the sample of runs (a CTE), per bucket its count ``n`` (GROUP BY), the two
    ranks each quantile needs (``floor(q·(n−1))`` and the next, with the interpolation weight), and the losses at
    those ranks among the bucket's losses ranked by ``row_number()`` — only the ranked rows that are needed reach the
    final aggregate."""
    sample = (_earlier_runs(viewer, run).order_by(TrainingRun.created_at.desc(), TrainingRun.id.desc())
              .limit(cap).cte("sample"))
    points = (select(RunCurvePoint.bucket, RunCurvePoint.loss)
              .join(sample, sample.c.id == RunCurvePoint.run_id).cte("points"))
    bucket, value = loss_at if loss_at is not None else (-1, 0.0)
    higher_at = func.sum(case((and_(points.c.bucket == bucket, points.c.loss > value), 1), else_=0))
    if session.get_bind().dialect.name == "postgresql":  # its own ordered-set aggregate: one sort per bucket
        found = session.execute(
            select(points.c.bucket, func.count(), higher_at,
                   *[func.percentile_cont(q / 100).within_group(points.c.loss) for q in QUANTILES])
            .group_by(points.c.bucket).order_by(points.c.bucket)).all()
        out = [BandRow(bucket=int(r[0]), runs=int(r[1]),
                       quantiles={q: float(v) for q, v in zip(QUANTILES, r[3:], strict=True)}) for r in found]
        at = next((r for r in found if int(r[0]) == bucket), None)
        return out, ((int(at[2]), int(at[1])) if at is not None else (0, 0))
    counts = (select(points.c.bucket, func.count().label("n"), higher_at.label("higher"))
              .group_by(points.c.bucket).cte("counts"))
    targets = union_all(*[
        select(counts.c.bucket, counts.c.n, counts.c.higher, literal(q).label("q"),
               (((counts.c.n - 1) * q) // 100).label("lo"),
               (((counts.c.n - 1) * q - (((counts.c.n - 1) * q) // 100) * 100) / 100.0).label("frac"))
        for q in QUANTILES]).cte("targets")
    ranked = (select(points.c.bucket, points.c.loss,
                     (func.row_number().over(partition_by=points.c.bucket, order_by=points.c.loss) - 1).label("rn"))
              .subquery("ranked"))
    picked = session.execute(
        select(targets.c.bucket, targets.c.n, targets.c.higher, targets.c.q,
               func.sum(case((ranked.c.rn == targets.c.lo, ranked.c.loss * (1 - targets.c.frac)),
                             else_=ranked.c.loss * targets.c.frac)))
        .join(ranked, and_(ranked.c.bucket == targets.c.bucket, ranked.c.rn >= targets.c.lo,
                           ranked.c.rn <= targets.c.lo + 1))
        .group_by(targets.c.bucket, targets.c.n, targets.c.higher, targets.c.q)).all()
    quantiles: dict[int, dict[int, float]] = {}
    runs: dict[int, int] = {}
    higher, reached = 0, 0
    for b, n, above, q, v in picked:
        quantiles.setdefault(int(b), {})[int(q)] = float(v)
        runs[int(b)] = int(n)
        if int(b) == bucket:
            higher, reached = int(above or 0), int(n)
    rows = [BandRow(bucket=b, runs=runs[b], quantiles=quantiles[b]) for b in sorted(quantiles)]
    return rows, (higher, reached)


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
