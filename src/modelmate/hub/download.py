"""What a fine-tuned model is made of when it leaves the server: the adapter (safetensors + ``adapter_config.json``),
its tokenizer files, and a model card (``README.md``) whose YAML front matter carries ``model-index`` eval results.

The same file set is served two ways: one zip (:func:`zip_stream`) and file by file through the Hugging Face
compatible endpoint (``hub/hf_compat.py``). Its "commit" is a stable hash of the files' names and contents.

Only regular files that sit directly in the adapter's own folder are part of it (RELIABILITY #40): a symbolic link
is never listed, served or zipped, wherever it points (outside the folder or inside it), nor is anything whose
resolved path is not in the folder, nor a folder that is itself a link. Files are opened with ``O_NOFOLLOW`` and
checked to be the very file that was listed, so swapping one for a link after the listing does not help either.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from modelmate.config import Settings
from modelmate.errors import AppError, NotFoundError
from modelmate.finetune import adapters
from modelmate.hub import repository as repo
from modelmate.hub import service
from modelmate.models import Model, User
from modelmate.storage.artifacts import ArtifactMissing, ArtifactStore, LocalStore, StoreUnavailable
from modelmate.training.artifacts import _yaml_scalar, front_matter, render_model_card

CARD = "README.md"
CHUNK = 1024 * 1024
WEIGHTS = "adapter_model.safetensors"
NOT_ON_THIS_SERVER = ("this model's adapter files are not on this server (the run may have failed or its artifacts "
                      "were removed)")
O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)

log = logging.getLogger("modelmate.hub")


class ModelUnavailable(AppError):
    status_code = 409
    code = "model_unavailable"


@dataclass(frozen=True)
class BundleFile:
    name: str
    size: int
    sha256: str
    path: Path | None = None  # on disk (adapter and tokenizer files) ...
    data: bytes | None = None  # ... or generated (the model card) ...
    identity: tuple[int, int] | None = None  # (device, inode) of the file on disk when it was listed
    stored: tuple[ArtifactStore, str] | None = None  # ... or streamed from a remote artifact store (store, key)

    def chunks(self) -> Iterator[bytes]:
        if self.data is not None:
            yield self.data
            return
        if self.stored is not None:
            store, key = self.stored
            with store.open(key) as fh:
                while chunk := fh.read(CHUNK):
                    yield chunk
            return
        assert self.path is not None
        with _open_listed(self.path, self.identity, self.size) as fh:
            while chunk := fh.read(CHUNK):
                yield chunk


class _ChangedOnDisk(OSError):
    """A listed file was replaced (by a link, another file, a folder) between the listing and the read."""


def _open_listed(path: Path, identity: tuple[int, int] | None, size: int | None = None):
    """``path`` opened for reading without following a final symlink, and only if it is still the listed file
    (same device, inode and size)."""
    fd = os.open(path, os.O_RDONLY | O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if (not stat.S_ISREG(st.st_mode) or (identity is not None and (st.st_dev, st.st_ino) != identity)
                or (size is not None and st.st_size != size)):
            raise _ChangedOnDisk(f"{path.name} changed on disk since it was listed")
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


@dataclass(frozen=True)
class Bundle:
    model: Model
    owner: str
    files: list[BundleFile]

    @property
    def commit(self) -> str:
        """40 hex characters (a git-like commit id): changes whenever a file name or content changes."""
        digest = hashlib.sha1(usedforsecurity=False)
        for f in self.files:
            digest.update(f"{f.name}\0{f.sha256}\0".encode())
        return digest.hexdigest()

    def file(self, name: str) -> BundleFile | None:
        return next((f for f in self.files if f.name == name), None)


@lru_cache(maxsize=256)
def _file_sha256(path: str, size: int, mtime_ns: int, identity: tuple[int, int]) -> str:
    digest = hashlib.sha256()
    with _open_listed(Path(path), identity, size) as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _disk_file(path: Path, st: os.stat_result) -> BundleFile:
    identity = (st.st_dev, st.st_ino)
    return BundleFile(name=path.name, size=st.st_size, path=path, identity=identity,
                      sha256=_file_sha256(str(path), st.st_size, st.st_mtime_ns, identity))


def adapter_files(folder: Path) -> list[BundleFile]:
    """The regular files directly inside ``folder`` (hidden files and the stored model card left out).

    Never a symbolic link (to a file outside the folder or inside it), a sub-folder, a device or FIFO, nor an
    entry whose resolved path is not in the folder; a folder that is itself a link has no files at all."""
    if folder.is_symlink() or not folder.is_dir():
        log.warning("adapter folder %s is a symbolic link or missing: nothing is served from it", folder)
        return []
    real_folder = folder.resolve()
    files: list[BundleFile] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith(".") or entry.name == CARD:
                continue
            try:
                st = entry.stat(follow_symlinks=False)
                if entry.is_symlink() or not stat.S_ISREG(st.st_mode):
                    if stat.S_ISLNK(st.st_mode):
                        log.warning("not serving %s: it is a symbolic link", entry.path)
                    continue
                if Path(entry.path).resolve().parent != real_folder:
                    continue
                files.append(_disk_file(Path(entry.path), st))
            except OSError as exc:  # vanished or swapped meanwhile: not part of the bundle
                log.warning("not serving %s: %s", entry.path, exc)
    return sorted(files, key=lambda f: f.name)


# --- the model card -------------------------------------------------------------------------------------------

def _yaml_block(value: Any, indent: int = 0) -> list[str]:
    """Block-style YAML for nested dicts/lists of scalars (scalars written as JSON, which YAML reads back)."""
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list) and item:
                lines.append(f"{pad}{key}:")
                lines.extend(_yaml_block(item, indent + (0 if isinstance(item, list) else 2)))
            else:
                lines.append(f"{pad}{key}: {'[]' if item == [] else '{}' if item == {} else _yaml_scalar(item)}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict | list) and item:
                inner = _yaml_block(item, indent + 2)
                lines.append(f"{pad}- {inner[0].lstrip()}")
                lines.extend(inner[1:])
            else:
                lines.append(f"{pad}- {_yaml_scalar(item)}")
    return lines


def eval_results(session: Session, model: Model) -> list[dict[str, Any]]:
    """``model-index`` results: one per stored benchmark row (latest final row of each task/metric)."""
    seen: set[tuple[str, str]] = set()
    results = []
    for row in repo.final_benchmark_rows(session, model.id):
        key = (row.task, row.metric)
        if key in seen:
            continue
        seen.add(key)
        metric: dict[str, Any] = {"type": row.metric.split(",", 1)[0], "value": row.value,
                                  "name": f"{row.task} {row.metric}"}
        if row.stderr is not None:
            metric["stderr"] = row.stderr
        metric["verified"] = False
        results.append({"task": {"type": "text-generation", "name": "Text Generation"},
                        "dataset": {"name": row.task, "type": row.task},
                        "metrics": [metric]})
    return sorted(results, key=lambda r: (r["dataset"]["name"], r["metrics"][0]["type"]))


def model_card(session: Session, model: Model, owner: str) -> str:
    run = repo.run_of_model(session, model)
    base = repo.get_model(session, model.base_model_id) if model.base_model_id else None
    base_name = ((base.hub_info or {}).get("hf_repo_id") or base.hf_repo_id or (base.hub_info or {}).get("key")
                 or base.name) if base is not None else None
    card: dict[str, Any] = {
        "name": model.name, "base_model": base_name, "license": model.license,
        "datasets": [f"sha256:{run.dataset_hash}"] if run is not None and run.dataset_hash else [],
        "description": model.description, "toy": bool((model.hub_info or {}).get("toy"))}
    if run is not None:
        card.update({"config": run.config or {}, "outcome": run.training_outcome,
                     "failure_category": run.failure_category, "steps": (run.loss_curve_data or [{}])[-1].get("step")
                     if run.loss_curve_data else None, "total_steps": run.total_steps, "final_loss": run.final_loss,
                     "final_eval_loss": run.final_eval_loss, "train_tokens": run.train_tokens,
                     "tokens_per_second": run.tokens_per_second, "environment": run.environment or {}})
    body = render_model_card(card).split("\n---\n", 1)[1]  # the human part; the front matter is rebuilt below
    meta: dict[str, Any] = dict(front_matter(card))
    results = eval_results(session, model)
    meta["model-index"] = [{"name": f"{owner}/{model.slug}", "results": results}]
    return "---\n" + "\n".join(_yaml_block(meta)) + "\n---\n" + body


# --- the bundle -----------------------------------------------------------------------------------------------

def stored_files(store: ArtifactStore, key: str) -> list[BundleFile]:
    """The adapter's top-level files as its manifest in a remote store lists them, streamed from there."""
    files = []
    for item in store.dir_files(key):
        name = str(item["path"])
        if "/" in name or name.startswith(".") or name == CARD:
            continue
        files.append(BundleFile(name=name, size=int(item["size"]), sha256=str(item["sha256"]),
                                stored=(store, f"{key}/{name}")))
    return sorted(files, key=lambda f: f.name)


