"""Base models in the catalog: the supported models seeded at start, and the toy ``tiny`` built on this machine.

Base models are ordinary catalog rows of kind ``base`` (public, no owner) whose ``hub_info`` holds the facts from
:mod:`modelmate.training.model_specs` (key, architecture, default LoRA targets, chat template, toy flag) plus
``local_path`` for a model on disk. Seeding is idempotent: rows are found by ``hub_info.key``; a public catalog
row that already names the same Hugging Face repository (a user logged it first) is adopted as the base row
instead of being duplicated.

The toy ``tiny`` lives in ``data_dir/base_models/tiny``; it is registered once built (``modelmate models
build-tiny``, or in the background at first start of a server with the demo on). Models converted on this machine
(GGUF imports, and the built-in ``smollm2-135m-instruct`` installed from its GGUF wheel) live in
``data_dir/base_models/<key>`` with an import marker; their rows keep no machine path, only the provenance of the
file they came from (``hub_info["source"]``: file name, sha256, quantization).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, Unpack

from sqlalchemy.orm import Session

from modelmate.catalog import repository as catalog_repo
from modelmate.config import Settings
from modelmate.db.base import utcnow
from modelmate.db.engine import Database, immediate_transaction
from modelmate.enums import ModelKind
from modelmate.errors import NotFoundError
from modelmate.finetune import hf_pull
from modelmate.finetune import repository as repo
from modelmate.finetune.schemas import BaseModelOut
from modelmate.jsonutil import write_json_atomic
from modelmate.models import Model, User
from modelmate.storage.artifacts import (
    ArtifactMissing,
    StoreUnavailable,
    artifact_store,
    build_manifest,
    manifest_digest,
)
from modelmate.storage.cache import local_cache
from modelmate.training import model_specs as specs
from modelmate.training.gguf import read_marker
from modelmate.training.model_specs import TINY_KEY, BaseModelSpec
from modelmate.training.tiny import TinyDims, UnsafeModelError, check_model_dir
from modelmate.training.tiny import build_tiny as _build

log = logging.getLogger("modelmate.finetune")

TOY_MARKER = "modelmate_toy.json"  # written by training.tiny.build_tiny
_SPEC_FIELDS = {f.name for f in fields(BaseModelSpec)}


def tiny_dir(settings: Settings) -> Path:
    return settings.data_dir / "base_models" / TINY_KEY


def tiny_built(path: Path) -> bool:
    return (path / TOY_MARKER).is_file() and (path / "config.json").is_file()


def installed(settings: Settings, key: str) -> bool:
    """Whether the toy or a model converted on this machine (``key``) is on disk and complete."""
    return tiny_built(tiny_dir(settings)) if key == TINY_KEY else import_source(settings, key) is not None


def managed_dir(settings: Settings, key: str) -> Path:
    """Where a model converted on this machine lives (GGUF imports, built-in models)."""
    return settings.data_dir / "base_models" / key


def import_source(settings: Settings, key: str) -> dict[str, Any] | None:
    """The provenance of the converted model ``key`` when it is complete on disk (None otherwise)."""
    marker = read_marker(managed_dir(settings, key)) if key and key != TINY_KEY else None
    if not marker:
        return None
    source = dict(marker.get("source") or {})
    return {"format": marker.get("format", "gguf"), "file": source.get("file_name"),
            "size_bytes": source.get("size_bytes"), "sha256": source.get("sha256"),
            "quantization": source.get("quantization"), "file_type": source.get("file_type"),
            "gguf_architecture": source.get("architecture"), "stored_dtype": marker.get("stored_dtype")}


def hub_info_for(spec: BaseModelSpec, *, local_path: Path | None = None,
                 source: dict[str, Any] | None = None) -> dict[str, Any]:
    info = spec.as_dict()
    info["local_path"] = str(local_path) if local_path else None
    if source:
        info["source"] = source
    return info


def spec_from_model(model: Model) -> BaseModelSpec | None:
    """The spec stored on a base row (None for rows that do not carry one)."""
    info = model.hub_info or {}
    if not info.get("key") or not info.get("architecture"):
        return None
    values = {k: v for k, v in info.items() if k in _SPEC_FIELDS}
    values["default_target_modules"] = tuple(values.get("default_target_modules") or ())
    try:
        return BaseModelSpec(**values)
    except TypeError:
        return None


def local_path_of(settings: Settings, model: Model) -> Path | None:
    info = model.hub_info or {}
    key = str(info.get("key") or "")
    if key == TINY_KEY:
        return tiny_dir(settings)
    if key and import_source(settings, key) is not None:
        return managed_dir(settings, key)
    return Path(info["local_path"]) if info.get("local_path") else None


# --- base models in a remote artifact store (built or converted on one machine, used on any) ------------------------

def stored_key(key: str) -> str:
    return f"bases/{key}"


def _store_key(settings: Settings, model: Model) -> str | None:
    """The store key of a base built or converted by ModelMate, when the store is remote (None otherwise)."""
    info = model.hub_info or {}
    key = str(info.get("key") or "")
    if settings.store_is_local or not key:
        return None
    return stored_key(key) if key == TINY_KEY or info.get("source") else None  # not a user's own local folder


def publish(settings: Settings, key: str, path: Path) -> bool:
    """A remote store: seal the model built or converted here under ``bases/<key>`` so that every worker and Ray
    node can load it (skipped when the store holds these very files). True when uploaded now."""
    if settings.store_is_local or not (path / "config.json").is_file():
        return False
    store = artifact_store(settings)
    stored = store.manifest(stored_key(key))
    if stored is not None and manifest_digest(stored) == manifest_digest(build_manifest(path)):
        return False
    store.put_dir(path, stored_key(key))
    log.info("published base model %s to the artifact store", key)
    return True


def stored_available(settings: Settings, model: Model) -> bool:
    key = _store_key(settings, model)
    try:
        return key is not None and artifact_store(settings).has_dir(key)
    except StoreUnavailable:
        return False


def local_weights(settings: Settings, model: Model) -> Path | None:
    """The base's folder on this machine: its own copy, else (remote store) the published one fetched into this
    machine's cache. None when neither exists."""
    path = local_path_of(settings, model)
    if path is not None and (path / "config.json").is_file():
        return path
    key = _store_key(settings, model)
    if key is None:
        return path
    try:
        return local_cache(settings).dir(artifact_store(settings), key)
    except ArtifactMissing:
        return path


