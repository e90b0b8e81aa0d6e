"""RELIABILITY.md scenario 34: model-written code runs only in the sandbox; hostile programs fail safely and the
host (files, database, network listeners, the parent process, its secrets) is untouched."""

from __future__ import annotations

import hashlib
import os
import socket
import sqlite3
import tempfile
import textwrap
import threading
from pathlib import Path

import psutil
import pytest

from bench_data import FULL_MIRROR
from modelmate.evaluation.sandbox import (
    CodeExecutionDisabled,
    SandboxLimits,
    code_execution,
    run_python,
    run_tests,
)

pytestmark = pytest.mark.process

FAST = SandboxLimits(wall_s=5.0, cpu_s=2, memory_mb=512, file_mb=4)


@pytest.fixture(autouse=True)
def _own_tempdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Sandbox temp dirs go under a directory of this test, so we can check that nothing is left behind."""
    root = tmp_path / "sandboxes"
    root.mkdir()
    root.chmod(0o755)
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    yield root
    assert list(root.iterdir()) == [], "the sandbox left files behind"
    assert psutil.Process().children(recursive=True) == [], "a sandboxed process survived its run"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_normal_program_runs_with_every_protection_reported() -> None:
    result = run_python("import math, re, collections, heapq\nfrom typing import List\nprint(math.factorial(5))")
    assert result.passed, result.stderr
    assert result.stdout == "120\n"
    for layer in ("separate-process", "clean-env", "temp-dir", "rlimits", "audit-hook", "process-group-timeout"):
        assert layer in result.protections
    assert result.network_isolation in ("namespace", "audit-hook")
    assert ("network-namespace" in result.protections) == (result.network_isolation == "namespace")


def test_tests_decide_pass_or_fail() -> None:
    assert run_tests("def add(a, b):\n    return a + b", "assert add(2, 3) == 5").passed
    failed = run_tests("def add(a, b):\n    return a * b", "assert add(2, 3) == 5")
    assert failed.status == "failed" and "AssertionError" in failed.stderr


@pytest.mark.parametrize("exit_call", ["import sys; sys.exit(0)", "raise SystemExit", "import os; os._exit(0)",
                                       "import posix; posix._exit(0)"])
def test_exiting_early_is_not_a_pass(exit_call: str) -> None:
    assert not run_tests(f"def f():\n    return 1\n{exit_call}", "assert f() == 2").passed


def test_os_system_and_subprocess_cannot_run_commands(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    for program in (f"import os; os.system('touch {marker}')",
                    f"import subprocess; subprocess.run(['touch', '{marker}'])",
                    f"import os; os.execv('/usr/bin/touch', ['touch', '{marker}'])",
                    f"import os; os.posix_spawn('/usr/bin/touch', ['touch', '{marker}'], {{}})",
                    "import ctypes; ctypes.CDLL(None).system(b'true')"):
        result = run_python(program, limits=FAST)
        assert result.status == "failed", program
        assert "not allowed" in result.stderr, result.stderr
    assert not marker.exists()


def test_fork_bomb_fails_and_leaves_no_process() -> None:
    before = len(psutil.pids())
    result = run_python("import os\nwhile True:\n    os.fork()", limits=FAST)
    assert result.status == "failed" and "os.fork" in result.stderr
    assert len(psutil.pids()) < before + 20


def test_infinite_loop_is_stopped_by_the_cpu_limit() -> None:
    result = run_python("while True:\n    pass", limits=FAST)
    assert result.status in ("killed", "timeout")
    assert result.duration_s < FAST.wall_s + 2


def test_sleeping_forever_is_stopped_by_the_wall_clock() -> None:
    limits = SandboxLimits(wall_s=1.5, cpu_s=5)
    result = run_python("import time\ntime.sleep(60)", limits=limits)
    assert result.status == "timeout"
    assert result.duration_s < 4


def test_ten_gigabyte_allocation_fails() -> None:
    result = run_python("block = bytearray(10 * 1024 ** 3)\nprint(len(block))", limits=FAST)
    assert result.status in ("failed", "killed")
    assert "MemoryError" in result.stderr or result.status == "killed"


def test_the_parents_secrets_are_not_visible(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "s3cret-" + hashlib.sha256(os.urandom(8)).hexdigest()
    monkeypatch.setenv("MODELMATE_HF_TOKEN", secret)
    monkeypatch.setenv("MM_TEST_SECRET", secret)
    program = textwrap.dedent("""
        import os
        print(sorted(os.environ))
        print(os.environ.get("MODELMATE_HF_TOKEN"), os.environ.get("MM_TEST_SECRET"))
        try:
            print(open("/proc/%d/environ" % os.getppid(), "rb").read())
        except Exception as exc:
            print("blocked", type(exc).__name__)
    """)
    result = run_python(program, limits=FAST)
    assert result.passed, result.stderr
    assert secret not in result.stdout and secret not in result.stderr
    assert "None None" in result.stdout
    assert "blocked" in result.stdout


def _listener() -> tuple[socket.socket, list[object]]:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(3)
    seen: list[object] = []

    def accept() -> None:
        try:
            conn, addr = server.accept()
            seen.append(addr)
            conn.close()
        except OSError:
            pass

    threading.Thread(target=accept, daemon=True).start()
    return server, seen


@pytest.mark.parametrize("network", ["auto", "audit-hook"])
def test_no_network_connection_reaches_a_local_listener(network: str) -> None:
    server, seen = _listener()
    port = server.getsockname()[1]
    program = f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=2)\nprint('connected')"
    result = run_python(program, limits=FAST, network=network)  # type: ignore[arg-type]
    server.close()
    assert result.status == "failed" and "connected" not in result.stdout
    assert seen == [], "the listener saw a connection from the sandbox"
    if network == "audit-hook":
        assert result.network_isolation == "audit-hook"
        assert "not allowed" in result.stderr


def test_writing_outside_the_temp_dir_and_huge_files_fail(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    home_file = Path.home() / "mm-sandbox-escape.txt"
    for target in (outside, home_file, Path("/tmp/mm-sandbox-escape.txt")):
        result = run_python(f"open({str(target)!r}, 'w').write('x')", limits=FAST)
        assert result.status == "failed", target
        assert not target.exists()
    huge = run_python("with open('huge.bin', 'wb') as fh:\n    while True:\n        fh.write(b'x' * 1048576)",
                      limits=FAST)
    assert huge.status in ("failed", "killed")
    inside = run_python("open('ok.txt', 'w').write('fine')\nprint(open('ok.txt').read())", limits=FAST)
    assert inside.passed and inside.stdout == "fine\n"


def test_the_database_and_host_files_are_untouched(tmp_path: Path) -> None:
    db = tmp_path / "modelmate.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table models (id integer primary key, name text)")
        conn.execute("insert into models (name) values ('keep me')")
    before = _sha(db)
    attacks = [
        f"import sqlite3\nc = sqlite3.connect({str(db)!r})\nc.execute('drop table models')\nc.commit()",
        f"import os\nos.remove({str(db)!r})",
        f"import os\nos.rename({str(db)!r}, 'stolen.db')",
        f"open({str(db)!r}, 'wb').write(b'')",
        f"import shutil\nshutil.rmtree({str(tmp_path)!r})",
        f"import os\nos.chmod({str(db)!r}, 0)",
        f"print(open({str(db)!r}, 'rb').read()[:16])",
    ]
    for program in attacks:
        result = run_python(program, limits=FAST)
        assert result.status == "failed", (program, result.stdout)
    assert db.exists() and _sha(db) == before
    with sqlite3.connect(db) as conn:
        assert conn.execute("select name from models").fetchall() == [("keep me",)]


def test_the_parent_cannot_be_signalled() -> None:
    result = run_python("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)", limits=FAST)
    assert result.status == "failed" and "os.kill" in result.stderr
    # still alive: this test is still running


def test_disabled_code_execution_refuses_to_run() -> None:
    with code_execution(False), pytest.raises(CodeExecutionDisabled):
        run_python("print(1)")
    assert run_python("print(1)").passed


def test_mbpp_reference_solutions_pass_in_the_sandbox(benchmark_dir: Path) -> None:
    import json

    rows = [json.loads(line) for line in (benchmark_dir / "mbpp/mbpp.jsonl").read_text().splitlines()][10:40]
    for row in rows:
        tests = "\n".join([row["test_setup_code"], *row["test_list"]])
        result = run_tests(row["code"], tests)
        assert result.passed, (row["task_id"], result.stderr)


@pytest.mark.slow
def test_every_humaneval_canonical_solution_passes_in_the_sandbox(benchmark_dir: Path) -> None:
    import gzip
    import json

    with gzip.open(benchmark_dir / "humaneval/HumanEval.jsonl.gz", "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    assert len(rows) == (164 if FULL_MIRROR else 20)
    for row in rows:
        result = run_tests(row["prompt"] + row["canonical_solution"], f"{row['test']}\ncheck({row['entry_point']})")
        assert result.passed, (row["task_id"], result.stderr)
