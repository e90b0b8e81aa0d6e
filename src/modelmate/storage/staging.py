"""Moving a job's files between the machine that runs it and the artifact store (no database in sight).

A training or evaluation child reads a JSON spec with local paths. To run it on a machine that has none of the
server's files (a Ray node, a second worker), the spec names its inputs by store key instead —
``{"artifact": "dir" | "file", "key": "bases/tiny"}`` in place of a path — and :func:`materialize` replaces each
with a local path (through the machine's :class:`~modelmate.storage.cache.LocalCache`; a local store is used in
place). Checkpoints go the other way as they are made (:func:`upload_checkpoint`: each ``step-NNNNNN`` folder is
sealed under ``<prefix>/step-NNNNNN``; older ones are pruned), and a new attempt on any machine first fetches the
newest sealed one (:func:`restore_checkpoint`). Outputs (the adapter, the run log, evaluation results) are uploaded
by :func:`upload_outputs` before the caller records them, so the database never points at a file that was never
written.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from modelmate.storage.artifacts import MANIFEST, ArtifactStore, LocalStore, join
from modelmate.storage.cache import LocalCache
from modelmate.storage.private import private_dir

STEP = re.compile(r"^step-(\d{6,9})$")
KEEP_CHECKPOINTS = 2


def artifact_ref(kind: str, key: str) -> dict[str, str]:
    """A spec value naming a stored input (``kind``: ``dir`` or ``file``)."""
    if kind not in ("dir", "file"):
        raise ValueError(f"bad artifact kind {kind!r}")
    return {"artifact": kind, "key": key}


def is_ref(value: Any) -> bool:
    return isinstance(value, dict) and value.get("artifact") in ("dir", "file") and isinstance(value.get("key"), str)


def materialize(spec: dict[str, Any], store: ArtifactStore, cache: LocalCache) -> dict[str, Any]:
    """A copy of ``spec`` with every artifact reference (top-level values) replaced by a local path."""
    out = dict(spec)
    for name, value in spec.items():
        if is_ref(value):
            local = cache.dir(store, value["key"]) if value["artifact"] == "dir" else cache.file(store, value["key"])
            out[name] = str(local)
    return out


# --- checkpoints ---------------------------------------------------------------------------------------------------

def stored_steps(store: ArtifactStore, prefix: str) -> list[int]:
    """Steps of the sealed checkpoints under ``prefix``, oldest first."""
    steps = set()
    for key in store.list(prefix):
        parts = key[len(prefix):].strip("/").split("/")
        if len(parts) == 2 and parts[1] == MANIFEST and (m := STEP.match(parts[0])):
            steps.add(int(m.group(1)))
    return sorted(steps)


def _name(step: int) -> str:
    return f"step-{step:06d}"


def upload_checkpoint(store: ArtifactStore, checkpoint_dir: Path, step: int, prefix: str,
                      keep: int = KEEP_CHECKPOINTS) -> bool:
    """Seal the local checkpoint of ``step`` under ``prefix`` and prune older stored ones; False when the local
    folder is gone already (the trainer pruned it)."""
    local = checkpoint_dir / _name(step)
    if not local.is_dir():
        return False
    store.put_dir(local, join(prefix, _name(step)))
    if not isinstance(store, LocalStore) or store.path(prefix).resolve() != checkpoint_dir.resolve():
        for old in stored_steps(store, prefix)[:-keep]:
            store.delete(join(prefix, _name(old)))
    return True


def restore_checkpoint(store: ArtifactStore, prefix: str, checkpoint_dir: Path) -> int | None:
    """Fetch the newest sealed checkpoint into ``checkpoint_dir`` unless a local one is as new; its step (or None)."""
    if isinstance(store, LocalStore) and store.path(prefix).resolve() == checkpoint_dir.resolve():
        return None  # the store is this folder
    steps = stored_steps(store, prefix)
    if not steps:
        return None
    newest = steps[-1]
    local = [int(m.group(1)) for p in checkpoint_dir.glob("step-*") if (m := STEP.match(p.name))] \
        if checkpoint_dir.is_dir() else []
    if local and max(local) >= newest:
        return max(local)
    private_dir(checkpoint_dir)
    tmp = checkpoint_dir / f".tmp-restore-{_name(newest)}"
    shutil.rmtree(tmp, ignore_errors=True)
    store.get_dir(join(prefix, _name(newest)), tmp)
    (tmp / MANIFEST).unlink(missing_ok=True)
    tmp.rename(checkpoint_dir / _name(newest))
    return newest


# --- outputs -------------------------------------------------------------------------------------------------------

def upload_outputs(store: ArtifactStore, workdir: Path, outputs: list[dict[str, str]]) -> list[str]:
    """Upload ``[{"artifact": "dir"|"file", "path": <relative to workdir>, "key": ...}]``; the keys written.
    Missing local outputs are skipped (the caller decides whether that is a failure)."""
    written = []
    for item in outputs:
        local = workdir / item["path"]
        if item["artifact"] == "dir" and local.is_dir():
            store.put_dir(local, item["key"])
        elif item["artifact"] == "file" and local.is_file():
            store.put_file(local, item["key"])
        else:
            continue
        written.append(item["key"])
    return written
