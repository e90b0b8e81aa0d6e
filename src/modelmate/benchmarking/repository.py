"""SQL of benchmarking: evaluations, benchmark rows, models' scores, feedback counts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.orm import Session

from modelmate.models import BenchmarkResult, DocumentOutcome, Evaluation, Job, Model, ModelFeedback


def get_evaluation(session: Session, evaluation_id: int) -> Evaluation | None:
    return session.get(Evaluation, evaluation_id)


def add_evaluation(session: Session, values: dict[str, Any]) -> Evaluation:
    evaluation = Evaluation(**values)
    session.add(evaluation)
    session.flush()
    return evaluation


def cached_final(session: Session, model_id: int, settings_hash: str) -> Evaluation | None:
    return session.scalars(select(Evaluation).where(
        Evaluation.model_id == model_id, Evaluation.settings_hash == settings_hash, Evaluation.status == "final",
    ).order_by(Evaluation.finished_at.desc(), Evaluation.id.desc()).limit(1)).first()


def running_for(session: Session, model_id: int, settings_hash: str) -> Evaluation | None:
    """An evaluation with these settings still queued or running (its job not finished)."""
    return session.scalars(select(Evaluation).join(Job, Job.id == Evaluation.job_id).where(
        Evaluation.model_id == model_id, Evaluation.settings_hash == settings_hash, Evaluation.status == "running",
        Job.status.in_(("queued", "running")),
    ).order_by(Evaluation.id.desc()).limit(1)).first()


def latest_final(session: Session, model_id: int) -> Evaluation | None:
    return session.scalars(select(Evaluation).where(Evaluation.model_id == model_id, Evaluation.status == "final")
                           .order_by(Evaluation.finished_at.desc(), Evaluation.id.desc()).limit(1)).first()


def list_visible(session: Session, viewer_id: int, *, model_id: int | None, limit: int,
                 offset: int) -> tuple[list[Evaluation], int]:
    query = select(Evaluation).join(Model, Model.id == Evaluation.model_id).where(
        or_(Model.visibility == "public", Model.owner_id == viewer_id))
    if model_id is not None:
        query = query.where(Evaluation.model_id == model_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Evaluation.created_at.desc(), Evaluation.id.desc())
                           .limit(limit).offset(offset)).all()
    return list(rows), int(total)


def rows_of(session: Session, evaluation_id: int) -> list[BenchmarkResult]:
    return list(session.scalars(select(BenchmarkResult).where(BenchmarkResult.evaluation_id == evaluation_id)
                                .order_by(BenchmarkResult.id)).all())


def replace_rows(session: Session, evaluation_id: int, rows: list[dict[str, Any]]) -> None:
    session.execute(delete(BenchmarkResult).where(BenchmarkResult.evaluation_id == evaluation_id))
    session.add_all([BenchmarkResult(evaluation_id=evaluation_id, **row) for row in rows])
    session.flush()


def replace_outcomes(session: Session, evaluation_id: int, rows: list[dict[str, Any]]) -> None:
    """The evaluation's per-document outcomes, replaced (one bulk INSERT; the caller's transaction makes the rows,
    the outcomes and the status one all-or-nothing write)."""
    session.execute(delete(DocumentOutcome).where(DocumentOutcome.evaluation_id == evaluation_id))
    if rows:
        session.execute(insert(DocumentOutcome), [{"evaluation_id": evaluation_id, **row} for row in rows])


def jobs_by_id(session: Session, job_ids: list[int]) -> dict[int, Job]:
    if not job_ids:
        return {}
    return {j.id: j for j in session.scalars(select(Job).where(Job.id.in_(job_ids))).all()}


def lock_job(session: Session, job_id: int) -> Job | None:
    return session.scalars(select(Job).where(Job.id == job_id).with_for_update()).first()


def models_by_id(session: Session, ids: list[int]) -> dict[int, Model]:
    if not ids:
        return {}
    return {m.id: m for m in session.scalars(select(Model).where(Model.id.in_(ids))).all()}


def get_model(session: Session, model_id: int) -> Model | None:
    return session.get(Model, model_id)


def lock_model(session: Session, model_id: int) -> Model | None:
    """The model row, locked for update (PostgreSQL) so concurrent score updates do not lose domains."""
    return session.scalars(select(Model).where(Model.id == model_id).with_for_update()).first()


def models_by_hf_id(session: Session, hf_repo_id: str, viewer_id: int) -> list[Model]:
    return list(session.scalars(select(Model).where(
        func.lower(Model.hf_repo_id) == hf_repo_id.lower(),
        or_(Model.visibility == "public", Model.owner_id == viewer_id)).order_by(Model.id)).all())


def scored_models(session: Session, viewer_id: int, *, base_model_id: int | None, min_params: int | None,
                  max_params: int | None) -> list[Model]:
    """Models visible to the viewer that may have scores (filtered in Python on their benchmark_scores JSON)."""
    query = select(Model).where(or_(Model.visibility == "public", Model.owner_id == viewer_id))
    if base_model_id is not None:
        query = query.where(or_(Model.base_model_id == base_model_id, Model.id == base_model_id))
    if min_params is not None:
        query = query.where(Model.parameters >= min_params)
    if max_params is not None:
        query = query.where(Model.parameters <= max_params)
    return [m for m in session.scalars(query.order_by(Model.id)).all() if m.benchmark_scores]


def thumbs(session: Session, model_ids: list[int]) -> dict[int, tuple[int, int]]:
    if not model_ids:
        return {}
    rows = session.execute(select(ModelFeedback.model_id, ModelFeedback.value, func.count()).where(
        ModelFeedback.model_id.in_(model_ids)).group_by(ModelFeedback.model_id, ModelFeedback.value)).all()
    out: dict[int, tuple[int, int]] = {}
    for model_id, value, count in rows:
        up, down = out.get(model_id, (0, 0))
        out[model_id] = (up + count, down) if value > 0 else (up, down + count)
    return out


def open_evaluations_with_jobs(session: Session) -> list[tuple[Evaluation, Job | None]]:
    rows = session.execute(select(Evaluation, Job).outerjoin(Job, Job.id == Evaluation.job_id)
                           .where(Evaluation.status == "running")).all()
    return [(e, j) for e, j in rows]


def documents_per_domain(session: Session, evaluation_ids: list[int]) -> dict[tuple[int, str], int]:
    """Documents scored per (evaluation, domain): the sum over the domain's tasks of each task's sample count (the
    largest ``n_samples`` among its final rows; its metrics share the documents)."""
    ids = sorted({i for i in evaluation_ids if i})
    if not ids:
        return {}
    per_task = (select(BenchmarkResult.evaluation_id, BenchmarkResult.domain,
                       func.max(BenchmarkResult.n_samples).label("n"))
                .where(BenchmarkResult.evaluation_id.in_(ids), BenchmarkResult.status == "final")
                .group_by(BenchmarkResult.evaluation_id, BenchmarkResult.domain, BenchmarkResult.task).subquery())
    stmt = select(per_task.c.evaluation_id, per_task.c.domain, func.sum(per_task.c.n)).group_by(
        per_task.c.evaluation_id, per_task.c.domain)
    return {(ev, domain): int(n) for ev, domain, n in session.execute(stmt) if n is not None}
