"""Job handler ``evaluate``: payload ``{"evaluation_id": n}``. Runs ``python -m modelmate.evaluation.entry`` in
its own process group (the fine-tuning :class:`~modelmate.finetune.runner.ChildProcess` machinery), reports the
job's progress per task, and writes the evaluation's rows, raw results and status (running → final / partial /
failed) — and, for a final evaluation only, the model's per-domain ``benchmark_scores``. Cancel kills the group;
a lost lease kills it and writes nothing; a child that dies without a result fails the evaluation.

Yielding: the child checkpoints every finished task (``checkpoint.json`` beside the spec) before it announces it.
Between tasks, an evaluation checks whether higher-priority work is waiting (a background evaluation of the hub
demo, while a user's run is queued); if so it stops its child and goes back to the queue (``JobYielded``), and the
next attempt resumes from the checkpoint without running the finished tasks again — same scores, as every task is
seeded on its own.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

from modelmate.benchmarking import repository as repo
from modelmate.benchmarking import service
from modelmate.enums import JobKind
from modelmate.finetune import executors, hf_pull
from modelmate.finetune.runner import ChildProcess, classify_crash, memory_limit_bytes
from modelmate.humanize import duration
from modelmate.jobs import outbox, registry
from modelmate.jobs import repository as jobs_repo
from modelmate.jobs.registry import EventDelivery, JobCancelled, JobContext, JobYielded, LeaseLost, PermanentJobError
from modelmate.jsonutil import write_json_atomic
from modelmate.storage import staging
from modelmate.storage.artifacts import ArtifactMissing, artifact_store
from modelmate.storage.private import private_dir

log = logging.getLogger("modelmate.benchmarking")

ENTRY_MODULE = "modelmate.evaluation.entry"
POLL_S = 0.25
FLUSH_S = 1.0


def evaluation_dir(settings, evaluation_id: int) -> Path:
    return settings.artifacts_dir / "evaluations" / str(evaluation_id)


class EvaluationTask:
    def __init__(self, ctx: JobContext) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        try:
            self.evaluation_id = int(ctx.payload["evaluation_id"])
        except (KeyError, TypeError, ValueError):
            raise PermanentJobError(f"bad evaluate payload: {ctx.payload!r}") from None
        self.progress = 0.0
        self.message = "starting"
        self.result: dict[str, Any] | None = None
        self.between_tasks: tuple[int, int] | None = None  # (tasks done, total) right after a task ended
        self.keys: tuple[str | None, str | None] | None = None  # (base, adapter) store keys for a Ray task

    # --- fenced writes ---------------------------------------------------------------------------------------------

    def _write(self, final=None) -> tuple[bool, bool]:
        """Heartbeat + progress (+ ``final(session, evaluation)``) in one transaction: ``(ok, cancel requested)``."""
        ctx = self.ctx
        with ctx.db.session() as session:
            ok = jobs_repo.heartbeat(session, ctx.job_id, ctx.fencing_token, lease_s=ctx.lease_s,
                                     progress=self.progress, message=self.message)
            cancel = ok and jobs_repo.cancel_requested(session, ctx.job_id)
            if ok and final is not None:
                final(session, repo.get_evaluation(session, self.evaluation_id))
        if not ok:
            ctx.lost.set()
            raise LeaseLost(f"job {ctx.job_id}: lease lost")
        return ok, cancel

    def _fail(self, kind: str, message: str, traceback: str | None = None) -> NoReturn:
        self._write(lambda _s, ev: service.fail(ev, kind, message, traceback))
        self.ctx.log(f"attempt {self.ctx.attempt}: evaluation failed: {message}")
        raise PermanentJobError(message)

    # --- the attempt -----------------------------------------------------------------------------------------------

    def _spec(self) -> dict[str, Any]:
        settings = self.settings
        with self.ctx.db.session() as session:
            evaluation = repo.get_evaluation(session, self.evaluation_id)
            if evaluation is None or evaluation.job_id != self.ctx.job_id:
                raise PermanentJobError(f"evaluation {self.evaluation_id} does not belong to job {self.ctx.job_id}")
            if evaluation.status != "running":
                return {}
            model = repo.get_model(session, evaluation.model_id)
            if model is None:
                raise PermanentJobError("the evaluated model is gone")
            values = dict(evaluation.settings or {})
            mode = evaluation.mode
            error: str | None
            try:
                source, adapter = service.weights_of(settings, session, model)
            except ValueError as exc:
                error = str(exc)
            else:
                error = None
            self.keys = service.stored_weights(settings, session, model) if executors.uses_ray(settings) else None
        if error:
            self._fail("ModelUnavailable", f"The model cannot be evaluated: {error}")
        directory = private_dir(evaluation_dir(settings, self.evaluation_id))
        return {"model": source, "adapter": adapter, "domains": values.get("domains") or None, "mode": mode,
                "data_dir": str(settings.benchmark_data_dir) if settings.benchmark_data_dir else None,
                "cache_dir": str(settings.data_dir / "benchmark_cache"),
                "code_execution_enabled": bool(values.get("code_execution_enabled", settings.code_execution_enabled)),
                "quick_size": values.get("quick_size"), "threads": settings.train_threads, "device": "cpu",
                "backend": settings.eval_backend.value,  # resolved by the evaluation process, where it runs
                "result_path": str(directory / "result.json"),
                "checkpoint_path": str(directory / "checkpoint.json")}

    def run(self) -> dict[str, Any]:
        spec = self._spec()
        if not spec:
            return {"evaluation_id": self.evaluation_id, "already_finished": True}
        spec["model"] = self._local_model(str(spec["model"]))
        directory = evaluation_dir(self.settings, self.evaluation_id)
        with_cuda = self._cuda_device()
        if with_cuda:
            spec["device"] = with_cuda
        spec_path = directory / "spec.json"
        write_json_atomic(spec_path, spec)
        result_path = Path(spec["result_path"])
        result_path.unlink(missing_ok=True)
        extra = {"HF_ENDPOINT": self.settings.hf_endpoint, "MODELMATE_PARENT_PID": str(os.getpid())}
        if self.settings.hf_token:
            extra["HF_TOKEN"] = self.settings.hf_token
        remote = None
        if self.keys is not None:  # MODELMATE_EXECUTOR=ray: the node reads the weights from the store
            remote = executors.eval_remote_spec(self.settings, spec, evaluation_id=self.evaluation_id,
                                                base_key=self.keys[0], adapter_key=self.keys[1])
        self._write(lambda _s, _e: None)
        try:
            child = executors.start(self.settings, entry_module=ENTRY_MODULE, spec_path=spec_path, cwd=directory,
                                    log_path=directory / "eval.log", env=extra, remote=remote,
                                    argv=[sys.executable, "-m", ENTRY_MODULE, str(spec_path)])
        except OSError as exc:
            self._fail("ProcessCrashed", f"Cannot start the evaluation process: {exc}")
        try:
            cancelled = self._supervise(child)
        finally:
            code = child.finish(eof_wait_s=0 if self.ctx.lost.is_set() else 3.0)
        for event in child.drain(0):
            self._apply(event)
        if cancelled:
            self._write(lambda _s, ev: service.fail(ev, "Cancelled", "The evaluation was cancelled."))
            raise JobCancelled(f"evaluation {self.evaluation_id} cancelled")
        if remote is not None and self.result is not None and self.result.get("outcomes_file"):
            with contextlib.suppress(ArtifactMissing):  # the node uploaded the whole result before reporting it
                artifact_store(self.settings).get_file(
                    executors.evaluation_output(self.evaluation_id, "result.json")["key"], result_path)
        if remote is not None and self.result is None and getattr(child, "retryable", False):
            raise RuntimeError(f"The Ray task of evaluation {self.evaluation_id} was lost "
                               f"({(child.error or {}).get('type', 'worker lost')}); the job is retried.")
        if (self.result is None or self.result.get("outcomes_file")) and result_path.is_file():
            try:  # the whole result (the stdout event leaves the per-document outcomes in the file)
                from_file = json.loads(result_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                from_file = None
            if isinstance(from_file, dict) and from_file.get("type") == "result":
                self.result = from_file
        if self.result is None:
            _, message = classify_crash(code, child.peak_rss, memory_limit_bytes())
            message = message.replace("training", "evaluation").replace("the run's", "the evaluation's")
            tail = _tail(directory / "eval.log")
            self._fail("ProcessCrashed", message, tail)
        if remote is None:
            self._upload_outputs(result_path, directory)
        stored: dict[str, str] = {}
        events: list[int] = []
        result = self.result
        self.progress, self.message = 1.0, f"{result.get('status')}"

        def store(session, evaluation) -> None:
            stored["status"] = service.store_result(session, evaluation, result)
            if stored["status"] in ("final", "partial"):  # research compares it with the parent/base
                events.extend(outbox.enqueue(session, "evaluation_stored", job_id=self.ctx.job_id,
                                             evaluation_id=self.evaluation_id))

        self._write(store)
        self.ctx.log(f"attempt {self.ctx.attempt}: evaluation {stored.get('status')}")
        Path(spec["checkpoint_path"]).unlink(missing_ok=True)  # stored: nothing left to resume
        outbox.deliver(self.ctx.db, self.settings, events)  # now; after a crash, a worker does
        if stored.get("status") == "failed":
            raise PermanentJobError(f"evaluation {self.evaluation_id} failed: "
                                    + "; ".join(f"{k}: {v}" for k, v in (result.get("errors") or {}).items())[:1500])
        return {"evaluation_id": self.evaluation_id, "status": stored.get("status")}

    def _upload_outputs(self, result_path: Path, directory: Path) -> None:
        """A remote store: the raw results and the log go there before the scores are recorded (a local store is
        this folder already)."""
        if self.settings.store_is_local:
            return
        staging.upload_outputs(artifact_store(self.settings), directory,
                               [executors.evaluation_output(self.evaluation_id, name)
                                for name in (result_path.name, "eval.log")])

    def _local_model(self, source: str) -> str:
        """A Hugging Face id is pulled here, in the worker, before the child starts (the child only loads local
        directories): the job's progress and message show the download; cancel and a lost lease stop it."""
        if Path(source).is_absolute() or Path(source).is_dir():
            return source
        last = 0.0

        class Cancelled(Exception):
            pass

        def on_progress(event: dict[str, Any]) -> None:
            nonlocal last
            if self.ctx.lost.is_set() or self.ctx.shutdown.is_set():
                raise LeaseLost(f"job {self.ctx.job_id}: lease lost or worker stopping; download stopped")
            now = time.monotonic()
            if now - last < FLUSH_S and event.get("phase") != "done":
                return
            last = now
            self.progress, self.message = hf_pull.fraction(event), hf_pull.describe(event)
            if self._write()[1]:
                raise Cancelled

        try:  # fine-tuning needs a supported architecture; an evaluation loads any safe causal LM
            path = hf_pull.pull(self.settings, source, on_progress=on_progress, check_architecture=False)
        except hf_pull.PullError as exc:
            self._fail("DownloadFailed", f"Cannot download {source}: {exc.message}")
        except Cancelled:
            self._write(lambda _s, ev: service.fail(ev, "Cancelled", "The evaluation was cancelled."))
            raise JobCancelled(f"evaluation {self.evaluation_id} cancelled") from None
        self.progress, self.message = 0.0, "starting"
        return str(path)

    def _cuda_device(self) -> str | None:
        if "torch" not in sys.modules:
            return None
        torch = sys.modules["torch"]
        return "cuda" if torch.cuda.is_available() else None

    def _apply(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        total = event.get("total") if isinstance(event.get("total"), int) else None
        index = event.get("index") if isinstance(event.get("index"), int) else None
        if kind == "result":
            self.result = event
        elif kind == "started" and event.get("backend"):
            self.ctx.log(f"attempt {self.ctx.attempt}: evaluating {total or 0} task(s) on the {event['backend']} "
                         f"backend ({event.get('mode')} mode)")
        elif kind == "task_started" and total:
            self.progress = (index or 0) / total
            self.message = f"{event.get('task')} ({(index or 0) + 1} of {total})"
        elif kind == "task_progress" and total:
            done, docs = event.get("docs_done"), event.get("docs_total")
            if isinstance(done, int) and isinstance(docs, int) and docs > 0:
                self.progress = ((index or 0) + min(done, docs) / docs) / total
                eta = event.get("eta_s")
                left = f", about {duration(eta)} left" if isinstance(eta, int | float) and done < docs else ""
                self.message = (f"{event.get('task')} ({(index or 0) + 1} of {total}): {done} of {docs} "
                                f"documents{left}")
        elif kind in ("task_finished", "task_failed", "task_skipped") and total:
            self.progress = ((index or 0) + 1) / total
            verb = {"task_finished": "done", "task_failed": "failed", "task_skipped": "skipped"}[kind]
            if event.get("resumed"):
                verb = "done earlier" if kind == "task_finished" else "failed earlier"
                self.ctx.log(f"task {event.get('task')} {verb}: taken from the checkpoint, not run again")
            self.message = f"{event.get('task')} {verb} ({(index or 0) + 1} of {total})"
            if kind != "task_skipped" and not event.get("resumed") and (index or 0) + 1 < total:
                self.between_tasks = ((index or 0) + 1, total)
            if kind == "task_failed":
                err = event.get("error") or {}
                self.ctx.log(f"task {event.get('task')} failed: {err.get('message') if isinstance(err, dict) else err}")
        elif kind == "log" and isinstance(event.get("message"), str):
            self.message = event["message"][:300]

    def _supervise(self, child: ChildProcess) -> bool:
        """Wait for the child, writing progress and watching cancel/lease. True when cancelled."""
        last = 0.0
        while True:
            for event in child.drain(POLL_S):
                self._apply(event)
            if self.ctx.lost.is_set() or self.ctx.shutdown.is_set():
                child.signal_group(signal.SIGKILL)
                raise LeaseLost(f"job {self.ctx.job_id}: lease lost or worker stopping; evaluation process killed")
            if child.exited():
                return False
            if self.between_tasks is not None:
                done, total = self.between_tasks
                self.between_tasks = None
                if self.ctx.higher_priority_waiting():
                    child.log(f"--- higher-priority work is waiting: paused after {done} of {total} tasks")
                    child.signal_group(signal.SIGKILL)
                    raise JobYielded(f"Paused after {done} of {total} benchmark tasks for higher-priority work; "
                                     "resumes where it stopped")
            now = time.monotonic()
            if now - last >= FLUSH_S:
                last = now
                _, cancel = self._write()
                if cancel:
                    child.log("--- cancel requested: evaluation process killed")
                    child.signal_group(signal.SIGKILL)
                    return True


def _tail(path: Path, max_bytes: int = 4000) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - max_bytes))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


@registry.register(JobKind.EVALUATE.value)
def run_evaluate(ctx: JobContext) -> dict[str, Any] | None:
    return EvaluationTask(ctx).run()


registry.on_reclaim(service.reconcile_evaluations)


@registry.subscribe("model_trained", transactional=True)
def evaluate_trained_model(delivery: EventDelivery, *, model_id: int, run_id: int, owner_id: int | None) -> None:
    """After a successful run: queue the new model's evaluation on every domain (and its base's baseline, once per
    settings) when automatic evaluation is on, with the training job's priority (background work stays behind).
    Written in the delivery's transaction, which marks the event delivered: queued exactly once. (Delivered again
    anyway, ``enqueue`` would return the model's queued or cached evaluation and queue nothing.)"""
    if not delivery.settings.auto_evaluate_enabled:
        return
    session = delivery.session
    assert session is not None  # transactional
    job = jobs_repo.get(session, delivery.job_id) if delivery.job_id is not None else None
    ids = service.enqueue_after_training(session, delivery.settings, model_id, owner_id=owner_id, run_id=run_id,
                                         priority=job.priority if job is not None else 0)
    log.info("queued evaluation(s) %s of trained model %d (run %d) and its base", ids, model_id, run_id)
