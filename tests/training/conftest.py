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
def tiny_dir(tiny_source: Path) -> Path:
    """The root conftest's random-init toy Llama: hidden 64, 2 layers, 4 heads, vocab 512, context 256."""
    return tiny_source
