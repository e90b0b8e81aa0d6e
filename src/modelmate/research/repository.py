"""SQL of the research layer: score rows, capability changes, runs visible to a viewer (the museum rule)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, case, delete, exists, func, insert, literal_column, not_, or_, select, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased, defer

from modelmate.datasets import contamination_repository as contamination_repo
from modelmate.db.engine import immediate_transaction
from modelmate.enums import FINISHED_RUN_STATUSES, UNCATEGORIZED
from modelmate.models import (
    BenchmarkResult,
    CapabilityChange,
    CapabilityChangeFact,
    CapabilityChangeTotal,
    Dataset,
    DocumentOutcome,
    Evaluation,
    Model,
    ModelFeedback,
    TrainingRun,
    User,
)

SCORED_STATUSES = ("final", "partial")


# --- models, users, datasets -----------------------------------------------------------------------------------

def get_model(session: Session, model_id: int) -> Model | None:
    return session.get(Model, model_id)


def lock_model(session: Session, model_id: int) -> Model | None:
    immediate_transaction(session)
    return session.scalars(select(Model).where(Model.id == model_id).with_for_update()).first()


def models_by_id(session: Session, ids: set[int] | list[int]) -> dict[int, Model]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return {m.id: m for m in session.scalars(select(Model).where(Model.id.in_(ids)))}


def usernames(session: Session, ids: set[int] | list[int]) -> dict[int, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return {i: n for i, n in session.execute(select(User.id, User.username).where(User.id.in_(ids)))}


def datasets_by_id(session: Session, ids: set[int] | list[int]) -> dict[int, Dataset]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return {d.id: d for d in session.scalars(select(Dataset).where(Dataset.id.in_(ids)))}


def dataset_rows(session: Session, ids: set[int]) -> dict[int, int | None]:
    """Each dataset's row count (the advisor's distances read only that)."""
    if not ids:
        return {}
    return {i: n for i, n in session.execute(select(Dataset.id, Dataset.rows).where(Dataset.id.in_(ids)))}


def dependents(session: Session, model_id: int) -> list[Model]:
    """Models whose reference is this one: its forks, and the fine-tunes of it (as a base) without a parent."""
    return list(session.scalars(select(Model).where(or_(
        Model.parent_model_id == model_id,
        and_(Model.parent_model_id.is_(None), Model.base_model_id == model_id))).order_by(Model.id)))


def run_of_model(session: Session, model_id: int) -> TrainingRun | None:
    return session.scalars(select(TrainingRun).where(TrainingRun.output_model_id == model_id)
                           .order_by(TrainingRun.id).limit(1)).first()


def latest_scored_evaluation(session: Session, model_id: int) -> Evaluation | None:
    return session.scalars(select(Evaluation).where(Evaluation.model_id == model_id,
                                                    Evaluation.status.in_(SCORED_STATUSES))
                           .order_by(Evaluation.finished_at.desc(), Evaluation.id.desc()).limit(1)).first()


def score_rows(session: Session, model_id: int, mode: str) -> list[dict[str, Any]]:
    """The newest headline row per (task, metric) of a model's final/partial evaluations in ``mode``."""
    rows = session.scalars(select(BenchmarkResult).where(
        BenchmarkResult.model_id == model_id, BenchmarkResult.mode == mode,
        BenchmarkResult.status.in_(SCORED_STATUSES), BenchmarkResult.value.is_not(None),
    ).order_by(BenchmarkResult.created_at.desc(), BenchmarkResult.id.desc()))
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        raw = row.raw or {}
        if not raw.get("primary") or (row.task, row.metric) in out:
            continue
        out[(row.task, row.metric)] = {"task": row.task, "domain": row.domain, "metric": row.metric,
                                       "value": row.value, "stderr": row.stderr, "scale": raw.get("scale"),
                                       "group": raw.get("group"), "evaluation_id": row.evaluation_id,
                                       "n_samples": row.n_samples, "backend": raw.get("backend")}
    return list(out.values())


