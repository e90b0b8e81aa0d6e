"""RELIABILITY #39: the data directory, the database (and its WAL/SHM), datasets, adapters, logs and exports are
private to the service account (directories 0700, files 0600, datasets 0400), also on an install made by an older
version, which start-up fixes without following symbolic links."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from modelmate.app import create_app
from modelmate.cli import app as cli_app
from modelmate.config import Settings
from modelmate.db.engine import Database
from modelmate.storage import ContentStore
from modelmate.storage.private import (
    open_private,
    private_dir,
    secure_data_dir,
    tighten_tree,
    use_private_umask,
    write_private,
)

BASE_URL = "http://127.0.0.1:8000"


@pytest.fixture(autouse=True)
def _old_umask():
    """Every test starts like an older ModelMate process (umask 022); the umask is restored afterwards."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def _open_entries(root: Path) -> dict[str, str]:
    """Every file or directory under ``root`` (itself included) that group or others can access."""
    found = {}
    for path in [root, *root.rglob("*")]:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            continue
        if st.st_mode & 0o077:
            found[str(path.relative_to(root))] = oct(stat.S_IMODE(st.st_mode))
    return found


def _settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, seed_demo=False, environment="test")  # SQLite inside the data dir


def _cli(data_dir: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MODELMATE_DATA_DIR", str(data_dir))
    monkeypatch.delenv("MODELMATE_DATABASE_URL", raising=False)
    monkeypatch.setenv("MODELMATE_SEED_DEMO", "false")
    runner = CliRunner()
    return lambda *args: runner.invoke(cli_app, list(args))


# --- a fresh install --------------------------------------------------------------------------------------------

def test_fresh_data_dir_stays_private_through_start_upload_and_exports(tmp_path, monkeypatch):
    data = tmp_path / "data"
    settings = _settings(data)
    with TestClient(create_app(settings), base_url=BASE_URL) as client:
        rows = b"".join(b'{"text": "row %d about private files"}\n' % i for i in range(20))
        resp = client.post("/api/v1/datasets", files={"file": ("notes.jsonl", rows, "application/octet-stream")},
                           data={"description": "mine"})
        assert resp.status_code == 201, resp.text
        assert client.post("/api/v1/entries", json={"name": "Llama", "notes": "secret thoughts"}).status_code == 201
        # while the server runs, SQLite's WAL and shared-memory files exist: private like the database
        assert _mode(data / "modelmate.db-wal") == 0o600 and _mode(data / "modelmate.db-shm") == 0o600
    cli = _cli(data, monkeypatch)
    result = cli("research", "export", "-o", str(data / "exports" / "runs.csv"))
    assert result.exit_code == 0, result.output
    result = cli("export", "--format", "json", "-o", str(data / "exports" / "log.json"))
    assert result.exit_code == 0, result.output

    assert _open_entries(data) == {}
    assert _mode(data) == 0o700 and _mode(data / "artifacts") == 0o700
    assert _mode(data / "modelmate.db") == 0o600
    datasets = list((data / "artifacts" / "datasets").glob("*.jsonl"))
    assert len(datasets) == 1 and _mode(datasets[0]) == 0o400  # read-only by convention, for the owner only
    for name in ("runs.csv", "runs.csv.card.md", "log.json"):
        assert _mode(data / "exports" / name) == 0o600


@pytest.mark.process
def test_the_app_cli_and_child_processes_use_a_private_umask(tmp_path):
    create_app(_settings(tmp_path / "data")).state.db.dispose()
    assert os.umask(0o022) == 0o077
    result = CliRunner().invoke(cli_app, ["db", "--help"])
    assert result.exit_code == 0 and os.umask(0o022) == 0o077
    code = ("import os, sys; from modelmate.training.entry import event_channel; event_channel(); "
            "sys.stderr.write(oct(os.umask(0)))")
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert child.stderr.strip().endswith("0o77"), child.stderr
    assert use_private_umask() == 0o022 and os.umask(0o022) == 0o077
    os.umask(0o027)
    assert use_private_umask() == 0o027 and os.umask(0o022) == 0o077  # a stricter umask keeps its bits


def test_files_get_private_modes_even_without_the_umask(tmp_path):
    # a library call or a test that never went through the app factory still writes private files
    store = ContentStore(tmp_path / "artifacts")
    stored = store.put_bytes("datasets", b"hello\n", ".jsonl")
    assert _mode(stored.path) == 0o400 and _mode(stored.path.parent) == 0o700 and _mode(store.root) == 0o700
    with store.temp_file(".jsonl") as tmp:
        assert _mode(tmp) == 0o600 and _mode(tmp.parent) == 0o700
    made = private_dir(tmp_path / "a" / "b" / "c")
    assert [_mode(p) for p in (tmp_path / "a", tmp_path / "a" / "b", made)] == [0o700] * 3
    shared = tmp_path / "shared"  # a folder that exists (say the user's choice of output folder) is left alone
    shared.mkdir(mode=0o755)
    assert private_dir(shared) == shared and _mode(shared) == 0o755
    assert _mode(private_dir(shared / "mine")) == 0o700 and _mode(shared) == 0o755
    write_private(tmp_path / "a" / "export.csv", "x,y\n")
    assert _mode(tmp_path / "a" / "export.csv") == 0o600
    loose = tmp_path / "a" / "old.log"
    loose.write_text("old\n")
    os.chmod(loose, 0o644)
    with os.fdopen(open_private(loose, append=True), "a") as fh:
        fh.write("new\n")
    assert _mode(loose) == 0o600 and loose.read_text() == "old\nnew\n"
    # the SQLite file is made 0600 before SQLite opens it; its WAL and shared-memory files copy that mode
    db = Database(f"sqlite:///{tmp_path / 'solo.db'}")
    with db.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        assert [_mode(tmp_path / f"solo.db{side}") for side in ("", "-wal", "-shm")] == [0o600] * 3
    db.dispose()


# --- an install made by an older version ---------------------------------------------------------------------------

def _old_install(root: Path, outside: Path) -> dict[str, Path]:
    """The modes an older ModelMate left: dirs 0755, the database 0644, datasets 0444, adapters 0755/0644; plus
    symlinks (one to a file outside the data directory, one to a directory outside) that must not be followed."""
    digest = "ab" * 32
    files = {
        "db": root / "modelmate.db",
        "wal": root / "modelmate.db-wal",
        "shm": root / "modelmate.db-shm",
        "dataset": root / "artifacts" / "datasets" / f"{digest}.jsonl",
        "adapter": root / "artifacts" / "runs" / "1" / "adapter" / "adapter_model.safetensors",
        "log": root / "artifacts" / "runs" / "1" / "train.log",
        "script": root / "artifacts" / "runs" / "1" / "tool.sh",
        "result": root / "artifacts" / "evaluations" / "3" / "result.json",
        "cache": root / "benchmark_cache" / "data" / "gsm8k" / "main" / "test.jsonl",
        "model": root / "base_models" / "tiny" / "config.json",
    }
    for key, path in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if key in ("db", "wal", "shm"):  # empty: a valid empty SQLite database (the start migrates it)
            path.touch()
        else:
            path.write_text(f"{key}\n")
    for path in [root, *root.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    os.chmod(files["dataset"], 0o444)
    os.chmod(files["script"], 0o755)
    os.chmod(files["wal"], 0o664)
    outside.mkdir()
    (outside / "passwd").write_text("root:x:0:0\n")
    os.chmod(outside / "passwd", 0o644)
    os.chmod(outside, 0o755)
    (root / "artifacts" / "runs" / "1" / "adapter" / "linked.txt").symlink_to(outside / "passwd")
    (root / "artifacts" / "elsewhere").symlink_to(outside, target_is_directory=True)
    return files


def test_start_up_fixes_an_old_install_without_following_symlinks(tmp_path):
    data, outside = tmp_path / "data", tmp_path / "outside"
    files = _old_install(data, outside)
    assert _open_entries(data)  # the old modes are there
    with TestClient(create_app(_settings(data)), base_url=BASE_URL) as client:
        assert client.get("/api/v1/entries").status_code == 200
        assert _mode(files["wal"]) == 0o600 and _mode(files["shm"]) == 0o600  # gone once the server stops
    assert _open_entries(data) == {}
    assert _mode(files["db"]) == 0o600 and _mode(files["adapter"]) == 0o600 and _mode(files["log"]) == 0o600
    assert _mode(files["dataset"]) == 0o400 and _mode(files["script"]) == 0o700
    assert _mode(files["adapter"].parent) == 0o700 and _mode(data) == 0o700
    # what the links point at, outside the data directory, is untouched
    assert _mode(outside / "passwd") == 0o644 and _mode(outside) == 0o755


def test_start_up_fixes_an_old_install_also_when_the_database_is_given(tmp_path, database):
    """``prepare_database`` fixes the data directory even when the app gets its database from outside."""
    data = tmp_path / "data"
    files = _old_install(data, tmp_path / "outside")
    files["db"].unlink()
    settings = Settings(data_dir=data, database_url=database.url, seed_demo=False, environment="test")
    with TestClient(create_app(settings, database=database), base_url=BASE_URL):
        pass
    assert _open_entries(data) == {}
    assert _mode(files["dataset"]) == 0o400


def test_cli_commands_that_open_the_database_fix_an_old_install(tmp_path, monkeypatch):
    data = tmp_path / "data"
    files = _old_install(data, tmp_path / "outside")
    result = _cli(data, monkeypatch)("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert _open_entries(data) == {}
    assert _mode(files["db"]) == 0o600 and _mode(files["dataset"]) == 0o400


@pytest.mark.parametrize("kind", ["home", "sticky"])
def test_a_shared_folder_as_data_dir_only_gets_modelmates_own_entries_fixed(tmp_path, monkeypatch, kind):
    shared = tmp_path / "shared"
    files = _old_install(shared, tmp_path / "outside")
    (shared / "holiday.jpg").write_bytes(b"jpeg")
    os.chmod(shared / "holiday.jpg", 0o644)
    if kind == "home":
        monkeypatch.setattr(Path, "home", classmethod(lambda cls: shared))
        folder_mode = 0o755
    else:  # like /tmp
        folder_mode = 0o1777
        os.chmod(shared, folder_mode)
    report = secure_data_dir(shared)
    # the folder and the user's own files are left as they are
    assert _mode(shared / "holiday.jpg") == 0o644 and stat.S_IMODE(os.stat(shared).st_mode) == folder_mode
    assert _mode(files["dataset"]) == 0o400 and _mode(files["db"]) == 0o600 and _mode(files["adapter"]) == 0o600
    assert report.changed and not report.errors


def test_walk_skips_links_is_idempotent_and_cheap_on_ten_thousand_files(tmp_path):
    root = tmp_path / "data"
    for d in range(100):
        folder = root / "artifacts" / f"run-{d}"
        folder.mkdir(parents=True)
        for f in range(100):
            (folder / f"f{f}.json").write_bytes(b"{}")
    (root / "artifacts" / "run-0" / "loop").symlink_to(root, target_is_directory=True)  # a cycle, if followed
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
    report = secure_data_dir(root)
    assert report.files == 10_000 and report.directories == 102 and report.links_skipped == 1
    assert len(report.changed) == 10_102 and report.errors == 0
    assert _open_entries(root) == {}
    started = time.perf_counter()
    again = tighten_tree(root)
    elapsed = time.perf_counter() - started
    assert again.changed == [] and again.files == 10_000
    # measured ~0.05 s for the no-op walk and ~0.15 s for the fixing one on 2 busy cores; the bound leaves room
    assert elapsed < 1.0 and report.seconds < 2.0, (elapsed, report.seconds)
