"""One benchmark index per test session (built from the mirror the tests use: tests/bench_data.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench_data import require_benchmarks
from modelmate.contamination.index import BenchmarkIndex, load_or_build


@pytest.fixture(scope="session")
def bench_index(tmp_path_factory: pytest.TempPathFactory) -> BenchmarkIndex:
    return load_or_build(require_benchmarks(), tmp_path_factory.mktemp("contamination-index"))


@pytest.fixture(scope="session")
def bench_root() -> Path:
    return require_benchmarks()
