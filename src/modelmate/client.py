"""A small typed Python SDK for ModelMate's REST API: record a run trained anywhere.

.. code-block:: python

    from modelmate.client import ModelMate

    mm = ModelMate("https://modelmate.example.org", token="mm_...")
    with mm.start_run(base_model="HuggingFaceTB/SmolLM2-135M-Instruct", config={"r": 16, "lora_alpha": 32},
                      training_args={"learning_rate": 2e-4}, dataset={"rows": 1000, "hash": "..."}) as run:
        for step in range(1, 101):
            loss = train_one_step()
            run.log(step, loss=loss, lr=scheduler.get_last_lr()[0])
        run.finish(outcome="success", adapter_dir="out/adapter")

``run.log`` buffers points and sends them every ``flush_every`` points or ``flush_seconds`` seconds (and at finish);
an exception inside the ``with`` block is recorded as a failure (with its type, message and traceback), Ctrl-C as
``partial`` (cancelled). Errors from the server raise :class:`ModelMateError` with the server's message.

Client side only: this module imports nothing from ModelMate's server packages (an import-linter contract checks
it), just httpx and the shared vocabulary of :mod:`modelmate.enums` (stdlib only).
"""

from __future__ import annotations

import math
import os
import time
import traceback as tb
import warnings
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from modelmate.enums import FailureCategory, TrainingOutcome

Outcome = TrainingOutcome | str  # "success" | "failure" | "partial"
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".ckpt")
CURVE_FIELDS = ("loss", "eval_loss", "lr", "grad_norm", "tokens", "seconds", "epoch")


class ModelMateError(Exception):
    """The server refused a request (or could not be reached): ``status`` (0 when unreachable), the server's
    ``code`` and ``message``."""

    def __init__(self, message: str, *, status: int = 0, code: str | None = None) -> None:
        super().__init__(f"{message} (HTTP {status})" if status else message)
        self.status = status
        self.code = code
        self.message = message