def model_source(settings: Settings, model: Model) -> str | None:
    """What the trainer loads: the local directory (or the copy published to a remote store), else the snapshot
    pulled from the Hugging Face Hub into our cache, else the Hugging Face id (the worker pulls it before training:
    :func:`pending_download`)."""
    path = local_weights(settings, model)
    if path is not None:
        return str(path)
    snapshot = hf_pull.cached_snapshot(settings, model.hf_repo_id) if model.hf_repo_id else None
    return str(snapshot) if snapshot is not None else model.hf_repo_id


def pending_download(settings: Settings, model: Model) -> str | None:
    """The Hugging Face id the worker must pull before ``model`` can be loaded (None: it is on this machine)."""
    if not model.hf_repo_id or local_path_of(settings, model) is not None:
        return None
    return None if hf_pull.cached_snapshot(settings, model.hf_repo_id) is not None else model.hf_repo_id


# --- installs in progress (model_imports writes a small status file next to the model directories) ---------------

def install_status_file(settings: Settings, key: str) -> Path:
    return settings.data_dir / "base_models" / f".{key}.install.json"


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def install_status(settings: Settings, key: str) -> str | None:
    """A sentence about an install of ``key`` in progress on this machine (None when none is running)."""
    if not key:
        return None
    try:
        data = json.loads(install_status_file(settings, key).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not _alive(data.get("pid")):
        return None
    elapsed = max(0, int(time.time() - float(data.get("started") or time.time())))
    return f"being installed on this server ({data.get('message') or 'starting'}; {elapsed} s so far)"


def write_install_status(settings: Settings, key: str, message: str, started: float) -> None:
    with contextlib.suppress(OSError):
        write_json_atomic(install_status_file(settings, key),
                          {"pid": os.getpid(), "message": message, "started": started})


def availability(settings: Settings, model: Model) -> tuple[bool, str | None]:
    info = model.hub_info or {}
    installing = install_status(settings, str(info.get("key") or ""))
    if installing:
        return False, installing
    path = local_path_of(settings, model)
    if path is not None and not (path / "config.json").is_file() and stored_available(settings, model):
        return True, None  # built or converted on another machine and published to the store
    if path is not None:
        if info.get("key") == TINY_KEY:
            if tiny_built(path):
                return True, None
            return False, "the toy model is not built yet: run `modelmate models build-tiny`"
        if (path / "config.json").is_file():
            return True, None
        return False, f"the local model directory {path} is missing"
    if not model.hf_repo_id:
        return False, "no Hugging Face id and no local directory"
    if hf_pull.cached_snapshot(settings, model.hf_repo_id) is not None:
        return True, None  # pulled already (`modelmate models pull`, or an earlier run)
    if info.get("gated") and not (settings.hf_token or os.environ.get("HF_TOKEN")):
        return False, ("gated on Hugging Face: accept the license there and set MODELMATE_HF_TOKEN for the worker")
    return True, None


def base_out(settings: Settings, model: Model) -> BaseModelOut:
    info = model.hub_info or {}
    available, reason = availability(settings, model)
    return BaseModelOut(
        id=model.id, key=str(info.get("key") or model.id), name=model.name, developer=model.developer,
        hf_repo_id=model.hf_repo_id, architecture=info.get("architecture"), parameters=model.parameters,
        license=model.license, gated=bool(info.get("gated")), toy=bool(info.get("toy")), available=available,
        unavailable_reason=reason, default_target_modules=list(info.get("default_target_modules") or []),
        context_length=info.get("context_length"), description=model.description,
        source=info.get("source") if isinstance(info.get("source"), dict) else None)


# --- seeding -----------------------------------------------------------------------------------------------------

def _row_values(spec: BaseModelSpec, hub_info: dict[str, Any]) -> dict[str, Any]:
    links = [f"https://huggingface.co/{spec.hf_repo_id}"] if spec.hf_repo_id else []
    return {"name": spec.name, "developer": spec.developer, "name_key": catalog_repo.normalise_key(spec.name),
            "developer_key": catalog_repo.normalise_key(spec.developer), "model_type": "LLM",
            "parameters": spec.parameters, "license": spec.license, "description": spec.description,
            "source_links": links, "hf_repo_id": spec.hf_repo_id, "kind": ModelKind.BASE.value,
            "visibility": "public", "owner_id": None, "benchmark_scores": {}, "hub_info": hub_info,
            "metadata_extra": {}}


def upsert_base(session: Session, spec: BaseModelSpec, *, local_path: Path | None = None,
                source: dict[str, Any] | None = None) -> Model | None:
    """Insert or refresh the catalog row for ``spec``; None when someone's private model holds its identity."""
    hub_info = hub_info_for(spec, local_path=local_path, source=source)
    row = repo.base_by_key(session, spec.key)
    if row is None:
        dup = catalog_repo.find_duplicate(session, name=spec.name, developer=spec.developer,
                                          hf_repo_id=spec.hf_repo_id, github_repo=None)
        if dup is not None:
            existing, _ = dup
            if existing.visibility != "public" or existing.kind == ModelKind.FINETUNED.value:
                log.warning("base model %s not registered: catalog model %d holds its name or repository",
                            spec.key, existing.id)
                return None
            row = existing  # a public row logged before (demo, autofill): it becomes the base row
            row.kind = ModelKind.BASE.value
            row.hub_info = {**(row.hub_info or {}), **hub_info}
            if row.parameters is None:
                row.parameters = spec.parameters
            row.updated_at = utcnow()
            session.flush()
            return row
        return repo.add_model(session, _row_values(spec, hub_info))
    if row.owner_id is None:  # our own row: keep the facts current
        values = _row_values(spec, hub_info)
        changed = {k: v for k, v in values.items()
                   if k not in ("benchmark_scores", "metadata_extra") and getattr(row, k) != v}
        if changed:
            for key, value in changed.items():
                setattr(row, key, value)
            row.updated_at = utcnow()
    elif (row.hub_info or {}) != {**(row.hub_info or {}), **hub_info}:
        row.hub_info = {**(row.hub_info or {}), **hub_info}
        row.updated_at = utcnow()
    session.flush()
    return row


def tiny_spec_from_dir(path: Path) -> BaseModelSpec:
    """The toy's spec with the numbers of the model actually built in ``path``."""
    marker = json.loads((path / TOY_MARKER).read_text(encoding="utf-8"))
    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    spec = specs.tiny_spec(hidden_size=int(config["hidden_size"]), num_layers=int(config["num_hidden_layers"]),
                           num_heads=int(config["num_attention_heads"]), vocab_size=int(config["vocab_size"]),
                           context_length=int(config.get("max_position_embeddings") or 512),
                           intermediate_size=int(config["intermediate_size"]))
    steps = marker.get("pretrain_steps")
    extra = f" Pre-trained for {steps} steps on local text." if steps else ""
    return replace(spec, parameters=int(marker.get("parameters") or spec.parameters),
                   description=spec.description + extra)


def register_tiny(session: Session, path: Path) -> Model | None:
    return upsert_base(session, tiny_spec_from_dir(path), local_path=path)


class LocalModelError(ValueError):
    """A local model directory that cannot be registered (unsafe files, unsupported architecture...)."""


def register_local(session: Session, path: Path, *, name: str, license: str = "unknown") -> Model:
    """Register a model directory on this machine as a base model (``local-<name>``): safetensors weights only,
    no pickle files, no remote code, a supported architecture. Re-registering the same name refreshes it."""
    path = path.expanduser().resolve()
    if not (path / "config.json").is_file():
        raise LocalModelError(f"{path} is not a model directory (no config.json)")
    try:
        check_model_dir(path)
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        tok_file = path / "tokenizer_config.json"
        tok = json.loads(tok_file.read_text(encoding="utf-8")) if tok_file.is_file() else None
        spec = specs.local_spec(name, config, tok if isinstance(tok, dict) else None, license=license)
    except (UnsafeModelError, ValueError, OSError) as exc:
        raise LocalModelError(str(exc)) from exc
    row = upsert_base(session, spec, local_path=path)
    if row is None:
        raise LocalModelError(f"the name {name!r} is already taken in the catalog; choose another --name")
    return row


def hf_key(repo_id: str) -> str:
    """The registry key of a model pulled from the Hub that is not in the registry: ``hf-<org>-<name>``."""
    slug = re.sub(r"[^a-z0-9.]+", "-", repo_id.lower()).strip("-")[:80] or "model"
    return f"hf-{slug}"


def register_pulled(session: Session, settings: Settings, repo_id: str, snapshot: Path) -> Model:
    """Register (or refresh) the base model of a snapshot pulled from the Hub: a registry model keeps its registry
    row; any other supported model becomes ``hf-<org>-<name>`` with its Hugging Face id. The row keeps no machine
    path: the trainer finds the snapshot in the cache (:func:`model_source`)."""
    known = specs.find_spec(repo_id)
    if known is not None and known.hf_repo_id:
        row = upsert_base(session, known, source=import_source(settings, known.key))
    else:
        try:
            config = json.loads((snapshot / "config.json").read_text(encoding="utf-8"))
            tok_file = snapshot / "tokenizer_config.json"
            tok = json.loads(tok_file.read_text(encoding="utf-8")) if tok_file.is_file() else None
            tok = tok if isinstance(tok, dict) else {}
            template = snapshot / "chat_template.jinja"  # transformers 5 saves the template beside the config
            if template.is_file() and not tok.get("chat_template"):
                tok["chat_template"] = template.read_text(encoding="utf-8")
            org, _, name = repo_id.partition("/")
            spec = specs.local_spec(name, config, tok, license=_card_license(snapshot), key=hf_key(repo_id))
        except (ValueError, OSError) as exc:
            raise LocalModelError(f"{repo_id}: {exc}") from exc
        spec = replace(spec, hf_repo_id=repo_id, developer=org,
                       description=f"{repo_id} ({spec.architecture}) from the Hugging Face Hub, pulled with "
                                   "`modelmate models pull`.")
        row = upsert_base(session, spec)
    if row is None:
        raise LocalModelError(f"{repo_id} is already in the catalog as someone's private or fine-tuned model; it "
                              "was downloaded but not registered as a base model")
    return row


def _card_license(snapshot: Path) -> str:
    """The ``license:`` of the model card's front matter (``unknown`` without one)."""
    try:
        text = (snapshot / "README.md").read_text(encoding="utf-8")
    except OSError:
        return "unknown"
    head = text.split("---", 2)[1] if text.startswith("---") and text.count("---") >= 2 else ""
    found = re.search(r"^license:\s*['\"]?([A-Za-z0-9_.+-]{1,100})", head, re.MULTILINE)
    return found.group(1) if found else "unknown"


def seed_base_models(db: Database, settings: Settings) -> int:
    """Register the supported base models (and the toy, when built). Idempotent; returns the rows touched."""
    with db.session() as session:
        immediate_transaction(session)
        n = sum(1 for spec in specs.BASE_MODELS
                if upsert_base(session, spec, source=import_source(settings, spec.key)) is not None)
        path = tiny_dir(settings)
        if tiny_built(path):
            n += register_tiny(session, path) is not None
    if not settings.store_is_local:
        publish_local(settings)
    return n


def publish_local(settings: Settings) -> None:
    """Publish the toy and the models converted on this machine to a remote store (idempotent)."""
    if tiny_built(tiny_dir(settings)):
        publish(settings, TINY_KEY, tiny_dir(settings))
    for spec in specs.BASE_MODELS:
        if import_source(settings, spec.key) is not None:
            publish(settings, spec.key, managed_dir(settings, spec.key))


# --- the toy ---------------------------------------------------------------------------------------------------

def build_tiny(settings: Settings, db: Database, *, pretrain_steps: int = 0, force: bool = False,
               on_progress: Callable[[dict], None] | None = None,
               **dims: Unpack[TinyDims]) -> tuple[Model | None, bool]:
    """Build the toy into ``data_dir/base_models/tiny`` (unless built and not ``force``) and register it.
    Returns ``(model row, built now)``."""
    path = tiny_dir(settings)
    built = False
    if force or not tiny_built(path):
        _build(path, pretrain_steps=pretrain_steps, on_progress=on_progress, **dims)
        built = True
    with db.session() as session:
        immediate_transaction(session)
        model = register_tiny(session, path)
        if model is not None:
            session.expunge(model)
    publish(settings, TINY_KEY, path)
    return model, built


def start_background_tiny_build(settings: Settings, db: Database) -> threading.Thread | None:
    """First start with the demo on: build the toy in a child process (random weights, seconds) and register it,
    so the hub has a model to fine-tune without any extra step. Nothing happens once it is built."""
    path = tiny_dir(settings)
    if tiny_built(path):
        return None

    def work() -> None:
        lock = path.parent / ".tiny.lock"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            import fcntl

            with open(lock, "w") as fh:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    return  # another process is building it
                if not tiny_built(path):
                    log.info("building the toy base model in %s", path)
                    proc = subprocess.run([sys.executable, "-m", "modelmate.finetune.base_catalog", str(path)],
                                          capture_output=True, text=True, timeout=1800)
                    if proc.returncode != 0:
                        log.warning("building the toy model failed: %s", proc.stderr[-2000:])
                        return
            with db.session() as session:
                immediate_transaction(session)
                register_tiny(session, path)
            publish(settings, TINY_KEY, path)
            log.info("toy base model 'tiny' ready")
        except Exception:  # noqa: BLE001 - the demo model is a convenience; the server runs without it
            log.exception("building the toy model failed")

    thread = threading.Thread(target=work, name="build-tiny", daemon=True)
    thread.start()
    return thread


# --- lookup ------------------------------------------------------------------------------------------------------

def visible(model: Model, user: User) -> bool:
    return model.visibility == "public" or model.owner_id == user.id


def resolve_model_ref(session: Session, user: User, ref: str) -> Model:
    """A base (or fine-tuned, for forks) model by catalog id, key or Hugging Face id; 404 when unknown to ``user``."""
    ref = ref.strip()
    model: Model | None = None
    if ref.isdigit() and len(ref) <= 18:
        model = repo.model_by_id(session, int(ref))
        if model is not None and (not visible(model, user) or model.kind == ModelKind.EXTERNAL.value):
            model = None
    else:
        model = repo.base_by_key(session, ref.lower()) or repo.base_by_hf_id(session, ref)
    if model is None:
        keys = ", ".join(sorted({str((m.hub_info or {}).get("key")) for m in repo.base_models(session)}))
        raise NotFoundError(f"unknown base model {ref[:200]!r}" + (f"; choose one of: {keys}" if keys else ""))
    return model


def _main(argv: list[str]) -> int:  # pragma: no cover - run as a child process by start_background_tiny_build

    _build(Path(argv[0]))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(_main(sys.argv[1:]))
