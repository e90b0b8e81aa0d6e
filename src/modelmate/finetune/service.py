"""Fine-tuning rules for the API and the CLI: options, estimates, launching, reading and cancelling runs.

Launching validates everything first (configuration, base model, dataset, parent) and only then writes the
run row and its job in the same transaction, so a bad request leaves nothing queued. Someone else's run,
dataset or private model is 404. Services never commit.
"""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from modelmate.catalog.repository import normalise_key, slug_taken
from modelmate.catalog.slugs import dedupe, slugify
from modelmate.config import Settings
from modelmate.datasets import contamination
from modelmate.datasets.service import get_visible
from modelmate.db.base import utcnow
from modelmate.db.engine import Database
from modelmate.enums import (
    FINISHED_RUN_STATUSES,
    EvaluationState,
    EvaluationStatus,
    JobKind,
    JobStatus,
    ModelKind,
    RunStatus,
)
from modelmate.errors import ConflictError, NotFoundError, ValidationFailed
from modelmate.evaluation import suites
from modelmate.finetune import adapters, devices, forks
from modelmate.finetune import base_catalog as bases
from modelmate.finetune import repository as repo
from modelmate.finetune.schemas import (
    BaseModelOut,
    ConfigFieldOut,
    CurvePoint,
    DatasetRef,
    EstimateOut,
    EstimateRequest,
    MachineOut,
    MemoryModeOut,
    ModelRef,
    PresetOut,
    RunCreate,
    RunError,
    RunEvaluation,
    RunJob,
    RunLog,
    RunOut,
    RunPage,
    RunSummary,
    TrainingOptions,
    UnavailableChoice,
)
from modelmate.jobs import queue as job_queue
from modelmate.jobs import repository as jobs_repo
from modelmate.models import Dataset, Evaluation, Job, Model, TrainingRun, User
from modelmate.storage.artifacts import StoreUnavailable, artifact_store
from modelmate.training import capabilities
from modelmate.training import config as training_config
from modelmate.training import estimate as training_estimate
from modelmate.training.model_specs import BaseModelSpec

FINAL_RUN = FINISHED_RUN_STATUSES
TRAIN_MAX_ATTEMPTS = 3  # a worker lost mid-run is retried (resuming from its checkpoint); training failures are not
LOG_TAIL_BYTES = 64 * 1024


# --- options and validation -------------------------------------------------------------------------------------

def training_options(settings: Settings) -> TrainingOptions:
    caps = machine(settings)
    unavailable = []
    for f in training_config.config_fields():
        for value in (f["choices"] or []) + ([True] if f["type"] == "bool" and not f["default"] else []):
            config = training_config.TrainingConfig.model_validate({f["name"]: value})
            unavailable += [UnavailableChoice(**r.as_dict(), value=value) for r in capabilities.refusals(config, caps)
                            if r.field == f["name"]]
    modes = []
    for mode in training_config.MEMORY_MODES.values():
        refused = capabilities.refusals(training_config.TrainingConfig.model_validate(mode.values), caps)
        modes.append(MemoryModeOut(**mode.as_dict(), available=not refused,
                                   reason=capabilities.describe(refused) or None))
    return TrainingOptions(fields=[ConfigFieldOut(**f) for f in training_config.config_fields()],
                           presets=[PresetOut(**p.as_dict()) for p in training_config.PRESETS.values()],
                           machine=MachineOut(**caps.as_dict()), unavailable=unavailable, memory_modes=modes)


def machine(settings: Settings) -> capabilities.Capabilities:
    """What the training workers' machine can run: ``worker_capabilities`` when configured, else this machine's
    (probed once per process in a child, so the server never imports torch or opens a CUDA context)."""
    if settings.worker_capabilities is not None:
        return capabilities.Capabilities.from_dict(settings.worker_capabilities)
    return _probed()


_probe_lock = threading.Lock()
_probe: list[capabilities.Capabilities] = []  # this machine's, once probed


