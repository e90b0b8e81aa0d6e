"""The artifact store: every file ModelMate keeps, by store-relative key, on local disk or in S3-compatible storage.

``MODELMATE_ARTIFACTS_URL`` chooses it: ``file:///path`` (default ``<data_dir>/artifacts``) or
``s3://bucket/prefix`` (AWS S3, MinIO, R2, Ceph...: endpoint, region and credentials come from the standard AWS
settings — ``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``, profiles — read by
botocore through fsspec's ``s3fs``).

Keys are relative POSIX paths of lowercase-safe segments (``datasets/<sha256>.jsonl``, ``runs/12/adapter``,
``runs/12/checkpoints/step-40``, ``runs/12/train.log``, ``evaluations/7/results.json``, ``bases/tiny``); the
database keeps keys only, never absolute paths or URLs, so a deployment can move its store.

Directories (an adapter, a checkpoint, a base model) are written file by file and then sealed by a manifest
(``<prefix>/.manifest.json``: every file's relative path, size and sha256), written last. A directory exists only once
its manifest does, so a reader never sees half an adapter and nothing in the database points at a directory that was
never completely written (the caller records the key after :meth:`ArtifactStore.put_dir` returned).

Readers on another machine materialise a directory into the local :class:`~modelmate.storage.cache.LocalCache`
(``get_dir`` verifies sizes and hashes); a local store serves its own folder without copying anything.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlparse

from modelmate.storage.private import FILE_MODE, private_dir

MANIFEST = ".manifest.json"
CHUNK = 1024 * 1024
_SEGMENT = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_.+=-]{0,199}$")


class StoreUnavailable(Exception):
    """The store cannot be reached or refused us (S3 down, wrong credentials, missing bucket): a clear sentence."""


class ArtifactMissing(FileNotFoundError):
    """No object (or no sealed directory) under this key."""


def check_key(key: str) -> str:
    """A store key: relative, ``/``-separated, no empty/``.``/``..`` segments, no odd characters."""
    parts = (key or "").split("/")
    if not key or any(not _SEGMENT.match(p) or p in {".", ".."} for p in parts):
        raise ValueError(f"invalid artifact key {key!r}")
    return key


def join(*parts: str) -> str:
    return check_key("/".join(p.strip("/") for p in parts if p))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _dir_files(src: Path) -> list[Path]:
    """Regular files under ``src`` (symlinks are never followed nor stored), sorted."""
    out: list[Path] = []
    for root, dirs, files in os.walk(src, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not os.path.islink(os.path.join(root, d)))
        for name in sorted(files):
            path = Path(root) / name
            if name == MANIFEST or path.is_symlink() or not path.is_file() or name.startswith(".tmp-"):
                continue
            out.append(path)
    return out


def build_manifest(src: Path) -> dict[str, Any]:
    files = [{"path": p.relative_to(src).as_posix(), "size": p.stat().st_size, "sha256": sha256_file(p)}
             for p in _dir_files(src)]
    return {"version": 1, "files": files}


def manifest_digest(manifest: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(manifest["files"], sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class StoreInfo:
    url: str
    local: bool


class ArtifactStore:
    """The interface (see the module docs). Implementations: :class:`LocalStore`, :class:`FsspecStore`."""

    url: str
    local_root: Path | None = None  # set for a store on this machine's disk: readers use its files in place

    # --- files --------------------------------------------------------------------------------------------------
    def put_file(self, src: Path, key: str) -> None:
        raise NotImplementedError

    def put_bytes(self, data: bytes, key: str) -> None:
        raise NotImplementedError

    def get_file(self, key: str, dest: Path) -> Path:
        raise NotImplementedError

    def open(self, key: str) -> IO[bytes]:
        """A streaming, read-only file object (the caller closes it)."""
        raise NotImplementedError

    def exists(self, key: str) -> bool:
        raise NotImplementedError

    def size(self, key: str) -> int:
        raise NotImplementedError

    def list(self, prefix: str) -> list[str]:
        """Keys of every object under ``prefix`` (recursive), sorted."""
        raise NotImplementedError

    def delete(self, prefix: str) -> None:
        """Remove an object or everything under a prefix (no error when absent)."""
        raise NotImplementedError

    # --- sealed directories -------------------------------------------------------------------------------------
    def put_dir(self, src: Path, prefix: str) -> dict[str, Any]:
        """Upload every file of ``src`` under ``prefix`` and seal it with its manifest (written last)."""
        check_key(prefix)
        manifest = build_manifest(src)
        for item in manifest["files"]:
            self.put_file(src / item["path"], join(prefix, item["path"]))
        self.put_bytes(json.dumps(manifest, sort_keys=True).encode(), join(prefix, MANIFEST))
        return manifest

    def manifest(self, prefix: str) -> dict[str, Any] | None:
        """The sealed directory's manifest, or None when it was never (completely) written."""
        key = join(prefix, MANIFEST)
        try:
            with self.open(key) as fh:
                data = json.loads(fh.read().decode("utf-8"))
        except (ArtifactMissing, FileNotFoundError, ValueError):
            return None
        return data if isinstance(data, dict) and isinstance(data.get("files"), list) else None

    def has_dir(self, prefix: str) -> bool:
        return self.manifest(prefix) is not None

    def get_dir(self, prefix: str, dest: Path) -> dict[str, Any]:
        """Download a sealed directory into ``dest`` (created 0700), checking every file's size and sha256."""
        manifest = self.manifest(prefix)
        if manifest is None:
            raise ArtifactMissing(f"no complete directory at {prefix!r} in the artifact store")
        private_dir(dest)
        for item in manifest["files"]:
            rel = check_key(str(item["path"]))
            target = dest / rel
            private_dir(target.parent)
            self.get_file(join(prefix, rel), target)
            if target.stat().st_size != item["size"] or sha256_file(target) != item["sha256"]:
                target.unlink()
                raise StoreUnavailable(f"{prefix}/{rel} in the artifact store does not match its manifest")
        return manifest

    def dir_files(self, prefix: str) -> builtins.list[dict[str, Any]]:  # `list` is also a method here
        manifest = self.manifest(prefix)
        if manifest is None:
            raise ArtifactMissing(f"no complete directory at {prefix!r} in the artifact store")
        return list(manifest["files"])

    def check(self) -> None:
        """Raise :class:`StoreUnavailable` with a clear sentence when the store cannot be used right now."""
        probe = join(".probe", f"{os.getpid()}-{os.urandom(4).hex()}")
        try:
            self.put_bytes(b"ok", probe)
            self.delete(probe)
        except StoreUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - any transport/credential error becomes one clear message
            raise unavailable(self.url, exc) from exc


