"""A machine's local copy of artifacts it reads from a remote store, with a size cap.

``LocalCache(root, max_bytes)`` materialises sealed directories (adapters, checkpoints, base models) and single
files (datasets) from an :class:`~modelmate.storage.artifacts.ArtifactStore` under ``root/<key>``. A directory is
fetched into a temporary folder, verified against its manifest and renamed into place, so two processes fetching the
same key never see half of it; a later call with the same manifest is a hit (no network besides the manifest read).
When the cache grows past ``max_bytes``, the least recently used entries are removed — never one used in the last
``keep_recent_s`` seconds (a process may be reading it). A store on this machine's disk is used in place: nothing is
copied.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from modelmate.storage.artifacts import (
    ArtifactMissing,
    ArtifactStore,
    LocalStore,
    check_key,
    manifest_digest,
)
from modelmate.storage.private import private_dir

STAMP = ".cache.json"


class LocalCache:
    def __init__(self, root: Path, max_bytes: int, *, keep_recent_s: float = 600.0) -> None:
        self.root = Path(root)
        self.max_bytes = int(max_bytes)
        self.keep_recent_s = keep_recent_s

    def dir(self, store: ArtifactStore, prefix: str) -> Path:
        """A local folder with the sealed directory ``prefix`` (raises ArtifactMissing when it is not sealed)."""
        check_key(prefix)
        if isinstance(store, LocalStore):
            path = store.dir_path(prefix)
            if path is None:
                raise ArtifactMissing(f"no complete directory at {prefix!r} in the artifact store")
            return path
        manifest = store.manifest(prefix)
        if manifest is None:
            raise ArtifactMissing(f"no complete directory at {prefix!r} in the artifact store")
        digest = manifest_digest(manifest)
        target = self.root / prefix
        if self._stamp(target) == digest:
            self._touch(target)
            return target
        private_dir(self.root)
        tmp = Path(tempfile.mkdtemp(dir=self.root, prefix=".tmp-"))
        try:
            store.get_dir(prefix, tmp)
            (tmp / STAMP).write_text(json.dumps({"digest": digest, "key": prefix}), encoding="utf-8")
            private_dir(target.parent)
            if target.exists():
                shutil.rmtree(target, ignore_errors=True)
            with contextlib.suppress(OSError):  # another process put the same content there first
                os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self.evict(keep=target)
        return target

    def file(self, store: ArtifactStore, key: str) -> Path:
        """A local copy of one object (immutable keys only: content-addressed datasets)."""
        check_key(key)
        if isinstance(store, LocalStore):
            if not store.exists(key):
                raise ArtifactMissing(f"{key} is not in the artifact store")
            return store.path(key)
        target = self.root / key
        if target.is_file():
            self._touch(target)
            return target
        store.get_file(key, target)
        self.evict(keep=target)
        return target

    # --- bookkeeping ----------------------------------------------------------------------------------------------

    @staticmethod
    def _stamp(target: Path) -> str | None:
        try:
            return json.loads((target / STAMP).read_text(encoding="utf-8")).get("digest")
        except (OSError, ValueError, AttributeError):
            return None

    @staticmethod
    def _touch(path: Path) -> None:
        with contextlib.suppress(OSError):
            os.utime(path / STAMP if path.is_dir() else path)

    def entries(self) -> list[tuple[float, int, Path]]:
        """(last use, size, path) of every cached directory and file."""
        out: list[tuple[float, int, Path]] = []
        if not self.root.is_dir():
            return out
        for dirpath, dirs, files in os.walk(self.root):
            here = Path(dirpath)
            if here.name.startswith(".tmp-"):
                dirs[:] = []
                continue
            if STAMP in files:
                size = sum(p.stat().st_size for p in here.rglob("*") if p.is_file())
                out.append(((here / STAMP).stat().st_mtime, size, here))
                dirs[:] = []
                continue
            for name in files:
                path = here / name
                with contextlib.suppress(OSError):
                    st = path.stat()
                    out.append((st.st_mtime, st.st_size, path))
        return out

    def size(self) -> int:
        return sum(size for _, size, _ in self.entries())

    def evict(self, keep: Path | None = None) -> int:
        """Remove least recently used entries until the cache fits its cap; returns the bytes freed."""
        entries = sorted(self.entries())
        total = sum(size for _, size, _ in entries)
        freed = 0
        now = time.time()
        for used, size, path in entries:
            if total <= self.max_bytes:
                break
            if path == keep or now - used < self.keep_recent_s:
                continue
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            total -= size
            freed += size
        return freed


def local_cache(settings) -> LocalCache:
    """This machine's cache (``<data_dir>/cache``, capped by ``MODELMATE_CACHE_MAX_GB``)."""
    return LocalCache(settings.cache_dir, int(settings.cache_max_gb * 1024**3))
