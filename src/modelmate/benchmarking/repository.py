"""SQL of benchmarking: evaluations, benchmark rows, models' scores, feedback counts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, case, delete, func, insert, or_, select, union_all
from sqlalchemy.orm import Session

from modelmate.datasets import contamination_repository as contamination_repo
from modelmate.models import (
    BenchmarkResult,
    DocumentOutcome,
    Evaluation,
    Job,
    LeaderboardEntry,
    Model,
    ModelFeedback,
)


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


# --- leaderboards in SQL -----------------------------------------------------------------------------------------
# A leaderboard reads ``leaderboard_entries`` (one row per model and scored domain, and ``overall``), kept in step
# with the models' ``benchmark_scores`` by a flush hook (``service._sync_entries``). The most common settings come
# from a GROUP BY over one domain's rows; the ranked page from the first ``offset + limit`` rows of the comparable group
# in score order (index ``ix_leaderboard_entries_rank``), ranked with window functions — a row's rank depends only on
# the rows above it. Visibility and the filtered fields (base, parameters, method) are read from the entries (copies of
# the model's, migration 0012), so no board joins the models.

Z_95 = 1.96
MAX_LISTED = 2000  # contaminated models left out by id; more: by the recursive query itself
NO_HASH = "\x01none"  # the settings_key of an entry without a settings hash


def _entries(viewer_id: int, *, domain: str, base_model_id: int | None, min_params: int | None,
             max_params: int | None, method: str | None,
             excluded: frozenset[int] = frozenset()) -> tuple[Any, list[Any]]:
    """The visible entries of one domain under the filters: ``(columns, conditions)`` to select them with: the
    table's columns and the filters; or, with a base, the columns of a subquery (no condition): the base's own
    entry and those of the models on it, two reads joined by UNION ALL (the models on it through
    ``ix_leaderboard_entries_base``). One OR over the two columns would make the planners read the whole domain."""
    e = LeaderboardEntry.__table__.c
    conditions = [e.domain == domain, or_(e.visibility == "public", e.owner_id == viewer_id)]
    if excluded:  # models whose training data (lineage included) overlaps the domain's test sets
        conditions.append(e.model_id.not_in(_excluded_ids(domain, excluded)))
    if min_params is not None:
        conditions.append(e.parameters >= min_params)
    if max_params is not None:
        conditions.append(e.parameters <= max_params)
    if method is not None:
        conditions.append(e.method == method)
    if base_model_id is None:  # the table itself: the planners read the page in the order of the rank index
        return e, conditions
    columns = (e.model_id, e.score, e.stderr, e.settings_key)
    on_base = select(*columns).where(*conditions, e.base_model_id == base_model_id)
    itself = select(*columns).where(*conditions, e.model_id == base_model_id,
                                    or_(e.base_model_id.is_(None), e.base_model_id != base_model_id))
    return union_all(on_base, itself).subquery("entries").c, []


def _excluded_ids(domain: str, excluded: frozenset[int]) -> Any:
    """The excluded models as a list of ids, or past bound-parameter limits the same set as a subquery."""
    if len(excluded) <= MAX_LISTED:
        return sorted(excluded)
    tainted = contamination_repo.tainted_models(domain)
    return select(tainted.c.model_id)


def hidden_contaminated(session: Session, viewer_id: int, **filters: Any) -> int:
    """How many entries the board (``filters``, with ``excluded``) leaves out: visible ones of excluded models."""
    excluded = filters.pop("excluded", frozenset())
    if not excluded:
        return 0
    e, conditions = _entries(viewer_id, **filters)
    stmt = select(func.count(e.model_id)).where(*conditions, e.model_id.in_(_excluded_ids(filters["domain"], excluded)))
    return int(session.scalar(stmt) or 0)


def leaderboard_groups(session: Session, viewer_id: int, **filters: Any) -> tuple[list[tuple[str, int, int]], int]:
    """The settings groups of the visible entries, largest first: ``[(settings key, count, one model id)]``, and
    their total."""
    e, conditions = _entries(viewer_id, **filters)
    groups = [(k, int(n), int(i)) for k, n, i in session.execute(
        select(e.settings_key, func.count(), func.min(e.model_id)).where(*conditions)
        .group_by(e.settings_key).order_by(func.count().desc()))]
    return groups, sum(n for _, n, _ in groups)


def leaderboard_page(session: Session, viewer_id: int, *, common_key: str | None, n_common: int, limit: int,
                     offset: int, **filters: Any) -> list[tuple[int, bool, int | None, bool]]:
    """A page of the ranked leaderboard: ``[(model id, comparable, rank, tied)]``: the comparable rows (the
    ``n_common`` entries with ``common_key``) first, best score first, then by id; then the others, unranked.
    Ranks are standard competition ranks where a row whose 95% interval (score ± 1.96·stderr) overlaps the row
    above's, or with the same score, shares its rank (``tied``)."""
    out: list[tuple[int, bool, int | None, bool]] = []
    e, conditions = _entries(viewer_id, **filters)
    if common_key is not None and offset < n_common:
        top = (select(e.model_id, e.score, e.stderr).where(*conditions, e.settings_key == common_key)
               .order_by(e.score.desc(), e.model_id)
               .limit(offset + limit).subquery("top"))
        order = (top.c.score.desc(), top.c.model_id)
        half = case((top.c.stderr > 0, Z_95 * top.c.stderr), else_=0.0)
        step = select(top.c.model_id, top.c.score, func.row_number().over(order_by=order).label("rn"),
                      func.lag(top.c.score).over(order_by=order).label("prev"),
                      func.lag(half).over(order_by=order).label("prev_half"), half.label("half")).subquery("step")
        tied = and_(step.c.prev.is_not(None), or_(step.c.score == step.c.prev, and_(
            step.c.score + step.c.half >= step.c.prev - step.c.prev_half,
            step.c.prev + step.c.prev_half >= step.c.score - step.c.half)))
        ranked = select(step.c.model_id, step.c.rn, case((tied, 1), else_=0).label("tied"),
                        func.max(case((tied, None), else_=step.c.rn)).over(
                            order_by=step.c.rn, rows=(None, 0)).label("rank")).subquery("ranked")
        stmt = (select(ranked.c.model_id, ranked.c.rank, ranked.c.tied).where(ranked.c.rn > offset)
                .order_by(ranked.c.rn))
        out = [(int(i), True, int(r), bool(t)) for i, r, t in session.execute(stmt)]
    if len(out) < limit:
        others = select(e.model_id).where(*conditions)
        if common_key is not None:
            others = others.where(e.settings_key != common_key)
        rows = session.execute(others.order_by(e.score.desc(), e.model_id)
                               .limit(limit - len(out)).offset(max(0, offset - n_common)))
        out += [(int(i), False, None, False) for i, *_ in rows]
    return out


def replace_entries(session: Session, model_ids: list[int], rows: list[dict[str, Any]]) -> None:
    """The leaderboard entries of these models, replaced."""
    if model_ids:
        session.execute(delete(LeaderboardEntry).where(LeaderboardEntry.model_id.in_(model_ids)))
    if rows:
        session.execute(insert(LeaderboardEntry), rows)
