"""Child-process entry point: ``python -m modelmate.training.entry SPEC.json``.

The spec (JSON)::

    {"config": {...TrainingConfig...}, "base_model": "<dir or hf id>", "dataset_path": "<canonical .jsonl>",
     "eval_split": 0.1, "seed": 42, "output_dir": "...", "checkpoint_dir": "...", "target_modules": [...],
     "model_card": {...}, "threads": 2, "chat_template": null, "resume": true, "init_adapter": null}

``init_adapter`` (a fork): the parent's adapter directory; training continues from its weights.

``config.workers`` above 1 trains with that many Ray Train workers (``training.distributed``) on the Ray cluster
named by the optional ``"ray_address"`` key or the ``RAY_ADDRESS`` environment variable, or on a local cluster
started for the run; the protocol below is the same (worker 0's events). With one worker Ray is never imported.

Protocol: one JSON object per line on stdout, flushed — the trainer's events (``started``, ``step``, ``eval``,
``checkpoint``, ``early_stop``, ``log``) and finally ``{"type": "result", ...TrainResult}``. Anything else that
writes to stdout (libraries, C extensions) is redirected to stderr, so stdout carries only events. The exit status
is 0 whenever a result line was printed, failures included (they are results); 2 for a usage error; 1 only if the
entry itself broke.

Signals: the first SIGTERM (or SIGINT) asks for a graceful stop — the current step finishes, a checkpoint and the
adapter are written, the result is ``partial``/``cancelled``. A second one exits at once (status 143).

Lifetime: the process dies with its parent. On Linux ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` makes the kernel kill it
when the parent goes away (note: when the parent *thread* that started it exits — start it from a thread that lives
as long as the job), and a watcher thread checks ``os.getppid()`` every second as a fallback (other platforms, or a
parent that died before prctl ran; set ``MODELMATE_PARENT_PID`` to make that check exact). A killed child never
half-writes a checkpoint (they are renamed into place), so the next attempt resumes from the last complete one.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import IO, Any

from modelmate.storage.private import use_private_umask

PR_SET_PDEATHSIG = 1
SPEC_KEYS = {"config", "base_model", "dataset_path", "eval_split", "seed", "output_dir", "checkpoint_dir",
             "target_modules", "model_card", "threads", "chat_template", "resume", "device", "init_adapter",
             "ray_address"}


class Emitter:
    """Writes one JSON line per event to the real stdout; a vanished reader never breaks training."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.lock = threading.Lock()
        self.broken = False

    def __call__(self, event: dict) -> None:
        try:
            line = json.dumps(event, default=str, allow_nan=False)
        except ValueError:
            line = json.dumps(_sanitize(event), default=str)
        with self.lock:
            if self.broken:
                return
            try:
                self.stream.write(line + "\n")
                self.stream.flush()
            except (BrokenPipeError, OSError, ValueError):
                self.broken = True


