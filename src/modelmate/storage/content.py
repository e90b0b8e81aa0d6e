"""The content-addressed store (see the package docs)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from modelmate.storage.private import READ_ONLY_MODE, private_dir

CHUNK = 1024 * 1024
_NAMESPACE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_SUFFIX = re.compile(r"^(\.[a-z0-9]{1,10})?$")
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_URI = re.compile(r"^([a-z][a-z0-9_-]{0,31})/([0-9a-f]{64})((?:\.[a-z0-9]{1,10})?)$")
TEMP_DIR = "tmp"
TEMP_PREFIX = ".tmp-"


class StoreError(ValueError):
    """A bad namespace, digest, suffix or URI (never derived from user input, so this is a programming error)."""


class TooLarge(Exception):
    """A stream was longer than the cap; nothing of it is left on disk."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"larger than {limit} bytes")
        self.limit = limit


@dataclass(frozen=True)
class StoredObject:
    digest: str
    uri: str  # "<namespace>/<digest><suffix>", relative to the store root: what the database keeps
    path: Path
    size: int
    created: bool  # False when identical content was already stored


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not supported on every platform / filesystem
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class ContentStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # --- names ---------------------------------------------------------------------------------------------------

    def path_for(self, namespace: str, digest: str, suffix: str = "") -> Path:
        if not _NAMESPACE.match(namespace) or not _DIGEST.match(digest) or not _SUFFIX.match(suffix):
            raise StoreError(f"invalid object name {namespace}/{digest}{suffix}")
        return self.root / namespace / f"{digest}{suffix}"

    def resolve(self, uri: str) -> Path:
        """The file behind a stored URI; only ``<namespace>/<sha256><suffix>`` is accepted."""
        match = _URI.match(uri or "")
        if not match:
            raise StoreError(f"not a content-store URI: {uri!r}")
        return self.path_for(match.group(1), match.group(2), match.group(3))

    def exists(self, uri: str) -> bool:
        return self.resolve(uri).is_file()

    # --- writing -------------------------------------------------------------------------------------------------

    def put_bytes(self, namespace: str, data: bytes, suffix: str = "") -> StoredObject:
        """Store ``data`` under its sha256 (atomically; a no-op when the same bytes are already there)."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path_for(namespace, digest, suffix)
        uri = f"{namespace}/{digest}{suffix}"
        if target.is_file() and target.stat().st_size == len(data):
            return StoredObject(digest, uri, target, len(data), created=False)
        private_dir(target.parent)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=TEMP_PREFIX, suffix=suffix)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp_name, READ_ONLY_MODE)  # immutable by convention: read-only, and for the owner only
            os.replace(tmp_name, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise
        _fsync_dir(target.parent)
        return StoredObject(digest, uri, target, len(data), created=True)

    # --- uploads -------------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def temp_file(self, suffix: str = "") -> Iterator[Path]:
        """A fresh, empty file in ``tmp/`` (generated name) that is removed when the block exits, however."""
        if not _SUFFIX.match(suffix):
            raise StoreError(f"invalid suffix {suffix!r}")
        folder = private_dir(self.root / TEMP_DIR)
        fd, name = tempfile.mkstemp(dir=folder, prefix=TEMP_PREFIX, suffix=suffix)
        os.close(fd)
        path = Path(name)
        try:
            yield path
        finally:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    @staticmethod
    def copy_capped(src: IO[bytes], dest: Path, max_bytes: int) -> int:
        """Copy a stream into ``dest`` in chunks; past ``max_bytes`` empty ``dest`` and raise :class:`TooLarge`."""
        size = 0
        with dest.open("wb") as out:
            while chunk := src.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    out.truncate(0)
                    raise TooLarge(max_bytes)
                out.write(chunk)
        return size

    def sweep_temp(self, older_than_s: float = 3600) -> int:
        """Remove temporary files left by a crash (in ``tmp/`` and next to stored objects); returns how many."""
        removed = 0
        cutoff = time.time() - older_than_s
        if not self.root.is_dir():
            return 0
        for folder in [p for p in self.root.iterdir() if p.is_dir() and _NAMESPACE.match(p.name)]:
            for path in folder.glob(f"{TEMP_PREFIX}*"):
                with contextlib.suppress(OSError):
                    if path.is_file() and path.stat().st_mtime < cutoff:
                        path.unlink()
                        removed += 1
        return removed