def _json_number(value: float | int | None) -> float | int | str | None:
    """JSON has no NaN/inf: they travel as the strings the server stores ("nan", "inf", "-inf")."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


class ModelMate:
    """A connection to a ModelMate server with an API token (``MODELMATE_URL`` / ``MODELMATE_TOKEN`` by default).
    ``transport`` lets tests talk to an app in-process (``httpx.ASGITransport`` or a TestClient's)."""

    def __init__(self, url: str | None = None, token: str | None = None, *, timeout: float = 60.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        url = url or os.environ.get("MODELMATE_URL")
        if not url:
            raise ModelMateError("no server URL: pass url= or set MODELMATE_URL")
        token = token if token is not None else os.environ.get("MODELMATE_TOKEN")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url + "/api/v1", headers=headers, timeout=timeout,
                                  transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ModelMate:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """One API call; the decoded JSON answer (None for 204). Raises :class:`ModelMateError`."""
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ModelMateError(f"cannot reach ModelMate at {self.url}: {exc}") from exc
        if response.status_code >= 400:
            message, code = response.text[:1000] or response.reason_phrase, None
            try:
                body = response.json()
            except ValueError:
                body = None
            if isinstance(body, dict):
                error: dict[str, Any] = body["error"] if isinstance(body.get("error"), dict) else body
                message = str(error.get("message") or error.get("detail") or message)
                code = error.get("code") if isinstance(error.get("code"), str) else None
            raise ModelMateError(message, status=response.status_code, code=code)
        return response.json() if response.content else None

    def start_run(self, *, base_model: str, config: dict[str, Any] | None = None,
                  training_args: dict[str, Any] | None = None, dataset: dict[str, Any] | None = None,
                  name: str | None = None, external_id: str | None = None,
                  environment: dict[str, Any] | None = None, base_model_config: dict[str, Any] | None = None,
                  parent_model_id: int | None = None, total_steps: int | None = None, flush_every: int = 50,
                  flush_seconds: float = 10.0) -> Run:
        """Record a new run (``config``: the LoRA/PEFT config; ``training_args``: the trainer's arguments;
        ``dataset``: name, rows, tokens, hash). The same ``external_id`` continues the run recorded before."""
        body: dict[str, Any] = {"base_model": base_model, "peft_config": config or {},
                                "training_args": training_args or {}, "environment": environment or {}}
        for key, value in (("name", name), ("external_id", external_id), ("dataset", dataset),
                           ("base_model_config", base_model_config), ("parent_model_id", parent_model_id),
                           ("total_steps", total_steps)):
            if value is not None:
                body[key] = value
        data = self.request("POST", "/runs/external", json=body)
        return Run(self, data, flush_every=flush_every, flush_seconds=flush_seconds)

    def get_run(self, run_id: int) -> dict[str, Any]:
        return self.request("GET", f"/runs/{int(run_id)}")


class Run:
    """A run being recorded: :meth:`log` points, then :meth:`finish`. A context manager (see the module docs)."""

    def __init__(self, client: ModelMate, data: dict[str, Any], *, flush_every: int = 50,
                 flush_seconds: float = 10.0) -> None:
        self.client = client
        self.data = data
        self.id: int = int(data["id"])
        self.flush_every = max(1, flush_every)
        self.flush_seconds = flush_seconds
        self.finished = data.get("status") not in (None, "running")
        self._buffer: list[dict[str, Any]] = []
        self._last_flush = time.monotonic()

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def log(self, step: int, *, loss: float | None = None, eval_loss: float | None = None, lr: float | None = None,
            grad_norm: float | None = None, tokens: int | None = None, seconds: float | None = None,
            epoch: float | None = None) -> None:
        """Buffer one point of the curve (values left out stay empty; the same step again is merged)."""
        if self.finished:
            raise ModelMateError(f"run {self.id} has finished; it takes no more points")
        values = {"loss": loss, "eval_loss": eval_loss, "lr": lr, "grad_norm": grad_norm, "tokens": tokens,
                  "seconds": seconds, "epoch": epoch}
        point: dict[str, Any] = {"step": int(step)}
        point.update({k: _json_number(v) for k, v in values.items() if v is not None})
        self._buffer.append(point)
        if len(self._buffer) >= self.flush_every or time.monotonic() - self._last_flush >= self.flush_seconds:
            try:
                self.flush()
            except ModelMateError as exc:  # kept for the next flush; training goes on
                warnings.warn(f"ModelMate: could not send the curve yet ({exc}); will retry", stacklevel=2)

    def flush(self) -> None:
        """Send the buffered points now (the server ignores a step it already has with the same values)."""
        self._last_flush = time.monotonic()
        if not self._buffer:
            return
        points = list(self._buffer)
        self.client.request("POST", f"/runs/external/{self.id}/points", json={"points": points})
        del self._buffer[:len(points)]

    def upload_adapter(self, adapter_dir: str | Path) -> list[str]:
        """Upload ``adapter_config.json`` and ``adapter_model.safetensors`` from ``adapter_dir`` (safetensors only:
        a folder with pickle weights and no safetensors file is refused here, before anything is sent)."""
        folder = Path(adapter_dir)
        missing = [n for n in ADAPTER_FILES if not (folder / n).is_file()]
        if missing:
            pickles = sorted(p.name for p in folder.glob("*") if p.suffix in PICKLE_SUFFIXES) if folder.is_dir() else []
            why = f" (found pickle weights {', '.join(pickles)}: save with safe_serialization=True)" if pickles else ""
            raise ModelMateError(f"{folder} is not a safetensors adapter: {', '.join(missing)} missing{why}")
        for name in ADAPTER_FILES:
            with (folder / name).open("rb") as fh:
                self.client.request("PUT", f"/runs/external/{self.id}/adapter/{name}",
                                    files={"file": (name, fh, "application/octet-stream")})
        return list(ADAPTER_FILES)

    def finish(self, outcome: Outcome = "success", *, adapter_dir: str | Path | None = None,
               failure_category: FailureCategory | str | None = None, message: str | None = None,
               error: BaseException | None = None, train_seconds: float | None = None,
               train_tokens: int | None = None, peak_memory_bytes: int | None = None) -> dict[str, Any]:
        """Send the remaining points, upload the adapter (when given), record the outcome; returns the run."""
        self.flush()
        if adapter_dir is not None and outcome != TrainingOutcome.FAILURE:
            self.upload_adapter(adapter_dir)
        body: dict[str, Any] = {"outcome": TrainingOutcome(outcome).value}
        if error is not None:
            body["error"] = {"type": type(error).__name__, "message": str(error)[:2000]}
            body["traceback"] = "".join(tb.format_exception(error))[-20_000:]
            message = message or f"{type(error).__name__}: {error}"[:4000]
        category = FailureCategory(failure_category).value if failure_category else None
        for key, value in (("failure_category", category), ("message", message),
                           ("train_seconds", train_seconds), ("train_tokens", train_tokens),
                           ("peak_memory_bytes", peak_memory_bytes)):
            if value is not None:
                body[key] = value
        self.data = self.client.request("POST", f"/runs/external/{self.id}/finish", json=body)
        self.finished = True
        return self.data

    def fail(self, exc: BaseException) -> dict[str, Any]:
        """Record ``exc`` ending the run: KeyboardInterrupt → partial (cancelled), anything else → failure (out of
        memory when it says so; otherwise the server's diagnosis, crashed by default)."""
        if isinstance(exc, KeyboardInterrupt):
            return self.finish(TrainingOutcome.PARTIAL, failure_category=FailureCategory.CANCELLED,
                               message="Interrupted (KeyboardInterrupt).")
        return self.finish(TrainingOutcome.FAILURE, failure_category=exception_category(exc), error=exc)

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self.finished:
            return
        if exc is None:
            self.finish(TrainingOutcome.SUCCESS)
            return
        try:
            self.fail(exc)
        except ModelMateError as report:  # the original exception matters more; say why it was not recorded
            warnings.warn(f"ModelMate: could not record the failure of run {self.id}: {report}", stacklevel=2)


def exception_category(exc: BaseException) -> str | None:
    """The failure category an exception itself proves (out_of_memory), else None (the server decides)."""
    text = f"{type(exc).__name__} {exc}".lower()
    if "outofmemory" in text or "out of memory" in text:
        return FailureCategory.OUT_OF_MEMORY.value
    return None
