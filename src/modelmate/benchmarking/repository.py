"""SQL of benchmarking: evaluations, benchmark rows, models' scores, feedback counts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, String, and_, case, cast, delete, func, insert, literal, or_, select
from sqlalchemy.dialects import postgresql
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
# A model's ``benchmark_scores`` JSON holds one entry per domain; the leaderboard filters, groups (by settings) and
# ranks on values read from it in SQL, so only the requested page of models is loaded. Both dialects store the JSON
# natively (JSON1 on SQLite, JSONB on PostgreSQL); a value counts as a score only when it is a JSON number, like
# the Python rule (``isinstance(score, int | float)``).

Z_95 = 1.96
NO_HASH = "\x01none"  # stands for a missing settings hash inside a grouping key (NULLs never compare equal)


def _json_number(dialect: str, column: Any, *path: str) -> Any:
    """A JSON number at ``path`` as a float, NULL when absent or not a number."""
    if dialect == "postgresql":
        node = column[path]
        return case((func.jsonb_typeof(node) == "number", node.as_float()))
    where = "$." + ".".join(f'"{p}"' for p in path)
    return case((func.json_type(column, where).in_(("integer", "real")), cast(func.json_extract(column, where),
                                                                              Float)))


def _json_text(dialect: str, column: Any, *path: str) -> Any:
    if dialect == "postgresql":
        return column[path].as_string()
    return cast(func.json_extract(column, "$." + ".".join(f'"{p}"' for p in path)), String)


def _truthy(dialect: str, column: Any, key: str) -> Any:
    """Python truthiness of a JSON value (``bool(hub_info.get(key))``): present and not false/0/""/{}/[]/null."""
    if dialect == "postgresql":
        node = column[key]
        falsy = [cast(literal(v), postgresql.JSONB) for v in ("false", "0", '""', "{}", "[]", "null")]
        return and_(node.is_not(None), node.not_in(falsy))
    value = func.json_extract(column, f'$."{key}"')
    return and_(value.is_not(None), value.not_in([0, "", "{}", "[]"]))


def method_expr(dialect: str) -> Any:
    """``leaderboard.method_of`` in SQL."""
    return case((Model.kind == "base", "base"),
                (Model.kind == "finetuned", case((_truthy(dialect, Model.hub_info, "adapter"), "lora"),
                                                 else_="finetuned")),
                else_="external")


def _entry_columns(dialect: str, domain: str, domains: tuple[str, ...]) -> tuple[Any, Any, Any]:
    """(score, stderr, grouping key) of a model's entry for ``domain`` or ``overall`` (the mean of its scored
    domains, taken in sorted order like ``overall_entry``; stderr √Σe²/n only when every scored domain has one)."""
    col = Model.benchmark_scores
    if domain != "overall":
        return (_json_number(dialect, col, domain, "score"), _json_number(dialect, col, domain, "stderr"),
                func.coalesce(_json_text(dialect, col, domain, "settings_hash"), NO_HASH))
    scores = {d: _json_number(dialect, col, d, "score") for d in sorted(domains)}
    errs = {d: _json_number(dialect, col, d, "stderr") for d in sorted(domains)}
    n = sum((case((s.is_not(None), 1), else_=0) for s in scores.values()), literal(0))
    total = sum((func.coalesce(s, 0.0) for s in scores.values()), literal(0.0))
    squares = sum((case((s.is_not(None), errs[d] * errs[d]), else_=0.0) for d, s in scores.items()), literal(0.0))
    every_err = and_(*(or_(s.is_(None), errs[d].is_not(None)) for d, s in scores.items()))
    key = literal("", String)
    for d, s in scores.items():
        key = key + case((s.is_not(None), literal(f"{d}=", String) + func.coalesce(
            _json_text(dialect, col, d, "settings_hash"), NO_HASH) + ";"), else_="")
    score = case((n > 0, total / n))
    return score, case((and_(n > 0, every_err), func.sqrt(squares) / n)), key


def _entries(session: Session, viewer_id: int, *, domain: str, domains: tuple[str, ...], base_model_id: int | None,
             min_params: int | None, max_params: int | None, method: str | None) -> Any:
    dialect = session.get_bind().dialect.name
    score, stderr, key = _entry_columns(dialect, domain, domains)
    query = select(Model.id.label("id"), score.label("score"), stderr.label("stderr"), key.label("key")).where(
        or_(Model.visibility == "public", Model.owner_id == viewer_id))
    if base_model_id is not None:
        query = query.where(or_(Model.base_model_id == base_model_id, Model.id == base_model_id))
    if min_params is not None:
        query = query.where(Model.parameters >= min_params)
    if max_params is not None:
        query = query.where(Model.parameters <= max_params)
    if method is not None:
        query = query.where(method_expr(dialect) == method)
    return query.where(score.is_not(None)).subquery("entries")


def leaderboard_groups(session: Session, viewer_id: int, **filters: Any) -> tuple[list[tuple[str, int, int]], int]:
    """The settings groups of the entries, largest first: ``[(key, count, one model id)]``, and the total."""
    entries = _entries(session, viewer_id, **filters)
    groups = [(k, int(n), int(i)) for k, n, i in session.execute(
        select(entries.c.key, func.count(), func.min(entries.c.id)).group_by(entries.c.key)
        .order_by(func.count().desc()))]
    return groups, sum(n for _, n, _ in groups)


def leaderboard_page(session: Session, viewer_id: int, *, common_key: str | None, limit: int, offset: int,
                     **filters: Any) -> list[tuple[int, bool, int | None, bool]]:
    """A page of the ranked leaderboard: ``[(model id, comparable, rank, tied)]``, comparable rows first, best
    score first, then by id. Ranks (standard competition) and ties (95% intervals overlap the row above's, or the
    same score) are computed over all comparable rows with window functions."""
    entries = _entries(session, viewer_id, **filters)
    comparable = case((entries.c.key == common_key, 1), else_=0) if common_key is not None else literal(0)
    order = (entries.c.score.desc(), entries.c.id)
    window = {"partition_by": comparable, "order_by": order}
    half = case((entries.c.stderr > 0, Z_95 * entries.c.stderr), else_=0.0)
    step = select(entries.c.id, entries.c.score, comparable.label("comparable"),
                  func.row_number().over(**window).label("rn"),
                  func.lag(entries.c.score).over(**window).label("prev"),
                  func.lag(half).over(**window).label("prev_half"), half.label("half")).subquery("step")
    tied = and_(step.c.prev.is_not(None), or_(step.c.score == step.c.prev, and_(
        step.c.score + step.c.half >= step.c.prev - step.c.prev_half,
        step.c.prev + step.c.prev_half >= step.c.score - step.c.half)))
    ranked = select(step.c.id, step.c.score, step.c.comparable, case((tied, 1), else_=0).label("tied"),
                    func.max(case((tied, None), else_=step.c.rn)).over(
                        partition_by=step.c.comparable, order_by=(step.c.score.desc(), step.c.id),
                        rows=(None, 0)).label("rank")).subquery("ranked")
    stmt = (select(ranked.c.id, ranked.c.comparable, ranked.c.rank, ranked.c.tied)
            .order_by(ranked.c.comparable.desc(), ranked.c.score.desc(), ranked.c.id).limit(limit).offset(offset))
    return [(int(i), bool(c), int(r) if c else None, bool(t) and bool(c)) for i, c, r, t in session.execute(stmt)]
