"""Forks: a run that continues training a fine-tuned model's LoRA adapter (its parent) on new data or settings.

Rules (applied by ``service.create_run`` and ``service.estimate``):

- The adapter's shape cannot change when training continues, so ``r``, ``alpha``, ``target_modules``,
  ``use_dora`` and ``use_rslora`` are the parent's (from its run's configuration, else from its
  ``adapter_config.json``). Leaving them out is fine; an explicit different value is a 422 naming the field.
- The parent's adapter must be in the artifact store (``hub_info.artifact_uri``, a key), else 409
  ``parent_adapter_missing``.
- The worker copies the parent's adapter files into the run's directory once (``parent_adapter/``) and trains
  from that copy, so a retried attempt always starts from the same weights. The output adapter is a complete,
  standalone LoRA adapter for the base model (the parent is not needed to load it).
- ``parent_model_id`` is stored on the run and on the output model (foreign keys RESTRICT: never lost).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from modelmate.config import Settings
from modelmate.datasets.service import get_visible
from modelmate.enums import ModelKind
from modelmate.errors import ConflictError, NotFoundError, ValidationFailed
from modelmate.finetune import adapters
from modelmate.finetune import base_catalog as bases
from modelmate.finetune import repository as repo
from modelmate.finetune.schemas import ForkParentRef, ForkTemplateOut
from modelmate.models import Model, TrainingRun, User
from modelmate.storage.artifacts import StoreUnavailable
from modelmate.storage.private import tighten_tree
from modelmate.training.model_specs import BaseModelSpec

LOCKED_FIELDS = ("r", "alpha", "target_modules", "use_dora", "use_rslora")
ADAPTER_FILES = adapters.ADAPTER_FILES
PARENT_COPY = "parent_adapter"


def parent_run(session: Session, parent: Model) -> TrainingRun | None:
    """The run that produced ``parent`` (None for adapters that came from elsewhere)."""
    run_id = (parent.hub_info or {}).get("run_id")
    run = repo.get_run(session, int(run_id)) if isinstance(run_id, int) else None
    if run is not None and run.output_model_id == parent.id:
        return run
    return repo.run_for_output_model(session, parent.id)


def _adapter_meta(settings: Settings, parent: Model) -> dict[str, Any]:
    try:
        path = adapters.adapter_dir(settings, parent)
    except StoreUnavailable:
        return {}
    try:
        meta = json.loads((path / "adapter_config.json").read_text(encoding="utf-8")) if path else {}
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def locked_shape(session: Session, settings: Settings, parent: Model, spec: BaseModelSpec) -> dict[str, Any]:
    """The adapter shape a fork of ``parent`` must keep: {r, alpha, target_modules, use_dora, use_rslora}."""
    run = parent_run(session, parent)
    config = dict(run.config or {}) if run is not None else {}
    meta = _adapter_meta(settings, parent) if not _shape_recorded(config) else {}
    targets = config.get("target_modules") or sorted(meta.get("target_modules") or []) or list(
        spec.default_target_modules)
    return {
        "r": config.get("r", meta.get("r", 8)),
        "alpha": config.get("alpha", meta.get("lora_alpha", 16)),
        "target_modules": list(targets) or None,
        "use_dora": bool(config.get("use_dora", meta.get("use_dora", False))),
        "use_rslora": bool(config.get("use_rslora", meta.get("use_rslora", False))),
    }


def _same(field: str, given: Any, fixed: Any) -> bool:
    if field == "target_modules":
        return given in (None, []) or (isinstance(given, list) and set(map(str, given)) == set(fixed or []))
    if isinstance(given, bool) or isinstance(fixed, bool):
        return given is fixed or given == fixed
    try:
        return float(given) == float(fixed)
    except (TypeError, ValueError):
        return False


def _shape_recorded(config: dict[str, Any]) -> bool:
    return all(field in config for field in LOCKED_FIELDS)


def fork_overrides(session: Session, settings: Settings, parent: Model, spec: BaseModelSpec,
                   overrides: dict[str, Any] | None) -> dict[str, Any]:
    """The run's overrides with the parent's adapter shape forced in; 422 naming the field on a conflict."""
    shape = locked_shape(session, settings, parent, spec)
    for field in LOCKED_FIELDS:
        if overrides and field in overrides and not _same(field, overrides[field], shape[field]):
            fixed = shape[field]
            shown = ", ".join(fixed) if isinstance(fixed, list) else json.dumps(fixed)
            message = f"a fork continues its parent's adapter: {field} is fixed at {shown}"
            raise ValidationFailed(message, code="fork_locked",
                                   details={"errors": [{"field": f"config.{field}", "message": message}]})
    return {**(overrides or {}), **shape}


def check_parent_adapter(settings: Settings, parent: Model) -> None:
    """409 when the parent's adapter files are not in the store (there is nothing to continue from)."""
    reason = adapters.missing_reason(settings, parent)
    if reason:
        raise ConflictError(f"Cannot fork '{parent.name}': {reason}, so there are no weights to continue "
                            "training from.", code="parent_adapter_missing")


