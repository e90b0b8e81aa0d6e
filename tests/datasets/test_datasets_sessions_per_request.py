"""One session per request, counted: a request's work runs in its own session; an upload's preflight (the caller and
the file checked before the write lock is taken) is the one other, and it has ended before the request's opens."""

from __future__ import annotations

from dataset_helpers import API, jsonl, upload

from modelmate.db.engine import Database

ROWS = [{"text": f"row {i}"} for i in range(20)]


def _count_sessions(database: Database, monkeypatch) -> list[tuple[object, bool]]:
    """Every session the app opens, with whether another one was still in a transaction when it opened."""
    opened: list[tuple[object, bool]] = []
    factory = database.session_factory

    def counting(**kwargs):
        overlapping = any(s.in_transaction() for s, _ in opened)
        session = factory(**kwargs)
        opened.append((session, overlapping))
        return session

    monkeypatch.setattr(database, "session_factory", counting)
    return opened


def test_a_read_uses_the_request_session_only(client, database, monkeypatch):
    opened = _count_sessions(database, monkeypatch)
    assert client.get(f"{API}/datasets").status_code == 200
    assert len(opened) == 1


def test_an_upload_has_its_preflight_then_the_request_session(client, database, monkeypatch):
    opened = _count_sessions(database, monkeypatch)
    assert upload(client, "rows.jsonl", jsonl(ROWS)).status_code == 201
    assert len(opened) == 2
    assert not any(overlapping for _, overlapping in opened)
    assert client.get(f"{API}/datasets").json()["total"] == 1