def outcomes_of(session: Session, rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The per-document outcomes behind score rows: task → ``[{"doc_id", "doc_hash", "values"}]``, read from the
    evaluation that gave the task's (first) row. Tasks whose evaluation kept no outcomes are absent."""
    source: dict[str, int] = {}
    for row in rows:
        if row.get("evaluation_id") and row["task"] not in source:
            source[row["task"]] = row["evaluation_id"]
    if not source:
        return {}
    out: dict[str, list[dict[str, Any]]] = {}
    stmt = (select(DocumentOutcome.evaluation_id, DocumentOutcome.task, DocumentOutcome.doc_id,
                   DocumentOutcome.doc_hash, DocumentOutcome.metrics)
            .where(DocumentOutcome.evaluation_id.in_(set(source.values())), DocumentOutcome.task.in_(set(source)))
            .order_by(DocumentOutcome.task, DocumentOutcome.doc_id))
    for evaluation_id, task, doc_id, doc_hash, metrics in session.execute(stmt):
        if source.get(task) == evaluation_id:
            out.setdefault(task, []).append({"doc_id": doc_id, "doc_hash": doc_hash, "values": metrics or {}})
    return out


# --- capability changes ----------------------------------------------------------------------------------------

def replace_changes(session: Session, model_id: int, reference_id: int, rows: list[dict[str, Any]]) -> None:
    """The pair's previous rows are replaced (also those against a former reference of the model); the
    aggregates' totals follow."""
    session.execute(delete(CapabilityChange).where(CapabilityChange.model_id == model_id))
    session.add_all([CapabilityChange(model_id=model_id, reference_model_id=reference_id, **row) for row in rows])
    session.flush()
    refresh_change_totals(session, {model_id})


def clear_changes(session: Session, model_id: int) -> None:
    session.execute(delete(CapabilityChange).where(CapabilityChange.model_id == model_id))
    refresh_change_totals(session, {model_id})


def _visible_model(model, viewer: User | None):
    if viewer is None:
        return model.visibility == "public"
    if viewer.is_admin:
        return true()
    return or_(model.visibility == "public", model.owner_id == viewer.id)


def list_changes(session: Session, viewer: User | None, *, model_id: int | None, flagged: bool | None,
                 direction: str | None, domain: str | None, limit: int, offset: int
                 ) -> tuple[list[tuple[CapabilityChange, bool]], int]:
    """The page of changes (flagged first, newest first: the order ``ix_capability_changes_flagged`` serves), each
    with whether the model's training data overlaps the change's domain. ``flagged=True`` lists the headline
    changes: flagged, except gains on a contaminated domain (a contaminated gain is never a headline; it is listed
    with ``flagged=False`` and in the unfiltered feed, labelled)."""
    mine, ref = aliased(Model), aliased(Model)
    tainted = contamination_repo.tainted_models()
    contaminated = exists(select(tainted.c.model_id).where(tainted.c.model_id == CapabilityChange.model_id,
                                                           tainted.c.domain == CapabilityChange.domain))
    headline = and_(CapabilityChange.flagged.is_(True),
                    not_(and_(CapabilityChange.direction == "up", contaminated)))
    query = (select(CapabilityChange, case((contaminated, 1), else_=0).label("contaminated"))
             .join(mine, mine.id == CapabilityChange.model_id)
             .join(ref, ref.id == CapabilityChange.reference_model_id)
             .where(_visible_model(mine, viewer), _visible_model(ref, viewer)))
    if model_id is not None:
        query = query.where(CapabilityChange.model_id == model_id)
    if flagged is not None:
        query = query.where(headline if flagged else not_(headline))
    if direction is not None:
        query = query.where(CapabilityChange.direction == direction)
    if domain is not None:
        query = query.where(CapabilityChange.domain == domain)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.order_by(CapabilityChange.flagged.desc(), CapabilityChange.created_at.desc(),
                                          CapabilityChange.id.desc()).limit(limit).offset(offset))
    return [(change, bool(tainted_flag)) for change, tainted_flag in rows], int(total)


