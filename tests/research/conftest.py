"""Fixtures for the research tests: the benchmarking test setup (benchmark mirror, two documents per task, torch on
one thread, from ``bench_data``); the toy tiny Llama and ``hub`` come from the root conftest."""

from pathlib import Path

import pytest
from mlflow_store import build_store
from typer.testing import CliRunner

from bench_data import _torch_one_thread, benchmark_dir, settings  # noqa: F401 - fixtures used by this package
from modelmate.cli import app


@pytest.fixture
def cli(tmp_path, monkeypatch, database):
    """``cli("research", "export", ...)``: the real CLI in-process on the test database (no demo seeding; a wide
    terminal so report tables are not wrapped)."""
    monkeypatch.setenv("MODELMATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MODELMATE_DATABASE_URL", database.url)
    monkeypatch.setenv("MODELMATE_SEED_DEMO", "false")
    monkeypatch.setenv("COLUMNS", "400")
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


@pytest.fixture(scope="session")
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, str], Path]:
    """A real MLflow SQLite store written by mlflow itself (tests/research/mlflow_store.py): (URI, run ids, root)."""
    root = tmp_path_factory.mktemp("mlflow")
    uri, ids = build_store(root)
    return uri, ids, root
