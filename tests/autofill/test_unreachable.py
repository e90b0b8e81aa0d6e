"""Autofill when the upstream cannot be reached at all: a sentence for people, not an exception class name."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from modelmate.app import create_app
from modelmate.autofill import upstream as up
from modelmate.config import Settings


def _closed_port() -> int:
    """A local port nothing listens on (bound, then released): connecting to it is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def offline_client(tmp_path, database, monkeypatch) -> Iterator[TestClient]:
    dead = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("HF_ENDPOINT", dead)
    settings = Settings(data_dir=tmp_path / "data", database_url=database.url, seed_demo=False, environment="test",
                        github_api_url=dead, autofill_timeout_s=2.0)
    with TestClient(create_app(settings, database=database), base_url="http://127.0.0.1:8000") as c:
        yield c


@pytest.mark.parametrize(("value", "service"), [
    ("org/name", "Hugging Face"),
    ("https://github.com/acme/widget", "GitHub"),
])
def test_connection_refused_reads_as_a_human_message(offline_client, value, service):
    r = offline_client.post("/api/v1/autofill", json={"url_or_id": value})
    assert r.status_code == 502, r.text
    err = r.json()["error"]
    assert err["code"] == "upstream_unreachable"
    message = err["message"]
    assert message.startswith(f"could not connect to {service}")
    assert "network connection" in message
    assert "Error" not in message and "httpx" not in message  # no ConnectError / exception class names


def test_every_transport_failure_has_a_sentence():
    for exc in (httpx.ConnectError("x"), httpx.ReadError("x"), httpx.RemoteProtocolError("x"),
                httpx.ProxyError("x"), httpx.NetworkError("x"), httpx.TransportError("x")):
        err = up.unreachable("GitHub", exc)
        assert "GitHub" in err.message and type(exc).__name__ not in err.message
