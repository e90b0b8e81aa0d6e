"""The Ray executor, driver side: :class:`RayProcess` runs a train or evaluate entry on a Ray node and looks to the
job handler like a local :class:`~modelmate.finetune.runner.ChildProcess` (``start``, ``log``, ``drain``,
``exited``, ``signal_group``, ``sample_memory``, ``peak_rss``, ``finish``, ``record``, ``proc.pid``).

Imported only when ``settings.executor == "ray"`` (``ray`` is imported at the top). The node side is
:mod:`modelmate.finetune.ray_task`: no database there; this object, in the worker that holds the job's lease, turns
what the node reports into the same events a local child prints.

Construction::

    RayProcess(entry_module="modelmate.training.entry", spec={...}, staging={...}, env={"HF_ENDPOINT": ...},
               resources={"num_cpus": 2, "num_gpus": 0, "memory": 8 * 2**30}, ray_address=None,
               name="run-12-attempt-1", log_path=run_dir / "train.log")

``spec``: the entry's spec, with its inputs as artifact references (``{"artifact": "dir", "key": "bases/tiny"}``,
:func:`~modelmate.storage.staging.artifact_ref`) and its outputs as paths relative to the node's work dir
(``"adapter"``, ``"checkpoints"``, ``"result.json"``). ``staging``::

    {"store_url": "s3://bucket/prefix",                         # the node opens it with its own AWS credentials
     "checkpoints": {"path": "checkpoints", "prefix": "runs/12/checkpoints"} | None,
     "outputs": [{"artifact": "dir", "path": "adapter", "key": "runs/12/adapter"}, ...],
     "log": {"path": "train.log", "key": "runs/12/train.log"} | None}

``env``: ONLY the variables the entry needs on top of the node's own environment (``HF_ENDPOINT``, ``HF_TOKEN``,
thread counts) — never the driver's ``os.environ``. ``name``: the Ray task's name and the node's work-dir name
(one per job, so a new attempt on the same node finds its local checkpoints).

Behaviour:

- **Connecting**: once per process, lazily at the first ``start()`` (:func:`connect`): ``ray_address``, else
  ``RAY_ADDRESS``, else Ray's own default (the cluster last started on this machine, else a new local one that lives
  as long as this process). Token auth (on by default in Ray 2.60) is Ray's: the token comes from
  ``RAY_AUTH_TOKEN``, ``RAY_AUTH_TOKEN_PATH`` or ``~/.ray/auth_token`` on every machine, and ModelMate never reads
  it; for an explicit address it sets ``RAY_AUTH_MODE=token`` when a token is at hand and the mode is unset (Ray
  itself does that only for clusters it finds on its own).
- **Events**: the node pushes events, its log text and the child's memory to this job's mailbox in the process's
  :class:`~.ray_task.Channel` actor (one per driver process, placed on this node when possible); :meth:`drain`
  pulls them, appends the log text to ``log_path`` (the run page reads that file) and returns the events.
  ``checkpoint`` events carry ``"stored"`` (uploaded to the store); the ``result`` event arrives only after the
  outputs are in the store.
- **Stopping**: ``signal_group(SIGTERM)`` reaches the child on the node within ~0.2 s (graceful: a partial adapter);
  ``signal_group(SIGKILL)`` is ``ray.cancel(force=True)``: the Ray worker dies and its child with it (PDEATHSIG).
- **Ending**: :meth:`finish` returns the child's exit status, ``-9`` after our SIGKILL, or :data:`LOST_CODE` with
  ``lost = True`` when the Ray worker or node died (WorkerCrashedError, NodeDiedError, ...): retryable, a new
  attempt resumes from the newest stored checkpoint. ``error`` holds what failed on the node outside the child
  (``{"type": "StoreUnavailable" | "ArtifactMissing" | ..., "message"}``; with a withheld result too);
  :attr:`retryable` says whether a new attempt may help. Ray's OOM killer gives ``-9`` with
  ``error["type"] == "OutOfMemoryError"``. ``memory_limit`` is the node's (for
  :func:`~modelmate.finetune.runner.classify_crash`).
- **Retries**: Ray's own task retries are OFF (``max_retries=0``). The job queue owns attempts (it counts them
  against ``max_attempts``, logs each one and gives each a fresh lease); ``lost`` tells the handler to retry.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from modelmate.finetune.ray_task import Channel, run_on_node
from modelmate.finetune.runner import CHILD_FILE
from modelmate.jsonutil import write_json_atomic
from modelmate.storage.private import open_private
from modelmate.training.distributed import token_auth_for_address

LOST_CODE = 255  # finish() when the Ray worker or node died (``lost`` is True)
PULL_MAX_S = 1.0
RETRYABLE_ERRORS = {"StoreUnavailable", "ConnectionError", "TimeoutError"}
_LOST = (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError, ray.exceptions.LocalRayletDiedError,
         ray.exceptions.ObjectLostError, ray.exceptions.OwnerDiedError, ray.exceptions.RaySystemError,
         ray.exceptions.RayActorError)
_lock = threading.Lock()
_channel: list[Any] = []  # [Ray job id, this process's Channel actor], made at the first start()


class RayUnavailable(ConnectionError):
    """The Ray cluster cannot be reached (an OSError: the handler's "cannot start" path catches it)."""


def connect(address: str | None = None) -> None:
    """Connect this process to Ray once (see the module docs)."""
    with _lock:
        if ray.is_initialized():
            return
        address = address or os.environ.get("RAY_ADDRESS") or None
        if address:
            token_auth_for_address()
        try:
            ray.init(address=address, namespace="modelmate",
                     ignore_reinit_error=True, log_to_driver=False, include_dashboard=False)
        except (ConnectionError, RuntimeError, ValueError, ray.exceptions.RayError) as exc:
            raise RayUnavailable(f"cannot connect to the Ray cluster at {address or 'the default address'}: "
                                 f"{exc}") from exc


def channel():
    """This process's :class:`~.ray_task.Channel` (created once per Ray connection, on this node when possible; a
    dead one, e.g. its node died, is replaced)."""
    with _lock:
        job = ray.get_runtime_context().get_job_id()
        if _channel and _channel[0] == job:
            try:
                ray.get(_channel[1].ping.remote(), timeout=10)
                return _channel[1]
            except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError):
                pass
        here = ray.get_runtime_context().get_node_id()
        # ray types a @ray.remote class as the plain class, without its .options()
        actor = Channel.options(  # type: ignore[attr-defined]
            scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=True)).remote()
        _channel[:] = [job, actor]
        return _channel[1]