def unavailable(url: str, exc: BaseException) -> StoreUnavailable:
    text = str(exc).strip() or type(exc).__name__
    return StoreUnavailable(f"The artifact store {redact(url)} cannot be used: {text[:300]}. Check "
                            "MODELMATE_ARTIFACTS_URL, the endpoint and the credentials.")


def redact(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password or parsed.username:
        return parsed._replace(netloc=parsed.hostname or "").geturl()
    return url


class LocalStore(ArtifactStore):
    """A folder on this machine (or a shared mount). Writes are atomic (temporary file + rename) and private."""

    local_root: Path  # always set here

    def __init__(self, root: Path) -> None:
        self.local_root = Path(root)
        self.url = self.local_root.as_uri()

    def path(self, key: str) -> Path:
        return self.local_root / check_key(key)

    def _write(self, key: str, fill) -> None:
        """Write ``key`` atomically: ``fill(file)`` into a private temporary file beside it, fsync, rename."""
        target = self.path(key)
        private_dir(target.parent)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                fill(out)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, FILE_MODE)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def put_file(self, src: Path, key: str) -> None:
        target = self.path(key)
        if target.exists() and os.path.samefile(src, target):
            return

        def copy(out) -> None:
            with open(src, "rb") as fh:
                shutil.copyfileobj(fh, out, CHUNK)

        self._write(key, copy)

    def put_bytes(self, data: bytes, key: str) -> None:
        self._write(key, lambda out: out.write(data))

    def put_dir(self, src: Path, prefix: str) -> dict[str, Any]:
        if Path(src).resolve() == self.path(prefix).resolve():  # written in place (the single-machine default)
            manifest = build_manifest(Path(src))
            self.put_bytes(json.dumps(manifest, sort_keys=True).encode(), join(prefix, MANIFEST))
            return manifest
        return super().put_dir(src, prefix)

    def get_file(self, key: str, dest: Path) -> Path:
        src = self.path(key)
        if not src.is_file() or src.is_symlink():
            raise ArtifactMissing(f"{key} is not in the artifact store")
        if dest.exists() and os.path.samefile(src, dest):
            return dest
        private_dir(dest.parent)
        shutil.copyfile(src, dest)
        os.chmod(dest, FILE_MODE)
        return dest

    def open(self, key: str) -> IO[bytes]:
        path = self.path(key)
        if not path.is_file() or path.is_symlink():
            raise ArtifactMissing(f"{key} is not in the artifact store")
        return open(path, "rb")

    def exists(self, key: str) -> bool:
        path = self.path(key)
        return path.is_file() and not path.is_symlink()

    def size(self, key: str) -> int:
        if not self.exists(key):
            raise ArtifactMissing(f"{key} is not in the artifact store")
        return self.path(key).stat().st_size

    def list(self, prefix: str) -> list[str]:
        base = self.path(prefix)
        if base.is_file():
            return [prefix]
        if not base.is_dir():
            return []
        return [join(prefix, p.relative_to(base).as_posix()) for p in _dir_files(base)]

    def delete(self, prefix: str) -> None:
        path = self.path(prefix)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def dir_path(self, prefix: str) -> Path | None:
        """The sealed directory's folder, used in place (None when it is not there). A folder written before the
        store sealed directories (no manifest; written atomically by the trainer on this machine) counts too."""
        path = self.path(prefix)
        if self.has_dir(prefix):
            return path
        legacy = path.is_dir() and not path.is_symlink() and any(p.is_file() for p in path.iterdir())
        return path if legacy else None


