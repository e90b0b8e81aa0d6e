"""Fixtures for the benchmarking server tests: settings with the benchmark-data mirror (``../shared/benchmarks`` or
``MODELMATE_BENCHMARK_DATA_DIR``) and two documents per task in quick mode, a toy tiny Llama built once per
session and registered as the ``tiny`` base model, torch on one thread (the machine is shared)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from modelmate.config import Settings
from modelmate.finetune import base_models as bases

REPO = Path(__file__).resolve().parents[2]
BENCHMARKS = Path(os.environ.get("MODELMATE_BENCHMARK_DATA_DIR") or REPO.parent / "shared" / "benchmarks")
HAVE_BENCHMARKS = (BENCHMARKS / "SOURCES.md").is_file()


@pytest.fixture(scope="session", autouse=True)
def _torch_one_thread() -> None:
    import torch

    torch.set_num_threads(1)


@pytest.fixture
def settings(tmp_path: Path, database) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database.url, seed_demo=False, environment="test",
                    benchmark_data_dir=BENCHMARKS if HAVE_BENCHMARKS else None, eval_quick_size=2, train_threads=1,
                    train_stop_grace_s=20)


@pytest.fixture
def benchmark_dir() -> Path:
    if not HAVE_BENCHMARKS:
        pytest.skip(f"benchmark data not found at {BENCHMARKS} (CI has it at ../shared/benchmarks; "
                    "or set MODELMATE_BENCHMARK_DATA_DIR)")
    return BENCHMARKS


@pytest.fixture(scope="session")
def tiny_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from modelmate.training.tiny import build_tiny, default_corpus

    out = tmp_path_factory.mktemp("tiny") / "tiny"
    return build_tiny(out, hidden_size=64, num_layers=2, num_heads=4, vocab_size=512, context_length=256,
                      seed=0, corpus=default_corpus(max_chars=150_000))


@pytest.fixture
def hub(client, settings, database, tiny_source):
    """The API client with the base models seeded and the toy installed in this test's data dir."""
    dest = bases.tiny_dir(settings)
    if not dest.exists():
        shutil.copytree(tiny_source, dest)
    bases.seed_base_models(database, settings)
    return client


@pytest.fixture
def eval_worker(database, settings):
    """A worker that runs evaluate jobs (call it to get one)."""
    from modelmate.jobs.worker import Worker

    return lambda: Worker(database, settings, kinds=["evaluate"], lease_s=30, poll_s=0.2)
