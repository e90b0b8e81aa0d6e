"""Runs trained anywhere: recorded through ``/api/v1/runs/external`` (the SDK, the HF Trainer callback) or imported
(MLflow), stored as ordinary training runs with ``source`` "external" / "mlflow" and no job.

The same rules as a native run wherever they overlap: the curve has the shape of ``loss_curve_data`` (step, loss,
eval_loss, lr, grad_norm, tokens, seconds; NaN/inf kept as the strings "nan"/"inf", as the trainer stores them),
the failure category comes from :func:`modelmate.training.diagnose.classify`, the adapter is sealed in the artifact
store under ``runs/<id>/adapter``, registered as the run's output model with
:func:`modelmate.finetune.service.register_output_model`, and the ``model_trained`` outbox event queues the automatic
cross-domain evaluation. Every function here works without HTTP (an importer calls them with its own session);
services never commit.

* :func:`create_external_run` — base model by Hugging Face id, catalog key or id (a known or ``config.json``-described
  Hugging Face model is added to the catalog as a base, as ``modelmate models pull`` does; anything else is 404);
  the PEFT config and training arguments map to :class:`~modelmate.training.config.TrainingConfig` fields where
  recognised, the rest is kept verbatim under ``config["external"]``.
* :func:`append_points` — idempotent on step (a point for a step already on the curve is merged into it).
* :func:`finish_external_run` — outcome, category, message, optionally the adapter folder.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import struct
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from modelmate.config import Settings
from modelmate.db.base import utcnow
from modelmate.enums import FailureCategory, ModelKind, RunSource, RunStatus, TrainingOutcome
from modelmate.errors import ConflictError, ForbiddenError, NotFoundError, ValidationFailed
from modelmate.finetune import adapters, service
from modelmate.finetune import base_catalog as bases
from modelmate.finetune import repository as repo
from modelmate.finetune.schemas import CurvePoint, ExternalFinish, ExternalRunCreate
from modelmate.jobs import outbox
from modelmate.models import Model, TrainingRun, User
from modelmate.storage.artifacts import artifact_store
from modelmate.storage.private import private_dir
from modelmate.training import model_specs as specs
from modelmate.training.config import TrainingConfig
from modelmate.training.diagnose import classify

CURVE_KEYS = ("loss", "eval_loss", "lr", "grad_norm", "tokens", "seconds", "epoch")
MAX_CURVE_POINTS = 200_000
MAX_SPEC_JSON = 256 * 1024  # the PEFT config + training arguments + environment, serialised
ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
MAX_ADAPTER_CONFIG_BYTES = 1024 * 1024
SAFETENSORS_DTYPES = {"F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2"}
_HF_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")

# PEFT's LoraConfig / HF TrainingArguments name → TrainingConfig field.
PEFT_FIELDS = {"r": "r", "lora_alpha": "alpha", "lora_dropout": "dropout", "target_modules": "target_modules",
               "use_dora": "use_dora", "use_rslora": "use_rslora"}
ARG_FIELDS = {"learning_rate": "learning_rate", "num_train_epochs": "epochs", "max_steps": "max_steps",
              "per_device_train_batch_size": "batch_size", "gradient_accumulation_steps": "gradient_accumulation_steps",
              "lr_scheduler_type": "lr_scheduler", "warmup_ratio": "warmup_ratio", "seed": "seed",
              "weight_decay": "weight_decay", "max_grad_norm": "max_grad_norm",
              "gradient_checkpointing": "gradient_checkpointing", "optim": "optimizer",
              "logging_steps": "logging_steps",
              "eval_steps": "eval_steps", "save_steps": "save_steps", "max_seq_length": "max_seq_length",
              "max_length": "max_seq_length", "packing": "packing"}
OPTIMIZERS = {"adamw_torch": "adamw", "adamw_torch_fused": "adamw", "adamw_hf": "adamw", "adamw": "adamw",
              "adamw_bnb_8bit": "adamw_8bit", "adamw_8bit": "adamw_8bit", "paged_adamw_8bit": "paged_adamw_8bit"}


# --- configuration ------------------------------------------------------------------------------------------------

def _field_value(field: str, value: Any) -> tuple[bool, Any]:
    """(recognised, the value as TrainingConfig stores it) for one field on its own."""
    if field == "optimizer":
        value = OPTIMIZERS.get(str(value).lower().removeprefix("optimizernames."), value)
    if field == "lr_scheduler" and isinstance(value, str):
        value = value.lower().removeprefix("schedulertype.")
    if field in ("max_steps", "eval_steps", "save_steps") and isinstance(value, int | float) and value <= 0:
        return False, value  # HF's "not set" (-1 / 0)
    if field == "target_modules" and isinstance(value, str):
        return False, value  # a regular expression over module names: kept verbatim
    try:
        checked = TrainingConfig.model_validate({field: sorted(value) if isinstance(value, list | set) else value})
    except ValidationError:
        return False, value
    return True, checked.model_dump(mode="json")[field]


def map_config(peft_config: dict[str, Any], training_args: dict[str, Any]) -> dict[str, Any]:
    """The run's ``config``: recognised TrainingConfig fields, plus ``external`` with everything else verbatim
    (``peft`` and ``training_args``: the entries that did not map, as sent)."""
    config: dict[str, Any] = {}
    rest: dict[str, dict[str, Any]] = {"peft": {}, "training_args": {}}
    for source, names, bucket in ((peft_config, PEFT_FIELDS, "peft"), (training_args, ARG_FIELDS, "training_args")):
        for name, value in source.items():
            field = names.get(name)
            ok, mapped = _field_value(field, value) if field is not None and value is not None else (False, value)
            if ok and field is not None and field not in config:
                config[field] = mapped
            else:
                rest[bucket][name] = value
    if training_args.get("bf16") is True:
        config["precision"] = "bf16"
    elif training_args.get("fp16") is True:
        config["precision"] = "fp16"
    elif "bf16" in training_args or "fp16" in training_args:
        config["precision"] = "fp32"
    peft_type = str(peft_config.get("peft_type") or "LORA").upper().removeprefix("PEFTTYPE.")
    if peft_type == "LORA":
        config["method"] = "lora"
    config["external"] = {k: v for k, v in rest.items() if v}
    return config


# --- base model ---------------------------------------------------------------------------------------------------

def resolve_base(session: Session, user: User, ref: str, model_config: dict[str, Any] | None = None) -> Model:
    """The catalog base model ``ref`` names (Hugging Face id, key or catalog id). An unknown Hugging Face id of a
    registry model, or — for an administrator — one described by its ``config.json`` with a supported architecture, is
    added to the catalog as a public base (as ``modelmate models pull`` would); a non-administrator's unknown model is
    403, anything else 404 (422 for an unsupported one)."""
    ref = ref.strip()
    try:
        model = bases.resolve_model_ref(session, user, ref)
    except NotFoundError:
        if not _HF_ID.match(ref):
            raise
        known = specs.find_spec(ref)
        row: Model | None
        if known is not None:
            row = bases.upsert_base(session, known)
        elif model_config:
            if not user.is_admin:  # a new public catalog row: the same rule as importing a base model (GGUF)
                raise ForbiddenError(f"base model {ref[:200]!r} is not in the catalog, and only administrators can "
                                     "add base models; ask an administrator of this server to add it (or name a "
                                     "base model that is in the catalog)", code="admin_only") from None
            try:
                org, _, name = ref.partition("/")
                spec = specs.local_spec(name, model_config, None, key=bases.hf_key(ref))
            except (ValueError, TypeError, KeyError) as exc:
                raise ValidationFailed(f"base model {ref!r}: {exc}", code="invalid_base") from None
            spec = replace(spec, hf_repo_id=ref, developer=org,
                           description=f"{ref} ({spec.architecture}) from the Hugging Face Hub, first named by a "
                                       "run logged from outside ModelMate.")
            row = bases.upsert_base(session, spec)
        else:
            raise NotFoundError(f"unknown base model {ref[:200]!r}: it is not in the catalog; send its config.json "
                                "(base_model_config) to add it", code="unknown_base") from None
        if row is None:
            raise ConflictError(f"{ref!r} is in the catalog as someone's private or fine-tuned model",
                                code="invalid_base") from None
        return row
    if model.kind == ModelKind.FINETUNED.value:
        raise ValidationFailed(f"'{model.name}' is a fine-tuned model: name its base and give parent_model_id",
                               code="invalid_base")
    if model.kind != ModelKind.BASE.value:
        raise NotFoundError(f"unknown base model {ref[:200]!r}")
    return model


# --- the run ------------------------------------------------------------------------------------------------------

def create_external_run(session: Session, settings: Settings, user: User, spec: ExternalRunCreate, *,
                        source: RunSource = RunSource.EXTERNAL) -> TrainingRun:
    """Record a run trained elsewhere (status running, no job). With ``spec.external_id`` it is idempotent: the run
    this owner already recorded with that id and source is returned as it is."""
    if spec.external_id is not None:
        existing = repo.run_by_external_id(session, user.id, source.value, spec.external_id)
        if existing is not None:
            return existing
    size = len(json.dumps([spec.peft_config, spec.training_args, spec.environment,
                           spec.dataset.model_dump() if spec.dataset else None], default=str))
    if size > MAX_SPEC_JSON:
        raise ValidationFailed(f"the run's configuration and environment are too large ({size} bytes of JSON; at "
                               f"most {MAX_SPEC_JSON})", code="too_large")
    base = resolve_base(session, user, spec.base_model, spec.base_model_config)
    parent: Model | None = None
    if spec.parent_model_id is not None:
        parent = repo.model_by_id(session, spec.parent_model_id)
        if parent is None or not bases.visible(parent, user) or parent.kind != ModelKind.FINETUNED.value:
            raise NotFoundError(f"fine-tuned model {spec.parent_model_id} not found")
        if parent.base_model_id != base.id:
            raise ValidationFailed(f"'{parent.name}' was trained from another base model", code="invalid_base")
    config = json.loads(json.dumps(map_config(spec.peft_config, spec.training_args), default=str))
    dataset = spec.dataset.model_dump(exclude_none=True) if spec.dataset else {}
    if dataset:
        config["external"]["dataset"] = json.loads(json.dumps(dataset, default=str))
    now = utcnow()
    name = (spec.name or "").strip() or f"{base.name} ({source.value} run)"
    return repo.insert_run(session, {
        "owner_id": user.id, "job_id": None, "name": name[:200], "base_model_id": base.id,
        "parent_model_id": parent.id if parent else None, "dataset_id": None,
        "dataset_hash": (dataset.get("hash") or None), "mode": "expert", "preset": None, "config": config,
        "status": RunStatus.RUNNING.value, "loss_curve_data": [], "early_stopping": [],
        "environment": json.loads(json.dumps(spec.environment, default=str)), "estimate": {},
        "total_steps": spec.total_steps, "source": source.value, "external_id": spec.external_id,
        "created_at": now, "started_at": now})


def get_external_run(session: Session, user: User, run_id: int) -> TrainingRun:
    """Your run recorded from outside (another user's, or a native run: 404)."""
    run = repo.get_owned_run(session, user.id, run_id)
    if run is None or run.source == RunSource.MODELMATE.value:
        raise NotFoundError(f"external run {run_id} not found")
    return run


def _stored(value: Any) -> Any:
    """A curve value as the run row keeps it: non-finite floats as the strings the trainer writes."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def append_points(session: Session, run: TrainingRun, points: list[CurvePoint] | list[dict[str, Any]]) -> int:
    """Add points to the run's curve, idempotent on step: a point for a step already there is merged into it (its
    non-empty values win), so a resent batch changes nothing and a training and an evaluation log of one step make
    one point. Returns how many new steps were added. 409 once the run has finished."""
    if run.status != RunStatus.RUNNING.value:
        raise ConflictError(f"run {run.id} has finished; its curve is closed", code="run_finished")
    by_step = {int(p["step"]): dict(p) for p in run.loss_curve_data or [] if isinstance(p, dict) and "step" in p}
    added = 0
    for raw in points:
        point = CurvePoint.model_validate(raw).model_dump(exclude_none=True)
        step = int(point["step"])
        if step < 0:
            raise ValidationFailed("a curve point's step cannot be negative", code="invalid_point")
        values = {k: _stored(v) for k, v in point.items() if k == "step" or k in CURVE_KEYS}
        if step not in by_step:
            added += 1
        by_step[step] = {**by_step.get(step, {}), **values}
    if len(by_step) > MAX_CURVE_POINTS:
        raise ValidationFailed(f"a curve has at most {MAX_CURVE_POINTS} points", code="too_large")
    run.loss_curve_data = [by_step[s] for s in sorted(by_step)]  # a new list: the JSON column sees the change
    repo.save_curve_points(session, run)
    session.flush()
    return added


def reset_curve(session: Session, run: TrainingRun) -> None:
    """Empty a reopened run's curve (an MLflow re-import records it again), its compact curve with it."""
    run.loss_curve_data = []
    repo.save_curve_points(session, run)