class FsspecStore(ArtifactStore):
    """Any fsspec filesystem rooted at ``bucket/prefix`` (``s3://`` through s3fs). Every transport error is turned
    into :class:`StoreUnavailable`; a missing key into :class:`ArtifactMissing`."""

    def __init__(self, url: str, fs: Any, root: str) -> None:
        self.url = url
        self.fs = fs
        self.root = root.strip("/")

    def _p(self, key: str) -> str:
        return f"{self.root}/{check_key(key)}"

    @contextlib.contextmanager
    def _errors(self, key: str) -> Iterator[None]:
        try:
            yield
        except FileNotFoundError as exc:
            raise ArtifactMissing(f"{key} is not in the artifact store") from exc
        except (ArtifactMissing, StoreUnavailable, ValueError):
            raise
        except Exception as exc:  # noqa: BLE001 - botocore/aiohttp/permission errors
            raise unavailable(self.url, exc) from exc

    def put_file(self, src: Path, key: str) -> None:
        with self._errors(key):
            self.fs.put_file(str(src), self._p(key))

    def put_bytes(self, data: bytes, key: str) -> None:
        with self._errors(key):
            self.fs.pipe_file(self._p(key), data)

    def get_file(self, key: str, dest: Path) -> Path:
        private_dir(dest.parent)
        tmp = dest.with_name(f".tmp-{dest.name}-{os.getpid()}")
        try:
            with self._errors(key):
                self.fs.get_file(self._p(key), str(tmp))
            os.chmod(tmp, FILE_MODE)
            os.replace(tmp, dest)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        return dest

    def open(self, key: str) -> IO[bytes]:
        with self._errors(key):
            return self.fs.open(self._p(key), "rb", block_size=CHUNK)

    def exists(self, key: str) -> bool:
        with self._errors(key):
            return bool(self.fs.isfile(self._p(key)))

    def size(self, key: str) -> int:
        with self._errors(key):
            return int(self.fs.size(self._p(key)))

    def list(self, prefix: str) -> list[str]:
        base = self._p(prefix)
        with self._errors(prefix):
            self.fs.invalidate_cache(base)
            found = self.fs.find(base)
        out = []
        for path in found:
            rel = path[len(self.root) + 1:] if path.startswith(self.root + "/") else path
            out.append(rel)
        return sorted(out)

    def delete(self, prefix: str) -> None:
        base = self._p(prefix)
        with contextlib.suppress(FileNotFoundError), self._errors(prefix):
            self.fs.invalidate_cache(base)
            if self.fs.isdir(base):
                self.fs.rm(base, recursive=True)
            elif self.fs.isfile(base):
                self.fs.rm_file(base)

    def manifest(self, prefix: str) -> dict[str, Any] | None:
        with contextlib.suppress(Exception):
            self.fs.invalidate_cache(self._p(prefix))
        return super().manifest(prefix)


def open_store(url: str, *, storage_options: dict[str, Any] | None = None) -> ArtifactStore:
    """The store for ``file:///...`` or ``s3://bucket[/prefix]`` (other schemes are refused)."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise ValueError(f"a file:// artifacts URL must be an absolute local path, not {url!r}")
        return LocalStore(Path(unquote(parsed.path)))
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise ValueError(f"an s3:// artifacts URL needs a bucket: {url!r}")
        try:
            import s3fs
        except ImportError as exc:  # pragma: no cover - s3fs is a dependency
            raise StoreUnavailable("s3:// artifact stores need the s3fs package (pip install s3fs)") from exc
        options = dict(storage_options or {})
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        if endpoint and "endpoint_url" not in options.get("client_kwargs", {}):
            options.setdefault("client_kwargs", {})["endpoint_url"] = endpoint
        options.setdefault("config_kwargs", {}).setdefault("retries", {"max_attempts": 3, "mode": "standard"})
        options.setdefault("config_kwargs", {}).setdefault("connect_timeout", 5)
        options.setdefault("skip_instance_cache", True)
        fs = s3fs.S3FileSystem(**options)
        return FsspecStore(url, fs, f"{parsed.netloc}/{parsed.path.strip('/')}".rstrip("/"))
    raise ValueError(f"unsupported artifacts URL {url!r}: use file:///path or s3://bucket/prefix")


_STORES: dict[str, ArtifactStore] = {}


def artifact_store(settings) -> ArtifactStore:
    """The store of ``settings`` (one instance per URL in a process)."""
    url = settings.artifacts_store_url
    store = _STORES.get(url)
    if store is None:
        store = _STORES[url] = open_store(url)
    return store
