"""Base models from the Hugging Face Hub: one download path for the CLI (``modelmate models pull``) and the worker.

:func:`pull` puts a model snapshot into ModelMate's own cache, ``<data dir>/hf_cache`` (the standard
``huggingface_hub`` cache layout, directories 0700), from ``settings.hf_endpoint``:

* only SAFE files are ever requested (:data:`SAFE_PATTERNS`, top-level files only): safetensors weights, configs,
  tokenizer files, the model card and licenses — never pickle formats (``.bin``, ``.pt``, ``.pth``, ``.pkl``,
  ``.ckpt``), other frameworks' weights or custom code (``*.py``). Of the ``*.safetensors`` files only the
  transformers weights are taken: the shards named by ``model.safetensors.index.json``, else ``model.safetensors``
  (a repository's extra copies, such as Mistral's ``consolidated.safetensors``, would double the download);
* ``config.json`` is fetched first, so a repository with an unsupported architecture or custom code is refused
  before its weights are downloaded; the finished snapshot goes through the loader's own safety check
  (:func:`modelmate.training.tiny.check_model_dir`);
* downloads resume: every file is streamed into ``hf_cache/.modelmate/partial/…`` with ``huggingface_hub``'s own
  ``http_get`` (HTTP ``Range`` on a retry, within a call and across calls: ``huggingface_hub`` 2.x deletes its
  partial files when a download fails), checked (size, and sha256 where the ETag is one) and moved into the
  cache's ``blobs/``; :func:`huggingface_hub.snapshot_download` then lays out the snapshot (symlinks, refs) and
  fetches whatever is left (Xet-stored files, with its own client);
* progress (:mod:`modelmate.finetune.hf_progress`): ``on_progress`` receives dicts (``phase``, ``bytes_done``,
  ``bytes_total``, ``files_done``, ``files_total``, ``file``, ``resumed_bytes``, ``bytes_per_s``, ``eta_s``) at most
  every ``progress_interval_s`` and at each phase change, from the calling thread or a download thread. An
  exception it raises (a cancel, a lost lease) stops every download thread and comes out of :func:`pull` unchanged;
  the bytes so far stay for a resume;
* every Hub failure becomes a :class:`PullError` with a plain message and a ``code``.

:func:`cached_snapshot` finds an already pulled and verified snapshot without any network call (by default the one
pulled last, so ``models pull --revision`` decides what runs train on).
No FastAPI and no database here.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import glob
import hashlib
import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from modelmate.config import Settings
from modelmate.finetune.hf_progress import Progress, ProgressTracker, describe, fraction, human_bytes
from modelmate.jsonutil import write_json_atomic
from modelmate.training.model_specs import SUPPORTED_ARCHITECTURES
from modelmate.training.tiny import UnsafeModelError, check_model_dir

# What a base model needs, and nothing that can run code when loaded.
SAFE_PATTERNS = [
    "*.safetensors", "*.safetensors.index.json", "config.json", "generation_config.json", "tokenizer.json",
    "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model", "vocab.json", "merges.txt",
    "added_tokens.json", "chat_template.jinja", "chat_template.json", "README.md", "LICENSE*",
]
# Refused even where a safe pattern matches (``LICENSE.py``): pickle, other frameworks' weights, code.
BLOCKED_PATTERNS = ["*.bin", "*.pt", "*.pth", "*.pkl", "*.pickle", "*.ckpt", "*.py", "*.pyc", "*.so", "*.msgpack",
                    "*.h5", "*.onnx", "*.gguf", "*.npz", "*.joblib", "*.sh"]
INDEX_FILE = "model.safetensors.index.json"
HF_WEBSITE = "https://huggingface.co"
LOCK_POLL_S = 0.5

__all__ = ["BLOCKED_PATTERNS", "SAFE_PATTERNS", "Progress", "PullError", "cache_dir", "cached_snapshot", "describe",
           "fraction", "human_bytes", "pull", "repo_id_of", "verify_snapshot"]


class PullError(Exception):
    """A download that cannot succeed as asked; ``message`` is meant for the user, ``code`` for programs."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


# --- the cache ---------------------------------------------------------------------------------------------------

