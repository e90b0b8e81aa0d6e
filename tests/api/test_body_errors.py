"""A JSON body that cannot be decoded gets the documented error code (docs/api.md), not a generic 400."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from modelmate.models import Entry

JSON = {"content-type": "application/json"}


def _entries(database) -> int:
    with database.session() as s:
        return s.scalar(select(func.count()).select_from(Entry))


@pytest.mark.parametrize("payload", [
    b"[" * 100_000,
    b"[" * 100_000 + b"]" * 100_000,
    b'{"name": "deep", "notes": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
    b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
])
@pytest.mark.parametrize("path", ["/api/v1/entries", "/api/v1/auth/signup", "/api/v1/models"])
def test_absurdly_nested_json_is_too_deeply_nested(client, database, payload, path):
    resp = client.post(path, content=payload, headers=JSON)
    assert resp.status_code == 400, resp.text
    assert resp.json() == {"error": {"code": "too_deeply_nested", "message": "request is too deeply nested",
                                     "details": None}}
    assert _entries(database) == 0


@pytest.mark.parametrize("payload", [
    b'{"name": "\xff\xfe broken"}',
    b'{"name": "caf\xe9"}',  # Latin-1, not UTF-8
    b'{"name": "\xc3"}',  # a truncated sequence
])
def test_invalid_utf8_is_invalid_encoding(client, database, payload):
    resp = client.post("/api/v1/entries", content=payload, headers=JSON)
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert error["code"] == "invalid_encoding" and "UTF-8" in error["message"]
    assert _entries(database) == 0
    patched = client.patch("/api/v1/entries/1", content=payload, headers=JSON)
    assert patched.status_code == 400 and patched.json()["error"]["code"] == "invalid_encoding"


def test_malformed_json_stays_a_422_and_valid_utf8_is_fine(client):
    bad = client.post("/api/v1/entries", content=b'{"name": ', headers=JSON)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"
    ok = client.post("/api/v1/entries", content='{"name": "café ☕"}'.encode(), headers=JSON)
    assert ok.status_code == 201 and ok.json()["name"] == "café ☕"
