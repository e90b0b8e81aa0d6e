"""Fixtures for the training tests: a toy tiny Llama built once per session (random init, tokenizer trained on a
small slice of local standard-library text) and torch limited to one thread (the machine is shared)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def _torch_one_thread() -> None:
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-init toy Llama: hidden 64, 2 layers, 4 heads, vocab 512, context 256."""
    from modelmate.training.tiny import build_tiny, default_corpus

    out = tmp_path_factory.mktemp("tiny") / "tiny"
    return build_tiny(out, hidden_size=64, num_layers=2, num_heads=4, vocab_size=512, context_length=256,
                      seed=0, corpus=default_corpus(max_chars=150_000))