def _sanitize(value: Any) -> Any:
    """NaN/Infinity are not JSON: report them as strings ("nan", "inf")."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return str(value)
    if isinstance(value, dict):
        return {k: _sanitize(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_sanitize(v) for v in value]
    return value


def die_with_parent() -> None:
    """Arrange for this process to be killed when its parent dies (see the module docstring)."""
    expected = os.environ.get("MODELMATE_PARENT_PID")
    parent = int(expected) if expected and expected.isdigit() else os.getppid()
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - no glibc
            pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def install_stop_handlers(stop: threading.Event) -> None:
    def handle(signum: int, _frame: Any) -> None:
        if stop.is_set():
            os._exit(128 + signum)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def build_job(spec: dict):
    """Validate the spec and load the dataset split; raises ValueError (or pydantic's ValidationError)."""
    from modelmate.training.config import TrainingConfig  # lazy: start-up (trainer: a training child only)
    from modelmate.training.data import read_canonical, split_indices  # lazy: start-up (trainer: a training child only)
    from modelmate.training.trainer import TrainJob  # lazy: start-up (trainer: a training child only)

    if not isinstance(spec, dict):
        raise ValueError("the spec must be a JSON object")
    unknown = sorted(set(spec) - SPEC_KEYS)
    if unknown:
        raise ValueError(f"unknown spec keys: {', '.join(unknown)}")
    for key in ("base_model", "dataset_path", "output_dir", "checkpoint_dir"):
        if not spec.get(key):
            raise ValueError(f"the spec needs {key!r}")
    if spec.get("ray_address") is not None and not isinstance(spec["ray_address"], str):
        raise ValueError("'ray_address' must be a string (a Ray cluster address such as 10.0.0.5:6379)")
    config = TrainingConfig.model_validate(spec.get("config") or {})
    eval_split = float(spec.get("eval_split", config.eval_split))
    seed = int(spec.get("seed", config.seed))
    records = read_canonical(Path(spec["dataset_path"]))
    if not records:
        raise ValueError("the dataset is empty")
    train_idx, eval_idx = split_indices(len(records), eval_split, seed)
    return TrainJob(config=config, base_model=str(spec["base_model"]),
                    train_records=[records[i] for i in train_idx], eval_records=[records[i] for i in eval_idx],
                    output_dir=Path(spec["output_dir"]), checkpoint_dir=Path(spec["checkpoint_dir"]),
                    target_modules=list(spec.get("target_modules") or []),
                    model_card=dict(spec.get("model_card") or {}), chat_template=spec.get("chat_template"),
                    device=spec.get("device"),
                    init_adapter=Path(spec["init_adapter"]) if spec.get("init_adapter") else None)


def _spec_failure(exc: BaseException) -> dict:
    from modelmate.training.trainer import TrainResult  # lazy: start-up (trainer: a training child only)

    result = TrainResult(outcome="failure", failure_category="invalid_data",
                         message=f"The training specification is invalid: {exc}",
                         error={"type": type(exc).__name__, "message": str(exc)[:2000],
                                "traceback": "".join(traceback.format_exception(exc))[-20000:]},
                         steps=0, total_steps=0, final_loss=None, final_eval_loss=None, train_tokens=0,
                         tokens_per_second=None, seconds=0.0, peak_memory_bytes=None, environment={})
    return {"type": "result", **result.as_dict()}


def event_channel() -> Emitter:
    """Set up a child process: stdout carries events only (our own handle on the real stdout; fd 1 now points at
    stderr for every library that prints), the process dies with its parent, and whatever it writes (adapters,
    checkpoints, results, caches) is private to the service account (umask 077)."""
    use_private_umask()
    events = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    die_with_parent()
    return Emitter(events)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m modelmate.training.entry SPEC.json", file=sys.stderr)
        return 2
    emit = event_channel()
    stop = threading.Event()
    install_stop_handlers(stop)
    try:
        spec = json.loads(Path(args[0]).read_text(encoding="utf-8"))
        job = build_job(spec)
    except Exception as exc:  # noqa: BLE001 - a bad spec is a failure result, not a crash
        emit(_spec_failure(exc))
        return 0
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from transformers.utils import logging as hf_logging

    from modelmate.training.environment import configure_threads  # lazy: start-up (trainer: a training child only)
    from modelmate.training.trainer import train  # lazy: start-up (trainer: a training child only)

    hf_logging.disable_progress_bar()
    configure_threads(spec.get("threads"))
    emit({"type": "log", "message": f"{len(job.train_records)} training and {len(job.eval_records)} held-out "
                                    f"records; pid {os.getpid()}"})
    resume = bool(spec.get("resume", True))
    if job.config.workers > 1:
        from modelmate.training.distributed import run_distributed  # lazy: start-up (trainer: a training child only)

        result = run_distributed(job, workers=job.config.workers, on_event=emit, should_stop=stop.is_set,
                                 resume=resume, threads=spec.get("threads"), ray_address=spec.get("ray_address"))
    else:
        result = train(job, on_event=emit, should_stop=stop.is_set, resume=resume)
    emit({"type": "result", **result.as_dict()})
    return 0


if __name__ == "__main__":  # pragma: no cover - exercised through subprocesses in tests
    sys.exit(main())
