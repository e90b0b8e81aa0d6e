"""Where the tests find the real benchmark rows: ``../shared/benchmarks`` beside the repository (as in CI) or
``MODELMATE_BENCHMARK_DATA_DIR``; plus the server settings the benchmarking and research tests share (two documents
per task in quick mode, one training thread). Import it from any test: ``from bench_data import ...``; a package
conftest that wants these settings imports the fixtures: ``from bench_data import benchmark_dir, settings``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelmate.config import Settings

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = Path(os.environ.get("MODELMATE_BENCHMARK_DATA_DIR") or REPO.parent / "shared" / "benchmarks")
HAVE_BENCHMARKS = (BENCHMARKS / "SOURCES.md").is_file()


def require_benchmarks() -> Path:
    """The benchmark data dir, or skip the test with a message saying where it was looked for."""
    if not HAVE_BENCHMARKS:
        pytest.skip(f"benchmark data not found at {BENCHMARKS} (CI has it at ../shared/benchmarks; "
                    "or set MODELMATE_BENCHMARK_DATA_DIR)")
    return BENCHMARKS


def bench_settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url, seed_demo=False, environment="test",
                    benchmark_data_dir=BENCHMARKS if HAVE_BENCHMARKS else None, eval_quick_size=2, train_threads=1,
                    train_stop_grace_s=20)


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
