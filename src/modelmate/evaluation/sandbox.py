"""Run untrusted, model-written Python in a separate, locked-down process (threat model: docs/sandbox.md).

Layers, from the outside in:

* a separate interpreter (``python -I -S -B``: no user site, no site-packages, no ``PYTHON*`` variables), in its own
  session/process group, killed as a whole after a wall-clock timeout;
* a clean environment (no variable of the parent is inherited: no tokens, no database URL);
* a fresh temporary directory as working directory and ``HOME``/``TMPDIR``, deleted afterwards;
* resource limits: CPU seconds, address space, file size, open files, processes/threads, no core dumps;
* when started as root and the interpreter is readable by others: the program runs as ``nobody``;
* no network: an unprivileged user + network namespace (``unshare(CLONE_NEWUSER | CLONE_NEWNET)``); when the kernel
  refuses, a Python audit hook blocks every socket operation instead;
* always, an audit hook installed *before* the program runs: no ``os.system``/``subprocess``/``fork``/``exec``/
  ``kill``, no ``ctypes``, no writes outside the temporary directory, reads only from the standard library and
  the temporary directory, no UNIX-socket connections, no SQLite connections.

The audit hook is best effort (CPython documents that hooks are not a security boundary); the process, user,
namespace and resource-limit layers are enforced by the kernel. :attr:`SandboxResult.protections` says which
layers were active for a run.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

NOBODY_UID = 65534
NOBODY_GID = 65534
OUTPUT_LIMIT = 64 * 1024  # bytes of stdout/stderr kept in the result

_enabled: ContextVar[bool] = ContextVar("modelmate_code_execution_enabled", default=True)


class CodeExecutionDisabled(RuntimeError):
    """Code execution is turned off (setting ``code_execution_enabled``): code tasks are skipped, never scored."""


def execution_enabled() -> bool:
    return _enabled.get()


@contextlib.contextmanager
def code_execution(enabled: bool) -> Iterator[None]:
    """Allow or forbid :func:`run_python` for the duration of the block (the runner wraps a benchmark run)."""
    token = _enabled.set(enabled)
    try:
        yield
    finally:
        _enabled.reset(token)


@dataclass(frozen=True)
class SandboxLimits:
    wall_s: float = 10.0  # wall-clock timeout; the whole process group is killed
    cpu_s: int = 10  # RLIMIT_CPU (SIGXCPU, then SIGKILL one second later)
    memory_mb: int = 1024  # RLIMIT_AS
    file_mb: int = 16  # RLIMIT_FSIZE (also caps stdout/stderr)
    open_files: int = 64  # RLIMIT_NOFILE
    processes: int = 0  # RLIMIT_NPROC: no new processes or threads


@dataclass
class SandboxResult:
    status: Literal["passed", "failed", "timeout", "killed", "error"]
    returncode: int | None
    duration_s: float
    stdout: str = ""
    stderr: str = ""
    protections: list[str] = field(default_factory=list)
    network_isolation: str = "unknown"  # "namespace" | "audit-hook"
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def to_dict(self) -> dict:
        return asdict(self)


# The child's bootstrap. It runs before any untrusted byte: reads the program from stdin, drops privileges, enters
# the namespaces, sets the limits, installs the audit hook, reports what it did on the report pipe (then closes it),
# and only then executes the program. Exit code 0 means "the program ran to its end"; any exception, SystemExit
# included, is a failure (exit code 1).
_BOOTSTRAP = r'''
import json, os, resource, sys
_cfg = json.loads(sys.argv[1])
_src = sys.stdin.buffer.read().decode("utf-8", "replace")
_devnull = os.open(os.devnull, os.O_RDONLY)
os.dup2(_devnull, 0)
os.close(_devnull)
_report = {"protections": ["separate-process", "clean-env", "temp-dir", "process-group-timeout"], "notes": []}

if _cfg["drop_to"] is not None and os.geteuid() == 0:
    os.setgroups([])
    os.setgid(_cfg["drop_to"][1])
    os.setuid(_cfg["drop_to"][0])
    _report["protections"].append("unprivileged-user")

_net = "audit-hook"
if _cfg["network"] == "auto":
    try:
        import ctypes
        _libc = ctypes.CDLL(None, use_errno=True)
        if _libc.unshare(0x10000000 | 0x40000000) == 0:  # CLONE_NEWUSER | CLONE_NEWNET
            _net = "namespace"
            _report["protections"].append("network-namespace")
        else:
            _report["notes"].append("unshare refused: errno %d" % ctypes.get_errno())
        del _libc
    except Exception as exc:
        _report["notes"].append("unshare failed: %r" % (exc,))
    for _m in [m for m in sys.modules if m == "ctypes" or m.startswith(("ctypes.", "_ctypes"))]:
        del sys.modules[_m]

for _name, _soft, _hard in _cfg["limits"]:
    _r = getattr(resource, _name)
    try:
        resource.setrlimit(_r, (_soft, _hard))
    except (ValueError, OSError) as exc:
        _report["notes"].append("%s not set: %r" % (_name, exc))
_report["protections"].append("rlimits")
del sys.modules["resource"]


def _install(work, read_roots, rw_files, block_network):
    sep = os.sep
    realpath = os.path.realpath
    fsdecode = os.fsdecode
    work = realpath(work).rstrip(sep) + sep
    roots = tuple(realpath(r).rstrip(sep) + sep for r in read_roots)
    rw_files = frozenset(rw_files)
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    deny = frozenset({
        "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty", "os.kill", "os.killpg",
        "os.startfile", "pty.spawn", "resource.setrlimit", "resource.prlimit", "gc.get_objects", "gc.get_referrers",
        "gc.get_referents", "sqlite3.connect", "sqlite3.connect/handle", "sqlite3.enable_load_extension",
        "sqlite3.load_extension", "webbrowser.open", "urllib.Request", "ftplib.connect", "http.client.connect",
        "smtplib.connect", "imaplib.open", "poplib.connect", "nntplib.connect", "telnetlib.Telnet.open",
        "sys.addaudithook",
    })
    deny_prefixes = ("ctypes.", "subprocess.", "_winapi.", "winreg.") + (("socket.",) if block_network else ())
    deny_modules = frozenset({
        "ctypes", "_ctypes", "_posixsubprocess", "_posixshmem", "multiprocessing", "_multiprocessing", "dbm", "_dbm",
        "_gdbm", "sqlite3", "_sqlite3", "resource", "pty", "fcntl", "termios",
    })
    one_path = frozenset({
        "os.chmod", "os.chown", "os.chflags", "os.lchflags", "os.mkdir", "os.remove", "os.rmdir", "os.truncate",
        "os.utime", "os.setxattr", "os.removexattr", "shutil.rmtree", "os.mkfifo", "os.mknod",
    })
    two_paths = frozenset({"os.rename", "os.link"})

    def _norm(path):
        if isinstance(path, bytes):
            path = fsdecode(path)
        return realpath(path)

    def _inside(path, prefixes):
        return any((path + sep).startswith(p) for p in prefixes)

    def _writable(path):
        if isinstance(path, int):
            return True
        p = _norm(path)
        return _inside(p, (work,)) or p in rw_files

    def _readable(path):
        if path is None or isinstance(path, int):
            return True
        p = _norm(path)
        return _inside(p, (work,) + roots) or p in rw_files

    def hook(event, args):
        if event in deny or event.startswith(deny_prefixes):
            raise PermissionError("sandbox: %s is not allowed" % event)
        if event == "open":
            path, mode, flags = (tuple(args) + (None, None, None))[:3]
            writing = bool(mode and any(c in mode for c in "wax+")) or bool((flags or 0) & write_flags)
            if not (_writable(path) if writing else _readable(path)):
                raise PermissionError("sandbox: access to %r is not allowed" % (path,))
        elif event in one_path:
            if args and not _writable(args[0]):
                raise PermissionError("sandbox: %s on %r is not allowed" % (event, args[0]))
        elif event in two_paths:
            if not (_writable(args[0]) and _writable(args[1])):
                raise PermissionError("sandbox: %s is not allowed outside the working directory" % event)
        elif event == "os.symlink":
            if not _writable(args[1]):
                raise PermissionError("sandbox: os.symlink outside the working directory is not allowed")
        elif event in ("os.listdir", "os.scandir"):
            if args and not _readable(args[0]):
                raise PermissionError("sandbox: listing %r is not allowed" % (args[0],))
        elif event in ("socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg"):
            address = args[1] if len(args) > 1 else None
            if isinstance(address, (str, bytes)):  # AF_UNIX: not scoped by the network namespace
                raise PermissionError("sandbox: UNIX sockets are not allowed")
        elif event == "import":
            if args[0].partition(".")[0] in deny_modules:
                raise PermissionError("sandbox: importing %s is not allowed" % args[0])

    sys.addaudithook(hook)


# readable: the working directory, this interpreter's own module path (-I -S: the standard library only), extras
_install(_cfg["work"], [p for p in sys.path if p] + _cfg["read_roots"], _cfg["rw_files"], _net != "namespace")
del _install
_report["protections"].append("audit-hook")
_report["network"] = _net
os.write(_cfg["report_fd"], json.dumps(_report).encode())
os.close(_cfg["report_fd"])
_exit = os._exit
del os._exit
sys.modules["posix"].__dict__.pop("_exit", None)
del _cfg, _report, _net


def _run(source, exit_now):
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    try:
        exec(compile(source, "<program>", "exec"), namespace)
    except BaseException as exc:  # SystemExit included: a program that exits early did not pass
        try:
            sys.stderr.write("%s: %s\n" % (type(exc).__name__, str(exc)[:2000]))
            sys.stderr.flush()
        finally:
            exit_now(1)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        exit_now(0)


_run(_src, _exit)
'''


def _read_roots() -> list[str]:
    """Readable besides the standard library (the child adds its own module path): time zone data."""
    return [r for r in ("/usr/share/zoneinfo",) if Path(r).is_dir()]


def _readable_by_others(path: Path) -> bool:
    """True when a user other than the owner can reach ``path`` (x on every parent, r on the path itself)."""
    path = path.resolve()
    for parent in list(path.parents)[::-1]:
        if not os.stat(parent).st_mode & stat.S_IXOTH:
            return False
    return bool(os.stat(path).st_mode & stat.S_IROTH)


def _traversable_by_others(path: Path) -> bool:
    return all(os.stat(p).st_mode & stat.S_IXOTH for p in [path, *path.parents])


def _can_drop_privileges(work_parent: Path) -> bool:
    """Root can run the program as ``nobody`` when ``nobody`` can read the interpreter and its standard library
    and reach the working directory."""
    if os.geteuid() != 0:
        return False
    try:
        return (all(_readable_by_others(Path(r)) for r in (sysconfig.get_paths()["stdlib"], sys.executable))
                and _traversable_by_others(work_parent.resolve().parent))
    except OSError:
        return False


def _limits(limits: SandboxLimits) -> list[tuple[str, int, int]]:
    mb = 1024 * 1024
    return [
        ("RLIMIT_CPU", limits.cpu_s, limits.cpu_s + 1),
        ("RLIMIT_AS", limits.memory_mb * mb, limits.memory_mb * mb),
        ("RLIMIT_FSIZE", limits.file_mb * mb, limits.file_mb * mb),
        ("RLIMIT_NOFILE", limits.open_files, limits.open_files),
        ("RLIMIT_NPROC", limits.processes, limits.processes),
        ("RLIMIT_CORE", 0, 0),
    ]


def _clean_env(work: Path) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": str(work), "TMPDIR": str(work), "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8"}


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _read_capped(path: Path) -> str:
    with open(path, "rb") as fh:
        data = fh.read(OUTPUT_LIMIT + 1)
    text = data[:OUTPUT_LIMIT].decode("utf-8", "replace")
    return text + ("\n[output truncated]" if len(data) > OUTPUT_LIMIT else "")


def run_python(program: str, *, limits: SandboxLimits | None = None,
               network: Literal["auto", "audit-hook"] = "auto") -> SandboxResult:
    """Execute ``program`` in the sandbox; ``passed`` only when it runs to its end without an exception.

    ``network="audit-hook"`` skips the namespace attempt (used by tests to exercise the fallback).
    Raises :class:`CodeExecutionDisabled` when code execution is turned off.
    """
    if not execution_enabled():
        raise CodeExecutionDisabled("code execution is disabled by setting (code_execution_enabled=false)")
    limits = limits or SandboxLimits()
    with tempfile.TemporaryDirectory(prefix="mm-sandbox-") as outer:
        outer_path = Path(outer)
        work = outer_path / "work"
        work.mkdir()
        drop = _can_drop_privileges(outer_path)
        if drop:
            os.chown(work, NOBODY_UID, NOBODY_GID)
            os.chmod(outer_path, 0o711)
        stdout_path, stderr_path = outer_path / "stdout", outer_path / "stderr"
        report_r, report_w = os.pipe()
        config = {
            "work": str(work), "read_roots": _read_roots(), "rw_files": [os.devnull],
            "network": network, "limits": _limits(limits), "report_fd": report_w,
            "drop_to": [NOBODY_UID, NOBODY_GID] if drop else None,
        }
        started = time.monotonic()
        timed_out = False
        with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
            try:
                proc = subprocess.Popen(
                    [sys.executable, "-I", "-S", "-B", "-c", _BOOTSTRAP, json.dumps(config)],
                    cwd=work, env=_clean_env(work), stdin=subprocess.PIPE, stdout=out, stderr=err,
                    pass_fds=(report_w,), start_new_session=True, close_fds=True,
                )
            except OSError as exc:
                os.close(report_r)
                os.close(report_w)
                return SandboxResult("error", None, 0.0, stderr=f"could not start the sandbox: {exc}")
            os.close(report_w)
            try:
                proc.communicate(program.encode("utf-8"), timeout=limits.wall_s)
            except subprocess.TimeoutExpired:
                timed_out = True
            except BrokenPipeError:
                proc.wait(timeout=limits.wall_s)
            finally:
                _kill_group(proc.pid)  # nothing of the group survives the run
                proc.wait()
        duration = time.monotonic() - started
        with os.fdopen(report_r, "rb") as fh:
            raw_report = fh.read(64 * 1024)
        try:
            report = json.loads(raw_report) if raw_report else {}
        except ValueError:
            report = {"notes": ["unreadable report"]}
        rc = proc.returncode
        status: Literal["passed", "failed", "timeout", "killed"]
        if timed_out:
            status = "timeout"
        elif rc == 0:
            status = "passed"
        elif rc is not None and rc < 0:
            status = "killed"
        else:
            status = "failed"
        return SandboxResult(
            status=status, returncode=rc, duration_s=round(duration, 4),
            stdout=_read_capped(stdout_path), stderr=_read_capped(stderr_path),
            protections=list(report.get("protections", [])), network_isolation=report.get("network", "unknown"),
            notes=list(report.get("notes", [])),
        )


def run_tests(program: str, tests: str, *, limits: SandboxLimits | None = None) -> SandboxResult:
    """Run a candidate program followed by its test code (HumanEval ``check(...)``, MBPP asserts)."""
    return run_python(f"{program}\n\n{tests}\n", limits=limits)
