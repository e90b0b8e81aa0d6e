"""Fixtures for the research tests: the benchmarking test setup (benchmark mirror, two documents per task, torch on
one thread); the toy tiny Llama and ``hub`` come from the root conftest."""

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
