"""Fixtures for the benchmarking server tests: settings with the benchmark-data mirror (``../shared/benchmarks`` or
``MODELMATE_BENCHMARK_DATA_DIR``) and two documents per task in quick mode, the toy tiny Llama (root conftest's
``tiny_source`` and ``hub``), torch on one thread (the machine is shared)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench_data import bench_settings, require_benchmarks
from modelmate.config import Settings


@pytest.fixture(scope="session", autouse=True)
def _torch_one_thread() -> None:
    import torch

    torch.set_num_threads(1)


@pytest.fixture
def settings(tmp_path: Path, database) -> Settings:
    return bench_settings(tmp_path, database.url)


@pytest.fixture
def benchmark_dir() -> Path:
    return require_benchmarks()


@pytest.fixture
def eval_worker(database, settings):
    """A worker that runs evaluate jobs (call it to get one)."""
    from modelmate.jobs.worker import Worker

    return lambda: Worker(database, settings, kinds=["evaluate"], lease_s=30, poll_s=0.2)
