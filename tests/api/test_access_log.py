"""The access log records ``METHOD path status duration`` and parameter names, never query values (search text,
anything pasted into a URL), whether ModelMate's own line or uvicorn's."""

from __future__ import annotations

import logging
import logging.config
import time

import httpx
import pytest
from typer.testing import CliRunner

from modelmate.api.accesslog import ACCESS_LOGGER, RedactQueryFilter, loggable_target, redact_query, serve_log_config
from modelmate.cli import app as cli

SECRET = "hf_SeCrEt-pasted-4242"


def test_redaction_keeps_names_drops_values():
    assert redact_query("q=my+search&limit=5") == "q=…&limit=…"
    assert redact_query(f"token={SECRET}&&flag=&tag_mode=any") == "token=…&flag=…&tag_mode=…"
    assert redact_query("flag&hf_abc=1&" + SECRET + "=x") == "…&hf_abc=…&…"
    assert redact_query(SECRET + "%20and%20more") == "…"  # a bare value is not a parameter name
    assert redact_query("a%3Db=c") == "…"  # nor is a name that decodes to something odd
    assert loggable_target("/api/v1/search", "q=x") == "/api/v1/search?q=…"
    assert loggable_target("/api/v1/entries", "") == "/api/v1/entries"
    assert loggable_target("/x\ny", "") == "/x%0Ay"  # no forged log lines


def test_live_server_logs_paths_without_query_values(live_server, caplog):
    caplog.set_level(logging.DEBUG)
    with httpx.Client(base_url=live_server, timeout=30) as c:
        assert c.get("/api/v1/entries", params={"q": SECRET, "limit": 5}).status_code == 200
        assert c.get(f"/api/v1/search?{SECRET}").status_code in (200, 422)
        assert c.get("/models", params={"q": SECRET}).status_code == 200
        assert c.get("/api/v1/entries", params={"q": SECRET}, headers={"Host": "evil.example"}).status_code == 421
    deadline = time.monotonic() + 10  # the server thread writes its line just after the response went out
    while sum(r.name == ACCESS_LOGGER for r in caplog.records) < 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    records = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in records)
    assert SECRET not in logged
    ours = [r.getMessage() for r in records if r.name == ACCESS_LOGGER]
    assert any('"GET /api/v1/entries?q=…&limit=…" 200 ' in line and line.endswith("ms") for line in ours), ours
    assert any('"GET /api/v1/entries?q=…" 421 ' in line for line in ours), ours  # refused requests are logged
    uvicorn_lines = [r.getMessage() for r in records if r.name == "uvicorn.access"]
    assert any("/api/v1/entries?q=…&limit=…" in line for line in uvicorn_lines), uvicorn_lines


def test_uvicorn_access_record_is_rewritten_in_place():
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:1", "GET", f"/api/v1/search?q={SECRET}", "1.1", 200), None)
    assert RedactQueryFilter().filter(record)
    assert record.getMessage() == '127.0.0.1:1 - "GET /api/v1/search?q=… HTTP/1.1" 200'


def test_serve_uses_our_access_log_and_serves_its_bind_host(monkeypatch: pytest.MonkeyPatch):
    import uvicorn

    calls: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append(kwargs))
    monkeypatch.setenv("MODELMATE_HOST", "127.0.0.1")  # restored after the test (serve exports its bind host)
    monkeypatch.setenv("MODELMATE_PORT", "8000")
    result = CliRunner().invoke(cli, ["serve", "--host", "192.168.7.7", "--port", "8123"])
    assert result.exit_code == 0, result.output
    (kwargs,) = calls
    assert kwargs["access_log"] is False and kwargs["proxy_headers"] is False
    config = kwargs["log_config"]
    assert ACCESS_LOGGER in config["loggers"] and "modelmate" in config["loggers"]
    import os

    assert os.environ["MODELMATE_HOST"] == "192.168.7.7" and os.environ["MODELMATE_PORT"] == "8123"


def test_the_serve_log_config_is_valid():
    before = {name: logging.getLogger(name).handlers[:] for name in ("uvicorn", "uvicorn.access")}
    try:
        logging.config.dictConfig(serve_log_config("info"))
        assert logging.getLogger(ACCESS_LOGGER).isEnabledFor(logging.INFO)
        assert not logging.getLogger(ACCESS_LOGGER).propagate
    finally:
        for name in (ACCESS_LOGGER, "modelmate"):
            logger = logging.getLogger(name)
            logger.handlers.clear()
            logger.propagate = True
            logger.setLevel(logging.NOTSET)
        for name, handlers in before.items():
            logging.getLogger(name).handlers[:] = handlers
