"""Log Hugging Face ``Trainer`` (and so TRL) runs to ModelMate, like ``WandbCallback`` / ``MLflowCallback``.

.. code-block:: python

    from modelmate.integrations import ModelMateCallback

    trainer = Trainer(model=peft_model, args=args, train_dataset=train, eval_dataset=val)
    ModelMateCallback(url="https://modelmate.example.org", token="mm_...").attach(trainer)
    trainer.train()

``on_train_begin`` records the base model (the PEFT config's ``base_model_name_or_path``, else
``model.config._name_or_path``; ``base_model=`` overrides it, e.g. a catalog key), the LoRA/PEFT config, the
TrainingArguments (``to_dict()`` without secrets such as ``hub_token``), a dataset fingerprint and stats (rows,
tokens, sha256 of the rows' ``input_ids``) and the environment (python, torch, transformers, peft, device);
``on_log`` sends the curve as it happens (buffered); ``on_train_end`` uploads the adapter (safetensors only) and
records success. A NaN/infinite loss stops training and is recorded as a failure, ``diverged``, as ModelMate's own
trainer does.

The Trainer has no hook for an exception inside its loop, so :meth:`ModelMateCallback.attach` (recommended) also
wraps ``trainer.train``: an exception there is recorded as a failure with its category (the server's diagnosis:
out_of_memory, diverged, crashed...) and re-raised; Ctrl-C (KeyboardInterrupt) is recorded as ``partial``
(cancelled). Without ``attach``, wrap the call yourself: ``with callback.track(): trainer.train()``.

Client side only: imports nothing from ModelMate's server packages, only :mod:`modelmate.client` and
:mod:`modelmate.enums`.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import platform
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from modelmate.client import ModelMate, ModelMateError, Run
from modelmate.enums import FailureCategory, TrainingOutcome

__all__ = ["ModelMateCallback", "ModelMateError"]

log = logging.getLogger(__name__)

SECRET_ARGS = {"hub_token", "push_to_hub_token", "hub_model_id_token", "report_to_token"}
SECRET_WORDS = ("token", "secret", "password", "api_key")
FINGERPRINT_ALL_ROWS = 100_000  # above: hash the first rows only (the stats still count all of them)
FINGERPRINT_FIRST_ROWS = 1000


def clean_training_args(args: Any) -> dict[str, Any]:
    """``TrainingArguments.to_dict()`` without secrets (any key naming a token, secret, password or API key)."""
    raw = args.to_dict() if hasattr(args, "to_dict") else dict(vars(args))
    return {k: v for k, v in raw.items()
            if k not in SECRET_ARGS and not any(w in k.lower() for w in SECRET_WORDS)}


def peft_config_of(model: Any) -> dict[str, Any]:
    """The active PEFT config (``model.peft_config[adapter]``) as a JSON-able dict; {} for a model without one."""
    configs = getattr(model, "peft_config", None)
    if not isinstance(configs, dict) or not configs:
        return {}
    name = getattr(model, "active_adapter", None)
    config = configs[name] if isinstance(name, str) and name in configs else next(iter(configs.values()))
    data = config.to_dict() if hasattr(config, "to_dict") else dict(vars(config))
    return {k: (sorted(v) if isinstance(v, set) else v) for k, v in data.items()}


def base_model_of(model: Any) -> tuple[str | None, dict[str, Any] | None]:
    """(base model name or path, its config.json as a dict)."""
    peft = peft_config_of(model)
    name = peft.get("base_model_name_or_path")
    config = getattr(model, "config", None)
    name = name or getattr(config, "_name_or_path", None) or getattr(config, "name_or_path", None)
    config_dict = config.to_dict() if config is not None and hasattr(config, "to_dict") else None
    return (str(name) if name else None), config_dict


def dataset_stats(dataset: Any) -> dict[str, Any]:
    """rows, tokens (``input_ids`` lengths) and a sha256 over the rows' ``input_ids`` (all of them up to
    ``FINGERPRINT_ALL_ROWS`` rows, else the first ``FINGERPRINT_FIRST_ROWS``; ``hash_rows`` says how many)."""
    if dataset is None:
        return {}
    try:
        rows = len(dataset)
    except TypeError:
        return {}
    stats: dict[str, Any] = {"rows": rows}
    name = getattr(getattr(dataset, "info", None), "dataset_name", None) or getattr(dataset, "name", None)
    if isinstance(name, str):
        stats["name"] = name[:200]
    fingerprint = getattr(dataset, "_fingerprint", None)
    if isinstance(fingerprint, str):
        stats["hf_fingerprint"] = fingerprint
    digest, hashed = hashlib.sha256(), 0
    tokens: int | None = 0
    limit = rows if rows <= FINGERPRINT_ALL_ROWS else FINGERPRINT_FIRST_ROWS
    try:
        for i in range(limit):
            row = dataset[i]
            ids = row.get("input_ids") if isinstance(row, dict) else None
            if ids is None:
                return stats
            ids = ids.tolist() if hasattr(ids, "tolist") else list(ids)
            tokens = (tokens or 0) + len(ids)
            digest.update(",".join(str(int(t)) for t in ids).encode() + b"\n")
            hashed += 1
        if limit < rows:  # a big dataset: count the tokens from the column (Hugging Face datasets), if it has one
            column = dataset["input_ids"] if hasattr(dataset, "column_names") else None
            tokens = sum(len(x) for x in column) if column is not None else None
    except Exception as exc:  # noqa: BLE001 - a dataset we cannot read: no fingerprint, training goes on
        log.warning("ModelMate: no dataset fingerprint (%s)", exc)
        return stats
    stats.update({"hash": digest.hexdigest(), "hash_rows": hashed})
    if tokens is not None:
        stats["tokens"] = tokens
    return stats


def environment(args: Any = None) -> dict[str, Any]:
    env: dict[str, Any] = {"python": platform.python_version(), "platform": platform.platform()}
    for package in ("torch", "transformers", "peft", "trl", "accelerate"):
        with contextlib.suppress(Exception):
            module = __import__(package)
            env[package] = getattr(module, "__version__", None)
    device = getattr(args, "device", None)
    if device is not None:
        env["device"] = str(getattr(device, "type", device))
    with contextlib.suppress(Exception):
        import torch

        if torch.cuda.is_available():
            env["gpu"] = torch.cuda.get_device_name(0)
    return env


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class ModelMateCallback(TrainerCallback):
    """Records a Trainer run on a ModelMate server (see the module docs). ``url``/``token`` default to
    ``MODELMATE_URL``/``MODELMATE_TOKEN``; ``client`` is an existing :class:`~modelmate.client.ModelMate`.
    ``base_model`` overrides the detected base (a Hugging Face id, a catalog key or id); ``upload_adapter=False``
    records the curve only."""

    def __init__(self, url: str | None = None, token: str | None = None, *, client: ModelMate | None = None,
                 base_model: str | None = None, name: str | None = None, external_id: str | None = None,
                 upload_adapter: bool = True, flush_every: int = 20, flush_seconds: float = 10.0) -> None:
        self.client = client or ModelMate(url, token)
        self.base_model = base_model
        self.name = name
        self.external_id = external_id
        self.upload_adapter = upload_adapter
        self.flush_every = flush_every
        self.flush_seconds = flush_seconds
        self.run: Run | None = None
        self.diverged: str | None = None
        self.train_seconds: float | None = None
        self._trainer: Any = None

    # --- wiring -----------------------------------------------------------------------------------------------

    def attach(self, trainer: Any) -> ModelMateCallback:
        """Add this callback to ``trainer`` and wrap its ``train`` so a crash or an interrupt inside the training
        loop is recorded (then re-raised). Returns the callback."""
        self._trainer = trainer
        if self not in trainer.callback_handler.callbacks:
            trainer.add_callback(self)
        original = trainer.train

        def train(*args: Any, **kwargs: Any) -> Any:
            with self.track():
                return original(*args, **kwargs)

        train.__wrapped__ = original  # type: ignore[attr-defined]
        trainer.train = train
        return self

    @contextlib.contextmanager
    def track(self) -> Iterator[ModelMateCallback]:
        """Record an exception (failure, with its category) or KeyboardInterrupt (partial) raised inside."""
        try:
            yield self
        except BaseException as exc:
            run = self.run
            if run is not None and not run.finished:
                try:
                    run.fail(exc)
                except ModelMateError as report:
                    warnings.warn(f"ModelMate: could not record the failure of run {run.id}: {report}",
                                  stacklevel=3)
            raise

    # --- TrainerCallback ----------------------------------------------------------------------------------------

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, train_dataloader: Any = None,
                       **kwargs: Any) -> None:
        if self.run is not None and not self.run.finished:
            return  # resumed within the same object: keep recording into the same run
        detected, model_config = base_model_of(model) if model is not None else (None, None)
        base = self.base_model or detected
        if not base:
            raise ModelMateError("ModelMateCallback: cannot tell the base model; pass base_model=")
        dataset = getattr(train_dataloader, "dataset", None)
        if dataset is None and self._trainer is not None:
            dataset = getattr(self._trainer, "train_dataset", None)
        local = bool(detected and os.path.isdir(str(detected)))
        self.run = self.client.start_run(
            base_model=base, config=peft_config_of(model) if model is not None else {},
            training_args=clean_training_args(args), dataset=dataset_stats(dataset), name=self.name,
            external_id=self.external_id, environment=environment(args),
            base_model_config=None if local or self.base_model else model_config,
            total_steps=int(state.max_steps) if getattr(state, "max_steps", 0) else None,
            flush_every=self.flush_every, flush_seconds=self.flush_seconds)
        self.diverged = None

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None,
               **kwargs: Any) -> None:
        if self.run is None or self.run.finished or not logs:
            return
        if "train_runtime" in logs:  # the end-of-training summary, not a point
            self.train_seconds = float(logs["train_runtime"]) if _finite(logs["train_runtime"]) else None
            return
        values = {"loss": logs.get("loss"), "eval_loss": logs.get("eval_loss"), "lr": logs.get("learning_rate"),
                  "grad_norm": logs.get("grad_norm"), "epoch": logs.get("epoch"),
                  "tokens": logs.get("num_input_tokens_seen")}
        values = {k: v for k, v in values.items() if isinstance(v, int | float) and not isinstance(v, bool)}
        if not values:
            return
        for key in ("loss", "eval_loss"):
            if key in values and not _finite(values[key]):
                self.diverged = (f"Training diverged at step {state.global_step}: the "
                                 f"{'held-out ' if key == 'eval_loss' else ''}loss became {values[key]}. Lower the "
                                 "learning rate.")
                control.should_training_stop = True
        tokens = values.pop("tokens", None)
        self.run.log(int(state.global_step), tokens=int(tokens) if tokens is not None else None, **values)

    def on_train_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        run = self.run
        if run is None or run.finished:
            return
        if self.diverged:
            run.finish(TrainingOutcome.FAILURE, failure_category=FailureCategory.DIVERGED, message=self.diverged,
                       train_seconds=self.train_seconds)
            return
        with tempfile.TemporaryDirectory(prefix="modelmate-adapter-") as tmp:
            adapter = self._adapter_dir(args, model, Path(tmp)) if self.upload_adapter else None
            run.finish(TrainingOutcome.SUCCESS, adapter_dir=adapter, train_seconds=self.train_seconds)

    # --- the adapter --------------------------------------------------------------------------------------------

    def _adapter_dir(self, args: Any, model: Any, tmp: Path) -> Path | None:
        """The trained adapter as safetensors: the PEFT model saved now (safe_serialization), else the output dir's
        ``adapter_model.safetensors``. Pickle weights are skipped with a warning; None when there is no adapter."""
        if model is not None and peft_config_of(model) and hasattr(model, "save_pretrained"):
            model.save_pretrained(str(tmp), safe_serialization=True)
            if (tmp / "adapter_model.safetensors").is_file():
                return tmp
        out = Path(getattr(args, "output_dir", "") or ".")
        if (out / "adapter_model.safetensors").is_file() and (out / "adapter_config.json").is_file():
            return out
        if any((out / n).is_file() for n in ("adapter_model.bin", "pytorch_model.bin")):
            warnings.warn("ModelMate: the adapter in the output dir is a pickle file (.bin); it is not uploaded. "
                          "Save with safe_serialization=True.", stacklevel=2)
        else:
            warnings.warn("ModelMate: no LoRA/PEFT adapter to upload (the model has no peft_config)", stacklevel=2)
        return None
