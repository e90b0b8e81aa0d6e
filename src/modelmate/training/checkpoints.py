"""Atomic training checkpoints with everything needed to resume exactly — and no pickle anywhere.

A checkpoint is the directory ``<checkpoint_dir>/step-000123`` holding:

- ``adapter.safetensors``   the trainable (LoRA) parameters by name
- ``optimizer.safetensors`` the optimizer's per-parameter tensors, ``optimizer.json`` the rest of its state
- ``rng.safetensors``       torch CPU (+ CUDA) generator states, and the Python ``random`` state in the JSON
- ``trainer_state.json``    step, scheduler state, loss curve so far, counters, early-stopping state, a
                            fingerprint of the run (config, base model, data) — written last

It is written into ``.tmp-step-000123-<random>`` (files fsynced) and then renamed into place with ``os.rename``,
which is atomic on one filesystem, so a reader sees either a complete checkpoint or none. Directories that do not
match ``step-NNNNNN`` exactly or lack a readable ``trainer_state.json`` are ignored; stale temp directories are
removed on the next start. Only the newest ``keep`` checkpoints are kept.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelmate.storage.private import private_dir, tighten_tree

STEP_DIR = re.compile(r"^step-(\d{6,9})$")
TMP_PREFIX = ".tmp-step-"
STATE_FILE = "trainer_state.json"
FILES = ("adapter.safetensors", "optimizer.safetensors", "optimizer.json", "rng.safetensors", STATE_FILE)
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Checkpoint:
    step: int
    path: Path
    state: dict[str, Any]


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - not supported on this platform
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def trainable_state(model) -> dict:
    """The parameters that train (the adapter), by name, detached on the CPU."""
    return {name: p.detach().to("cpu").contiguous() for name, p in model.named_parameters() if p.requires_grad}


def _optimizer_parts(optimizer) -> tuple[dict, dict]:
    """The optimizer's state as safetensors tensors plus JSON. Tensors may sit in nested dicts (bitsandbytes' 8-bit
    optimizers keep their quantization state in one): each becomes ``{"__tensor__": True}`` in the JSON and the
    tensor ``index.key[.inner...]``."""
    import torch

    state = optimizer.state_dict()
    tensors: dict[str, Any] = {}

    def encode(name: str, value: Any) -> Any:
        if torch.is_tensor(value):
            # a copy: bitsandbytes' 8-bit states share one quantization map (qmap) between parameters, and
            # safetensors refuses tensors that share memory (on a GPU the move to the CPU copies anyway)
            tensors[name] = value.detach().to("cpu", copy=True).contiguous()
            return {"__tensor__": True}
        if isinstance(value, dict):
            return {"__dict__": {str(k): encode(f"{name}.{k}", v) for k, v in value.items()}}
        return value

    meta = {str(index): {key: encode(f"{index}.{key}", value) for key, value in entries.items()}
            for index, entries in state["state"].items()}
    return tensors, {"state": meta, "param_groups": state["param_groups"]}


def _restore_optimizer(optimizer, tensors: dict, meta: dict) -> None:
    def decode(name: str, value: Any) -> Any:
        if isinstance(value, dict) and value.get("__tensor__"):
            return tensors[name]
        if isinstance(value, dict) and "__dict__" in value:
            return {k: decode(f"{name}.{k}", v) for k, v in value["__dict__"].items()}
        return value

    state: dict[int, dict] = {int(index): {key: decode(f"{index}.{key}", value) for key, value in row.items()}
                              for index, row in meta["state"].items()}
    groups = []
    for group in meta["param_groups"]:
        group = dict(group)
        if isinstance(group.get("betas"), list):
            group["betas"] = tuple(group["betas"])
        groups.append(group)
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def _rng_parts() -> tuple[dict, dict]:
    import torch

    tensors = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"torch_cuda_{i}"] = s
    version, internal, gauss = random.getstate()
    return tensors, {"python": [version, list(internal), gauss]}


def _restore_rng(tensors: dict, meta: dict) -> None:
    import torch

    torch.set_rng_state(tensors["torch_cpu"])
    cuda = [tensors[k] for k in sorted(t for t in tensors if t.startswith("torch_cuda_"))]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
    version, internal, gauss = meta["python"]
    random.setstate((version, tuple(internal), gauss))


def save_checkpoint(checkpoint_dir: Path, step: int, *, model, optimizer, scheduler, state: dict,
                    keep: int = 2) -> Path:
    """Write a complete checkpoint for ``step`` atomically and prune older ones; returns its path."""
    from safetensors.torch import save_file

    checkpoint_dir = private_dir(Path(checkpoint_dir))
    final = checkpoint_dir / f"step-{step:06d}"
    tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{step:06d}-", dir=checkpoint_dir))
    try:
        save_file(trainable_state(model), str(tmp / "adapter.safetensors"))
        opt_tensors, opt_meta = _optimizer_parts(optimizer)
        save_file(opt_tensors, str(tmp / "optimizer.safetensors"))
        (tmp / "optimizer.json").write_text(json.dumps(opt_meta), encoding="utf-8")
        rng_tensors, rng_meta = _rng_parts()
        save_file(rng_tensors, str(tmp / "rng.safetensors"))
        full_state = {**state, "format": FORMAT_VERSION, "step": step, "scheduler": scheduler.state_dict(),
                      "rng": rng_meta}
        (tmp / STATE_FILE).write_text(json.dumps(full_state, default=_json_default), encoding="utf-8")
        for name in FILES:
            _fsync_file(tmp / name)
        tighten_tree(tmp)  # private files (0600) whatever the umask
        if final.exists():  # the same step saved again (a resumed run re-reaching it): replace it
            trash = checkpoint_dir / f"{TMP_PREFIX}old-{final.name}-{os.getpid()}"
            os.rename(final, trash)
            os.rename(tmp, final)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.rename(tmp, final)
        _fsync_dir(checkpoint_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    prune(checkpoint_dir, keep=keep)
    return final


def _json_default(value: Any) -> Any:
    if isinstance(value, tuple | set):
        return list(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def read_state(path: Path) -> dict | None:
    """The checkpoint's state if the directory is a complete checkpoint, else None."""
    match = STEP_DIR.match(path.name)
    if not match or not path.is_dir() or not all((path / name).is_file() for name in FILES):
        return None
    try:
        state = json.loads((path / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION or state.get("step") != int(
            match.group(1)):
        return None
    return state


def list_checkpoints(checkpoint_dir: Path) -> list[Checkpoint]:
    """Complete checkpoints, oldest first."""
    checkpoint_dir = Path(checkpoint_dir)
    if not checkpoint_dir.is_dir():
        return []
    found = []
    for path in checkpoint_dir.iterdir():
        state = read_state(path)
        if state is not None:
            found.append(Checkpoint(step=state["step"], path=path, state=state))
    return sorted(found, key=lambda c: c.step)


def latest_checkpoint(checkpoint_dir: Path) -> Checkpoint | None:
    found = list_checkpoints(checkpoint_dir)
    return found[-1] if found else None


def prune(checkpoint_dir: Path, *, keep: int = 2) -> None:
    for old in list_checkpoints(checkpoint_dir)[:-keep] if keep > 0 else []:
        shutil.rmtree(old.path, ignore_errors=True)


def clean(checkpoint_dir: Path, *, everything: bool = False) -> None:
    """Remove half-written temp directories (and with ``everything`` all checkpoints)."""
    checkpoint_dir = Path(checkpoint_dir)
    if not checkpoint_dir.is_dir():
        return
    for path in checkpoint_dir.iterdir():
        if path.is_dir() and (path.name.startswith(TMP_PREFIX) or (everything and STEP_DIR.match(path.name))):
            shutil.rmtree(path, ignore_errors=True)


def load_checkpoint(checkpoint: Checkpoint, *, model, optimizer, scheduler) -> dict:
    """Restore adapter weights, optimizer, scheduler and RNG states from ``checkpoint``; returns its state."""
    import torch
    from safetensors.torch import load_file

    path = checkpoint.path
    weights = load_file(str(path / "adapter.safetensors"))
    params = dict(model.named_parameters())
    missing = [name for name, p in params.items() if p.requires_grad and name not in weights]
    unexpected = [name for name in weights if name not in params]
    if missing or unexpected:
        raise ValueError(f"checkpoint {path.name} does not match the model (missing {missing[:3]}, "
                         f"unexpected {unexpected[:3]})")
    with torch.no_grad():
        for name, tensor in weights.items():
            params[name].copy_(tensor.to(params[name].device, params[name].dtype))
    opt_meta = json.loads((path / "optimizer.json").read_text(encoding="utf-8"))
    _restore_optimizer(optimizer, load_file(str(path / "optimizer.safetensors")), opt_meta)
    scheduler.load_state_dict(checkpoint.state["scheduler"])
    _restore_rng(load_file(str(path / "rng.safetensors")), checkpoint.state["rng"])
    return checkpoint.state
