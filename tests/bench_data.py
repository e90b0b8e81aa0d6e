"""Where the tests find the real benchmark rows: ``MODELMATE_BENCHMARK_DATA_DIR`` when set, else the full mirror at
``../shared/benchmarks`` beside the repository (as in CI) when present, else the small subset of it in
``tests/fixtures/benchmarks`` (same layout and formats, real rows; see its SOURCES.md), so no test skips for want of a
mirror; plus the server settings the benchmarking and research tests share (two documents
per task in quick mode, one training thread). Import it from any test: ``from bench_data import ...``; a package
conftest that wants these settings imports the fixtures: ``from bench_data import benchmark_dir, settings``."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from modelmate.config import Settings

REPO = Path(__file__).resolve().parents[1]
FIXTURE_BENCHMARKS = Path(__file__).resolve().parent / "fixtures" / "benchmarks"


def _benchmarks() -> Path:
    if os.environ.get("MODELMATE_BENCHMARK_DATA_DIR"):
        return Path(os.environ["MODELMATE_BENCHMARK_DATA_DIR"])
    mirror = REPO.parent / "shared" / "benchmarks"
    return mirror if (mirror / "SOURCES.md").is_file() else FIXTURE_BENCHMARKS


BENCHMARKS = _benchmarks()
HAVE_BENCHMARKS = (BENCHMARKS / "SOURCES.md").is_file()
FULL_MIRROR = BENCHMARKS != FIXTURE_BENCHMARKS  # every row of the release (counts of the real data can be checked)


def require_benchmarks() -> Path:
    """The benchmark data dir; a MODELMATE_BENCHMARK_DATA_DIR without data is an error, not a skip."""
    if not HAVE_BENCHMARKS:
        pytest.fail(f"MODELMATE_BENCHMARK_DATA_DIR={BENCHMARKS} holds no benchmark mirror (no SOURCES.md); "
                    "unset it to use ../shared/benchmarks or tests/fixtures/benchmarks")
    return BENCHMARKS


def rows_in(path: Path) -> int:
    """Rows of a mirror file as its SOURCES.md counts them: CSV records, else non-empty lines (the subset and the
    full mirror differ in size, so tests that count documents read the count from the data)."""
    if path.suffix == ".csv":
        with open(path, encoding="utf-8", newline="") as fh:
            return sum(1 for _ in csv.reader(fh))
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


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
