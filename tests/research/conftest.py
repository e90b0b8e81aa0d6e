"""Fixtures for the research tests: the benchmarking test setup (benchmark mirror, two documents per task, torch on
one thread, from ``bench_data``); the toy tiny Llama and ``hub`` come from the root conftest."""

from pathlib import Path

import pytest
from mlflow_store import build_store

from bench_data import _torch_one_thread, benchmark_dir, settings  # noqa: F401 - fixtures used by this package


@pytest.fixture(scope="session")
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, str], Path]:
    """A real MLflow SQLite store written by mlflow itself (tests/research/mlflow_store.py): (URI, run ids, root)."""
    root = tmp_path_factory.mktemp("mlflow")
    uri, ids = build_store(root)
    return uri, ids, root