def cache_dir(settings: Settings) -> Path:
    """ModelMate's own Hugging Face cache (``huggingface_hub`` layout); created 0700."""
    path = settings.data_dir / "hf_cache"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.mkdir(mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def _folder(repo_id: str) -> str:
    return "models--" + repo_id.replace("/", "--")


def repo_id_of(snapshot: Path) -> str:
    """The repository id of a snapshot directory in the cache (``…/models--org--name/snapshots/<commit>``)."""
    return snapshot.parent.parent.name.removeprefix("models--").replace("--", "/")


def _own_dir(cache: Path, kind: str, repo_id: str) -> Path:
    path = cache / ".modelmate" / kind / _folder(repo_id)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _verified_marker(cache: Path, repo_id: str, commit: str) -> Path:
    return cache / ".modelmate" / "verified" / _folder(repo_id) / f"{commit}.json"


def _current_file(cache: Path, repo_id: str) -> Path:
    """The commit of the last successful pull of ``repo_id`` (whatever revision it asked for)."""
    return cache / ".modelmate" / "current" / _folder(repo_id)


def cached_snapshot(settings: Settings, repo_id: str, revision: str | None = None) -> Path | None:
    """The pulled and verified snapshot of ``repo_id`` in the cache, without any network call: at ``revision``
    (a branch, tag or commit pulled before), or by default the snapshot pulled last (``models pull --revision``
    decides what runs use)."""
    if not repo_id or "/" not in repo_id:
        return None
    cache = settings.data_dir / "hf_cache"
    if not (cache / _folder(repo_id)).is_dir():
        return None
    snapshot: Path | None = None
    if revision is None:
        with contextlib.suppress(OSError):
            commit = _current_file(cache, repo_id).read_text(encoding="utf-8").strip()
            if re.fullmatch(r"[0-9a-f]{40}", commit):
                snapshot = cache / _folder(repo_id) / "snapshots" / commit
    if snapshot is None:
        from huggingface_hub import try_to_load_from_cache

        try:
            config = try_to_load_from_cache(repo_id, "config.json", cache_dir=str(cache), revision=revision)
        except (ValueError, OSError):
            return None
        if not isinstance(config, str):
            return None
        snapshot = Path(config).parent
    try:
        files = json.loads(_verified_marker(cache, repo_id, snapshot.name).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not all((snapshot / name).is_file() for name in files):
        return None
    return snapshot


# --- file selection ----------------------------------------------------------------------------------------------

def safe_files(names: list[str]) -> list[str]:
    """The top-level files of a repository that match :data:`SAFE_PATTERNS` and no :data:`BLOCKED_PATTERNS`."""
    from huggingface_hub.utils import filter_repo_objects

    top = [n for n in names if "/" not in n]
    return sorted(filter_repo_objects(top, allow_patterns=SAFE_PATTERNS, ignore_patterns=BLOCKED_PATTERNS))


def weight_files(available: list[str], index: dict[str, Any] | None) -> list[str]:
    """The safetensors files transformers loads: the index's shards, else ``model.safetensors``, else all."""
    weights = [n for n in available if n.endswith(".safetensors")]
    if index is not None:
        named = {str(v) for v in (index.get("weight_map") or {}).values()}
        missing = sorted(named - set(weights))
        if missing or not named:
            raise PullError(f"{INDEX_FILE} names weight files the repository does not have "
                            f"({', '.join(missing[:3]) or 'none listed'})", "incomplete_repo")
        return sorted(named)
    if "model.safetensors" in weights:
        return ["model.safetensors"]
    return weights


def check_config(repo_id: str, config: Any, *, check_architecture: bool = True) -> None:
    """Refuse custom code, and (unless told otherwise) an architecture we cannot fine-tune."""
    if not isinstance(config, dict):
        raise PullError(f"{repo_id}: config.json is not a JSON object", "unsafe")
    if config.get("auto_map") or config.get("trust_remote_code"):
        raise PullError(f"{repo_id} asks for custom code (auto_map in config.json); ModelMate never runs a "
                        "repository's code", "unsafe")
    archs = config.get("architectures") or []
    if check_architecture and not any(a in SUPPORTED_ARCHITECTURES for a in archs):
        raise PullError(f"{repo_id} is a {', '.join(map(str, archs)) or 'model of unknown architecture'}; ModelMate "
                        f"fine-tunes {', '.join(sorted(SUPPORTED_ARCHITECTURES))} models only",
                        "unsupported_architecture")


def verify_snapshot(repo_id: str, path: Path, *, check_architecture: bool = True) -> None:
    """The loader's safety check (no pickle, safetensors present, no remote code) plus :func:`check_config`."""
    try:
        check_model_dir(path)
    except UnsafeModelError as exc:
        raise PullError(f"{repo_id}: {exc}", "unsafe") from None
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PullError(f"{repo_id} has no readable config.json ({exc})", "no_config") from None
    check_config(repo_id, config, check_architecture=check_architecture)


# --- errors ------------------------------------------------------------------------------------------------------

def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def translate(exc: BaseException, repo_id: str, *, endpoint: str, revision: str | None,
              token_sent: bool) -> PullError | None:
    """The :class:`PullError` for a ``huggingface_hub``/network/disk exception; None for anything else."""
    import httpx2
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    page = f"{HF_WEBSITE}/{repo_id}"
    for err in _chain(exc):
        if isinstance(err, GatedRepoError):
            if token_sent and err.response is not None and err.response.status_code == 403:
                return PullError(f"{repo_id} is gated on Hugging Face and the account of your token has no access "
                                 f"yet: accept the license at {page} (approval can take a while), then try again",
                                 "gated")
            return PullError(f"{repo_id} is gated on Hugging Face: accept the license at {page} and set "
                             "MODELMATE_HF_TOKEN (or pass --token) to a token of that account", "gated")
        if isinstance(err, RevisionNotFoundError):
            return PullError(f"revision {revision or 'main'!r} does not exist in {repo_id}", "revision_not_found")
        if isinstance(err, RepositoryNotFoundError):
            return PullError(f"{repo_id} was not found on {endpoint}, or it is private and your token cannot see it",
                             "not_found")
        if isinstance(err, RemoteEntryNotFoundError):
            return PullError(f"a file of {repo_id} disappeared from the Hub while downloading; try again",
                             "hub_error")
        if isinstance(err, HfHubHTTPError) and err.response is not None:
            status = err.response.status_code
            if status == 401:
                return PullError("the Hugging Face token was refused (401 invalid credentials): check "
                                 "MODELMATE_HF_TOKEN / HF_TOKEN or --token", "bad_token")
            if status == 403:
                return PullError(f"the Hub refused access to {repo_id} (403): your token lacks the read permission "
                                 "for it", "forbidden")
            return PullError(f"the Hub answered HTTP {status} for {repo_id}; try again later (the download "
                             "resumes where it stopped)", "hub_error")
        if isinstance(err, OfflineModeIsEnabled):
            return PullError(f"cannot download {repo_id}: Hugging Face offline mode is on (HF_HUB_OFFLINE)",
                             "unreachable")
        if isinstance(err, httpx2.ConnectError | httpx2.TimeoutException | httpx2.RemoteProtocolError
                      | httpx2.NetworkError | ConnectionError | TimeoutError):
            return PullError(f"cannot reach the Hugging Face Hub at {endpoint}, or the connection dropped "
                             f"({type(err).__name__}: {str(err)[:200] or 'no answer'}): check the network, a proxy "
                             "or MODELMATE_HF_ENDPOINT; a new pull resumes where this one stopped", "unreachable")
        if isinstance(err, OSError) and err.errno == errno.ENOSPC:
            return PullError(f"the disk is full while downloading {repo_id}: free some space (the cache is in the "
                             "data directory's hf_cache) and pull again to resume", "disk_full")
        if isinstance(err, OSError) and "Consistency check failed" in str(err):
            return PullError(f"the download of {repo_id} ended early; pull again to resume", "incomplete")
    return None


# --- the download ------------------------------------------------------------------------------------------------

def _token(settings: Settings, token: str | None) -> str | None:
    return token or settings.hf_token or os.environ.get("HF_TOKEN") or None


@contextlib.contextmanager
def _repo_lock(cache: Path, repo_id: str, tracker: ProgressTracker) -> Iterator[None]:
    """One pull of a repository at a time on this machine (the CLI and a worker may both want it)."""
    path = cache / ".modelmate" / "locks" / f"{_folder(repo_id)}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        waiting = False
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waiting:
                    tracker.set_phase("waiting")
                    waiting = True
                tracker.emit()
                time.sleep(LOCK_POLL_S)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class _Puller:
    def __init__(self, settings: Settings, repo_id: str, revision: str | None, token: str | None,
                 tracker: ProgressTracker, check_architecture: bool) -> None:
        self.settings, self.repo_id, self.revision, self.token = settings, repo_id, revision, token
        self.endpoint = settings.hf_endpoint.rstrip("/")
        self.tracker, self.check_architecture = tracker, check_architecture
        self.cache = cache_dir(settings)
        self.storage = self.cache / _folder(repo_id)
        self.partial = _own_dir(self.cache, "partial", repo_id)

    def run(self) -> Path:
        from huggingface_hub import HfApi
        from huggingface_hub.hf_api import RepoFile

        api = HfApi(endpoint=self.endpoint, token=self.token, library_name="modelmate")
        info = api.model_info(self.repo_id, revision=self.revision)
        commit = str(info.sha or "")
        if not re.fullmatch(r"[0-9a-f]{40}", commit):
            raise PullError(f"the Hub gave no commit id for {self.repo_id}", "hub_error")
        sizes = {f.path: int(f.size or 0) for f in api.list_repo_tree(self.repo_id, revision=commit, recursive=True)
                 if isinstance(f, RepoFile)}
        safe = safe_files(list(sizes))
        if not any(n.endswith(".safetensors") for n in safe):
            raise PullError(f"{self.repo_id} has no .safetensors weights (only formats such as pytorch_model.bin, "
                            "which can run code when loaded); ModelMate loads safetensors only", "no_safetensors")
        if "config.json" not in safe:
            raise PullError(f"{self.repo_id} has no config.json: it is not a full transformers model (a LoRA "
                            "adapter or another format?)", "no_config")
        # small files first: the config decides before any weights are downloaded
        self.tracker.set_phase("downloading", "config.json")
        config = self._fetch(commit, "config.json")
        self.tracker.file_finished()
        if config is not None:
            check_config(self.repo_id, json.loads(config.read_text(encoding="utf-8")),
                         check_architecture=self.check_architecture)
        index: Any = None
        if INDEX_FILE in safe:
            index_path = self._fetch(commit, INDEX_FILE)
            self.tracker.file_finished()
            if index_path is not None:
                index = json.loads(index_path.read_text(encoding="utf-8"))
        weights = weight_files(safe, index if isinstance(index, dict) else None)
        chosen = sorted({n for n in safe if not n.endswith(".safetensors")} | set(weights))
        with self.tracker.lock:
            self.tracker.total = sum(sizes.get(n, 0) for n in chosen)
            self.tracker.files_total = len(chosen)
        for name in sorted(set(chosen) - {"config.json", INDEX_FILE}, key=lambda n: (sizes.get(n, 0), n)):
            self.tracker.set_phase("downloading", name)
            self._fetch(commit, name)
            self.tracker.file_finished()
        self.tracker.set_phase("verifying")
        path = self._lay_out(commit, chosen)
        verify_snapshot(self.repo_id, path, check_architecture=self.check_architecture)
        marker = _verified_marker(self.cache, self.repo_id, commit)
        marker.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(marker, {"repo_id": self.repo_id, "commit": commit, "files": chosen,
                                   "bytes": self.tracker.total, "endpoint": self.endpoint,
                                   "pulled_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
        current = _current_file(self.cache, self.repo_id)
        current.parent.mkdir(parents=True, exist_ok=True)
        tmp = current.with_name(f".{current.name}.tmp-{os.getpid()}")
        tmp.write_text(commit, encoding="utf-8")
        os.replace(tmp, current)
        for leftover in self.partial.iterdir():  # partial files of older commits can never be resumed now
            with contextlib.suppress(OSError):
                leftover.unlink()
        with self.tracker.lock:
            self.tracker.own = self.tracker.total
            self.tracker.hf_bars.clear()
            self.tracker.files_done = self.tracker.files_total
        self.tracker.set_phase("done")
        return path

    def _fetch(self, commit: str, name: str) -> Path | None:
        """Download one file into the cache's blobs (resuming a partial file); its blob path, or None when the file
        is stored with Xet and left to ``snapshot_download``."""
        from huggingface_hub import get_hf_file_metadata, hf_hub_url
        from huggingface_hub.file_download import http_get
        from huggingface_hub.utils import build_hf_headers

        url = hf_hub_url(self.repo_id, name, revision=commit, endpoint=self.endpoint)
        meta = get_hf_file_metadata(url, token=self.token, library_name="modelmate", endpoint=self.endpoint)
        if meta.xet_file_data is not None or not meta.etag:
            return None
        if not re.fullmatch(r"[0-9A-Za-z_-][0-9A-Za-z._-]{0,127}", meta.etag):  # it becomes a file name
            raise PullError(f"the Hub sent an unusable ETag for {name} of {self.repo_id}", "hub_error")
        blob = self.storage / "blobs" / meta.etag
        if blob.is_file():
            self.tracker.add_done(meta.size or blob.stat().st_size, resumed=True)
            return blob
        part = self.partial / f"{meta.etag}.part"
        have = part.stat().st_size if part.is_file() else 0
        if meta.size is not None and have > meta.size:
            part.unlink()
            have = 0
        with open(part, "r+b" if have else "wb") as fh:
            fh.seek(have)
            if meta.size is not None and have == meta.size:
                self.tracker.add_done(have, resumed=True)
            else:
                headers = build_hf_headers(token=self.token, library_name="modelmate")
                http_get(meta.location, fh, resume_size=have, headers=headers, expected_size=meta.size,
                         displayed_filename=name, tqdm_class=self.tracker.bar_class("own"))
            fh.flush()
            os.fsync(fh.fileno())
        size = part.stat().st_size
        if meta.size is not None and size != meta.size:
            raise PullError(f"the download of {name} from {self.repo_id} ended early ({size} of {meta.size} bytes); "
                            "pull again to resume", "incomplete")
        if re.fullmatch(r"[0-9a-f]{64}", meta.etag) and _sha256(part) != meta.etag:
            part.unlink()
            raise PullError(f"{name} from {self.repo_id} does not match its sha256; it was deleted, pull again",
                            "corrupt")
        blob.parent.mkdir(parents=True, exist_ok=True)
        os.replace(part, blob)
        return blob

    def _lay_out(self, commit: str, chosen: list[str]) -> Path:
        """``snapshot_download`` links our blobs into the snapshot and fetches what is left (Xet files)."""
        from huggingface_hub import snapshot_download

        path = snapshot_download(self.repo_id, revision=commit, cache_dir=str(self.cache), endpoint=self.endpoint,
                                 token=self.token, allow_patterns=[glob.escape(n) for n in chosen],
                                 ignore_patterns=BLOCKED_PATTERNS, max_workers=4, library_name="modelmate",
                                 tqdm_class=self.tracker.bar_class("hf"))
        ref_name = self.revision or "main"
        if ref_name != commit:  # snapshot_download records no ref for a commit id: cached_snapshot needs it
            ref = self.storage / "refs" / ref_name
            ref.parent.mkdir(parents=True, exist_ok=True)
            tmp = ref.with_name(f".{ref.name}.tmp-{os.getpid()}")
            tmp.write_text(commit)
            os.replace(tmp, ref)
        return Path(path)


def pull(settings: Settings, repo_id: str, *, revision: str | None = None, token: str | None = None,
         on_progress: Progress | None = None, check_architecture: bool = True,
         progress_interval_s: float = 0.2) -> Path:
    """Download ``repo_id`` (safe files only) into the cache and return its verified snapshot directory.

    ``token``: else ``settings.hf_token``, else ``HF_TOKEN``, else ``huggingface_hub``'s stored login.
    ``check_architecture``: refuse architectures we cannot fine-tune (evaluation turns it off).
    Raises :class:`PullError`; an exception raised by ``on_progress`` comes out unchanged.
    """
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    repo_id = (repo_id or "").strip()
    try:
        validate_repo_id(repo_id)
        if "/" not in repo_id:
            raise HFValidationError("an organisation or user and a name")
    except HFValidationError:
        raise PullError(f"{repo_id[:200]!r} is not a Hugging Face model id (expected org/name, e.g. "
                        "Qwen/Qwen2.5-0.5B)", "invalid_id") from None
    if revision is not None and (not re.fullmatch(r"[\w.\-/]{1,200}", revision) or ".." in revision
                                 or revision.startswith("/")):
        raise PullError(f"{revision[:200]!r} is not a branch, tag or commit name", "revision_not_found")
    resolved = _token(settings, token)
    tracker = ProgressTracker(repo_id, on_progress, progress_interval_s)
    try:
        cache = cache_dir(settings)
    except OSError as exc:
        raise PullError(f"cannot create the model cache in {settings.data_dir}: {exc.strerror or exc}",
                        "disk") from None
    with _repo_lock(cache, repo_id, tracker):
        tracker.set_phase("resolving")
        try:
            return _Puller(settings, repo_id, revision, resolved, tracker, check_architecture).run()
        except PullError:
            raise
        except BaseException as exc:
            if tracker.error is not None:  # on_progress stopped us (cancel, lost lease): its exception, as is
                raise tracker.error from None
            error = translate(exc, repo_id, endpoint=settings.hf_endpoint.rstrip("/"), revision=revision,
                              token_sent=bool(resolved))
            if error is None:
                raise
            raise error from exc
