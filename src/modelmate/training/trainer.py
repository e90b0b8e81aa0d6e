"""``train(job)``: LoRA fine-tuning of a causal language model with our own lean training loop.

The public surface is :class:`TrainJob`, :class:`TrainResult` and :func:`train`. The work happens in
``training.loop`` (data plan, optimisation steps, evaluation, early stopping, checkpoints); this module turns
whatever happens into a :class:`TrainResult` — a success, a failure with a category and a plain-language message,
or a partial result — and never lets an ordinary exception escape.

Outcomes:

- ``success``: all planned steps ran (or early stopping ended the run); the adapter is saved.
- ``partial`` / ``cancelled``: ``should_stop()`` returned True; the adapter is saved from the current weights and a
  checkpoint is written so the run can be resumed.
- ``failure`` / ``diverged``: the loss or gradient became NaN/infinite (no update is applied with them).
- ``failure`` / ``out_of_memory``: ``torch.OutOfMemoryError`` or ``MemoryError``.
- ``failure`` / ``invalid_data``: nothing trainable in the data, a record that cannot be encoded, or a base model
  we refuse to load (pickle weights, remote code).
- ``failure`` / ``crashed``: anything else, with the traceback in ``error``.

``BaseException``s that are not ``Exception`` (``KeyboardInterrupt``, ``SystemExit``) are not results: they
propagate, exactly like a killed process, and the next ``train(..., resume=True)`` continues from the newest
complete checkpoint.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable

from modelmate.training.data import DataError, DataErrors
from modelmate.training.environment import PeakMemory, describe_environment
from modelmate.training.loop import Run
from modelmate.training.results import EventSink, TrainingFailure, TrainJob, TrainResult
from modelmate.training.tiny import UnsafeModelError

__all__ = ["EventSink", "TrainJob", "TrainResult", "TrainingFailure", "train"]


def _error(exc: BaseException) -> dict:
    return {"type": type(exc).__name__, "message": str(exc)[:2000],
            "traceback": "".join(traceback.format_exception(exc))[-20000:]}


def _is_oom(exc: BaseException) -> bool:
    import torch

    oom_types: tuple[type[BaseException], ...] = (MemoryError,)
    oom = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", None)
    if oom is not None:
        oom_types += (oom,)
    return isinstance(exc, oom_types) or (isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower())


def _classify(exc: Exception, step: int) -> tuple[str, str]:
    where = f"at step {step}" if step else "before the first step"
    if isinstance(exc, TrainingFailure):
        return exc.category, exc.message
    if _is_oom(exc):
        return "out_of_memory", (
            f"Ran out of memory {where}. Lower the batch size or the maximum length (use gradient accumulation "
            "to keep the same effective batch), or train on a machine with more memory.")
    if isinstance(exc, DataError | DataErrors):
        return "invalid_data", f"The dataset could not be used: {exc}"
    if isinstance(exc, UnsafeModelError):
        return "invalid_data", f"The base model was refused: {exc}"
    return "crashed", f"Training crashed {where}: {type(exc).__name__}: {str(exc)[:500]}"


def train(job: TrainJob, *, on_event: EventSink, should_stop: Callable[[], bool] = lambda: False,
          resume: bool = True) -> TrainResult:
    """Run the fine-tuning job to an outcome; see the module docstring. Events go to ``on_event`` as they happen."""
    started = time.monotonic()
    run: Run | None = None
    with PeakMemory() as memory:
        try:
            run = Run(job, on_event=on_event, should_stop=should_stop)
            run.setup(resume=resume)
            run.fit()
            artifacts = run.save_outputs()
            return run.result(artifacts=artifacts, peak_memory=memory.sample())
        except Exception as exc:  # every ordinary failure becomes a result, never an escape
            step = run.step if run is not None else 0
            category, message = _classify(exc, step)
            if run is not None:
                run.log(f"failed ({category}): {message}")
                return run.result(failure=(category, message, _error(exc)), peak_memory=memory.sample())
            env = describe_environment(job.device)
            return TrainResult(outcome="failure", failure_category=category, message=message, error=_error(exc),
                               steps=0, total_steps=0, final_loss=None, final_eval_loss=None, train_tokens=0,
                               tokens_per_second=None, seconds=round(time.monotonic() - started, 3),
                               peak_memory_bytes=memory.sample(), environment=env)