# --- the aggregates' totals ------------------------------------------------------------------------------------------
# ``capability_change_facts`` holds each model's domain-level changes per target domain as the aggregates count them
# (with the grouping keys and the scope of who may see them); ``capability_change_totals`` their sums per (grouping,
# key, domain, scope). Whenever what a fact reads changes (the model's changes, its or its reference's visibility or
# owner, its base, its first run or that run's dataset), :func:`refresh_change_totals` subtracts the model's previous
# facts and adds the new ones (``research.change_totals`` notes the models from the ORM's flushes). A request sums
# the totals of the scopes the viewer may see.

SCOPE_PUBLIC, SCOPE_ADMINS = 0, -1
E12 = 10**12
UNKNOWN_DOMAIN = "unknown"


def scope_of(model_visibility: str, model_owner: int | None, ref_visibility: str, ref_owner: int | None) -> int:
    """Who may see a change (``_visible_model`` of the model and of its reference): everyone when both are public;
    else the one owner of the private side(s); nobody but admins when they have different (or no) owners."""
    owners = {o for v, o in ((model_visibility, model_owner), (ref_visibility, ref_owner)) if v != "public"}
    if not owners:
        return SCOPE_PUBLIC
    owner = owners.pop()
    return owner if owner is not None and not owners else SCOPE_ADMINS


def change_facts(session: Session, model_ids: list[int]) -> list[dict[str, Any]]:
    """These models' facts, from their current domain-level changes."""
    mine, ref = aliased(Model), aliased(Model)
    first = (select(TrainingRun.output_model_id.label("model_id"), func.min(TrainingRun.id).label("run_id"))
             .where(TrainingRun.output_model_id.in_(model_ids)).group_by(TrainingRun.output_model_id).subquery())
    stmt = (select(CapabilityChange.model_id, CapabilityChange.domain, CapabilityChange.delta,
                   CapabilityChange.flagged, CapabilityChange.direction, mine.visibility, mine.owner_id,
                   mine.base_model_id, ref.visibility, ref.owner_id, Dataset.domain)
            .join(mine, mine.id == CapabilityChange.model_id)
            .join(ref, ref.id == CapabilityChange.reference_model_id)
            .outerjoin(first, first.c.model_id == CapabilityChange.model_id)
            .outerjoin(TrainingRun, TrainingRun.id == first.c.run_id)
            .outerjoin(Dataset, Dataset.id == TrainingRun.dataset_id)
            .where(CapabilityChange.model_id.in_(model_ids), CapabilityChange.task.is_(None)))
    facts: dict[tuple[int, str], dict[str, Any]] = {}
    for model_id, domain, delta, flagged, direction, mv, mo, base_id, rv, ro, trained in session.execute(stmt):
        fact = facts.setdefault((model_id, domain), {
            "model_id": model_id, "domain": domain, "training_domain": trained or UNKNOWN_DOMAIN,
            "base_id": base_id, "scope": scope_of(mv, mo, rv, ro), "n_changes": 0, "sum_delta_e12": 0, "n_up": 0,
            "n_down": 0})
        fact["n_changes"] += 1
        fact["sum_delta_e12"] += round(delta * E12)
        fact["n_up"] += int(bool(flagged) and direction == "up")
        fact["n_down"] += int(bool(flagged) and direction == "down")
    return list(facts.values())


def _add_totals(sums: dict[tuple[str, str, str, int], list[int]], facts, sign: int) -> None:
    for f in facts:
        keys = [("training_domain", f["training_domain"])]
        if f["base_id"] is not None:
            keys.append(("base", str(f["base_id"])))
        for grouping, key in keys:
            total = sums.setdefault((grouping, key, f["domain"], f["scope"]), [0, 0, 0, 0, 0])
            for i, v in enumerate((1, f["n_changes"], f["sum_delta_e12"], f["n_up"], f["n_down"])):
                total[i] += sign * v


TOTAL_COLUMNS = ("n_models", "n_changes", "sum_delta_e12", "n_up", "n_down")


