"""Shared fixtures: a real, migrated database (SQLite, and PostgreSQL when configured) and the real app.

Every test that uses ``database`` (directly or through ``app``/``client``) runs once per backend:
``sqlite`` always; ``postgres`` when ``MODELMATE_TEST_POSTGRES_URL`` is set (``make test`` starts one).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from modelmate.app import create_app
from modelmate.config import Settings
from modelmate.db import migrate
from modelmate.db.engine import Database

PG_URL = os.environ.get("MODELMATE_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db)
    db.dispose()
    return path


@pytest.fixture(scope="session")
def _pg_database() -> Iterator[Database | None]:
    if not PG_URL:
        yield None
        return
    db = Database(PG_URL)
    with db.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    migrate.upgrade(db)
    yield db
    db.dispose()


def _truncate_all(db: Database) -> None:
    with db.engine.begin() as conn:
        tables = [r[0] for r in conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"))]
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path, _sqlite_template: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        path = tmp_path / "modelmate.db"
        shutil.copy(_sqlite_template, path)
        db = Database(f"sqlite:///{path}")
        yield db
        db.dispose()
        return
    pg: Database | None = request.getfixturevalue("_pg_database")
    if pg is None:
        pytest.skip("PostgreSQL not configured (set MODELMATE_TEST_POSTGRES_URL; make test does)")
    _truncate_all(pg)
    yield pg


@pytest.fixture
def settings(tmp_path: Path, database: Database) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database.url, seed_demo=False, environment="test")


@pytest.fixture
def app(settings: Settings, database: Database):
    return create_app(settings, database=database)


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://127.0.0.1:8000") as c:
        yield c


@pytest.fixture
def make_entry(client: TestClient):
    """Create an entry through the API and return its JSON."""

    def _make(**fields) -> dict:
        fields.setdefault("name", "Model")
        resp = client.post("/api/v1/entries", json=fields)
        assert resp.status_code == 201, resp.text
        return resp.json()

    return _make
