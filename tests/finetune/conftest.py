"""Fixtures for the fine-tuning server tests: a toy tiny Llama built once per session (random init, hidden 64,
2 layers, vocab 512), copied into each test's data dir and registered as the ``tiny`` base model; dataset
uploads through the real datasets API; torch limited to one thread (the machine is shared)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hubdata import text_rows

from modelmate.finetune import base_models as bases


@pytest.fixture(scope="session", autouse=True)
def _torch_one_thread() -> None:
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from modelmate.training.tiny import build_tiny, default_corpus

    out = tmp_path_factory.mktemp("tiny") / "tiny"
    return build_tiny(out, hidden_size=64, num_layers=2, num_heads=4, vocab_size=512, context_length=256,
                      seed=0, corpus=default_corpus(max_chars=150_000))


def install_tiny(settings, database, tiny_source: Path) -> None:
    dest = bases.tiny_dir(settings)
    if not dest.exists():
        shutil.copytree(tiny_source, dest)
    bases.seed_base_models(database, settings)


@pytest.fixture
def hub(client, settings, database, tiny_source):
    """The API client with the base models seeded and the toy built."""
    install_tiny(settings, database, tiny_source)
    return client


@pytest.fixture
def upload():
    """Upload rows as a JSONL dataset through POST /datasets; returns the dataset JSON."""

    def _upload(client, rows: list[dict] | None = None, *, name: str = "train data") -> dict:
        body = "".join(json.dumps(r) + "\n" for r in (rows if rows is not None else text_rows()))
        r = client.post("/api/v1/datasets", files={"file": ("data.jsonl", body.encode(), "application/json")},
                        data={"name": name, "base_model": "tiny"})
        assert r.status_code in (200, 201), r.text
        return r.json()

    return _upload
