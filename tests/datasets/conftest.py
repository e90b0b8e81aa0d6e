"""Dataset API fixtures: a base model whose tokenizer is on disk, an app with a small upload cap."""

from __future__ import annotations

import pytest
from dataset_helpers import CAP
from fastapi.testclient import TestClient

from ml_fixtures import make_tokenizer
from modelmate.app import create_app
from modelmate.config import Settings
from modelmate.models import Model


@pytest.fixture
def tokenizer_base(database, tmp_path):
    """A catalog base row with key ``tiny`` whose ``local_path`` holds a real (small) tokenizer; returns it."""
    tokenizer = make_tokenizer()
    path = tmp_path / "toy-tokenizer"
    tokenizer.save_pretrained(path)
    with database.session() as session:
        row = Model(name="Test toy base", name_key="test toy base", developer_key="", model_type="LLM",
                    kind="base", visibility="public", owner_id=None,
                    hub_info={"key": "tiny", "local_path": str(path), "toy": True})
        session.add(row)
        session.flush()
        model_id = row.id
    return {"id": model_id, "path": path, "tokenizer": tokenizer}


@pytest.fixture
def small_client(database, tmp_path):
    """An app whose dataset uploads are capped at 2 MiB (above the multipart parser's 1 MiB in-memory spool)."""
    settings = Settings(data_dir=tmp_path / "small", database_url=database.url, seed_demo=False,
                        environment="test", max_dataset_bytes=CAP)
    with TestClient(create_app(settings, database=database), base_url="http://127.0.0.1:8000") as c:
        c.settings = settings  # type: ignore[attr-defined]
        yield c
