"""The training child process and what it reports, with no database in sight.

:class:`ChildProcess` starts ``python -m modelmate.training.entry spec.json`` in its OWN process group (new session),
sends its stderr to ``train.log``, and reads its stdout (one JSON event per line) on a reader thread into a queue,
so the job's lease logic never blocks on the pipe. Stopping is by process group: SIGTERM (the trainer saves a
partial adapter), then SIGKILL after a grace period. The leader is waited for WITHOUT being reaped
(``waitid(WNOWAIT)``) so that the final ``killpg`` cannot hit a recycled process group id.

:class:`CurveState` folds events into the loss curve the run row keeps (step, loss, eval_loss, lr, grad_norm,
tokens, seconds), also across a resume: points after the checkpoint a new attempt resumed from are replaced.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from modelmate.jsonutil import write_json_atomic
from modelmate.storage.private import open_private

EVENT_LINE_MAX = 1_000_000  # longest stdout line read as one event
LOG_LINE_MAX = 4000
ENTRY_MODULE = "modelmate.training.entry"
CHILD_FILE = "child.json"


def child_env(threads: int | None, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env["TOKENIZERS_PARALLELISM"] = "false"
    if threads:
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            env[name] = str(threads)
    env.update(extra or {})
    return env


def memory_limit_bytes() -> int:
    """The memory a child may use: the cgroup limit when there is one, else the machine's RAM."""
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            raw = Path(path).read_text().strip()
        except OSError:
            continue
        if raw.isdigit() and int(raw) < 1 << 60:
            return int(raw)
    try:
        import psutil

        return int(psutil.virtual_memory().total)
    except Exception:  # noqa: BLE001
        return 0


OOM_FRACTION = 0.85  # a SIGKILLed child that had used this share of the memory limit ran out of memory


