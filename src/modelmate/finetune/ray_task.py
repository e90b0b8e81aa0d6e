"""What runs on a Ray node for a train or evaluate job: files from the store, the entry as a child, events back.

No database here (nothing from ``modelmate.db``/``models``/``jobs``): the control-plane worker that holds the job's
lease (:class:`~modelmate.finetune.ray_process.RayProcess`) does every write. This module talks to it through its
mailbox in a :class:`Channel` actor (one per driver process, a mailbox per job) and to the artifact store.

:func:`run_on_node` (a Ray task, one per attempt):

1. makes the job's private work dir ``<root>/ray-work/<name>`` (``<root>``: ``MODELMATE_DATA_DIR`` when the node
   sets it, else ``<tmp>/modelmate-ray``) and opens the store from its URL with the node's OWN credentials (the
   standard AWS environment of the node; nothing secret travels with the task);
2. fetches the job's stored log (so the log accumulates across attempts on any machine), replaces every artifact
   reference in the spec by a local path through the node's :class:`~modelmate.storage.cache.LocalCache`
   (``<root>/cache``, capped by ``MODELMATE_CACHE_MAX_GB``, default 20) and restores the newest stored checkpoint;
3. writes ``spec.json`` and runs ``python -m <entry_module> spec.json`` through
   :class:`~modelmate.finetune.runner.ChildProcess` (own process group, dies with this worker through PDEATHSIG and
   ``MODELMATE_PARENT_PID``, stderr to the log);
4. every ~0.2 s pushes what happened to its mailbox — events, new log text, the child's memory — and gets back the
   driver's signals (SIGTERM: graceful stop, passed to the child's group). Each ``checkpoint`` event is uploaded
   (``upload_checkpoint``, in a background thread) and then forwarded with ``"stored": true|false``; the log is
   uploaded every ``LOG_UPLOAD_S`` and at the end; on the ``result`` event the pending checkpoint uploads finish and
   the outputs are uploaded BEFORE the result is forwarded (an upload failure withholds the result and returns
   ``error``), so the driver never records an adapter that is not in the store;
5. returns ``{"code": <child exit status>, "result_sent": bool, "error": {"type", "message"} | None}``. If the
   channel is gone (the driver died), the child is killed and the task ends. The work dir is removed once a result
   was passed on (everything is in the store); otherwise it stays, and a later attempt on this node resumes from a
   local checkpoint newer than the stored one.

Channel items are ``[kind, value]`` pairs: ``["event", {...}]``, ``["log", text]``, ``["node", {...}]`` (pid,
host, node id, the child's pid, the node's memory limit), ``["mem", rss_bytes]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import ray

from modelmate.finetune.runner import ChildProcess, child_env, memory_limit_bytes
from modelmate.jsonutil import write_json_atomic
from modelmate.storage.artifacts import ArtifactStore, join, open_store
from modelmate.storage.cache import LocalCache
from modelmate.storage.private import open_private, private_dir
from modelmate.storage.staging import materialize, restore_checkpoint, upload_checkpoint, upload_outputs

ENTRY_MODULES = ("modelmate.training.entry", "modelmate.evaluation.entry")
TICK_S = 0.2
LOG_UPLOAD_S = 10.0
LOG_CHUNK_MAX = 256 * 1024
PUSH_TIMEOUT_S = 60.0
_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


class _Box:
    def __init__(self) -> None:
        self.items: list[list[Any]] = []
        self.signals: list[int] = []
        self.ready = asyncio.Event()


@ray.remote(num_cpus=0)
class Channel:
    """The mailboxes between one driver process and its node tasks, one per job key: items up, signals down. One
    actor per driver process (an actor is a process of its own: starting one per job would cost a second each);
    async, so a driver's waiting ``pull`` never blocks a node's ``push``."""

    def __init__(self) -> None:
        self.boxes: dict[str, _Box] = {}

    def _box(self, key: str) -> _Box:
        box = self.boxes.get(key)
        if box is None:
            box = self.boxes[key] = _Box()
        return box

    async def push(self, key: str, items: list[list[Any]]) -> list[int]:
        """Add a node's items; returns (and clears) the driver's pending signals for that job."""
        box = self._box(key)
        if items:
            box.items.extend(items)
            box.ready.set()
        out, box.signals = box.signals, []
        return out

    async def pull(self, key: str, wait_s: float) -> list[list[Any]]:
        box = self._box(key)
        if not box.items and wait_s > 0:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(box.ready.wait(), wait_s)
        box.ready.clear()
        out, box.items = box.items, []
        return out

    async def signal(self, key: str, sig: int) -> None:
        self._box(key).signals.append(int(sig))

    async def close(self, key: str) -> None:
        self.boxes.pop(key, None)

    async def ping(self) -> bool:
        return True


def node_root() -> Path:
    data = os.environ.get("MODELMATE_DATA_DIR")
    return Path(data) if data else Path(tempfile.gettempdir()) / "modelmate-ray"


def node_cache(root: Path) -> LocalCache:
    try:
        gb = float(os.environ.get("MODELMATE_CACHE_MAX_GB", "20"))
    except ValueError:
        gb = 20.0
    return LocalCache(root / "cache", int(gb * 1024**3))


class _Node:
    """The state of one node task (see the module docs)."""

    def __init__(self, channel, key: str, entry_module: str, name: str, staging: dict[str, Any]) -> None:
        if entry_module not in ENTRY_MODULES:
            raise ValueError(f"unknown entry module {entry_module!r}")
        self.channel = channel
        self.key = key
        self.entry_module = entry_module
        self.staging = staging
        self.workdir = private_dir(node_root() / "ray-work" / (_NAME.sub("-", name).strip(".-") or "job"))
        self.log_path = self.workdir / (staging.get("log") or {}).get("path", "job.log")
        self.store: ArtifactStore | None = None
        self.child: ChildProcess | None = None
        self.outbox: list[list[Any]] = []
        self.lock = threading.Lock()
        self.log_offset = 0
        self.signals: list[int] = []
        self.driver_gone = False
        self.uploads: queue.Queue[int | None] = queue.Queue()
        self.uploader: threading.Thread | None = None

    # --- talking to the driver ------------------------------------------------------------------------------------

    def send(self, kind: str, value: Any) -> None:
        with self.lock:
            self.outbox.append([kind, value])

    def note(self, line: str) -> None:
        """A line of our own in the job's log (streamed to the driver with the child's; O_APPEND, so it never
        tears the child's lines)."""
        with os.fdopen(open_private(self.log_path, append=True), "ab") as fh:
            fh.write((line.rstrip("\n") + "\n").encode("utf-8", "replace"))

    def _log_tail(self) -> None:
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(self.log_offset)
                data = fh.read(LOG_CHUNK_MAX)
        except OSError:
            return
        end = data.rfind(b"\n") + 1 if len(data) < LOG_CHUNK_MAX else len(data)
        if end:
            self.log_offset += end
            self.send("log", data[:end].decode("utf-8", "replace"))

    def flush(self) -> None:
        """Push the outbox; collect the driver's signals. A vanished channel means the driver is gone."""
        self._log_tail()
        with self.lock:
            items, self.outbox = self.outbox, []
        if self.driver_gone:
            return
        try:
            self.signals += ray.get(self.channel.push.remote(self.key, items), timeout=PUSH_TIMEOUT_S)
        except ray.exceptions.GetTimeoutError:
            pass  # the call is still queued, in order; its signals are lost only if the driver is gone too
        except ray.exceptions.RayActorError:
            self.driver_gone = True

    # --- the store --------------------------------------------------------------------------------------------------

    def upload_log(self) -> None:
        log = self.staging.get("log")
        if log and self.store is not None and self.log_path.is_file():
            try:
                self.store.put_file(self.log_path, log["key"])
            except Exception as exc:  # noqa: BLE001 - the next upload tries again
                self.note(f"--- could not upload the log: {exc}")

    def _upload_loop(self) -> None:
        ckpt = self.staging["checkpoints"]
        store = self.store
        assert store is not None  # opened before this thread starts
        while True:
            step = self.uploads.get()
            newer: list[int | None] = []
            with contextlib.suppress(queue.Empty):
                while True:
                    newer.append(self.uploads.get_nowait())
            steps = [step, *newer]
            for skipped in [s for s in steps if s is not None][:-1]:  # only the newest is worth the time
                self.send("event", {"type": "checkpoint", "step": skipped, "stored": False})
            last = [s for s in steps if s is not None][-1:]
            for s in last:
                stored = False
                try:
                    stored = upload_checkpoint(store, self.workdir / ckpt["path"], s, ckpt["prefix"])
                except Exception as exc:  # noqa: BLE001 - pruned while we read it, or the store is down
                    self.note(f"--- checkpoint {s} not stored: {type(exc).__name__}: {exc}")
                    with contextlib.suppress(Exception):
                        store.delete(join(ckpt["prefix"], f"step-{s:06d}"))
                self.send("event", {"type": "checkpoint", "step": s, "stored": stored})
            for _ in steps:
                self.uploads.task_done()
            if None in steps:
                return

    # --- the attempt ------------------------------------------------------------------------------------------------

    def prepare(self, spec: dict[str, Any]) -> Path:
        self.store = open_store(self.staging["store_url"])
        log = self.staging.get("log")
        if log and not self.log_path.exists() and self.store.exists(log["key"]):
            self.store.get_file(log["key"], self.log_path)
        with contextlib.suppress(OSError):
            self.log_offset = self.log_path.stat().st_size
        self.note(f"--- ray node {socket.gethostname()} (worker pid {os.getpid()}): preparing {self.workdir}")
        started = time.monotonic()
        local = materialize(spec, self.store, node_cache(node_root()))
        ckpt = self.staging.get("checkpoints")
        if ckpt:
            step = restore_checkpoint(self.store, ckpt["prefix"], self.workdir / ckpt["path"])
            if step is not None:
                self.note(f"--- restored the checkpoint of step {step} from the store")
            self.uploader = threading.Thread(target=self._upload_loop, name="checkpoint-upload", daemon=True)
            self.uploader.start()
        spec_path = self.workdir / "spec.json"
        write_json_atomic(spec_path, local)
        self.note(f"--- inputs ready in {time.monotonic() - started:.1f} s")
        return spec_path

    def handle(self, event: dict[str, Any]) -> dict[str, Any] | None:
        """Forward one event (uploading what it names first); returns an error that withheld a result."""
        kind = event.get("type")
        if kind == "checkpoint" and self.uploader is not None and isinstance(event.get("step"), int):
            self.uploads.put(event["step"])
            return None
        if kind == "result":
            self.uploads.join()
            assert self.store is not None  # opened before the child started
            try:
                written = upload_outputs(self.store, self.workdir, self.staging.get("outputs") or [])
            except Exception as exc:  # noqa: BLE001 - the result must not be recorded without its files
                self.note(f"--- the outputs could not be stored, the result is withheld: {exc}")
                return {"type": type(exc).__name__, "message": str(exc)[:2000]}
            self.note(f"--- stored {len(written)} output(s): {', '.join(written) or 'none'}")
            self.upload_log()
        self.send("event", event)
        return None

    def run(self, spec: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
        self.send("node", {"pid": os.getpid(), "host": socket.gethostname(), "workdir": str(self.workdir),
                           "node_id": ray.get_runtime_context().get_node_id(), "memory_limit": memory_limit_bytes()})
        try:
            spec_path = self.prepare(spec)
        except Exception as exc:  # noqa: BLE001 - reported to the driver, which decides
            self.note(f"--- preparing the job failed: {type(exc).__name__}: {exc}")
            self.note(traceback.format_exc()[-4000:])
            self.flush()
            return {"code": 1, "result_sent": False, "error": {"type": type(exc).__name__, "message": str(exc)}}
        self.flush()
        if self.driver_gone or signal.SIGTERM in self.signals or signal.SIGKILL in self.signals:
            self.note("--- stopped before the process started")
            self.flush()
            return {"code": -signal.SIGTERM, "result_sent": False, "error": None}
        self.signals = []
        self.child = ChildProcess(spec_path, cwd=self.workdir, log_path=self.log_path,
                                  env=child_env(None, {**env, "MODELMATE_PARENT_PID": str(os.getpid())}),
                                  argv=[sys.executable, "-m", self.entry_module, str(spec_path)])
        self.child.start()
        assert self.child.proc is not None  # set by start()
        self.send("node", {"child_pid": self.child.proc.pid})
        error = None
        sent = False
        last_mem = last_log = time.monotonic()
        while True:
            exited = self.child.exited()
            for event in self.child.drain(0 if exited else TICK_S):
                error = self.handle(event) or error
                sent = sent or (event.get("type") == "result" and error is None)
            now = time.monotonic()
            if now - last_mem >= 1.0:
                self.send("mem", self.child.sample_memory())
                last_mem = now
            if now - last_log >= LOG_UPLOAD_S:
                self.upload_log()
                last_log = now
            self.flush()
            for sig in self.signals:
                self.child.signal_group(sig)
            self.signals = []
            if self.driver_gone:
                self.child.signal_group(signal.SIGKILL)
            if exited:
                break
        code = self.child.finish()
        for event in self.child.drain(0):
            error = self.handle(event) or error
            sent = sent or (event.get("type") == "result" and error is None)
        if self.uploader is not None:
            self.uploads.put(None)
            self.uploader.join()
        self.upload_log()
        self.send("mem", self.child.peak_rss)
        self.flush()
        if sent:  # everything that matters is in the store now
            shutil.rmtree(self.workdir, ignore_errors=True)
        return {"code": code, "result_sent": sent, "error": error}


@ray.remote(max_retries=0, retry_exceptions=False)
def run_on_node(channel, key: str, entry_module: str, name: str, spec: dict[str, Any], staging: dict[str, Any],
                env: dict[str, str]) -> dict[str, Any]:
    """One attempt of a job on this node; ``key`` names its mailbox in ``channel`` (see the module docs)."""
    return _Node(channel, key, entry_module, name, staging).run(spec, env)
