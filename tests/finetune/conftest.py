"""Fixtures for the fine-tuning server tests: dataset uploads through the real datasets API; torch limited to one
thread (the machine is shared). The toy tiny Llama (``tiny_source``) and ``hub`` (toy installed as the ``tiny`` base
model in each test's data dir) come from the root conftest."""

from __future__ import annotations

import json

import pytest
from hubdata import text_rows


@pytest.fixture(scope="session", autouse=True)
def _torch_one_thread() -> None:
    import torch

    torch.set_num_threads(1)


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
