"""Child-process entry point: ``python -m modelmate.evaluation.entry SPEC.json``.

The spec (JSON)::

    {"model": "<dir>", "adapter": "<dir>" | null, "domains": [...] | null, "tasks": [...] | null,
     "mode": "quick" | "full", "data_dir": "<mirror>" | null, "cache_dir": "...", "code_execution_enabled": true,
     "quick_size": null, "threads": 1, "device": "cpu", "result_path": "<file>" | null,
     "checkpoint_path": "<file>" | null, "backend": "auto" | "hf" | "vllm"}

``backend`` (default ``auto``, see :mod:`modelmate.evaluation.backends`) is resolved here, on the machine that runs
the evaluation, before anything loads: ``vllm`` where vLLM cannot run ends the process with a failed result naming
``MODELMATE_EVAL_BACKEND=hf`` as the fix (no crash mid-run). A ``log`` event names the engine in use.

Protocol (like :mod:`modelmate.training.entry`, whose helpers it reuses): one JSON object per line on stdout — the
runner's progress events (``started``, ``task_started``, ``task_finished``, ``task_skipped``, ``task_failed``,
``finished``) and finally ``{"type": "result", ...BenchmarkRun.to_dict()}`` (the raw lm-eval JSON made
serialisable). The result is also written to ``result_path`` when given, so a result too long for one event line
is not lost; once it is written, the stdout event leaves out the per-document outcomes (``"outcomes_file": true``:
read them from the file). Weights are loaded from safetensors only. The process dies with its parent; SIGTERM
stops it at once.

With ``checkpoint_path``, every finished (or failed) task's record is written there before its ``task_finished``
event, and a later process with the same spec resumes from it without running those tasks again (a background
evaluation that yielded to user work, or a retry). A checkpoint written for a different spec is ignored.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any, Literal

from modelmate.enums import EvalBackend
from modelmate.evaluation import backends
from modelmate.jsonutil import write_json_atomic
from modelmate.training.entry import _sanitize, event_channel
from modelmate.training.environment import configure_threads

SPEC_KEYS = {"model", "adapter", "domains", "tasks", "mode", "data_dir", "cache_dir", "code_execution_enabled",
             "quick_size", "threads", "device", "result_path",
             "checkpoint_path", "backend"}
# Spec keys that do not change the scores (a checkpoint stays valid across them)
NEUTRAL_KEYS = {"threads", "device", "result_path", "checkpoint_path", "cache_dir"}


def validate(spec: Any) -> dict[str, Any]:
    if not isinstance(spec, dict):
        raise ValueError("the spec must be a JSON object")
    unknown = sorted(set(spec) - SPEC_KEYS)
    if unknown:
        raise ValueError(f"unknown spec keys: {', '.join(unknown)}")
    for key in ("model", "cache_dir"):
        if not spec.get(key):
            raise ValueError(f"the spec needs {key!r}")
    if spec.get("mode", "quick") not in ("quick", "full"):
        raise ValueError("mode must be 'quick' or 'full'")
    if spec.get("backend") is not None and spec["backend"] not in {b.value for b in EvalBackend}:
        raise ValueError(f"backend must be one of {', '.join(b.value for b in EvalBackend)}")
    return spec


def model_dir(ref: str) -> Path:
    """The local model directory to evaluate. This process downloads nothing: the worker pulls a Hugging Face model
    before it starts us (``modelmate.finetune.hf_pull``: safe files only, progress, resume, safety checks)."""
    path = Path(ref)
    if not path.is_dir():
        raise FileNotFoundError(f"{ref} is not a local model directory (the worker downloads Hugging Face models "
                                "before it starts the evaluation)")
    return path


def result_event(run: Any) -> dict[str, Any]:
    data = run.to_dict()
    data["raw"] = json.loads(run.raw_json())
    return {"type": "result", **_sanitize(data)}


def failure_event(exc: BaseException, mode: str) -> dict[str, Any]:
    message = f"{type(exc).__name__}: {exc}"
    return {"type": "result", "status": "failed", "mode": mode, "rows": [], "raw": {}, "samples": {},
            "data_source": "", "harness_version": "", "errors": {"*": message[:2000]}, "seconds": 0.0,
            "error": {"type": type(exc).__name__, "message": str(exc)[:2000],
                      "traceback": "".join(traceback.format_exception(exc))[-20000:]}}


def _write_result(path: str | None, event: dict[str, Any]) -> bool:
    if not path:
        return False

    try:
        write_json_atomic(Path(path), json.loads(json.dumps(event, default=str)))
    except (OSError, ValueError):  # the event line is still there
        return False
    return True


def stdout_event(event: dict[str, Any], written: bool) -> dict[str, Any]:
    """The result event for stdout: once the result file is written, without the per-document outcomes (they can
    be megabytes; the reader takes them from the file, ``"outcomes_file": true``)."""
    if not written or not event.get("outcomes"):
        return event
    return {**{k: v for k, v in event.items() if k != "outcomes"}, "outcomes_file": True}


def fingerprint(spec: dict[str, Any]) -> str:
    """The checkpoint's key: the spec's score-relevant keys (``backend``: the engine resolved for this run, so that
    the rows of one evaluation all come from one engine)."""
    import hashlib

    relevant = {k: v for k, v in spec.items() if k not in NEUTRAL_KEYS}
    return hashlib.sha256(json.dumps(relevant, sort_keys=True, default=str).encode()).hexdigest()


def load_checkpoint(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The task records of an earlier process with this spec ({} when there are none or they are for another)."""
    path = spec.get("checkpoint_path")
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("fingerprint") != fingerprint(spec):
        return {}
    tasks = data.get("tasks")
    return tasks if isinstance(tasks, dict) else {}


