"""Scenario 37: ``kill -9`` of the server during writes → integrity ok, every acknowledged write kept."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest
from harness import ServerProcess, run_writers, verify_ledgers

pytestmark = pytest.mark.process


def test_kill9_during_writes_keeps_acknowledged_work(tmp_path: Path):
    data = tmp_path / "data"
    db_path = data / "modelmate.db"
    server = ServerProcess(data).start()
    try:
        ledgers = run_writers(server.base_url, clients=20, kill_after=3.0, on_kill=server.kill9)
    finally:
        if server.proc and server.proc.poll() is None:
            server.kill9()
    assert server.proc.returncode == -9
    acknowledged = sum(led.ops for led in ledgers)
    assert acknowledged > 20, "the writers barely ran before the kill"
    assert not [e for led in ledgers for e in led.errors], "writes failed before the kill"
    assert any(led.in_flight for led in ledgers), "the kill should land while requests are in flight"

    # The WAL and -shm files are left exactly as the killed process left them.
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("INSERT INTO search_fts(search_fts) VALUES ('integrity-check')") is not None
    finally:
        conn.close()

    problems = verify_ledgers(f"sqlite:///{db_path}", ledgers, allow_in_flight=True)
    assert not problems, problems[:20]

    with ServerProcess(data) as again:
        assert httpx.get(again.base_url + "/api/v1/health").status_code == 200
        page = httpx.get(again.base_url + "/api/v1/entries", params={"limit": 1}).json()
        created = sum(len(led.entries) for led in ledgers)
        assert created <= page["total"] <= created + len(ledgers)
        r = httpx.post(again.base_url + "/api/v1/entries", json={"name": "after restart"})
        assert r.status_code == 201, r.text