def warm_machine_probe(settings: Settings) -> None:
    """Probe this machine in the background at start, so the first estimate does not wait for it."""
    if settings.worker_capabilities is None and not _probe:
        threading.Thread(target=_probed, name="machine-probe", daemon=True).start()


def _probed() -> capabilities.Capabilities:
    with _probe_lock:
        if not _probe:
            try:
                _probe.append(capabilities.probe_in_subprocess())
            except (OSError, ValueError, IndexError, subprocess.SubprocessError) as exc:
                # conservative: no bitsandbytes, no flash-attn (the worker checks its own machine again anyway)
                _probe.append(capabilities.Capabilities(
                    device=_device(), bitsandbytes_error=f"the machine probe failed: {exc}"[:300]))
        return _probe[0]


def check_machine(config: training_config.TrainingConfig, settings: Settings) -> None:
    """422 ``unsupported_config`` naming each choice the workers' machine cannot run and its alternative."""
    refused = capabilities.refusals(config, machine(settings))
    if refused:
        raise ValidationFailed(capabilities.describe(refused), code=capabilities.UNSUPPORTED_CODE,
                               details={"errors": [{"field": r.field, "message": r.message} for r in refused],
                                        "refusals": [r.as_dict() for r in refused]})


def list_base_models(session: Session, settings: Settings, user: User) -> list[BaseModelOut]:
    return [bases.base_out(settings, m) for m in repo.base_models(session, viewer_id=user.id)]