def _files(settings: Settings, model: Model) -> list[BundleFile]:
    if not (model.hub_info or {}).get("adapter"):
        raise ModelUnavailable(NOT_ON_THIS_SERVER)
    store, key, path = adapters.locate(settings, adapters.adapter_uri(model))
    try:
        if key is not None and not isinstance(store, LocalStore):
            return stored_files(store, key)
        folder = store.dir_path(key) if key is not None and isinstance(store, LocalStore) else path
    except ArtifactMissing:
        raise ModelUnavailable(NOT_ON_THIS_SERVER) from None
    except StoreUnavailable as exc:
        raise ModelUnavailable(str(exc)) from None
    if folder is None:
        raise ModelUnavailable(NOT_ON_THIS_SERVER)
    return adapter_files(folder)


def bundle(session: Session, settings: Settings, model: Model) -> Bundle:
    """The files of a fine-tuned model; 409 ``model_unavailable`` when its adapter is not in the store."""
    if model.kind != "finetuned":
        raise ModelUnavailable("only fine-tuned models (LoRA adapters made here) can be downloaded from ModelMate")
    files = _files(settings, model)
    names = repo.usernames(session, {model.owner_id} if model.owner_id is not None else set())
    owner = service.owner_name(model, names) or "unknown"
    if not any(f.name == WEIGHTS for f in files):  # e.g. the weights are a symbolic link: never served
        raise ModelUnavailable(NOT_ON_THIS_SERVER)
    card = model_card(session, model, owner).encode("utf-8")
    files.append(BundleFile(name=CARD, size=len(card), sha256=hashlib.sha256(card).hexdigest(), data=card))
    return Bundle(model=model, owner=owner, files=sorted(files, key=lambda f: f.name))