def refresh_change_totals(session: Session, model_ids: set[int]) -> None:
    """Recount these models' facts and move the totals by the difference (one upsert per touched total)."""
    ids = sorted(i for i in model_ids if i)
    facts_table = CapabilityChangeFact.__table__
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        old = [dict(r._mapping) for r in session.execute(select(facts_table).where(facts_table.c.model_id.in_(chunk)))]
        new = change_facts(session, chunk)
        sums: dict[tuple[str, str, str, int], list[int]] = {}
        _add_totals(sums, old, -1)
        _add_totals(sums, new, 1)
        session.execute(delete(CapabilityChangeFact).where(CapabilityChangeFact.model_id.in_(chunk)))
        if new:
            session.execute(insert(CapabilityChangeFact), new)
        rows = [{"grouping": g, "key": k, "domain": d, "scope": sc, **dict(zip(TOTAL_COLUMNS, v, strict=True))}
                for (g, k, d, sc), v in sums.items() if any(v)]
        if rows:
            _upsert_totals(session, rows)


def _upsert_totals(session: Session, rows: list[dict[str, Any]]) -> None:
    """Add to the totals atomically (INSERT … ON CONFLICT DO UPDATE SET n = n + excluded.n)."""
    t = CapabilityChangeTotal
    stmt = (postgresql.insert(t) if session.get_bind().dialect.name == "postgresql" else sqlite.insert(t))
    stmt = stmt.on_conflict_do_update(index_elements=["grouping", "key", "domain", "scope"],
                                      set_={c: getattr(t, c) + stmt.excluded[c] for c in TOTAL_COLUMNS})
    session.execute(stmt, rows)


def rebuild_change_totals(session: Session) -> None:
    """Every model's facts and the totals, from scratch (after a bulk load that skipped the ORM)."""
    session.execute(delete(CapabilityChangeTotal))
    session.execute(delete(CapabilityChangeFact))
    ids = list(session.scalars(select(CapabilityChange.model_id).where(CapabilityChange.task.is_(None)).distinct()))
    refresh_change_totals(session, set(ids))


def models_referencing(session: Session, model_ids: set[int]) -> set[int]:
    """Models whose changes are against one of these (read on the flush's connection: no autoflush)."""
    if not model_ids:
        return set()
    return set(session.connection().scalars(select(CapabilityChange.model_id).where(
        CapabilityChange.reference_model_id.in_(model_ids)).distinct()))


def models_trained_on(session: Session, dataset_ids: set[int]) -> set[int]:
    if not dataset_ids:
        return set()
    return set(session.connection().scalars(select(TrainingRun.output_model_id).where(
        TrainingRun.dataset_id.in_(dataset_ids), TrainingRun.output_model_id.is_not(None)).distinct()))


def domain_change_aggregates(session: Session, viewer: User | None, *, by: str) -> list[tuple[Any, str, float, int,
                                                                                                 int, int]]:
    """The aggregates from the totals of the scopes the viewer may see, ``by`` ``"training_domain"`` (the domain
    of the dataset of the model's first run, ``unknown`` without one) or ``"base"`` (the model's base; models
    without one left out): ``[(key, target domain, mean delta, models, flagged up, flagged down)]``."""
    t = CapabilityChangeTotal
    query = select(t.key, t.domain, func.sum(t.sum_delta_e12), func.sum(t.n_changes), func.sum(t.n_models),
                   func.sum(t.n_up), func.sum(t.n_down)).where(t.grouping == by)
    if viewer is None:
        query = query.where(t.scope == SCOPE_PUBLIC)
    elif not viewer.is_admin:
        query = query.where(t.scope.in_((SCOPE_PUBLIC, viewer.id)))
    query = query.group_by(t.key, t.domain).having(func.sum(t.n_models) > 0)
    return [(int(k) if by == "base" else k, d, float(total) / float(n) / E12, int(models), int(up), int(down))
            for k, d, total, n, models, up, down in session.execute(query)]


def changes_of_models(session: Session, model_ids: set[int]) -> list[CapabilityChange]:
    if not model_ids:
        return []
    return list(session.scalars(select(CapabilityChange).where(CapabilityChange.model_id.in_(model_ids),
                                                               CapabilityChange.task.is_(None))))


# --- runs visible to a viewer (the museum rule) ------------------------------------------------------------------

