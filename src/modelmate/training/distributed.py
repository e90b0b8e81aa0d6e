"""Multi-worker training with Ray Train: ``run_distributed(job, workers=N, on_event=...)``.

``config.workers > 1`` trains with N processes (Ray Train workers of a ``TorchTrainer``; gloo on CPUs, NCCL on
GPUs). Every worker runs the ordinary trainer (``trainer.train``), which sees the ``torch.distributed`` group Ray
Train set up and trains its shard of every micro-batch (``training.collective``): the global batch is still
``batch_size * gradient_accumulation_steps`` examples per optimizer step, so N workers take the same steps as one,
up to the order of float additions (``tests/training/test_distributed.py`` holds the measured tolerance).

- **Events.** Worker 0's events (``started``, ``step``, ``eval``, ``checkpoint``, ``log``, ...) go through a small
  relay actor to this process, which hands them to ``on_event`` in order as they come; the workers' final results
  come back the same way, so the caller gets one :class:`TrainResult` exactly as from ``train``. The other workers
  are silent.
- **Stop.** ``should_stop()`` is polled here; a stop request goes to the relay, worker 0 sees it within a quarter
  of a second and broadcasts it to the others at the next step, so they all stop after the same step
  (checkpoint + adapter, outcome ``partial``).
- **Failures.** A worker whose run fails reports its result and then raises, so Ray Train ends the whole group
  (no rank waits forever in a collective). Worker 0's result wins; otherwise the failing worker's; otherwise (a
  worker died without a result) a ``crashed`` result with Ray's error.
- **Files.** Worker 0 writes the checkpoints and the adapter; every worker reads the base model and, on resume,
  the checkpoint worker 0 picks, so with workers on several machines the model, checkpoint and output paths must
  be on a shared filesystem. Ray Train's own storage (``RunConfig.storage_path``) is a temporary directory,
  removed at the end: nothing is reported to it, ModelMate's checkpoints are its own (``training.checkpoints``).
- **Cluster.** ``ray_address`` (or ``RAY_ADDRESS``) names an existing cluster; without one a local cluster is
  started for the run and shut down after it. Ray is imported only here, only when a run asks for workers, and
  a missing Ray is a ``crashed`` result that says how to install it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from modelmate.training import collective
from modelmate.training.environment import configure_threads, describe_environment
from modelmate.training.results import EventSink, TrainJob, TrainResult
from modelmate.training.trainer import train

RANK_RESULT = "_rank_result"  # internal: a worker's final result, never passed to on_event
POLL_SECONDS = 0.25
INSTALL_HINT = "pip install 'modelmate[cluster]'"


class WorkerFailed(RuntimeError):
    """Raised by a worker after it reported a failure result, so Ray Train ends the whole worker group."""


class Relay:
    """The one (async) actor between this process and worker 0: events one way, a stop request the other. A
    waiting ``take`` never blocks a ``put``."""

    def __init__(self) -> None:
        self.items: list[dict] = []
        self.arrived = asyncio.Event()
        self.stop = False

    async def put(self, item: dict) -> None:
        self.items.append(item)
        self.arrived.set()

    async def take(self, timeout: float) -> list[dict]:
        """Everything put since the last take, waiting up to ``timeout`` seconds for the first item."""
        if not self.items and timeout > 0:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), timeout)
        items, self.items = self.items, []
        self.arrived.clear()
        return items

    async def request_stop(self) -> None:
        self.stop = True

    async def stop_requested(self) -> bool:
        return self.stop


def run_distributed(job: TrainJob, *, workers: int, on_event: EventSink,
                    should_stop: Callable[[], bool] = lambda: False, resume: bool = True,
                    threads: int | None = None, ray_address: str | None = None) -> TrainResult:
    """Train ``job`` with ``workers`` Ray Train workers; events and the result as from ``trainer.train``."""
    started = time.monotonic()
    try:
        import ray
        from ray.train import FailureConfig, RunConfig, ScalingConfig
        from ray.train.torch import TorchConfig, TorchTrainer
    except ImportError as exc:
        return _failure(job, started, exc, (
            f"This run asks for {workers} workers, which train with Ray Train, but Ray is not installed here "
            f"({exc}). Install it with `{INSTALL_HINT}` (or `pip install 'ray[default]'`), or set workers to 1."))

    job = _absolute(job)
    cpus = max(1, int(threads or 1))
    address = ray_address or os.environ.get("RAY_ADDRESS") or None
    try:
        owned, where = _connect(ray, address, workers * cpus)
    except Exception as exc:  # noqa: BLE001 - an unreachable cluster is a result, not a traceback
        return _failure(job, started, exc, f"Could not connect to the Ray cluster at {address}: "
                                           f"{type(exc).__name__}: {str(exc)[:500]}")
    scratch = Path(tempfile.mkdtemp(prefix="modelmate-ray-train-"))
    relay = None
    error: BaseException | None = None
    results: dict[int, dict] = {}
    try:
        resources = ray.cluster_resources()
        use_gpu = job.device == "cuda" or (job.device is None and resources.get("GPU", 0) >= workers)
        backend = "nccl" if use_gpu else "gloo"
        on_event({"type": "log", "message": f"training with {workers} Ray Train workers ({backend}, {cpus} CPU"
                                            f"{'' if cpus == 1 else 's'}{' + 1 GPU' if use_gpu else ''} each) on "
                                            f"{where}"})
        if resources.get("CPU", 0) < workers * cpus or (use_gpu and resources.get("GPU", 0) < workers):
            on_event({"type": "log", "message": f"the cluster has {resources.get('CPU', 0):g} CPUs and "
                                                f"{resources.get('GPU', 0):g} GPUs now; waiting for it to provide "
                                                "what the workers need"})
        relay = ray.remote(num_cpus=0)(Relay).remote()
        trainer = TorchTrainer(
            _worker_loop,
            train_loop_config={"job": job, "resume": resume, "threads": threads, "use_gpu": use_gpu,
                               "relay": relay},
            scaling_config=ScalingConfig(num_workers=workers, use_gpu=use_gpu, resources_per_worker={"CPU": cpus}),
            torch_config=TorchConfig(backend=backend),
            run_config=RunConfig(name="run", storage_path=str(scratch),
                                 failure_config=FailureConfig(max_failures=0)))
        error, results = _fit_and_relay(ray, trainer, relay, on_event, should_stop)
    except Exception as exc:  # noqa: BLE001 - Ray refusing the run (resources, configuration) is a result too
        error = exc
    finally:
        if relay is not None:
            ray.kill(relay)  # type: ignore[arg-type]  # ray types ray.remote(cls).remote() as a handle or the class
        if owned:
            ray.shutdown()
        shutil.rmtree(scratch, ignore_errors=True)
    return _final_result(job, started, workers, results, error)


def _absolute(job: TrainJob) -> TrainJob:
    """Workers may run in another working directory (Ray Train changes it): every path made absolute."""
    base = Path(job.base_model)
    return replace(job, output_dir=Path(job.output_dir).absolute(), checkpoint_dir=Path(job.checkpoint_dir).absolute(),
                   base_model=str(base.absolute()) if base.exists() else job.base_model,
                   init_adapter=Path(job.init_adapter).absolute() if job.init_adapter else None)


def _connect(ray, address: str | None, cpus_needed: int) -> tuple[bool, str]:
    """Connect to the cluster (or start a local one); returns (whether we own the connection, where)."""
    if ray.is_initialized():
        return False, "the Ray cluster this process is connected to"
    # ray.init replaces the SIGTERM handler with one that exits at once: keep ours (a graceful stop)
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if in_main else None
    try:
        if address:
            token_auth_for_address()
            ray.init(address=address, log_to_driver=True)
            where = f"the Ray cluster at {address}"
        else:  # a local cluster for this run: enough logical CPUs for every worker, even on a small machine
            ray.init(address="local", num_cpus=max(os.cpu_count() or 1, cpus_needed), include_dashboard=False,
                     log_to_driver=True)
            where = "a local Ray cluster started for this run"
    finally:
        if in_main and previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return True, where


def token_auth_for_address() -> None:
    """Ray turns token authentication on by itself for a cluster it starts or finds, but for an explicit address
    only when ``RAY_AUTH_MODE=token`` is set. Do what ``ray start --address`` does: turn it on when a token is at
    hand (``RAY_AUTH_TOKEN``, ``RAY_AUTH_TOKEN_PATH``, ``~/.ray/auth_token``) and the mode was not chosen. (The one
    definition: the Ray executor's driver uses it too.)"""
    try:
        from ray._private.authentication.authentication_token_setup import (
            maybe_enable_token_auth_if_token_available,
        )
    except ImportError:  # another Ray version: the environment variable alone
        if "RAY_AUTH_MODE" not in os.environ and (
                os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")
                or (Path.home() / ".ray" / "auth_token").is_file()):
            os.environ["RAY_AUTH_MODE"] = "token"
        return
    maybe_enable_token_auth_if_token_available(warn_if_disabled=False)


def _fit_and_relay(ray, trainer, relay, on_event: EventSink,
                   should_stop: Callable[[], bool]) -> tuple[BaseException | None, dict[int, dict]]:
    """Run ``trainer.fit()`` on a thread (so Ray Train installs no SIGINT handler over ours) and relay worker 0's
    events to ``on_event`` until it ends; returns (fit's error, each reporting worker's result by rank)."""
    outcome: dict[str, BaseException] = {}

    def fit() -> None:
        try:
            trainer.fit()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            outcome["error"] = exc

    results: dict[int, dict] = {}

    def handle(item: dict) -> None:
        if item.get("type") == RANK_RESULT:
            results[int(item["rank"])] = item["result"]
        else:
            on_event(item)

    thread = threading.Thread(target=fit, name="ray-train-fit", daemon=True)
    thread.start()
    stop_sent = False
    while thread.is_alive():
        if not stop_sent and should_stop():
            ray.get(relay.request_stop.remote())
            stop_sent = True
        for item in ray.get(relay.take.remote(POLL_SECONDS)):
            handle(item)
    thread.join()
    for item in ray.get(relay.take.remote(0)):  # the workers put everything before they returned
        handle(item)
    return outcome.get("error"), results


def _final_result(job: TrainJob, started: float, workers: int, results: dict[int, dict],
                  error: BaseException | None) -> TrainResult:
    if 0 in results:
        return TrainResult(**results[0])
    failed = sorted(rank for rank, r in results.items() if r["outcome"] == "failure")
    if failed:
        result = dict(results[failed[0]])
        result["message"] = f"Worker {failed[0]} of {workers}: {result['message']}"
        return TrainResult(**result)
    if error is None:
        error = RuntimeError("no worker reported a result")
    return _failure(job, started, error, f"Multi-worker training crashed: {type(error).__name__}: "
                                         f"{str(error)[:1500]}")


def _failure(job: TrainJob, started: float, exc: BaseException, message: str) -> TrainResult:
    return TrainResult(outcome="failure", failure_category="crashed", message=message,
                       error={"type": type(exc).__name__, "message": str(exc)[:2000],
                              "traceback": "".join(traceback.format_exception(exc))[-20000:]},
                       steps=0, total_steps=0, final_loss=None, final_eval_loss=None, train_tokens=0,
                       tokens_per_second=None, seconds=round(time.monotonic() - started, 3), peak_memory_bytes=None,
                       environment=describe_environment(job.device))


# ---------------------------------------------------------------------------------------------------------------
# Inside each Ray Train worker
# ---------------------------------------------------------------------------------------------------------------

def _worker_loop(config: dict[str, Any]) -> None:
    """One rank: the ordinary trainer, on this rank's shards; worker 0 reports events and listens for a stop."""
    import ray
    import ray.train

    rank = ray.train.get_context().get_world_rank()
    configure_threads(config["threads"])
    job: TrainJob = config["job"]
    device = "cpu"
    if config["use_gpu"]:
        import torch
        from ray.train.torch import get_device

        torch.cuda.set_device(get_device())
        job, device = replace(job, device="cuda"), "cuda"
    relay = config["relay"]
    stop, done = threading.Event(), threading.Event()
    if rank == 0:
        threading.Thread(target=_watch_stop, args=(relay, stop, done), name="stop-watch", daemon=True).start()

    def on_event(event: dict) -> None:
        if rank == 0:  # waits for the relay, so events arrive in order and before the result
            ray.get(relay.put.remote(event))

    def should_stop() -> bool:  # every rank calls it at the same point of the loop; worker 0's answer counts
        return bool(collective.broadcast_int(int(stop.is_set()), device))

    try:
        result = train(job, on_event=on_event, should_stop=should_stop, resume=config["resume"])
    finally:
        done.set()
    if rank == 0 or result.outcome == "failure":
        ray.get(relay.put.remote({"type": RANK_RESULT, "rank": rank, "result": result.as_dict()}))
    if result.outcome == "failure":
        raise WorkerFailed(f"worker {rank}: {result.failure_category}: {result.message}")


def _watch_stop(relay, stop: threading.Event, done: threading.Event) -> None:
    import ray

    while not done.wait(POLL_SECONDS):
        if ray.get(relay.stop_requested.remote()):
            stop.set()
            return