def _last(curve: list[dict[str, Any]], key: str) -> float | None:
    for point in reversed(curve):
        value = point.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value) if math.isfinite(value) else None
        if isinstance(value, str):
            return None  # "nan"/"inf": the last value was not a number
    return None


def finish_external_run(session: Session, settings: Settings, run: TrainingRun, outcome: TrainingOutcome | str,
                        failure_category: FailureCategory | str | None = None, message: str | None = None, *,
                        adapter_dir: Path | None = None, error: dict[str, Any] | None = None,
                        train_seconds: float | None = None, train_tokens: int | None = None,
                        peak_memory_bytes: int | None = None) -> TrainingRun:
    """Record the outcome. The category is the diagnosis native runs get (:func:`classify`: the given category
    wins, else the curve's — diverged, no_learning, overfitting; a failure nobody could explain is ``crashed``).
    ``partial`` with category ``cancelled`` (an interrupt) ends the run as cancelled, like a cancelled native run.
    ``adapter_dir`` (``adapter_config.json`` + ``adapter_model.safetensors``, checked) is sealed in the artifact
    store; then the output model is registered and the automatic evaluation queued through the outbox (a worker
    delivers it). Finishing a finished run again is 409."""
    outcome = TrainingOutcome(outcome)
    if run.status != RunStatus.RUNNING.value:
        raise ConflictError(f"run {run.id} has already finished ({run.training_outcome or run.status})",
                            code="run_finished")
    if adapter_dir is not None:
        check_adapter_dir(adapter_dir)
        if outcome == TrainingOutcome.FAILURE:
            raise ValidationFailed("a failed run has no adapter to keep; report partial to keep what it learned",
                                   code="invalid_adapter")
    curve = run.loss_curve_data or []
    category = classify(curve, outcome.value, FailureCategory(failure_category).value if failure_category else None)
    if outcome == TrainingOutcome.FAILURE and category is None:
        category = FailureCategory.CRASHED.value
    run.training_outcome = outcome.value
    run.failure_category = category
    run.failure_message = (message or "").strip()[:4000] or None if outcome != TrainingOutcome.SUCCESS else None
    run.error = error if outcome == TrainingOutcome.FAILURE else None
    run.final_loss = _last([p for p in curve if "loss" in p], "loss")
    run.final_eval_loss = _last([p for p in curve if "eval_loss" in p], "eval_loss")
    run.train_seconds = train_seconds if train_seconds is not None else _last(curve, "seconds")
    tokens = train_tokens if train_tokens is not None else _last(curve, "tokens")
    run.train_tokens = int(tokens) if tokens is not None else None
    if run.train_tokens and run.train_seconds:
        run.tokens_per_second = run.train_tokens / run.train_seconds
    run.peak_memory_bytes = peak_memory_bytes
    if run.total_steps is None and curve:
        run.total_steps = int(curve[-1]["step"])
    run.finished_at = utcnow()
    if outcome == TrainingOutcome.FAILURE:
        run.status = RunStatus.FAILED.value
    elif outcome == TrainingOutcome.PARTIAL and category == FailureCategory.CANCELLED.value:
        run.status = RunStatus.CANCELLED.value
    else:
        run.status = RunStatus.SUCCEEDED.value
    if adapter_dir is not None:
        key = adapters.run_adapter_key(run.id)
        artifact_store(settings).put_dir(adapter_dir, key)
        run.artifact_uri = key
        if run.status == RunStatus.SUCCEEDED.value:
            model = service.register_output_model(session, run, artifact_uri=key, toy=_toy(session, run))
            outbox.enqueue(session, "model_trained", job_id=None, model_id=model.id, run_id=run.id,
                           owner_id=run.owner_id)
    session.flush()
    return run