def visible_runs_query(viewer: User):
    """Your runs and runs whose output model is public; an admin sees every run."""
    if viewer.is_admin:
        return select(TrainingRun)  # no join: counting every run reads one index
    output = aliased(Model)
    return (select(TrainingRun).outerjoin(output, output.id == TrainingRun.output_model_id)
            .where(or_(TrainingRun.owner_id == viewer.id, output.visibility == "public")))


def museum_condition():
    """The museum rule, spelled with literals exactly as ``MUSEUM_WHERE`` (the condition of the partial index
    ``ix_training_runs_in_museum``): bound parameters would hide from the planners that the index covers it."""
    return or_(TrainingRun.training_outcome.in_([literal_column("'failure'"), literal_column("'partial'")]),
               TrainingRun.failure_category.is_not(None), TrainingRun.feedback_value == literal_column("-1"))


def museum(session: Session, viewer: User, *, category: str | None, base_model_id: int | None, outcome: str | None,
           q: str | None, limit: int, offset: int) -> tuple[list[TrainingRun], int, dict[str, int]]:
    query = visible_runs_query(viewer).where(museum_condition())
    if base_model_id is not None:
        query = query.where(TrainingRun.base_model_id == base_model_id)
    if outcome is not None:
        query = query.where(TrainingRun.training_outcome == outcome)
    if q:
        query = query.where(func.lower(TrainingRun.name).contains(q.lower(), autoescape=True))
    sub = query.subquery()
    counts = {(c or UNCATEGORIZED): int(n) for c, n in session.execute(
        select(sub.c.failure_category, func.count()).group_by(sub.c.failure_category))}
    if category == UNCATEGORIZED:
        query = query.where(TrainingRun.failure_category.is_(None))
    elif category is not None:
        query = query.where(TrainingRun.failure_category == category)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(TrainingRun.created_at.desc(), TrainingRun.id.desc())
                           .options(defer(TrainingRun.early_stopping), defer(TrainingRun.environment),
                                    defer(TrainingRun.estimate))  # not shown by the museum
                           .limit(limit).offset(offset))
    return list(rows), int(total), counts


def visible_runs(session: Session, viewer: User, *, limit: int | None = None,
                 base_model_id: int | None = None, finished_only: bool = False) -> tuple[list[TrainingRun], int]:
    query = visible_runs_query(viewer)
    if base_model_id is not None:
        query = query.where(TrainingRun.base_model_id == base_model_id)
    query = query.where(TrainingRun.status.in_(FINISHED_RUN_STATUSES) if finished_only else true())
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    query = query.order_by(TrainingRun.id)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query)), int(total)


def advisor_candidates(session: Session, viewer: User, *, base_model_id: int,
                       limit: int) -> list[tuple[int, dict[str, Any] | None, int | None, str | None]]:
    """Finished runs on a base visible to the viewer, oldest first, as ``(id, config, dataset id, failure
    category)``: only what the distances and the warnings read (the rest of a run, its curve above all, is read
    for the few shown, :func:`runs_by_id`)."""
    query = (visible_runs_query(viewer).where(TrainingRun.base_model_id == base_model_id,
                                              TrainingRun.status.in_(FINISHED_RUN_STATUSES))
             .with_only_columns(TrainingRun.id, TrainingRun.config, TrainingRun.dataset_id,
                                TrainingRun.failure_category)
             .order_by(TrainingRun.id).limit(limit))
    return [(i, c, d, f) for i, c, d, f in session.execute(query)]


def runs_by_id(session: Session, ids: set[int] | list[int]) -> dict[int, TrainingRun]:
    """These runs without their curves, error and environment (the advisor shows the rest)."""
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return {r.id: r for r in session.scalars(
        select(TrainingRun).where(TrainingRun.id.in_(ids))
        .options(defer(TrainingRun.loss_curve_data), defer(TrainingRun.error), defer(TrainingRun.environment)))}


def get_owned_run(session: Session, owner_id: int, run_id: int, *, lock: bool = False) -> TrainingRun | None:
    query = select(TrainingRun).where(TrainingRun.id == run_id, TrainingRun.owner_id == owner_id)
    if lock:
        query = query.with_for_update()
    return session.scalars(query).first()



