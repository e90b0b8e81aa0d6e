"""Job handler ``train``: payload ``{"run_id": n}``. Runs one fine-tuning run in a child process group.

One attempt: write ``artifacts/runs/<id>/spec.json`` (the dataset is hard-linked there from its content-addressed
file, so deleting the dataset meanwhile changes nothing), start the trainer, fold its events into the run's curve
and write it (with the job's progress) at most about once a second, each write fenced by the job's fencing token.
Cancel → SIGTERM to the group (the trainer saves a partial adapter), SIGKILL after a grace period. Lease lost → the
group is killed at once and nothing more is written. A later attempt resumes from the newest complete checkpoint
in the same directory; the curve up to that step is kept. Training failures are permanent (no retry).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from modelmate.datasets.service import dataset_key, dataset_path
from modelmate.db.base import utcnow
from modelmate.enums import JobKind, RunStatus
from modelmate.finetune import adapters, executors, forks, hf_pull, service
from modelmate.finetune import base_catalog as bases
from modelmate.finetune import repository as repo
from modelmate.finetune.runner import (
    ENTRY_MODULE,
    ChildProcess,
    CurveState,
    classify_crash,
    kill_leftover_child,
    memory_limit_bytes,
)
from modelmate.jobs import outbox, registry
from modelmate.jobs import repository as jobs_repo
from modelmate.jobs.registry import JobCancelled, JobContext, LeaseLost, PermanentJobError
from modelmate.jsonutil import write_json_atomic
from modelmate.models import Dataset, TrainingRun
from modelmate.storage import StoreError, staging
from modelmate.storage.artifacts import ArtifactMissing, StoreUnavailable, artifact_store
from modelmate.storage.cache import local_cache
from modelmate.storage.private import FILE_MODE, private_dir
from modelmate.training.diagnose import classify

log = logging.getLogger("modelmate.finetune")

POLL_S = 0.25
FLUSH_MIN_S = 1.0


INT_COLUMNS = {"train_tokens", "peak_memory_bytes", "total_steps"}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


class _DownloadStopped(Exception):
    """Raised from the download's progress callback: the run was cancelled, or the worker is stopping."""


class RemoteLost(Exception):
    """The Ray worker or node running the attempt was lost (or could not reach the store): retried, not a failure
    of the run."""


class RunFailed(Exception):
    """Preparing the run failed in a way retrying cannot fix (missing files, full disk...)."""

    def __init__(self, category: str, message: str, error: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.category = category
        self.message = message
        self.error = error or {"type": "RunFailed", "message": message}


@dataclass
class Plan:
    run_dir: Path
    spec_path: Path
    log_path: Path
    adapter_dir: Path
    toy: bool
    remote: executors.RemoteSpec | None = None  # the spec of a Ray task (MODELMATE_EXECUTOR=ray)


def dataset_file(settings, dataset: Dataset | None, content_hash: str | None) -> Path | None:
    """The immutable, content-addressed file of a dataset (also after the dataset was deleted), on this machine
    (fetched into its cache from a remote store). Raises StoreUnavailable when the store cannot be reached."""
    if dataset is not None:
        with contextlib.suppress(StoreError, ArtifactMissing):
            return dataset_path(settings, dataset)
    if content_hash:
        with contextlib.suppress(ArtifactMissing, ValueError):
            return local_cache(settings).file(artifact_store(settings), dataset_key(content_hash))
    return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.iterdir() if p.is_file())


def link_dataset(source: Path, target: Path, content_hash: str | None) -> None:
    """Hard-link (or copy) the dataset into the run directory once, checking it against its content hash."""
    if target.is_file():
        return
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    try:
        os.link(source, tmp)
    except OSError:
        import shutil

        shutil.copyfile(source, tmp)
        os.chmod(tmp, FILE_MODE)
    if content_hash and _sha256(tmp) != content_hash:
        tmp.unlink()
        raise RunFailed("invalid_data", "The dataset file does not match its content hash; it may be corrupted.")
    os.replace(tmp, target)