def classify_crash(code: int, peak_rss: int, limit: int) -> tuple[str, str]:
    """Why a trainer ended without a result: ``(failure category, plain message)``. Killed by SIGKILL with memory
    near the limit is the kernel's OOM killer; anything else is a crash."""
    if code == -signal.SIGKILL and limit and peak_rss >= OOM_FRACTION * limit:
        return "out_of_memory", (f"The training process ran out of memory (it used {peak_rss / 2**30:.1f} GiB of "
                                 f"{limit / 2**30:.1f} GiB) and was killed. Try a smaller batch size or maximum "
                                 "length.")
    how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
    return "crashed", f"The training process {how} without reporting a result. See the run's log."


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wait_group_gone(pgid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while group_alive(pgid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


class ChildProcess:
    """One training process group and the reader thread on its stdout."""

    def __init__(self, spec_path: Path, *, cwd: Path, log_path: Path, env: dict[str, str],
                 argv: list[str] | None = None) -> None:
        self.argv = argv or [sys.executable, "-m", ENTRY_MODULE, str(spec_path)]
        self.cwd = cwd
        self.log_path = log_path
        self.env = env
        self.events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.eof = threading.Event()
        self.proc: subprocess.Popen[bytes] | None = None
        self.pgid = 0
        self.peak_rss = 0
        self._log: BinaryIO | None = None
        self._log_lock = threading.Lock()
        self._reader: threading.Thread | None = None
        self._exit: int | None = None

    def start(self) -> None:
        self._log = os.fdopen(open_private(self.log_path, append=True), "ab")  # 0600; closed in finish()
        self.proc = subprocess.Popen(self.argv, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=self._log, start_new_session=True,
                                     close_fds=True)
        self.pgid = self.proc.pid  # a new session: the child leads its own process group
        self._reader = threading.Thread(target=self._read, name=f"train-{self.proc.pid}-stdout", daemon=True)
        self._reader.start()

    def log(self, line: str) -> None:
        """Append a line of our own to the run's log (the child writes its stderr there too)."""
        if self._log is None:
            return
        with self._log_lock:
            self._log.write((line[:LOG_LINE_MAX].rstrip("\n") + "\n").encode("utf-8", "replace"))
            self._log.flush()

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        stream = self.proc.stdout
        try:
            while True:
                raw = stream.readline(EVENT_LINE_MAX)
                if not raw:
                    break
                line = raw.decode("utf-8", "replace").strip()
                if not line:
                    continue
                event = None
                if line.startswith("{"):
                    with contextlib.suppress(ValueError):
                        event = json.loads(line)
                if isinstance(event, dict) and isinstance(event.get("type"), str):
                    self.events.put(event)
                else:
                    self.log(f"[stdout] {line}")
        except (OSError, ValueError):
            pass
        finally:
            self.eof.set()
            self.events.put(None)

    def drain(self, timeout: float) -> list[dict[str, Any]]:
        """Events received so far, waiting up to ``timeout`` for the first one."""
        out: list[dict[str, Any]] = []
        try:
            item = self.events.get(timeout=timeout)
            while True:
                if item is not None:
                    out.append(item)
                item = self.events.get_nowait()
        except queue.Empty:
            pass
        return out

    def exited(self) -> bool:
        """The leader has exited (it stays a zombie, unreaped, until :meth:`finish`)."""
        if self._exit is not None:
            return True
        assert self.proc is not None
        try:
            info = os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True
        if info is None:
            return False
        self._exit = info.si_status if info.si_code == os.CLD_EXITED else -info.si_status
        return True

    def signal_group(self, sig: int) -> None:
        if self.pgid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pgid, sig)

    def sample_memory(self) -> int:
        """RSS of the child and its descendants now; keeps the peak."""
        if self.proc is None:
            return 0
        try:
            import psutil

            parent = psutil.Process(self.proc.pid)
            rss = parent.memory_info().rss + sum(c.memory_info().rss for c in parent.children(recursive=True))
        except Exception:  # noqa: BLE001 - gone, or a zombie
            return self.peak_rss
        self.peak_rss = max(self.peak_rss, int(rss))
        return int(rss)

    def finish(self, *, eof_wait_s: float = 3.0) -> int:
        """After the leader exited (or to stop at once): read what is left, kill the whole group, reap.
        Returns the exit status (negative: killed by that signal)."""
        assert self.proc is not None
        if self.exited():
            self.eof.wait(eof_wait_s)  # the result line may still be in the pipe
        self.signal_group(signal.SIGKILL)  # the leader is unreaped, so the group id cannot be reused yet
        code = self.proc.wait()
        wait_group_gone(self.pgid)  # killed descendants are reaped by init a moment later
        if self._reader is not None:
            self._reader.join(timeout=5)
        if self.proc.stdout is not None:
            with contextlib.suppress(OSError):
                self.proc.stdout.close()
        if self._log is not None:
            with self._log_lock:
                self._log.close()
                self._log = None
        return self._exit if self._exit is not None else code

    def record(self, run_dir: Path, attempt: int) -> None:
        """Remember this child on disk so a later attempt on this host can make sure it is gone."""
        write_json_atomic(run_dir / CHILD_FILE, {"pid": self.proc.pid if self.proc else None, "pgid": self.pgid,
                                                 "host": socket.gethostname(), "attempt": attempt,
                                                 "argv": self.argv, "started": time.time()})


def kill_leftover_child(run_dir: Path) -> bool:
    """A previous attempt's training process still running on this host (its worker was paused or killed before
    it could stop it): kill its process group, so two trainers never share the checkpoint directory.
    Only a process whose command line is that training entry point for this run is touched."""
    try:
        info = json.loads((run_dir / CHILD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if info.get("host") != socket.gethostname() or not info.get("pgid"):
        return False
    pgid = int(info["pgid"])
    try:
        import psutil

        cmdline = psutil.Process(pgid).cmdline()
    except Exception:  # noqa: BLE001 - no such process (or it is already gone)
        return False
    if ENTRY_MODULE not in cmdline or str(run_dir / "spec.json") not in cmdline:
        return False
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while live_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return True


def live_members(pgid: int) -> list[int]:
    """Processes of a group that are still running (zombies waiting for their parent do not count)."""
    import psutil

    found = []
    for proc in psutil.process_iter(["pid", "status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(proc.pid)
        except (ProcessLookupError, PermissionError, psutil.Error):
            continue
    return found


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if value == value and value not in (float("inf"), float("-inf")) else None


@dataclass
class CurveState:
    """The run's curve and live facts, folded from the child's events."""

    curve: list[dict[str, Any]] = field(default_factory=list)
    early_stopping: list[dict[str, Any]] = field(default_factory=list)
    total_steps: int | None = None
    environment: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    message: str | None = None
    resumed_from_step: int | None = None
    last_checkpoint: int | None = None
    dirty: bool = False

    @property
    def step(self) -> int:
        return int(self.curve[-1]["step"]) if self.curve else 0

    @property
    def progress(self) -> float:
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0

    def progress_message(self) -> str:
        if self.total_steps and self.curve:
            loss = self.curve[-1].get("loss")
            text = f"step {self.step} of {self.total_steps}"
            return text + (f", loss {loss:.4f}" if isinstance(loss, float) else "")
        return self.message or "starting"

    def _point(self, step: int) -> dict[str, Any]:
        for point in reversed(self.curve):
            if point["step"] == step:
                return point
            if point["step"] < step:
                break
        point = {"step": step}
        in_order = not self.curve or self.curve[-1]["step"] < step
        self.curve.append(point)
        if not in_order:
            self.curve.sort(key=lambda p: p["step"])
        return point

    def apply(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "started":
            if isinstance(event.get("total_steps"), int):
                self.total_steps = event["total_steps"]
            resumed = event.get("resumed_from_step")
            self.resumed_from_step = int(resumed) if isinstance(resumed, int) else 0
            # A resumed attempt repeats the steps after its checkpoint: drop what the dead attempt logged there.
            self.curve = [p for p in self.curve if p["step"] <= self.resumed_from_step]
            if isinstance(event.get("environment"), dict):
                self.environment = event["environment"]
            self.message = (f"resumed from step {self.resumed_from_step}" if self.resumed_from_step
                            else "training started")
        elif kind == "step" and isinstance(event.get("step"), int):
            point = self._point(event["step"])
            for key in ("loss", "lr", "grad_norm", "seconds", "epoch"):
                if key in event:
                    point[key] = _num(event[key])
            if isinstance(event.get("tokens"), int):
                point["tokens"] = event["tokens"]
        elif kind == "eval" and isinstance(event.get("step"), int):
            self._point(event["step"])["eval_loss"] = _num(event.get("eval_loss"))
        elif kind == "checkpoint" and isinstance(event.get("step"), int):
            self.last_checkpoint = event["step"]
        elif kind == "early_stop":
            self.early_stopping.append({k: event.get(k) for k in ("step", "reason") if k in event})
        elif kind == "log" and isinstance(event.get("message"), str):
            self.message = event["message"][:300]
        elif kind == "result":
            self.result = event
            if isinstance(event.get("total_steps"), int):
                self.total_steps = event["total_steps"]
            curve = event.get("curve")
            if isinstance(curve, list) and curve:  # the trainer's own full curve (kept across resumes) wins
                points = [dict(p) for p in curve if isinstance(p, dict) and isinstance(p.get("step"), int)]
                self.curve = sorted(points, key=lambda p: p["step"])
            stop = event.get("early_stopping")
            if isinstance(stop, dict) and not any(e.get("step") == stop.get("step") for e in self.early_stopping):
                self.early_stopping.append(stop)
        else:
            return
        self.dirty = True