def model_feedback(session: Session, user_id: int, model_id: int) -> ModelFeedback | None:
    return session.scalars(select(ModelFeedback).where(ModelFeedback.user_id == user_id,
                                                       ModelFeedback.model_id == model_id)).first()


def add_model_feedback(session: Session, **values: Any) -> ModelFeedback:
    row = ModelFeedback(**values)
    session.add(row)
    return row


def delete_row(session: Session, row: Any) -> None:
    session.delete(row)


# --- the research export (streamed in batches of runs) ---------------------------------------------------------------

def export_runs_query(viewer: User, *, public: bool):
    """The runs an export holds. Default: the museum rule (:func:`visible_runs_query`). Public mode: only runs whose
    output model, base model, parent model (when forked) and dataset (when recorded) are all public — a run that
    produced no model, or touched anything private, is left out whoever exports."""
    if not public:
        return visible_runs_query(viewer)
    output, base, parent = aliased(Model), aliased(Model), aliased(Model)
    return (select(TrainingRun).join(output, output.id == TrainingRun.output_model_id)
            .join(base, base.id == TrainingRun.base_model_id)
            .outerjoin(parent, parent.id == TrainingRun.parent_model_id)
            .outerjoin(Dataset, Dataset.id == TrainingRun.dataset_id)
            .where(output.visibility == "public", base.visibility == "public",
                   or_(TrainingRun.parent_model_id.is_(None), parent.visibility == "public"),
                   or_(TrainingRun.dataset_id.is_(None), Dataset.visibility == "public")))


def count_export_runs(session: Session, viewer: User, *, public: bool) -> int:
    query = export_runs_query(viewer, public=public)
    return int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)


def export_run_page(session: Session, viewer: User, *, public: bool, limit: int, offset: int) -> list[TrainingRun]:
    """One page of the export's runs in id order (the research rows preview)."""
    query = export_runs_query(viewer, public=public)
    return list(session.scalars(query.order_by(TrainingRun.id).limit(limit).offset(offset)))


def export_run_batches(session: Session, viewer: User, *, public: bool, batch: int = 500):
    """Yield the export's runs in id order, ``batch`` at a time (keyset pages: nothing loads all runs at once). The
    runs of a batch are detached from the session once the next batch is asked for."""
    query = export_runs_query(viewer, public=public)
    last = 0
    while True:
        runs = list(session.scalars(query.where(TrainingRun.id > last).order_by(TrainingRun.id).limit(batch)))
        if not runs:
            return
        yield runs
        last = runs[-1].id
        forget(session, runs)


def forget(session: Session, objects) -> None:
    """Detach rows an export is done with, so that a long export's memory stays flat."""
    for obj in objects:
        if obj in session:
            session.expunge(obj)


def exportable_model_ids(session: Session, viewer: User, ids: set[int], *, public: bool) -> set[int]:
    """Which of ``ids`` the export may show: public models (public mode), else the ones the viewer may see."""
    ids = {i for i in ids if i}
    if not ids:
        return set()
    condition = Model.visibility == "public" if public else _visible_model(Model, viewer)
    return set(session.scalars(select(Model.id).where(Model.id.in_(ids), condition)))


def export_score_rows(session: Session, model_ids: set[int] | list[int]):
    """Every stored per-task row of these models (all statuses), with its evaluation's settings hash, settings and
    finish time: ``(BenchmarkResult, settings_hash, settings, finished_at)`` in (model, row id) order."""
    ids = sorted({i for i in model_ids if i})
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        stmt = (select(BenchmarkResult, Evaluation.settings_hash, Evaluation.settings, Evaluation.finished_at)
                .outerjoin(Evaluation, Evaluation.id == BenchmarkResult.evaluation_id)
                .where(BenchmarkResult.model_id.in_(chunk))
                .order_by(BenchmarkResult.model_id, BenchmarkResult.id))
        for row, settings_hash, settings, finished_at in session.execute(stmt):
            yield row, settings_hash, settings, finished_at
            session.expunge(row)
