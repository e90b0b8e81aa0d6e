from __future__ import annotations

from collections.abc import Iterator

import pytest
from fake_upstream import FakeServer
from fastapi.testclient import TestClient

from modelmate.app import create_app
from modelmate.config import Settings


@pytest.fixture(scope="session")
def upstream() -> Iterator[FakeServer]:
    server = FakeServer().start()
    yield server
    server.stop()


@pytest.fixture
def autofill_settings(tmp_path, database, upstream, monkeypatch) -> Settings:
    monkeypatch.setenv("HF_ENDPOINT", upstream.url)
    return Settings(data_dir=tmp_path / "data", database_url=database.url, seed_demo=False, environment="test",
                    github_api_url=upstream.url, autofill_timeout_s=1.0, autofill_max_bytes=512 * 1024)


@pytest.fixture
def af_client(autofill_settings, database) -> Iterator[TestClient]:
    app = create_app(autofill_settings, database=database)
    with TestClient(app, base_url="http://127.0.0.1:8000") as c:
        yield c
