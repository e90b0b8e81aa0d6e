"""Fixtures for the benchmarking tests: the real benchmark rows (``bench_data.BENCHMARKS``: the mirror, or the
subset in tests/fixtures/benchmarks), a shared conversion cache, a random-init toy Llama, torch on one thread."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench_data import require_benchmarks


@pytest.fixture(scope="session", autouse=True)
def _torch_one_thread() -> None:
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def benchmark_dir() -> Path:
    return require_benchmarks()


@pytest.fixture(scope="session")
def eval_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One conversion cache for the session (converted once, like a server's <data_dir>/benchmark_cache)."""
    return tmp_path_factory.mktemp("benchmark_cache")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-init toy Llama: hidden 64, 2 layers, 4 heads, a 512-token BPE tokenizer, context 512."""
    from modelmate.training.tiny import build_tiny, default_corpus

    out = tmp_path_factory.mktemp("eval-tiny") / "tiny"
    return build_tiny(out, hidden_size=64, num_layers=2, num_heads=4, vocab_size=512, context_length=512,
                      seed=0, corpus=default_corpus(max_chars=150_000))


@pytest.fixture(scope="session")
def tiny_lm(tiny_model: Path):
    from modelmate.evaluation.runner import load_model

    return load_model(tiny_model)