def finish(session: Session, settings: Settings, run: TrainingRun, payload: ExternalFinish,
           adapter_dir: Path | None = None) -> TrainingRun:
    """:func:`finish_external_run` from the API's request body."""
    error = payload.error.model_dump(exclude_none=True) if payload.error else None
    if error is not None and payload.traceback:
        error["traceback"] = payload.traceback
    return finish_external_run(session, settings, run, payload.outcome, payload.failure_category, payload.message,
                               adapter_dir=adapter_dir, error=error, train_seconds=payload.train_seconds,
                               train_tokens=payload.train_tokens, peak_memory_bytes=payload.peak_memory_bytes)


def _toy(session: Session, run: TrainingRun) -> bool:
    base = repo.model_by_id(session, run.base_model_id)
    return bool(base is not None and (base.hub_info or {}).get("toy"))


# --- adapter files ------------------------------------------------------------------------------------------------

def staging_dir(settings: Settings, run_id: int) -> Path:
    """Where an external run's uploaded adapter files wait for the finish call (this server's data dir)."""
    return settings.data_dir / "external_uploads" / str(int(run_id))


def check_adapter_file(name: str, path: Path) -> None:
    """422 unless ``path`` is a well-formed ``adapter_config.json`` (a JSON object) or ``adapter_model.safetensors``
    (a safetensors header whose tensors lie inside the file). Anything else — pickle ``.bin``/``.pt`` weights
    above all — is refused: it is never stored, never loaded."""
    if name == ADAPTER_CONFIG:
        if path.stat().st_size > MAX_ADAPTER_CONFIG_BYTES:
            raise ValidationFailed("adapter_config.json is too large", code="invalid_adapter")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise ValidationFailed("adapter_config.json is not valid JSON", code="invalid_adapter") from None
        if not isinstance(data, dict):
            raise ValidationFailed("adapter_config.json must be a JSON object", code="invalid_adapter")
        return
    if name != ADAPTER_WEIGHTS:
        raise ValidationFailed(f"{name[:100]!r} is not accepted: upload only {ADAPTER_CONFIG} and {ADAPTER_WEIGHTS} "
                               "(safetensors; pickle files such as .bin or .pt are refused)", code="invalid_adapter")
    size = path.stat().st_size
    bad = ValidationFailed(f"{ADAPTER_WEIGHTS} is not a valid safetensors file", code="invalid_adapter")
    with path.open("rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise bad
        (length,) = struct.unpack("<Q", head)
        if length < 2 or length > min(100 * 1024 * 1024, size - 8):
            raise bad
        try:
            header = json.loads(fh.read(length).decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise bad from None
    if not isinstance(header, dict):
        raise bad
    tensors = 0
    for tensor, info in header.items():
        if tensor == "__metadata__":
            continue
        offsets = info.get("data_offsets") if isinstance(info, dict) else None
        if (not isinstance(info, dict) or info.get("dtype") not in SAFETENSORS_DTYPES or not isinstance(offsets, list)
                or len(offsets) != 2 or not all(isinstance(o, int) for o in offsets)
                or not 0 <= offsets[0] <= offsets[1] <= size - 8 - length):
            raise bad
        tensors += 1
    if not tensors:
        raise ValidationFailed(f"{ADAPTER_WEIGHTS} holds no tensors", code="invalid_adapter")


def check_adapter_dir(folder: Path) -> None:
    """422 unless ``folder`` holds a checked ``adapter_config.json`` and ``adapter_model.safetensors``."""
    missing = [n for n in (ADAPTER_CONFIG, ADAPTER_WEIGHTS) if not (folder / n).is_file()]
    if missing:
        raise ValidationFailed(f"the adapter is incomplete: {', '.join(missing)} missing", code="invalid_adapter")
    for name in (ADAPTER_CONFIG, ADAPTER_WEIGHTS):
        check_adapter_file(name, folder / name)


def stage_adapter_file(settings: Settings, run: TrainingRun, name: str, uploaded: Path) -> int:
    """Check an uploaded adapter file and move it into the run's staging folder (replacing an earlier upload of
    the same file). Returns its size."""
    if run.status != RunStatus.RUNNING.value:
        raise ConflictError(f"run {run.id} has finished; upload the adapter before finishing it",
                            code="run_finished")
    check_adapter_file(name, uploaded)
    folder = private_dir(staging_dir(settings, run.id))
    size = uploaded.stat().st_size
    shutil.move(str(uploaded), folder / name)
    return size


def staged_adapter(settings: Settings, run_id: int) -> Path | None:
    """The run's staging folder when any adapter file was uploaded, else None."""
    folder = staging_dir(settings, run_id)
    return folder if folder.is_dir() and any(folder.iterdir()) else None


def discard_staged(settings: Settings, run_id: int) -> None:
    shutil.rmtree(staging_dir(settings, run_id), ignore_errors=True)