def copy_parent_adapter(source: Path | None, run_dir: Path) -> Path:
    """The run's own copy of the parent's adapter files from ``source`` (made once; a later attempt reuses it).
    Raises FileNotFoundError with a plain message when the parent's adapter is gone before the first copy."""
    target = run_dir / PARENT_COPY
    if all((target / name).is_file() for name in ADAPTER_FILES):
        return target
    missing = [name for name in ADAPTER_FILES  # a symbolic link is never followed (RELIABILITY #40)
               if source is None or (source / name).is_symlink() or not (source / name).is_file()]
    if missing or source is None:  # (no source: every file is missing)
        raise FileNotFoundError(f"{', '.join(missing)} not found in {source or 'any directory'}")
    tmp = Path(tempfile.mkdtemp(prefix=f".{PARENT_COPY}.tmp-", dir=run_dir))
    try:
        for name in ADAPTER_FILES:
            shutil.copyfile(source / name, tmp / name)
        tighten_tree(tmp)
        if target.exists():
            shutil.rmtree(target)
        os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def fork_template(session: Session, settings: Settings, user: User, model_id: int) -> ForkTemplateOut:
    """What the builder needs to fork ``model_id``: its base, data, preset, full config and the locked fields."""
    parent = repo.model_by_id(session, model_id)
    if parent is None or not bases.visible(parent, user):
        raise NotFoundError(f"model {model_id} not found")
    if parent.kind != ModelKind.FINETUNED.value:
        raise ValidationFailed(f"'{parent.name}' is not a fine-tuned model: train on it directly instead of "
                               "forking it", code="not_finetuned")
    base = repo.model_by_id(session, parent.base_model_id) if parent.base_model_id else None
    spec = bases.spec_from_model(base) if base is not None else None
    if base is None or spec is None:
        raise ConflictError(f"'{parent.name}' has no recorded base model to fork from", code="invalid_base")
    run = parent_run(session, parent)
    dataset_id = None
    if run is not None and run.dataset_id:
        try:
            dataset_id = get_visible(session, user, run.dataset_id).id
        except NotFoundError:
            dataset_id = None
    shape = locked_shape(session, settings, parent, spec)
    config = {**(run.config or {} if run is not None else {}), **shape}
    reason = adapters.missing_reason(settings, parent)
    return ForkTemplateOut(
        parent=ForkParentRef(id=parent.id, name=parent.name), base_model=str((base.hub_info or {}).get("key")
                                                                             or base.id),
        base_model_id=base.id, parent_model_id=parent.id, dataset_id=dataset_id,
        preset=run.preset if run is not None else None, mode=run.mode if run is not None else "expert",
        config=config, locked=list(LOCKED_FIELDS), name=f"{parent.name} (fork)"[:200],
        adapter_available=reason is None, unavailable_reason=reason)
