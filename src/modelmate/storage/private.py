"""Private files: everything ModelMate writes is readable by the service account only (RELIABILITY #39).

Notes, password hashes, API-token digests, datasets, adapters, logs and evaluation results live in the data
directory. Three layers keep them away from other local accounts:

1. **A private umask** (:func:`use_private_umask`, ``077``) in every process that writes there: the app factory,
   the ``modelmate`` CLI and the training/evaluation child processes. New directories are 0700, new files 0600.
2. **Explicit modes where files are made** (:func:`private_dir`, :func:`open_private`, :func:`tighten_tree` on a
   temporary directory before it is renamed into place, :func:`secure_sqlite_files`), so code that runs without
   our umask (a library call, a test) still writes private files.
3. **Existing installs are fixed at start-up** (:func:`secure_data_dir`, called when the database is opened and
   by ``prepare_database``): one walk of the data directory removes every group/other permission bit
   (directories → 0700, files keep their owner bits: 0644 → 0600, content-addressed datasets 0444 → 0400).

The walk never follows a symbolic link (links are left alone, and never descended into), chmods a directory
before it lists it (so nobody else can swap its entries meanwhile) and only touches what is too open, so a
second start changes nothing. A data directory that is a shared folder (a home directory, ``/``, a sticky folder
such as ``/tmp``, or one another account owns) is not walked: only ModelMate's own entries in it are. The walk
costs one ``lstat`` per entry: measured 0.10 s to fix and 0.05 s to re-check a data directory of 10,000 files on
2 busy cores (``tests/storage/test_private.py`` checks it stays under a second), so it simply runs at every start.
Standard library only: the pure packages (``training/``, ``evaluation/``) use it too.
"""

from __future__ import annotations

import logging
import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("modelmate.storage")

PRIVATE_UMASK = 0o077
DIR_MODE = 0o700
FILE_MODE = 0o600
READ_ONLY_MODE = 0o400  # content-addressed files: immutable by convention, for the owner only
OPEN_TO_OTHERS = 0o077  # group and other bits
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
# What ModelMate keeps in a data directory: the only entries fixed when the data directory is a shared folder.
KNOWN_ENTRIES = ("modelmate.db", "modelmate.db-wal", "modelmate.db-shm", "modelmate.db-journal", "artifacts",
                 "base_models", "hf_cache", "imports", "benchmark_cache")


def use_private_umask() -> int:
    """Make this process (and its children) create private files: umask gains 077 (a stricter one is kept).
    Returns the previous umask."""
    previous = os.umask(PRIVATE_UMASK)
    os.umask(previous | PRIVATE_UMASK)
    return previous


def _is_open(mode: int) -> bool:
    return bool(mode & OPEN_TO_OTHERS)


def private_dir(path: Path) -> Path:
    """``mkdir -p`` where every directory it makes is 0700. Directories that exist already are left as they are
    (they may be ``/tmp``, a home directory or a folder the user chose): :func:`secure_data_dir` fixes the data
    directory's own at start-up."""
    path = Path(path)
    missing: list[Path] = []
    probe = path
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIR_MODE)
        except FileExistsError:  # a concurrent maker won
            continue
        if stat.S_IMODE(directory.stat().st_mode) != DIR_MODE:  # a umask that even took owner bits
            _tighten(directory, DIR_MODE)
    return path


def _tighten(path: Path | str, mode: int) -> bool:
    try:
        os.chmod(path, mode)
    except OSError as exc:  # not ours (another account's file) or a read-only file system
        log.warning("cannot make %s private: %s", path, exc.strerror or exc)
        return False
    return True


