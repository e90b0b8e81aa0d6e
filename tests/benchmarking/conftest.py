"""Fixtures for the benchmarking server tests: settings with the benchmark data (``bench_data.BENCHMARKS``: the
mirror, or its subset in tests/fixtures/benchmarks) and two documents per task in quick mode, the toy tiny Llama (root
conftest's ``tiny_source`` and ``hub``), torch on one thread (the machine is shared)."""

from __future__ import annotations

import pytest

from bench_data import _torch_one_thread, benchmark_dir, settings  # noqa: F401 - fixtures used by this package


@pytest.fixture
def eval_worker(database, settings):  # noqa: F811 - the imported fixture
    """A worker that runs evaluate jobs (call it to get one)."""
    from modelmate.jobs.worker import Worker

    return lambda: Worker(database, settings, kinds=["evaluate"], lease_s=30, poll_s=0.2)