class TrainingTask:
    def __init__(self, ctx: JobContext) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.db = ctx.db
        try:
            self.run_id = int(ctx.payload["run_id"])
        except (KeyError, TypeError, ValueError):
            raise PermanentJobError(f"bad train payload: {ctx.payload!r}") from None
        self.state = CurveState()
        self.checkpoint_prefix = adapters.run_checkpoints_key(self.run_id)
        self.child: ChildProcess | None = None
        self._download: tuple[float, str] | None = None  # (progress, message) while the base model downloads

    # --- fenced writes -----------------------------------------------------------------------------------------

    def _write(self, values: dict[str, Any], *, final=None) -> bool:
        """One fenced transaction: heartbeat + run values (+ ``final(session, run)``). False: lease lost."""
        progress, message = self._download or (self.state.progress, self.state.progress_message())
        with self.db.session() as session:
            ok, cancel = repo.fenced_run_update(
                session, job_id=self.ctx.job_id, token=self.ctx.fencing_token, lease_s=self.ctx.lease_s,
                run_id=self.run_id, values=values, progress=progress, message=message)
            if ok and final is not None:
                run = repo.get_run(session, self.run_id)
                final(session, run)
        if not ok:
            self.ctx.lost.set()
        self._cancel = cancel
        return ok

    def _curve_values(self) -> dict[str, Any]:
        values: dict[str, Any] = {"loss_curve_data": [dict(p) for p in self.state.curve],
                                  "early_stopping": list(self.state.early_stopping)}
        if self.state.total_steps:
            values["total_steps"] = self.state.total_steps
        if self.state.environment:
            values["environment"] = self.state.environment
        return values

    def _fail(self, category: str, message: str, error: dict[str, Any] | None) -> NoReturn:
        def final(_session, run: TrainingRun) -> None:
            run.status = RunStatus.FAILED.value
            run.training_outcome = "failure"
            run.failure_category = category
            run.failure_message = message
            run.error = error
            run.finished_at = utcnow()

        if not self._write(self._curve_values(), final=final):
            raise LeaseLost(f"job {self.ctx.job_id}: lease lost")
        self.ctx.log(f"attempt {self.ctx.attempt}: failed ({category}): {message}")
        raise PermanentJobError(message)

    # --- the attempt -------------------------------------------------------------------------------------------

    def run(self) -> dict[str, Any] | None:
        try:
            plan = self._prepare()
        except RunFailed as exc:
            self._fail(exc.category, exc.message, exc.error)
        if plan is None:
            return {"run_id": self.run_id, "already_finished": True}
        try:
            return self._train(plan)
        finally:
            if self.child is not None and self.child.proc is not None and self.child.proc.returncode is None:
                self.child.signal_group(signal.SIGKILL)  # an error of ours: never leave the trainer behind
                self.child.finish(eof_wait_s=0)

    def _prepare(self) -> Plan | None:
        settings = self.settings
        with self.db.session() as session:
            run = repo.get_run(session, self.run_id)
            if run is None or run.job_id != self.ctx.job_id:
                raise PermanentJobError(f"run {self.run_id} does not belong to job {self.ctx.job_id}")
            if run.status == RunStatus.SUCCEEDED.value:
                return None
            if run.status == RunStatus.FAILED.value:
                raise PermanentJobError(run.failure_message or "the run failed")
            if run.status == RunStatus.CANCELLED.value:
                raise JobCancelled(f"run {self.run_id} was cancelled")
            self.state.curve = [dict(p) for p in run.loss_curve_data or []]
            self.state.early_stopping = list(run.early_stopping or [])
            self.state.total_steps = run.total_steps
            base = repo.model_by_id(session, run.base_model_id)
            dataset = repo.dataset_by_id(session, run.dataset_id) if run.dataset_id else None
            spec = bases.spec_from_model(base) if base is not None else None
            if base is None or spec is None:
                raise RunFailed("crashed", "The run's base model is no longer in the catalog.")
            available, reason = bases.availability(settings, base)
            if not available:
                raise RunFailed("crashed", f"'{base.name}' cannot be trained on: {reason}")
            source = bases.model_source(settings, base)
            download = bases.pending_download(settings, base)
            on_ray = executors.uses_ray(settings)
            data_src = dataset_file(settings, dataset, run.dataset_hash) if not on_ray else None
            config = dict(run.config or {})
            dataset_name = dataset.name if dataset is not None else f"dataset {run.dataset_id}"
            card = {
                "name": run.name or f"run {run.id}", "base_model": base.hf_repo_id or base.name,
                "datasets": [f"{dataset_name} (sha256:{(run.dataset_hash or '')[:16]})"],
                "license": base.license or "other", "description": f"LoRA adapter trained by ModelMate run {run.id}.",
                "tags": ["modelmate", "lora", str(spec.key)] + (["toy"] if spec.toy else []), "toy": spec.toy}
            dataset_hash = run.dataset_hash
            parent = repo.model_by_id(session, run.parent_model_id) if run.parent_model_id else None
            parent_source = adapters.adapter_dir(settings, parent) if parent is not None and not on_ray else None
            parent_key = adapters.key_or_path(settings, adapters.adapter_uri(parent))[0] if parent else None
            parent_name = parent.name if parent is not None else None
            base_key = bases.stored_key(spec.key) if on_ray and bases.stored_available(settings, base) else None
            estimate = dict(run.estimate or {})
        if download and not on_ray:  # a Hugging Face model not here yet: pulled here, the child gets the snapshot
            source = str(self._pull_base(download))
        run_dir = service.run_dir(settings, self.run_id)
        plan = Plan(run_dir=run_dir, spec_path=run_dir / "spec.json", log_path=run_dir / "train.log",
                    adapter_dir=run_dir / "adapter", toy=spec.toy)
        try:
            private_dir(run_dir)
            stored_data = bool(on_ray and dataset_hash and artifact_store(settings).exists(dataset_key(dataset_hash)))
            if data_src is None and not stored_data and not (run_dir / "dataset.jsonl").is_file():
                raise RunFailed("invalid_data", "The dataset's stored file is missing; upload the dataset again.")
            if data_src is not None and not on_ray:
                link_dataset(data_src, run_dir / "dataset.jsonl", dataset_hash)
            init_adapter = None
            if parent_name is not None and not on_ray:  # a fork: train on from (a copy of) the parent's adapter
                try:
                    init_adapter = str(forks.copy_parent_adapter(parent_source, run_dir))
                except FileNotFoundError as exc:
                    raise RunFailed("crashed", f"The adapter of the parent model '{parent_name}' is missing on "
                                               f"this server ({exc}); a fork cannot start without it.") from None
            spec_json = {
                "config": config, "base_model": source, "chat_template": spec.chat_template or None,
                "dataset_path": str(run_dir / "dataset.jsonl"), "eval_split": config.get("eval_split", 0.1),
                "seed": config.get("seed", 42), "output_dir": str(plan.adapter_dir),
                "checkpoint_dir": str(run_dir / "checkpoints"),
                "target_modules": config.get("target_modules") or list(spec.default_target_modules),
                "model_card": card, "threads": settings.train_threads, "resume": True,
                "init_adapter": init_adapter}
            if int(config.get("workers") or 1) > 1 and settings.ray_address:  # Ray Train joins this cluster
                spec_json["ray_address"] = settings.ray_address
            write_json_atomic(plan.spec_path, spec_json)
            if on_ray:
                if parent_name is not None and parent_key is None:
                    raise RunFailed("crashed", f"The adapter of the parent model '{parent_name}' is not in the "
                                               "artifact store; a fork cannot start without it.")
                plan.remote = executors.train_remote_spec(settings, spec_json, run_id=self.run_id,
                                                          dataset_hash=dataset_hash, base_key=base_key,
                                                          parent_key=parent_key, estimate=estimate)
        except OSError as exc:
            raise RunFailed("crashed", f"Cannot write the run's files in {run_dir}: {exc.strerror or exc}. "
                                       "Check free disk space and permissions of the data directory.",
                            {"type": type(exc).__name__, "message": str(exc)}) from None
        first = self.ctx.attempt == 1

        if not settings.store_is_local and not on_ray:  # a new attempt elsewhere resumes from the stored checkpoint
            restored = staging.restore_checkpoint(artifact_store(settings), self.checkpoint_prefix,
                                                  run_dir / "checkpoints")
            if restored:
                self.ctx.log(f"attempt {self.ctx.attempt}: fetched the checkpoint of step {restored} from the store")

        def final(_session, run: TrainingRun) -> None:
            run.status = RunStatus.RUNNING.value
            run.started_at = run.started_at or utcnow()

        if not self._write({}, final=final):
            raise LeaseLost(f"job {self.ctx.job_id}: lease lost")
        if not first:
            self.ctx.log(f"attempt {self.ctx.attempt}: resuming run {self.run_id} from its last checkpoint")
        return plan

    def _pull_base(self, repo_id: str) -> Path:
        """Download the base model in this (parent) process; the job's progress and message show it ("downloading
        org/name: 1.2 of 2.5 GB, about 40 s left"), each write fenced and renewing the lease. Cancel, a lost lease or
        a stopping worker stop it; what was downloaded stays in the cache and a later pull resumes from there."""
        ctx = self.ctx
        last = 0.0

        def on_progress(event: dict[str, Any]) -> None:
            nonlocal last
            if ctx.lost.is_set():
                raise LeaseLost(f"job {ctx.job_id}: lease lost")
            if ctx.shutdown.is_set():
                raise _DownloadStopped("shutdown")
            now = time.monotonic()
            if now - last < FLUSH_MIN_S and event.get("phase") != "done":
                return
            last = now
            self._download = (hf_pull.fraction(event), hf_pull.describe(event))
            if not self._write({}):
                raise LeaseLost(f"job {ctx.job_id}: lease lost")
            if self._cancel:
                raise _DownloadStopped("cancel")

        ctx.log(f"attempt {ctx.attempt}: downloading the base model {repo_id} from {self.settings.hf_endpoint}")
        try:
            path = hf_pull.pull(self.settings, repo_id, on_progress=on_progress)
        except hf_pull.PullError as exc:
            self._download = None
            raise RunFailed("crashed", f"Cannot download the base model {repo_id}: {exc.message}",
                            {"type": "PullError", "code": exc.code, "message": exc.message}) from None
        except _DownloadStopped as stop:
            self._download = None
            if str(stop) == "shutdown":
                self._hand_back()
            self._finish_cancelled(f"Cancelled while downloading the base model {repo_id}; nothing was trained.")
        finally:
            self._download = None
        ctx.log(f"attempt {ctx.attempt}: downloaded {repo_id} ({hf_pull.human_bytes(_size(path))})")
        return path

    def _train(self, plan: Plan) -> dict[str, Any]:
        ctx = self.ctx
        if kill_leftover_child(plan.run_dir):
            log.warning("run %d: killed a training process left by an earlier attempt", self.run_id)
        extra = {"HF_ENDPOINT": self.settings.hf_endpoint, "MODELMATE_PARENT_PID": str(os.getpid())}
        if self.settings.hf_token:
            extra["HF_TOKEN"] = self.settings.hf_token
        try:
            child = self.child = executors.start(self.settings, entry_module=ENTRY_MODULE, spec_path=plan.spec_path,
                                                 cwd=plan.run_dir, log_path=plan.log_path, env=extra,
                                                 remote=plan.remote)
            where = f"Ray task {plan.remote.name}" if plan.remote else f"training process {child.proc.pid}"
            child.log(f"--- attempt {ctx.attempt} of job {ctx.job_id}: {where} started at "
                      f"{utcnow().isoformat(timespec='seconds')}")
            child.record(plan.run_dir, ctx.attempt)
        except ConnectionError as exc:  # the Ray cluster cannot be reached right now: a later attempt may
            raise RemoteLost(f"Cannot reach the Ray cluster: {exc}") from None
        except OSError as exc:
            raise RunFailed("crashed", f"Cannot start the training process: {exc}") from None
        stop_reason = self._supervise(child, plan)
        code = child.finish()
        checkpoint_before = self.state.last_checkpoint
        for event in child.drain(0):
            self.state.apply(event)
        self._sync_checkpoint(plan, checkpoint_before)  # the last one, announced just before the trainer exited
        return self._conclude(plan, code, stop_reason, child.peak_rss)

    def _sync_checkpoint(self, plan: Plan, before: int | None) -> None:
        """A remote store: upload the checkpoint the trainer just wrote, so that a new attempt on any machine resumes
        from it (a local store is the run folder itself: nothing to do)."""
        step = self.state.last_checkpoint
        if self.settings.store_is_local or plan.remote is not None or step is None or step == before:
            return  # a Ray node uploads its checkpoints itself
        try:
            staging.upload_checkpoint(artifact_store(self.settings), plan.run_dir / "checkpoints", step,
                                      self.checkpoint_prefix)
        except FileNotFoundError:  # the trainer pruned it meanwhile: the next one is uploaded
            pass
        except StoreUnavailable as exc:  # training goes on; a resume elsewhere would start from an older one
            log.warning("run %d: checkpoint %d not uploaded: %s", self.run_id, step, exc)

    def _upload_log(self, plan: Plan) -> None:
        if not self.settings.store_is_local and plan.log_path.is_file():
            with contextlib.suppress(Exception):  # the log is a convenience: never fail a run over it
                artifact_store(self.settings).put_file(plan.log_path, adapters.run_log_key(self.run_id))

    def _supervise(self, child: ChildProcess, plan: Plan) -> str | None:
        """Wait for the child, writing the curve and checking cancel/lease. Returns why we stopped it (or None)."""
        ctx = self.ctx
        stop_reason: str | None = None
        kill_at: float | None = None
        last_flush = last_sample = 0.0
        self._cancel = False
        while True:
            resumed_before, checkpoint_before = self.state.resumed_from_step, self.state.last_checkpoint
            for event in child.drain(POLL_S):
                self.state.apply(event)
            self._sync_checkpoint(plan, checkpoint_before)
            if self.state.resumed_from_step and resumed_before is None:
                ctx.log(f"attempt {ctx.attempt}: resumed from the checkpoint at step {self.state.resumed_from_step}")
            now = time.monotonic()
            if ctx.lost.is_set():
                child.signal_group(signal.SIGKILL)
                child.finish(eof_wait_s=0)
                raise LeaseLost(f"job {ctx.job_id}: lease lost; training process stopped")
            if ctx.shutdown.is_set() and stop_reason is None:
                stop_reason = "shutdown"  # checkpoints are atomic: a later attempt resumes from the last one
                child.signal_group(signal.SIGKILL)
            if now - last_sample >= 1.0:
                child.sample_memory()
                last_sample = now
            if child.exited():
                return stop_reason
            interval = max(FLUSH_MIN_S, len(self.state.curve) / 2000)
            if now - last_flush >= interval and stop_reason != "shutdown":
                values = self._curve_values() if self.state.dirty else {}
                self.state.dirty = False
                if not self._write(values):
                    continue  # ctx.lost is set: stopped at the top of the loop
                last_flush = now
                if self._cancel and stop_reason is None:
                    stop_reason = "cancel"
                    child.log("--- cancel requested: stopping the training process")
                    child.signal_group(signal.SIGTERM)
                    kill_at = now + self.settings.train_stop_grace_s
            if kill_at is not None and now >= kill_at:
                child.log("--- the training process did not stop in time: killed")
                child.signal_group(signal.SIGKILL)
                kill_at = float("inf")

    def _conclude(self, plan: Plan, code: int, stop_reason: str | None, peak_rss: int) -> dict[str, Any]:
        ctx = self.ctx
        result = self.state.result
        if stop_reason == "shutdown":
            self._hand_back()
        if result is None:
            if stop_reason == "cancel":
                return self._finish_cancelled("Cancelled; the training process was stopped. The curve so far is kept.")
            if getattr(self.child, "retryable", False):  # a lost Ray worker or node, an unreachable store
                error = getattr(self.child, "error", None) or {}
                raise RemoteLost(f"The Ray task of run {self.run_id} ended without a result "
                                 f"({error.get('type', 'worker lost')}: {str(error.get('message', ''))[:300]}); "
                                 "the job is retried and resumes from the last checkpoint in the store.")
            limit = getattr(self.child, "memory_limit", 0) or memory_limit_bytes()
            crash, message = classify_crash(code, peak_rss, limit)
            tail = service.read_log(self.settings, self.run_id, max_bytes=4000).text
            kind = "OutOfMemory" if crash == "out_of_memory" else "ProcessCrashed"
            self._fail(crash, message, {"type": kind, "message": message, "traceback": tail})
        outcome = result.get("outcome")
        category = result.get("failure_category")
        message = str(result.get("message") or "")[:4000]
        if outcome == "partial" and category == "cancelled":
            sealed = self._seal_adapter(plan)
            return self._finish_cancelled(message or "Cancelled; a partial adapter was saved.", result,
                                          adapter_key=adapters.run_adapter_key(self.run_id) if sealed else None)
        if outcome not in ("success", "partial"):
            error = result.get("error") if isinstance(result.get("error"), dict) else None
            self._fail(category or "crashed", message or "Training failed.",
                       error or {"type": "TrainingFailed", "message": message})
        adapter_key = adapters.run_adapter_key(self.run_id)
        adapter_ok = self._seal_adapter(plan)
        self._upload_log(plan)
        registered: dict[str, Any] = {}

        def final(session, run: TrainingRun) -> None:
            self._apply_result(run, result)
            run.status = RunStatus.SUCCEEDED.value
            run.failure_message = None if outcome == "success" else message
            if adapter_ok:
                run.artifact_uri = adapter_key  # recorded once sealed in the store, never before
                model = service.register_output_model(session, run, artifact_uri=adapter_key, toy=plan.toy)
                registered["model_id"] = model.id
                # benchmarking queues the automatic evaluation (when enabled): recorded with the outcome
                registered["events"] = outbox.enqueue(session, "model_trained", job_id=ctx.job_id, model_id=model.id,
                                                      run_id=self.run_id, owner_id=ctx.owner_id)

        if not self._write(self._curve_values(), final=final):
            raise LeaseLost(f"job {ctx.job_id}: lease lost")
        ctx.log(f"attempt {ctx.attempt}: {outcome} after {result.get('steps')} steps")
        outbox.deliver(ctx.db, ctx.settings, registered.get("events", []))  # now; after a crash, a worker does
        return {"run_id": self.run_id, "outcome": outcome, "steps": result.get("steps"),
                "output_model_id": registered.get("model_id")}

    def _apply_result(self, run: TrainingRun, result: dict[str, Any]) -> None:
        run.training_outcome = result.get("outcome")
        # the trainer's category wins; else the curve's diagnosis (diverged / no_learning / overfitting)
        run.failure_category = classify(self.state.curve, run.training_outcome, result.get("failure_category"))
        error = result.get("error")
        run.error = error if isinstance(error, dict) else None
        if isinstance(result.get("environment"), dict) and result["environment"]:
            run.environment = result["environment"]
        for column, key in (("tokens_per_second", "tokens_per_second"), ("train_tokens", "train_tokens"),
                            ("peak_memory_bytes", "peak_memory_bytes"), ("train_seconds", "seconds"),
                            ("final_loss", "final_loss"), ("final_eval_loss", "final_eval_loss"),
                            ("total_steps", "total_steps")):
            value = _number(result.get(key))  # NaN/inf arrive as strings: they stay empty
            if value is not None:
                setattr(run, column, int(value) if column in INT_COLUMNS else value)
        run.finished_at = utcnow()

    def _seal_adapter(self, plan: Plan) -> bool:
        """The adapter is sealed in the store (a Ray node did it before reporting; here: sealed now, uploaded to a
        remote store) — True — or there is none. Raises StoreUnavailable: the attempt fails and is retried."""
        key = adapters.run_adapter_key(self.run_id)
        if plan.remote is not None:
            return artifact_store(self.settings).has_dir(key)
        if not (plan.adapter_dir / "adapter_model.safetensors").is_file():
            return False
        artifact_store(self.settings).put_dir(plan.adapter_dir, key)
        return True

    def _finish_cancelled(self, message: str, result: dict[str, Any] | None = None, *,
                          adapter_key: str | None = None) -> dict[str, Any]:
        def final(_session, run: TrainingRun) -> None:
            if result is not None:
                self._apply_result(run, result)
            if adapter_key is not None:
                run.artifact_uri = adapter_key  # the partial adapter, sealed in the store
            service.mark_cancelled(run, message)

        if not self._write(self._curve_values(), final=final):
            raise LeaseLost(f"job {self.ctx.job_id}: lease lost")
        self.ctx.log(f"attempt {self.ctx.attempt}: cancelled")
        raise JobCancelled(message)

    def _hand_back(self) -> None:
        """The worker is shutting down: put the job back in the queue now (a new attempt resumes from the last
        checkpoint) instead of waiting for the lease to expire."""
        with self.db.session() as session:
            job = jobs_repo.get(session, self.ctx.job_id)
            retry = job is not None and job.attempts < job.max_attempts

        def final(_s, run: TrainingRun) -> None:
            run.status = RunStatus.QUEUED.value if retry else RunStatus.FAILED.value
            if not retry:
                run.training_outcome = "failure"
                run.failure_category = "worker_lost"
                run.failure_message = "The worker stopped during training and no attempts are left."
                run.finished_at = utcnow()

        if self._write(self._curve_values(), final=final):
            with self.db.session() as session:
                jobs_repo.fail(session, self.ctx.job_id, self.ctx.fencing_token,
                               {"type": "worker_stopped", "message": "the worker stopped during training"},
                               retry_in_s=0)
        raise LeaseLost(f"job {self.ctx.job_id}: handed back (worker stopping)")


@registry.register(JobKind.TRAIN.value)
def run_train(ctx: JobContext) -> dict[str, Any] | None:
    return TrainingTask(ctx).run()


registry.on_reclaim(service.reconcile_runs)