def open_private(path: Path, *, append: bool = False, read_only: bool = False) -> int:
    """A file descriptor for writing ``path``, created 0600 (0400 with ``read_only``); an existing file that is
    open to others is tightened too. The caller closes it (``os.fdopen`` takes it over)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, READ_ONLY_MODE if read_only else FILE_MODE)
    try:
        mode = os.fstat(fd).st_mode
        if _is_open(mode):
            os.fchmod(fd, stat.S_IMODE(mode) & DIR_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_private(path: Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` (created or truncated) as a private file."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with os.fdopen(open_private(path), "wb") as fh:
        fh.write(payload)


# --- fixing what exists ---------------------------------------------------------------------------------------


@dataclass
class TightenReport:
    """What one walk saw and changed."""

    root: str
    directories: int = 0
    files: int = 0
    changed: list[str] = field(default_factory=list)
    links_skipped: int = 0
    errors: int = 0
    seconds: float = 0.0


def _private_mode(mode: int) -> int:
    """Directories 0700; files keep their owner bits and lose every other bit (setuid, group, other)."""
    return DIR_MODE if stat.S_ISDIR(mode) else stat.S_IMODE(mode) & DIR_MODE


def _fix(path: str, mode: int, report: TightenReport) -> None:
    if not _is_open(mode) and not (mode & (stat.S_ISUID | stat.S_ISGID)):
        return
    if _tighten(path, _private_mode(mode)):
        report.changed.append(path)
    else:
        report.errors += 1


def tighten_tree(root: Path | str, *, report: TightenReport | None = None) -> TightenReport:
    """Remove group/other permission bits from ``root`` and everything below it, without following symlinks.

    ``root`` itself may be a symlink to a directory (a data directory moved to a bigger disk); nothing below it
    is followed. Other file types (sockets, FIFOs, devices) are left alone."""
    started = time.perf_counter()
    report = report or TightenReport(root=str(root))
    try:
        st = os.stat(root)
    except OSError:
        report.seconds = time.perf_counter() - started
        return report
    if not stat.S_ISDIR(st.st_mode):
        if stat.S_ISREG(st.st_mode) and not os.path.islink(root):
            report.files += 1
            _fix(os.fspath(root), st.st_mode, report)
        report.seconds = time.perf_counter() - started
        return report
    pending = [(os.fspath(root), st.st_mode)]
    while pending:
        directory, mode = pending.pop()
        report.directories += 1
        _fix(directory, mode, report)  # before listing: nobody else can add or swap entries from here on
        try:
            entries = list(os.scandir(directory))
        except OSError as exc:
            log.warning("cannot list %s: %s", directory, exc.strerror or exc)
            report.errors += 1
            continue
        for entry in entries:
            try:
                if entry.is_symlink():
                    report.links_skipped += 1
                    continue
                entry_st = entry.stat(follow_symlinks=False)
            except OSError:
                report.errors += 1
                continue
            if stat.S_ISDIR(entry_st.st_mode):
                pending.append((entry.path, entry_st.st_mode))
            elif stat.S_ISREG(entry_st.st_mode):
                report.files += 1
                _fix(entry.path, entry_st.st_mode, report)
    report.seconds = time.perf_counter() - started
    return report


def _is_shared_folder(root: Path) -> bool:
    """A folder that is not ModelMate's alone: a home directory, a file-system root, a sticky folder such as
    ``/tmp``, or one that another account owns. Only ModelMate's own entries in it are fixed, never the folder."""
    try:
        resolved = root.resolve()
        home = Path.home().resolve()
        st = resolved.stat()
    except (OSError, RuntimeError):
        return True
    return (resolved == home or resolved == Path(resolved.anchor) or bool(st.st_mode & stat.S_ISVTX)
            or st.st_uid != os.geteuid())


def secure_data_dir(data_dir: Path) -> TightenReport:
    """Make an existing data directory private (RELIABILITY #39); a missing one is left for whoever creates it.

    Logs how many entries were tightened (an upgraded install); silent when nothing had to change."""
    root = Path(data_dir)
    report = TightenReport(root=str(root))
    if not root.is_dir():
        return report
    if _is_shared_folder(root):
        log.warning("the data directory %s is a shared folder (a home, root or sticky folder, or not ours): only "
                    "ModelMate's own files in it are made private", root)
        started = time.perf_counter()
        for name in KNOWN_ENTRIES:
            if (root / name).exists() and not (root / name).is_symlink():
                tighten_tree(root / name, report=report)
        report.seconds = time.perf_counter() - started
    else:
        tighten_tree(root, report=report)
    if report.changed:
        log.warning("made %d entries of %s private (group/other access removed) in %.2f s", len(report.changed),
                    root, report.seconds)
    return report


def secure_sqlite_files(db_path: Path) -> None:
    """Create the SQLite file 0600 before SQLite does (its WAL and shared-memory files copy the database file's
    mode), and tighten an existing database and its -wal/-shm/-journal files. Errors are logged, never raised:
    SQLite reports a database it cannot open better than we could."""
    path = Path(db_path)
    if not path.parent.is_dir():
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        pass
    except OSError as exc:
        log.warning("cannot create %s: %s", path, exc.strerror or exc)
        return
    else:
        os.close(fd)
    for candidate in [path, *(path.with_name(path.name + side) for side in SQLITE_SIDE_FILES)]:
        try:
            mode = candidate.stat().st_mode
        except OSError:
            continue
        if stat.S_ISREG(mode) and _is_open(mode):
            _tighten(candidate, stat.S_IMODE(mode) & DIR_MODE)
