"""SQL for fine-tuning: base-model catalog rows, training runs and the fenced writes a training job makes.

A worker's writes about its run go through :func:`fenced_run_update`: the job's heartbeat (``UPDATE jobs ... WHERE
fencing_token = :token AND status = 'running'``) and the run update share one transaction, so once another worker
owns the job (or the job finished) the stale worker's run update is rejected together with its heartbeat.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.orm import Session

from modelmate.db.engine import immediate_transaction
from modelmate.enums import JobKind, JobStatus, ModelKind, RunSource, RunStatus
from modelmate.jobs import repository as jobs_repo
from modelmate.models import Dataset, Evaluation, Job, Model, RunCurvePoint, TrainingRun
from modelmate.training.curve_buckets import curve_buckets

OPEN_RUN_STATUSES = (RunStatus.QUEUED.value, RunStatus.RUNNING.value)


# --- base models (catalog rows, kind "base") -----------------------------------------------------------------

def base_models(session: Session, *, viewer_id: int | None = None) -> list[Model]:
    stmt = select(Model).where(Model.kind == ModelKind.BASE.value)
    if viewer_id is not None:
        stmt = stmt.where(or_(Model.visibility == "public", Model.owner_id == viewer_id))
    rows = list(session.scalars(stmt))
    return sorted(rows, key=lambda m: (not (m.hub_info or {}).get("toy"), m.parameters or 0, m.name_key))


def base_by_key(session: Session, key: str) -> Model | None:
    """The base-model row seeded for ``key`` (``hub_info.key``)."""
    return session.scalars(select(Model).where(Model.kind == ModelKind.BASE.value,
                                               Model.hub_info["key"].as_string() == key).limit(1)).first()


def base_by_hf_id(session: Session, hf_repo_id: str) -> Model | None:
    return session.scalars(select(Model).where(Model.kind == ModelKind.BASE.value,
                                               func.lower(Model.hf_repo_id) == hf_repo_id.lower()).limit(1)).first()


def model_by_id(session: Session, model_id: int) -> Model | None:
    return session.get(Model, model_id)


def model_name_taken(session: Session, name_key: str, developer_key: str) -> bool:
    return session.scalar(select(Model.id).where(Model.name_key == name_key,
                                                 Model.developer_key == developer_key).limit(1)) is not None


def add_model(session: Session, values: dict[str, Any]) -> Model:
    model = Model(**values)
    session.add(model)
    session.flush()
    return model


def active_import_jobs(session: Session) -> list[Job]:
    """GGUF imports queued or running (jobs of kind ``import_model``), oldest first."""
    return list(session.scalars(select(Job).where(
        Job.kind == JobKind.IMPORT_MODEL.value, Job.status.in_((JobStatus.QUEUED.value, JobStatus.RUNNING.value)))
        .order_by(Job.id)))


# --- datasets --------------------------------------------------------------------------------------------------

def dataset_by_id(session: Session, dataset_id: int) -> Dataset | None:
    return session.get(Dataset, dataset_id)


# --- runs ------------------------------------------------------------------------------------------------------

def get_run(session: Session, run_id: int) -> TrainingRun | None:
    return session.get(TrainingRun, run_id)


def get_owned_run(session: Session, owner_id: int, run_id: int) -> TrainingRun | None:
    return session.scalar(select(TrainingRun).where(TrainingRun.id == run_id, TrainingRun.owner_id == owner_id))


def run_for_output_model(session: Session, model_id: int) -> TrainingRun | None:
    return session.scalar(select(TrainingRun).where(TrainingRun.output_model_id == model_id)
                          .order_by(TrainingRun.id).limit(1))


def run_by_external_id(session: Session, owner_id: int, source: str, external_id: str) -> TrainingRun | None:
    """The run this owner recorded from ``source`` under ``external_id`` (runs trained elsewhere, imports)."""
    return session.scalar(select(TrainingRun).where(TrainingRun.owner_id == owner_id, TrainingRun.source == source,
                                                    TrainingRun.external_id == external_id).limit(1))


def run_by_job(session: Session, job_id: int) -> TrainingRun | None:
    return session.scalar(select(TrainingRun).where(TrainingRun.job_id == job_id).limit(1))


def insert_run(session: Session, values: dict[str, Any]) -> TrainingRun:
    run = TrainingRun(**values)
    session.add(run)
    session.flush()
    return run


def list_owned_runs(session: Session, owner_id: int, *, status: str | None, limit: int,
                    offset: int) -> tuple[list[TrainingRun], int]:
    stmt = select(TrainingRun).where(TrainingRun.owner_id == owner_id)
    if status:
        stmt = stmt.where(TrainingRun.status == status)
    total = session.scalar(stmt.with_only_columns(func.count()).order_by(None)) or 0
    rows = session.scalars(stmt.order_by(TrainingRun.created_at.desc(), TrainingRun.id.desc())
                           .limit(limit).offset(offset))
    return list(rows), total


def related(session: Session, runs: list[TrainingRun]) -> tuple[dict[int, Model], dict[int, Dataset], dict[int, Job]]:
    """The base models, datasets and jobs of these runs, each fetched in one query."""
    model_ids = {r.base_model_id for r in runs}
    dataset_ids = {r.dataset_id for r in runs if r.dataset_id}
    job_ids = {r.job_id for r in runs if r.job_id}
    models = {m.id: m for m in session.scalars(select(Model).where(Model.id.in_(model_ids)))} if model_ids else {}
    datasets = ({d.id: d for d in session.scalars(select(Dataset).where(Dataset.id.in_(dataset_ids)))}
                if dataset_ids else {})
    jobs = {j.id: j for j in session.scalars(select(Job).where(Job.id.in_(job_ids)))} if job_ids else {}
    return models, datasets, jobs


def evaluation_of_run(session: Session, run: TrainingRun) -> tuple[Evaluation, Job | None] | None:
    """The evaluation of the run's output model, with its job: the latest one queued for this run (automatic
    evaluation), else the latest one anyone asked for."""
    if run.output_model_id is None:
        return None
    stmt = (select(Evaluation, Job).outerjoin(Job, Job.id == Evaluation.job_id)
            .where(Evaluation.model_id == run.output_model_id).limit(1))
    row = (session.execute(stmt.where(Evaluation.run_id == run.id).order_by(Evaluation.id.desc())).first()
           or session.execute(stmt.order_by(Evaluation.id.desc())).first())
    return (row[0], row[1]) if row is not None else None


def open_runs_with_jobs(session: Session) -> list[tuple[TrainingRun, Job | None]]:
    """Runs launched here still queued/running, with their job (None when the job row is gone). The run rows stay
    locked until the transaction ends (PostgreSQL), so a worker's fenced run update waits for the reconciliation.
    Runs trained elsewhere (source external / mlflow) have no job: their client ends them."""
    stmt = (select(TrainingRun, Job).outerjoin(Job, Job.id == TrainingRun.job_id)
            .where(TrainingRun.status.in_(OPEN_RUN_STATUSES), TrainingRun.source == RunSource.MODELMATE.value)
            .with_for_update(of=TrainingRun))
    return [(run, job) for run, job in session.execute(stmt)]


def lock_for_reconcile(session: Session) -> None:
    immediate_transaction(session)


def fenced_run_update(session: Session, *, job_id: int, token: int, lease_s: float, run_id: int,
                      values: dict[str, Any], progress: float | None = None,
                      message: str | None = None) -> tuple[bool, bool]:
    """Renew the job's lease (with progress) and update the run in the same transaction.

    Returns ``(ok, cancel_requested)``; ``ok`` False means the lease is lost and nothing was written.
    """
    immediate_transaction(session)
    if not jobs_repo.heartbeat(session, job_id, token, lease_s=lease_s, progress=progress, message=message):
        return False, False
    run = session.get(TrainingRun, run_id)
    if run is not None:
        for key, value in values.items():
            setattr(run, key, value)
        if "loss_curve_data" in values:
            save_curve_points(session, run)
    session.flush()
    return True, jobs_repo.cancel_requested(session, job_id)


def save_curve_points(session: Session, run: TrainingRun) -> None:
    """Rewrite the run's compact curve (``run_curve_points``) from its ``loss_curve_data``: every writer of a curve
    calls this in the same transaction, so the curve-history band never reads a stale curve."""
    session.flush()  # a new run gets its id
    session.execute(delete(RunCurvePoint).where(RunCurvePoint.run_id == run.id))
    rows = [{"run_id": run.id, "bucket": p.bucket, "loss": p.loss, "points": p.points, "last_step": p.last_step}
            for p in curve_buckets(run.loss_curve_data)]
    if rows:
        session.execute(insert(RunCurvePoint), rows)


def lock_job(session: Session, job_id: int) -> Job | None:
    """The job row, locked until the transaction ends (PostgreSQL; a claimer skips it meanwhile)."""
    return session.scalar(select(Job).where(Job.id == job_id).with_for_update())