def download_bundle(session: Session, settings: Settings, viewer: User | None, model_id: int) -> Bundle:
    model = service.get_visible(session, viewer, model_id)
    if not model.slug and model.kind == "finetuned":
        raise NotFoundError(f"model {model_id} has no downloadable files")
    return bundle(session, settings, model)


def zip_name(b: Bundle) -> str:
    return f"{b.owner}-{b.model.slug or b.model.id}.zip"


class _Sink:
    """A write-only file object for ZipFile that hands out what was written so far."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.offset = 0

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        self.offset += len(data)
        return len(data)

    def tell(self) -> int:
        return self.offset

    def flush(self) -> None:
        pass

    def close(self) -> None:  # ZipFile never closes a file object it was given; the protocol still asks for it
        pass

    def take(self) -> bytes:
        out, self.parts = b"".join(self.parts), []
        return out


def zip_stream(b: Bundle) -> Iterator[bytes]:
    """The bundle as a zip, produced piece by piece (the adapter is never held whole in memory)."""
    sink = _Sink()
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_DEFLATED) as zf:
        for f in b.files:
            info = zipfile.ZipInfo(f.name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with zf.open(info, mode="w", force_zip64=f.size > 2**31) as out:
                for chunk in f.chunks():
                    out.write(chunk)
                    if sink.offset and sink.parts:
                        yield sink.take()
            yield sink.take()
    yield sink.take()
