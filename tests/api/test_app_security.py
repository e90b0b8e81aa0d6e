"""App-level behaviour every endpoint shares: health, security headers, CORS, errors, body limits, defaults."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from modelmate.config import Settings
from modelmate.models import Entry


def _assert_error_shape(resp, status: int, code: str | None = None) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code:
        assert body["error"]["code"] == code
    return body["error"]


def _entry_count(database) -> int:
    with database.session() as s:
        return s.scalar(select(func.count()).select_from(Entry))


def test_health_reports_ok_and_the_backend(client, database):
    resp = client.get("/api/v1/health")
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "ok"
    assert body["database"] == database.dialect
    assert body["version"]


@pytest.mark.parametrize("path", ["/api/v1/health", "/api/v1/entries", "/api/v1/no-such-thing", "/"])
def test_security_headers_on_every_response(client, path):
    resp = client.get(path)
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.headers["x-frame-options"] == "DENY"
    csp = resp.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "default-src 'self'" in csp
    assert resp.headers["referrer-policy"] == "same-origin"


def test_docs_page_keeps_frame_ancestors(client):
    resp = client.get("/docs")
    assert resp.status_code == 200
    assert "frame-ancestors 'none'" in resp.headers["content-security-policy"]
    assert resp.headers["x-frame-options"] == "DENY"


def test_cors_is_closed(client):
    preflight = client.options("/api/v1/entries", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-credentials" not in preflight.headers
    simple = client.get("/api/v1/entries", headers={"Origin": "https://evil.example"})
    assert simple.status_code == 200
    assert "access-control-allow-origin" not in simple.headers


@pytest.mark.parametrize("path", ["/api/v1/no-such-thing", "/api/v1/entries/1/nope", "/api/nothing-here"])
def test_unknown_api_path_is_a_json_404(client, path):
    _assert_error_shape(client.get(path), 404, "not_found")


def test_wrong_method_is_a_json_405(client):
    _assert_error_shape(client.put("/api/v1/entries"), 405, "method_not_allowed")


def test_validation_error_has_the_error_shape(client):
    err = _assert_error_shape(client.post("/api/v1/entries", json={"rating": 9}), 422)
    assert isinstance(err["details"], list) and err["details"]


def test_body_over_2mb_is_413_and_nothing_is_written(client, database):
    body = json.dumps({"name": "big", "notes": "x" * (2 * 1024 * 1024)}).encode()
    resp = client.post("/api/v1/entries", content=body, headers={"content-type": "application/json"})
    _assert_error_shape(resp, 413, "payload_too_large")
    assert _entry_count(database) == 0


def test_chunked_body_without_length_is_counted_and_413(client, database):
    def chunks():
        yield b'{"name": "big", "notes": "'
        for _ in range(300):
            yield b"x" * 8192  # 2.4 MB in total, never announced
        yield b'"}'

    resp = client.post("/api/v1/entries", content=chunks(), headers={"content-type": "application/json"})
    _assert_error_shape(resp, 413, "payload_too_large")
    assert _entry_count(database) == 0


def test_small_chunked_body_is_accepted(client):
    def chunks():
        yield b'{"name": "streamed'
        yield b' model"}'

    resp = client.post("/api/v1/entries", content=chunks(), headers={"content-type": "application/json"})
    assert resp.status_code == 201, resp.text
    assert resp.json()["name"] == "streamed model"


@pytest.mark.parametrize("payload", [
    b"[" * 100_000,
    b"[" * 100_000 + b"]" * 100_000,
    b'{"name": "deep", "notes": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
    b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
])
def test_deeply_nested_json_is_a_4xx_not_a_500(client, database, payload):
    resp = client.post("/api/v1/entries", content=payload, headers={"content-type": "application/json"})
    assert 400 <= resp.status_code < 500, resp.text
    _assert_error_shape(resp, resp.status_code)
    assert _entry_count(database) == 0
    assert client.get("/api/v1/health").status_code == 200


def test_invalid_content_length_is_400(app):
    # httpx always computes Content-Length itself, so speak ASGI directly.
    import anyio

    sent = []

    async def run():
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                 "scheme": "http", "path": "/api/v1/entries", "raw_path": b"/api/v1/entries", "query_string": b"",
                 "root_path": "", "headers": [(b"host", b"127.0.0.1"), (b"content-length", b"abc"),
                                              (b"content-type", b"application/json")],
                 "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 8000)}

        async def receive():
            return {"type": "http.request", "body": b"{}", "more_body": False}

        async def send(message):
            sent.append(message)

        await app(scope, receive, send)

    anyio.run(run)
    assert sent[0]["status"] == 400
    body = json.loads(b"".join(m.get("body", b"") for m in sent[1:]))
    assert body["error"]["code"] == "bad_request"


def test_default_bind_address_is_loopback(monkeypatch):
    monkeypatch.delenv("MODELMATE_HOST", raising=False)
    settings = Settings()
    assert settings.host == "127.0.0.1"
    assert settings.port == 8000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on ``port`` (from /proc/net/tcp{,6})."""
    found = set()
    for name in ("tcp", "tcp6"):
        path = Path(f"/proc/net/{name}")
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            local, state = fields[1], fields[3]
            addr, port_hex = local.split(":")
            if state == "0A" and int(port_hex, 16) == port:  # 0A = LISTEN
                found.add(addr)
    return found


@pytest.mark.process
@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc/net/tcp")
def test_modelmate_serve_binds_loopback_only_by_default(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELMATE_")}
    env.update(MODELMATE_DATA_DIR=str(tmp_path / "data"), MODELMATE_PORT=str(port), MODELMATE_SEED_DEMO="false")
    proc = subprocess.Popen([sys.executable, "-m", "modelmate", "serve"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stdout.read().decode(errors="replace")
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.2)
        # 0100007F is 127.0.0.1 in /proc's little-endian hex; a wildcard bind would show 00000000.
        assert _listening_addresses(port) == {"0100007F"}
        # A real HTTP server (h11) with a chunked body and no Content-Length: still capped.
        def chunks():
            for _ in range(300):
                yield b"x" * 8192

        resp = httpx.post(f"http://127.0.0.1:{port}/api/v1/entries", content=chunks(),
                          headers={"content-type": "application/json"}, timeout=30)
        assert resp.status_code == 413
        assert resp.json()["error"]["code"] == "payload_too_large"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_nul_in_url_is_422_never_a_database_error(client):
    for url in ("/api/v1/search?q=a%00b", "/api/v1/timeline?q=%00", "/api/v1/entries?q=x%00",
                "/api/v1/tags?q=%00", "/api/v1/models?q=%00"):
        r = client.get(url)
        assert r.status_code == 422, (url, r.text)
        assert r.json()["error"]["message"] == "URLs must not contain NUL characters"
