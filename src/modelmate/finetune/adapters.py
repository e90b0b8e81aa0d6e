"""Where a fine-tuned model's adapter is: a sealed directory in the artifact store, by key.

A run writes its adapter under ``runs/<run id>/adapter``; the run row (``artifact_uri``) and the output model
(``hub_info.artifact_uri``) keep that key, never a path, so any server or worker sharing the database and the store
finds it. Values written before keys (absolute ``file://`` URIs; migration 0009 rewrites them) are still understood:
a path under this machine's store becomes its key, any other path is used as it is, on this machine only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelmate.config import Settings
from modelmate.models import Model
from modelmate.storage.artifacts import (
    ArtifactMissing,
    ArtifactStore,
    LocalStore,
    StoreUnavailable,
    artifact_store,
    check_key,
)
from modelmate.storage.cache import local_cache

ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")


def run_adapter_key(run_id: int) -> str:
    return f"runs/{int(run_id)}/adapter"


def run_checkpoints_key(run_id: int) -> str:
    """Where a run's checkpoints are sealed (``<key>/step-NNNNNN``)."""
    return f"runs/{int(run_id)}/checkpoints"


def run_log_key(run_id: int) -> str:
    return f"runs/{int(run_id)}/train.log"


def key_or_path(settings: Settings, uri: str | None) -> tuple[str | None, Path | None]:
    """``(store key, None)`` for a stored adapter, ``(None, path)`` for a legacy path outside the store."""
    uri = (uri or "").strip()
    if not uri:
        return None, None
    if uri.startswith("file://") or uri.startswith("/"):
        path = Path(uri[len("file://"):] if uri.startswith("file://") else uri)
        try:
            return check_key(path.relative_to(settings.artifacts_dir).as_posix()), None
        except ValueError:
            return None, path
    try:
        return check_key(uri), None
    except ValueError:
        return None, None


def adapter_uri(model: Model) -> str | None:
    info = model.hub_info or {}
    return str(info.get("artifact_uri") or "") or None


def locate(settings: Settings, uri: str | None) -> tuple[ArtifactStore, str | None, Path | None]:
    key, path = key_or_path(settings, uri)
    return artifact_store(settings), key, path


def stored_files(settings: Settings, uri: str | None) -> list[dict[str, Any]] | None:
    """The files of the adapter at ``uri`` (manifest entries: path, size, sha256), or None when it is not
    (completely) stored or the store cannot be reached. Local stores answer from the folder."""
    store, key, path = locate(settings, uri)
    try:
        if key is not None and not isinstance(store, LocalStore):
            return store.dir_files(key)
        folder = store.dir_path(key) if key is not None and isinstance(store, LocalStore) else path
    except (ArtifactMissing, StoreUnavailable):
        return None
    if folder is None or not folder.is_dir():
        return None
    return [{"path": p.name, "size": p.stat().st_size} for p in sorted(folder.iterdir())
            if p.is_file() and not p.is_symlink() and not p.name.startswith(".")]


def missing_reason(settings: Settings, model: Model) -> str | None:
    """None when the model's adapter files are all in the store, else a plain sentence saying what is missing."""
    if adapter_uri(model) is None:
        return f"'{model.name}' has no adapter stored on this server"
    files = stored_files(settings, adapter_uri(model))
    names = {str(f["path"]) for f in files or []}
    missing = [name for name in ADAPTER_FILES if name not in names]
    if missing:
        return f"the adapter of '{model.name}' is missing on this server ({', '.join(missing)} not found)"
    return None


def adapter_dir(settings: Settings, model: Model) -> Path | None:
    """A local folder with the model's adapter (fetched into this machine's cache from a remote store), or None
    when it is not stored. Raises :class:`StoreUnavailable` when the store cannot be reached."""
    store, key, path = locate(settings, adapter_uri(model))
    if key is None:
        return path if path is not None and path.is_dir() else None
    try:
        return local_cache(settings).dir(store, key)
    except ArtifactMissing:
        return None