def _config_errors(exc: ValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors()[:20]:
        where = ".".join(str(p) for p in err.get("loc", ()))
        message = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        if err.get("type") == "extra_forbidden":
            message = "unknown setting"
        out.append({"field": where or None, "message": message})
    return out


def resolve_config(preset: str | None, overrides: dict[str, Any] | None,
                   spec: BaseModelSpec | None = None) -> training_config.TrainingConfig:
    """Defaults, preset, overrides → a validated config; 422 naming the field otherwise."""
    try:
        return training_config.resolve_config(preset, overrides, spec=spec)
    except ValidationError as exc:
        errors = _config_errors(exc)
        first = errors[0] if errors else {"field": None, "message": "invalid configuration"}
        raise ValidationFailed(f"{first['field'] or 'config'}: {first['message']}", code="invalid_config",
                               details={"errors": errors}) from None
    except ValueError as exc:  # unknown preset
        raise ValidationFailed(str(exc), code="invalid_config",
                               details={"errors": [{"field": "preset", "message": str(exc)}]}) from None


def _dataset(session: Session, user: User, dataset_id: int) -> Dataset:
    """A live dataset you own or that is public; anything else (deleted, someone's private one) is 404."""
    return get_visible(session, user, dataset_id)


def _base_and_parent(session: Session, user: User, ref: str, parent_id: int | None) -> tuple[Model, Model | None]:
    model = bases.resolve_model_ref(session, user, ref)
    parent: Model | None = None
    if model.kind == ModelKind.FINETUNED.value:  # a fine-tuned model named as the base: a fork of it
        base = repo.model_by_id(session, model.base_model_id) if model.base_model_id else None
        if base is None:
            raise ValidationFailed(f"'{model.name}' has no recorded base model", code="invalid_base")
        parent, model = model, base
    if parent_id is not None:
        named = repo.model_by_id(session, parent_id)
        if named is None or not bases.visible(named, user) or named.kind != ModelKind.FINETUNED.value:
            raise NotFoundError(f"fine-tuned model {parent_id} not found")
        if parent is not None and parent.id != named.id:
            raise ValidationFailed("base_model names a different fine-tuned model than parent_model_id",
                                   code="invalid_base")
        parent = named
        if parent.base_model_id != model.id:
            raise ValidationFailed(f"'{parent.name}' was trained from another base model; choose that base",
                                   code="invalid_base")
    if model.kind != ModelKind.BASE.value:
        raise NotFoundError(f"unknown base model {ref[:200]!r}")
    return model, parent


def _spec(model: Model) -> BaseModelSpec:
    spec = bases.spec_from_model(model)
    if spec is None:
        raise ValidationFailed(f"'{model.name}' has no architecture facts to plan a run with", code="invalid_base")
    return spec


def split_rows(rows: int, eval_split: float) -> tuple[int, int]:
    """(train, eval) rows, as ``training.data.split_indices`` splits them."""
    if rows <= 0:
        return 0, 0
    if eval_split <= 0 or rows < 2:
        return rows, 0
    n_eval = min(max(1, round(rows * eval_split)), rows - 1)
    return rows - n_eval, n_eval


def token_profile(dataset: Dataset, model: Model) -> tuple[int, int | None]:
    """``(tokens in the whole dataset, longest row)`` with this base model's tokenizer when known (the longest row
    is None when unknown), else from the upload's statistics, else a characters/4 guess."""
    counts = dataset.token_counts or {}
    info = model.hub_info or {}
    for key in (info.get("key"), model.hf_repo_id, str(model.id)):
        entry = counts.get(key) if key else None
        if isinstance(entry, dict) and isinstance(entry.get("total"), int | float):
            longest = entry.get("max")
            return int(entry["total"]), int(longest) if isinstance(longest, int | float) else None
        if isinstance(entry, int | float):
            return int(entry), None
    tokens = (dataset.stats or {}).get("tokens")
    if isinstance(tokens, dict) and isinstance(tokens.get("total"), int | float):
        longest = tokens.get("max")
        return int(tokens["total"]), int(longest) if isinstance(longest, int | float) else None
    chars = (dataset.stats or {}).get("chars")
    if isinstance(chars, dict) and isinstance(chars.get("total"), int | float):
        return max(1, int(chars["total"]) // 4), None
    return max(1, int(dataset.size_bytes or 0) // 4), None


def dataset_tokens(dataset: Dataset, model: Model) -> int:
    """Tokens in the whole dataset with this base model's tokenizer when known, else a characters/4 guess."""
    return token_profile(dataset, model)[0]


def _device() -> str:
    return "cuda" if Path("/proc/driver/nvidia/version").exists() else "cpu"


def _estimate(config: training_config.TrainingConfig, spec: BaseModelSpec, dataset: Dataset,
              model: Model, settings: Settings, device: str
              ) -> tuple[training_estimate.Estimate, training_estimate.Fit]:
    """What the run will do, with the trainer's rules: each example cut to ``max_seq_length``, one pass over the
    training split per epoch, the run's ``train_tokens`` = that pass's tokens × the passes its steps make; and
    whether its peak memory fits the worker's device (``fit``: a warning with memory savers when it does not —
    launching is not refused, the estimate is within about 25 %)."""
    train_rows, _ = split_rows(int(dataset.rows or 0), config.eval_split)
    tokens, longest = token_profile(dataset, model)
    stats = dataset.stats or {}
    histogram = stats.get("histogram") if stats.get("histogram_unit") == "tokens" else None
    rows = int(dataset.rows or 0)
    cut = training_config.cut_tokens(tokens, rows, config.max_seq_length, longest=longest, histogram=histogram)
    train_tokens = int(cut * train_rows / rows) if rows else cut
    longest = min(longest, config.max_seq_length) if longest else None
    planned = training_estimate.estimate(config, spec, train_rows=train_rows, train_tokens=train_tokens,
                                         device=device, longest=longest)
    fit = training_estimate.check_fit(config, spec, planned.peak_memory_bytes,
                                      device_memory_bytes=devices.device_memory_bytes(settings, device),
                                      train_rows=train_rows, train_tokens=train_tokens, device=device,
                                      longest=longest)
    return planned, fit


def estimate(session: Session, settings: Settings, user: User, payload: EstimateRequest) -> EstimateOut:
    model, parent = _base_and_parent(session, user, payload.base_model, payload.parent_model_id)
    dataset = _dataset(session, user, payload.dataset_id)
    spec = _spec(model)
    overrides = forks.fork_overrides(session, settings, parent, spec, payload.config) if parent else payload.config
    config = resolve_config(payload.preset, overrides, spec)
    check_machine(config, settings)
    result, fit = _estimate(config, spec, dataset, model, settings, machine(settings).device)
    return EstimateOut(**result.as_dict(), **fit.as_dict(), config=config.model_dump(mode="json"))


# --- launching --------------------------------------------------------------------------------------------------

def create_run(session: Session, settings: Settings, user: User, payload: RunCreate,
               idempotency_key: str | None = None, *, priority: int = 0) -> TrainingRun:
    """Validate, then write the run and its job together. The same Idempotency-Key returns the first run.
    ``priority`` orders the job among the queued ones (higher first; the hub demo's runs queue below zero)."""
    if idempotency_key is not None:
        existing_job = jobs_repo.by_idempotency_key(session, user.id, idempotency_key)
        if existing_job is not None:
            return _run_for_key(session, existing_job)
    model, parent = _base_and_parent(session, user, payload.base_model, payload.parent_model_id)
    dataset = _dataset(session, user, payload.dataset_id)
    spec = _spec(model)
    if payload.preset is None and payload.mode == "guided" and not payload.config:
        payload = payload.model_copy(update={"preset": "quick"})
    overrides = payload.config
    if parent is not None:  # a fork: the parent's adapter must be here, and its shape is kept
        forks.check_parent_adapter(settings, parent)
        overrides = forks.fork_overrides(session, settings, parent, spec, payload.config)
    config = resolve_config(payload.preset, overrides, spec)
    check_machine(config, settings)
    available, reason = bases.availability(settings, model)
    if not available:
        raise ValidationFailed(f"'{model.name}' cannot be trained on right now: {reason}", code="base_unavailable")
    if not dataset.rows:
        raise ValidationFailed(f"dataset '{dataset.name}' has no rows", code="empty_dataset")
    # a run that may not fit is warned, not refused
    planned, fit = _estimate(config, spec, dataset, model, settings, machine(settings).device)
    job, created = jobs_repo.insert(session, kind=JobKind.TRAIN.value, payload={}, owner_id=user.id,
                                    idempotency_key=idempotency_key, max_attempts=TRAIN_MAX_ATTEMPTS,
                                    priority=priority)
    if not created:  # a concurrent request with the same key won
        return _run_for_key(session, job)
    name = (payload.name or "").strip() or f"{model.name} on {dataset.name}"
    run = repo.insert_run(session, {
        "owner_id": user.id, "job_id": job.id, "name": name[:200], "base_model_id": model.id,
        "parent_model_id": parent.id if parent else None, "dataset_id": dataset.id,
        "dataset_hash": dataset.content_hash, "mode": payload.mode, "preset": payload.preset,
        "config": config.model_dump(mode="json"), "status": RunStatus.QUEUED.value, "loss_curve_data": [],
        "early_stopping": [], "environment": {}, "total_steps": planned.steps, "created_at": utcnow(),
        "estimate": {**planned.as_dict(), "fits": fit.fits, "device_memory_bytes": fit.device_memory_bytes,
                     "note": fit.note}})
    job.payload = {"run_id": run.id}
    session.flush()
    return run


def _run_for_key(session: Session, job: Job) -> TrainingRun:
    run = repo.run_by_job(session, job.id) if job.kind == JobKind.TRAIN.value else None
    if run is None:
        raise ConflictError("this Idempotency-Key was already used for a different request; use a new key",
                            code="idempotency_key_reused")
    return run


# --- reading ----------------------------------------------------------------------------------------------------

def get_run(session: Session, user: User, run_id: int) -> TrainingRun:
    run = repo.get_owned_run(session, user.id, run_id)
    if run is None:
        raise NotFoundError(f"run {run_id} not found")
    return run


def effective_status(run: TrainingRun, job: Job | None) -> str:
    """A run row still open mirrors its job while the job is queued or running (e.g. re-queued after its
    worker was lost, before any worker wrote to the run again)."""
    if run.status in FINAL_RUN or job is None:
        return run.status
    if job.status in (JobStatus.QUEUED.value, JobStatus.RUNNING.value):
        return job.status
    return run.status


def _summary_fields(run: TrainingRun, base: Model | None, dataset: Dataset | None, job: Job | None) -> dict:
    curve = run.loss_curve_data or []
    return {
        "id": run.id, "name": run.name, "status": effective_status(run, job),
        "training_outcome": run.training_outcome, "failure_category": run.failure_category, "mode": run.mode,
        "preset": run.preset, "source": run.source or "modelmate",
        "base_model": ModelRef(id=base.id, name=base.name, key=(base.hub_info or {}).get("key")) if base else None,
        "dataset": DatasetRef(id=dataset.id, name=dataset.name, content_hash=run.dataset_hash or dataset.content_hash,
                              rows=dataset.rows, deleted=dataset.deleted_at is not None) if dataset else None,
        "total_steps": run.total_steps, "current_step": curve[-1].get("step") if curve else None,
        "progress": job.progress if job is not None else None, "final_loss": run.final_loss,
        "final_eval_loss": run.final_eval_loss, "output_model_id": run.output_model_id,
        "created_at": run.created_at, "started_at": run.started_at, "finished_at": run.finished_at}


def artifact_files(settings: Settings, run: TrainingRun) -> list[str]:
    """Names of the files of the run's stored adapter (none until it was completely stored, at the run's end)."""
    if run.status in (RunStatus.QUEUED.value, RunStatus.RUNNING.value):
        return []
    files = adapters.stored_files(settings, run.artifact_uri)
    return sorted(str(f["path"]) for f in files or [] if "/" not in str(f["path"]))


def run_evaluation(session: Session, run: TrainingRun) -> RunEvaluation | None:
    """The automatic evaluation of the run's model, in the words the run page shows."""
    found = repo.evaluation_of_run(session, run)
    if found is None:
        return None
    evaluation, job = found
    return evaluation_state(evaluation, job)


def evaluation_state(evaluation: Evaluation, job: Job | None) -> RunEvaluation:
    finished = {EvaluationStatus.FINAL: EvaluationState.DONE, EvaluationStatus.PARTIAL: EvaluationState.PARTIAL,
                EvaluationStatus.FAILED: EvaluationState.FAILED}
    state: EvaluationState
    if evaluation.status in finished:
        state = finished[EvaluationStatus(evaluation.status)]
    elif job is None or job.status in (JobStatus.FAILED.value, JobStatus.CANCELLED.value):
        state = EvaluationState.FAILED
    elif job.status == JobStatus.QUEUED.value:
        state = EvaluationState.PAUSED if job_queue.paused(job) else EvaluationState.QUEUED
    else:
        state = EvaluationState.RUNNING
    error = (evaluation.error or {}).get("message") if evaluation.error else None
    domains = [str(d) for d in (evaluation.settings or {}).get("domains") or []]
    return RunEvaluation(id=evaluation.id, model_id=evaluation.model_id, state=state, domains=domains,
                         all_domains=bool(domains) and set(domains) >= set(suites.DOMAINS),
                         progress=1.0 if state in finished.values() else (job.progress if job else None),
                         progress_message=job.progress_message if job is not None and state != EvaluationState.DONE
                         else None,
                         tasks=len(evaluation.tasks or []), error=error)


def run_out(session: Session, settings: Settings, run: TrainingRun) -> RunOut:
    models, datasets, jobs = repo.related(session, [run])
    base, dataset, job = models.get(run.base_model_id), datasets.get(run.dataset_id or 0), jobs.get(run.job_id or 0)
    error = None
    if run.error:
        error = RunError(type=run.error.get("type"), message=run.error.get("message"))
    return RunOut(
        **_summary_fields(run, base, dataset, job), failure_message=run.failure_message, config=run.config or {},
        parent_model_id=run.parent_model_id,
        job=RunJob(id=job.id, status=job.status, progress=job.progress, progress_message=job.progress_message,
                   attempts=job.attempts, max_attempts=job.max_attempts,
                   cancel_requested=job.cancel_requested) if job else None,
        loss_curve=[CurvePoint(**p) for p in run.loss_curve_data or []], early_stopping=run.early_stopping or [],
        estimate=run.estimate or {}, tokens_per_second=run.tokens_per_second, train_tokens=run.train_tokens,
        peak_memory_bytes=run.peak_memory_bytes, train_seconds=run.train_seconds, environment=run.environment or {},
        error=error, artifacts=artifact_files(settings, run),
        queue=job_queue.queue_info(session, job, run.owner_id) if job and job.status == JobStatus.QUEUED.value
        else None,
        evaluation=run_evaluation(session, run) if run.output_model_id is not None else None,
        contamination=contamination.training_contamination(
            session, contamination.run_datasets(session, run.dataset_id, run.parent_model_id)))


def snapshot(db: Database, settings: Settings, owner_id: int, run_id: int) -> RunOut | None:
    """The run as its owner sees it now, in a short session of its own (for event streams)."""
    with db.session() as session:
        run = repo.get_owned_run(session, owner_id, run_id)
        return run_out(session, settings, run) if run is not None else None


def list_runs(session: Session, user: User, *, status: RunStatus | None, limit: int, offset: int) -> RunPage:
    rows, total = repo.list_owned_runs(session, user.id, status=status.value if status else None, limit=limit,
                                       offset=offset)
    models, datasets, jobs = repo.related(session, rows)
    items = [RunSummary(**_summary_fields(r, models.get(r.base_model_id), datasets.get(r.dataset_id or 0),
                                          jobs.get(r.job_id or 0))) for r in rows]
    return RunPage(items=items, total=total, limit=limit, offset=offset)


def run_dir(settings: Settings, run_id: int) -> Path:
    return settings.artifacts_dir / "runs" / str(int(run_id))


def _open_log(settings: Settings, run_id: int):
    """The run's log: this machine's copy when it has one (its worker ran it), else the copy in the store (another
    machine's worker uploads it as training goes)."""
    path = run_dir(settings, run_id) / "train.log"
    if path.is_file() or settings.store_is_local:
        return open(path, "rb")
    try:
        return artifact_store(settings).open(adapters.run_log_key(run_id))
    except StoreUnavailable as exc:
        raise FileNotFoundError(str(exc)) from exc


def read_log(settings: Settings, run_id: int, max_bytes: int = LOG_TAIL_BYTES) -> RunLog:
    try:
        with _open_log(settings, run_id) as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - max_bytes))
            data = fh.read()
    except FileNotFoundError:
        return RunLog(text="")
    truncated = size > max_bytes
    if truncated:  # start at a line boundary
        cut = data.find(b"\n")
        data = data[cut + 1:] if 0 <= cut < len(data) - 1 else data
    return RunLog(text=data.decode("utf-8", "replace"), truncated=truncated)


# --- cancelling -------------------------------------------------------------------------------------------------

def cancel_run(session: Session, user: User, run_id: int) -> TrainingRun:
    """Idempotent at every stage: queued → cancelled now; running → the worker stops the process group (the run
    keeps its curve and a partial adapter); finished → unchanged."""
    run = get_run(session, user, run_id)
    if run.status in FINAL_RUN:
        return run
    job = repo.lock_job(session, run.job_id) if run.job_id else None
    if job is not None:
        jobs_repo.request_cancel(session, job)
    if job is None or job.status == JobStatus.CANCELLED.value:
        mark_cancelled(run, "Cancelled before training started." if not run.loss_curve_data
                       else "Cancelled; the curve so far is kept.")
    session.flush()
    return run


def mark_cancelled(run: TrainingRun, message: str) -> None:
    run.status = RunStatus.CANCELLED.value
    run.failure_category = "cancelled"
    run.failure_message = message
    if run.loss_curve_data and run.training_outcome is None:
        run.training_outcome = "partial"
    run.finished_at = run.finished_at or utcnow()


# --- after training -----------------------------------------------------------------------------------------------

def register_output_model(session: Session, run: TrainingRun, *, artifact_uri: str, toy: bool) -> Model:
    """The adapter as a private catalog model of the run's owner (kind finetuned, base and parent recorded)."""
    if run.output_model_id:
        existing = repo.model_by_id(session, run.output_model_id)
        if existing is not None:
            return existing
    base = repo.model_by_id(session, run.base_model_id)
    owner = session.get(User, run.owner_id)
    developer = (owner.username if owner is not None else None) or f"user {run.owner_id}"
    name = (run.name or f"run {run.id}")[:180]
    candidate, n = name, 1
    while repo.model_name_taken(session, normalise_key(candidate), normalise_key(developer)):
        n += 1
        candidate = f"{name} ({n})"
    toy_note = " Trained from the TOY model: a pipeline demonstration, not a useful model." if toy else ""
    slug = dedupe(slugify(candidate), lambda s: slug_taken(session, run.owner_id, s))
    model = repo.add_model(session, {
        "name": candidate, "slug": slug, "developer": developer, "name_key": normalise_key(candidate),
        "developer_key": normalise_key(developer), "model_type": "LLM", "parameters": base.parameters if base else None,
        "license": base.license if base else None, "kind": ModelKind.FINETUNED.value, "visibility": "private",
        "owner_id": run.owner_id, "base_model_id": run.base_model_id, "parent_model_id": run.parent_model_id,
        "description": f"LoRA adapter fine-tuned by ModelMate run {run.id} from {base.name if base else 'a base'}."
                       + toy_note,
        "source_links": [], "benchmark_scores": {}, "metadata_extra": {},
        "hub_info": {"run_id": run.id, "artifact_uri": artifact_uri, "adapter": True, "toy": toy}})
    run.output_model_id = model.id
    return model


def reconcile_runs(db: Database) -> int:
    """Give every open run the status its job says (at start, and after a worker reclaimed expired leases):
    job queued → run queued; failed → run failed (``worker_lost`` when the worker vanished); cancelled → run
    cancelled; a finished job or a missing one with an open run → failed. Returns the runs changed."""
    changed = 0
    with db.session() as session:
        repo.lock_for_reconcile(session)
        for run, job in repo.open_runs_with_jobs(session):
            if job is None:
                _mark_failed(run, "crashed", "The run's job record is gone; it cannot continue.")
            elif job.status == JobStatus.QUEUED.value:
                if run.status == RunStatus.QUEUED.value:
                    continue
                run.status = RunStatus.QUEUED.value
            elif job.status == JobStatus.RUNNING.value:
                continue
            elif job.status == JobStatus.CANCELLED.value:
                mark_cancelled(run, "Cancelled.")
            elif job.status == JobStatus.FAILED.value:
                error = job.error or {}
                lost = error.get("type") == "worker_lost"
                _mark_failed(run, "worker_lost" if lost else "crashed",
                             ("The worker running this training stopped responding and no attempts are left "
                              "(worker lost)." if lost else f"The training job failed: {error.get('message')}"))
            else:  # succeeded without writing the run: should not happen, but never leave it open
                _mark_failed(run, "crashed", "The training job ended without recording the run's result.")
            changed += 1
    return changed


def _mark_failed(run: TrainingRun, category: str, message: str) -> None:
    run.status = RunStatus.FAILED.value
    run.training_outcome = run.training_outcome or "failure"
    run.failure_category = category
    run.failure_message = message
    run.finished_at = run.finished_at or utcnow()