@dataclass
class RemoteProc:
    """What the handlers read of ``child.proc``: the child's pid on the node (once reported) and the exit status."""

    pid: int | None = None
    returncode: int | None = None


class RayProcess:
    def __init__(self, *, entry_module: str, spec: dict[str, Any], staging: dict[str, Any], env: dict[str, str],
                 resources: dict[str, Any], ray_address: str | None, name: str, log_path: Path) -> None:
        self.entry_module = entry_module
        self.spec = spec
        self.staging = staging
        self.env = dict(env)
        self.resources = dict(resources)
        self.ray_address = ray_address
        self.name = name
        self.log_path = log_path
        self.proc: RemoteProc | None = None
        self.node: dict[str, Any] = {}
        self.peak_rss = 0
        self.rss = 0
        self.memory_limit = 0
        self.lost = False
        self.error: dict[str, Any] | None = None
        self._events: list[dict[str, Any]] = []
        self._log: BinaryIO | None = None
        self._channel: Any = None  # the Channel actor's handle (ray leaves actor methods untyped)
        self._key = uuid.uuid4().hex
        self._ref: ray.ObjectRef[dict[str, Any]] | None = None
        self._pull: ray.ObjectRef[list[Any]] | None = None
        self._killed = False
        self._exit: int | None = None

    @property
    def retryable(self) -> bool:
        """A new attempt may succeed: the worker or node was lost, or the store was unreachable."""
        return self.lost or (self.error is not None and self.error.get("type") in RETRYABLE_ERRORS)

    def start(self) -> None:
        connect(self.ray_address)
        try:
            self._channel = channel()
        except ray.exceptions.RayError as exc:
            raise RayUnavailable(f"the Ray cluster does not answer: {exc}") from exc
        self._log = os.fdopen(open_private(self.log_path, append=True), "ab")  # 0600; closed in finish()
        options: dict[str, Any] = {"name": self.name, "num_cpus": float(self.resources.get("num_cpus") or 1)}
        if self.resources.get("num_gpus"):
            options["num_gpus"] = float(self.resources["num_gpus"])
        if self.resources.get("memory"):
            options["memory"] = int(self.resources["memory"])
        self._ref = run_on_node.options(**options).remote(self._channel, self._key, self.entry_module, self.name,
                                                          self.spec, self.staging, self.env)
        self.proc = RemoteProc()

    def log(self, line: str) -> None:
        """Append a line of our own to the local log (the node's lines arrive through :meth:`drain`)."""
        if self._log is not None:
            self._log.write((line[:4000].rstrip("\n") + "\n").encode("utf-8", "replace"))
            self._log.flush()

    # --- events -------------------------------------------------------------------------------------------------

    def _take(self, items: list[list[Any]]) -> None:
        for kind, value in items:
            if kind == "event" and isinstance(value, dict):
                self._events.append(value)
            elif kind == "log" and self._log is not None:
                self._log.write(value.encode("utf-8", "replace"))
                self._log.flush()
            elif kind == "node" and isinstance(value, dict):
                self.node.update(value)
                if value.get("child_pid") and self.proc is not None:
                    self.proc.pid = int(value["child_pid"])
                self.memory_limit = int(self.node.get("memory_limit") or 0)
            elif kind == "mem" and isinstance(value, int):
                self.rss = value
                self.peak_rss = max(self.peak_rss, value)

    def _pump(self, timeout: float) -> bool:
        """Wait up to ``timeout`` for the channel's next batch (one pull in flight at a time); False: none yet."""
        if self._channel is None:
            return False
        if self._pull is None:
            self._pull = self._channel.pull.remote(self._key, min(max(timeout, 0.0), PULL_MAX_S))
        ready, _ = ray.wait([self._pull], timeout=max(timeout, 0.0))
        if not ready:
            return False
        ref, self._pull = self._pull, None
        try:
            self._take(ray.get(ref))
        except ray.exceptions.RayError:
            return False
        return True

    def drain(self, timeout: float) -> list[dict[str, Any]]:
        """Events received so far, waiting up to ``timeout`` for the first batch."""
        if not self._events:
            self._pump(timeout)
        out, self._events = self._events, []
        return out

    def exited(self) -> bool:
        """The node task has ended (its events may still be waiting in the channel until :meth:`finish`)."""
        if self._exit is not None:
            return True
        assert self._ref is not None
        ready, _ = ray.wait([self._ref], timeout=0)
        return bool(ready)

    def signal_group(self, sig: int) -> None:
        if self._ref is None or self._exit is not None:
            return
        if sig == signal.SIGKILL:
            self._killed = True
            with contextlib.suppress(Exception):
                ray.cancel(self._ref, force=True)
        elif self._channel is not None:
            self._channel.signal.remote(self._key, int(sig))

    def sample_memory(self) -> int:
        """The child's RSS as the node last reported it (about once a second); keeps the peak."""
        return self.rss

    # --- the end ------------------------------------------------------------------------------------------------

    def _outcome(self) -> int:
        assert self._ref is not None  # started
        try:
            out = ray.get(self._ref)
        except ray.exceptions.TaskCancelledError:
            if self._killed:
                return -signal.SIGKILL
            self.lost = True
            return LOST_CODE
        except ray.exceptions.OutOfMemoryError as exc:
            self.error = {"type": "OutOfMemoryError", "message": str(exc)[:2000]}
            self.peak_rss = max(self.peak_rss, self.memory_limit)
            return -signal.SIGKILL
        except _LOST as exc:
            if self._killed:
                return -signal.SIGKILL
            self.lost = True
            self.error = {"type": type(exc).__name__, "message": str(exc)[:2000]}
            return LOST_CODE
        except ray.exceptions.RayTaskError as exc:  # the node code itself broke
            self.error = {"type": type(exc.cause).__name__ if exc.cause else "RayTaskError",
                          "message": str(exc)[-2000:]}
            return 1
        except ray.exceptions.RayError as exc:  # e.g. a runtime environment that cannot be set up
            self.error = {"type": type(exc).__name__, "message": str(exc)[-2000:]}
            return 1
        self.error = out.get("error")
        return int(out["code"])

    def finish(self, *, eof_wait_s: float = 3.0) -> int:
        """After the node task ended (or to stop it at once): collect what is left, free the channel. Returns the
        exit status (see the module docs)."""
        assert self._ref is not None and self.proc is not None
        if self._exit is not None:
            return self._exit
        if not self.exited():
            self.signal_group(signal.SIGKILL)
        code = self._outcome()
        # The node pushed everything before it returned: pull until the channel is empty.
        deadline = time.monotonic() + max(eof_wait_s, 1.0)
        while time.monotonic() < deadline:
            if self._pull is None:
                self._pull = self._channel.pull.remote(self._key, 0)
            ready, _ = ray.wait([self._pull], timeout=max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            ref, self._pull = self._pull, None
            try:
                items = ray.get(ref)
            except ray.exceptions.RayError:
                break
            self._take(items)
            if not items:
                break
        with contextlib.suppress(Exception):
            self._channel.close.remote(self._key)
        self._pull = None
        if self._log is not None:
            self._log.close()
            self._log = None
        self._exit = self.proc.returncode = code
        return code

    def record(self, run_dir: Path, attempt: int) -> None:
        """Remember this task on disk (no pid/pgid: :func:`~modelmate.finetune.runner.kill_leftover_child` leaves it
        alone; a Ray task dies with the driver that owns it)."""
        assert self._ref is not None  # started
        write_json_atomic(run_dir / CHILD_FILE, {"executor": "ray", "task_id": self._ref.task_id().hex(),
                                                 "name": self.name, "node": self.node, "attempt": attempt,
                                                 "started": time.time()})