def checkpointer(spec: dict[str, Any], done: dict[str, dict[str, Any]]):
    """``on_task_done`` for the runner: adds the record and rewrites the checkpoint (atomically)."""
    path = spec.get("checkpoint_path")
    key = fingerprint(spec)

    def save(name: str, record: dict[str, Any]) -> None:
        done[name] = record
        if path:
            write_json_atomic(Path(path), {"fingerprint": key, "tasks": done})

    return save


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m modelmate.evaluation.entry SPEC.json", file=sys.stderr)
        return 2
    emit = event_channel()
    mode: Literal["quick", "full"] = "quick"
    spec: dict[str, Any] = {}
    try:
        spec = validate(json.loads(Path(args[0]).read_text(encoding="utf-8")))
        mode = "full" if spec.get("mode") == "full" else "quick"  # validate() allows only these two
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

        configure_threads(spec.get("threads"))
        requested = spec.get("backend") or EvalBackend.AUTO.value
        backend = backends.resolve_backend(requested)  # before anything loads
        from modelmate.evaluation.runner import load_model, run_benchmarks  # lazy: start-up (lm-eval runner)

        spec = {**spec, "backend": backend.value}  # the checkpoint belongs to the engine in use
        emit({"type": "log", "message": backends.describe(requested, backend)})
        emit({"type": "log", "message": f"loading {spec['model']}" + (" + adapter" if spec.get("adapter") else "")
                                        + f" on {backend}; pid {os.getpid()}"})
        adapter = Path(spec["adapter"]) if spec.get("adapter") else None
        lm = load_model(model_dir(str(spec["model"])), adapter, backend=backend, device=spec.get("device") or "cpu")
        data_dir = Path(spec["data_dir"]) if spec.get("data_dir") else None
        done = load_checkpoint(spec)
        if done:
            emit({"type": "log", "message": f"resuming: {len(done)} task(s) already done ({', '.join(done)})"})
        run = run_benchmarks(lm, domains=spec.get("domains") or None, tasks=spec.get("tasks") or None, mode=mode,
                             data_dir=data_dir, cache_dir=Path(spec["cache_dir"]),
                             code_execution_enabled=bool(spec.get("code_execution_enabled", True)),
                             quick_size=spec.get("quick_size"), on_progress=emit,
                             resume=done, on_task_done=checkpointer(spec, dict(done)))
        event = result_event(run)
    except Exception as exc:  # noqa: BLE001 - a failure is a result, not a crash
        event = failure_event(exc, mode)
    written = _write_result(spec.get("result_path"), event)
    emit(stdout_event(event, written))
    return 0


if __name__ == "__main__":  # pragma: no cover - exercised through subprocesses in tests
    sys.exit(main())
