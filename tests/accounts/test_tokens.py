"""API tokens: shown once, stored as a hash, scoped, revocable, per user."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from modelmate.db.base import utcnow
from modelmate.models import ApiToken

API = "/api/v1"


def _bearer(app, token: str) -> TestClient:
    return TestClient(app, base_url="http://127.0.0.1:8000", headers={"Authorization": f"Bearer {token}"})


def test_create_list_use_and_revoke(app, client, account_client, database):
    alice = account_client("alice")
    resp = alice.post(f"{API}/auth/tokens", json={"name": "laptop cli", "scopes": ["read", "write"],
                                                 "expires_in_days": 30})
    assert resp.status_code == 201, resp.text
    created = resp.json()
    token = created["token"]
    assert token.startswith(f"mm_{created['prefix']}_") and len(token) == 3 + 9 + 43
    assert created["scopes"] == ["read", "write"]
    assert created["expires_at"] is not None

    listed = alice.get(f"{API}/auth/tokens").json()
    assert [t["id"] for t in listed] == [created["id"]]
    assert "token" not in listed[0] and token not in alice.get(f"{API}/auth/tokens").text

    writer = _bearer(app, token)
    assert writer.get(f"{API}/auth/me").json()["username"] == "alice"
    made = writer.post(f"{API}/entries", json={"name": "Via token"})  # no CSRF token needed for Bearer
    assert made.status_code == 201
    assert writer.post(f"{API}/auth/tokens", json={"name": "more"}).status_code == 403  # tokens cannot mint tokens

    assert alice.delete(f"{API}/auth/tokens/{created['id']}").status_code == 204
    assert alice.delete(f"{API}/auth/tokens/{created['id']}").status_code == 204  # idempotent
    resp = writer.get(f"{API}/auth/me")
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "unauthorized"
    assert resp.headers["www-authenticate"].startswith("Bearer")
    assert alice.get(f"{API}/auth/tokens").json()[0]["revoked_at"] is not None


def test_read_scope_cannot_write(app, client, account_client, database):
    alice = account_client("alice")
    token = alice.post(f"{API}/auth/tokens", json={"name": "ro", "scopes": ["read"]}).json()["token"]
    reader = _bearer(app, token)
    assert reader.get(f"{API}/entries").status_code == 200
    for method, path in [("POST", "/entries"), ("PATCH", "/entries/1"), ("DELETE", "/entries/1"),
                         ("DELETE", "/auth/tokens/1"), ("POST", "/auth/logout")]:
        resp = reader.request(method, API + path, json={"name": "x"} if method != "DELETE" else None)
        assert resp.status_code == 403 and resp.json()["error"]["code"] == "insufficient_scope", (method, path)
    with database.session() as s:
        assert s.scalar(select(ApiToken.revoked_at)) is None


def test_expired_tampered_and_malformed_tokens_are_401(app, client, account_client, database):
    alice = account_client("alice")
    created = alice.post(f"{API}/auth/tokens", json={"name": "t", "scopes": ["read"]}).json()
    token = created["token"]
    assert _bearer(app, token).get(f"{API}/auth/me").status_code == 200
    tampered = [token[:-1] + ("A" if token[-1] != "A" else "B"), token.replace(created["prefix"], "zzzzzzzz"),
                token + "x", token[:-5], "mm_" + token[3:].upper(), "Bearer", token.split("_", 2)[2], "x" * 60]
    for bad in tampered:
        assert _bearer(app, bad).get(f"{API}/auth/me").status_code == 401, bad
    for header in (f"Token {token}", f"Basic {token}", "Bearer ", token):
        c = TestClient(app, base_url="http://127.0.0.1:8000", headers={"Authorization": header})
        assert c.get(f"{API}/auth/me").status_code == 401, header
    with database.session() as s:
        s.execute(update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert _bearer(app, token).get(f"{API}/auth/me").status_code == 401


def test_other_users_token_is_404_and_untouched(app, client, account_client):
    alice = account_client("alice")
    bob = account_client("bob")
    created = alice.post(f"{API}/auth/tokens", json={"name": "t", "scopes": ["read"]}).json()
    resp = bob.delete(f"{API}/auth/tokens/{created['id']}")
    assert resp.status_code == 404
    assert bob.get(f"{API}/auth/tokens").json() == []
    assert _bearer(app, created["token"]).get(f"{API}/auth/me").status_code == 200


def test_last_used_is_written_at_most_once_a_minute(app, client, account_client, database):
    alice = account_client("alice")
    token = alice.post(f"{API}/auth/tokens", json={"name": "t", "scopes": ["read"]}).json()["token"]
    c = _bearer(app, token)
    c.get(f"{API}/auth/me")
    with database.session() as s:
        first = s.scalar(select(ApiToken.last_used_at))
    assert first is not None
    for _ in range(3):
        c.get(f"{API}/auth/me")
    with database.session() as s:
        assert s.scalar(select(ApiToken.last_used_at)) == first
        s.execute(update(ApiToken).values(last_used_at=utcnow() - timedelta(minutes=2)))
    c.get(f"{API}/auth/me")
    with database.session() as s:
        assert s.scalar(select(ApiToken.last_used_at)) > utcnow() - timedelta(seconds=30)


def test_tokens_validation_and_single_user_mode(app, client, account_client):
    # single-user mode: no accounts, so no tokens
    resp = client.post(f"{API}/auth/tokens", json={"name": "t", "scopes": ["read"]})
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "accounts_required"
    alice = account_client("alice")
    for body in ({"name": "", "scopes": ["read"]}, {"name": "t", "scopes": ["admin"]}, {"name": "t", "scopes": []},
                 {"name": "t\x00x"}, {"name": "t", "expires_in_days": 0}, {"name": "t", "expires_in_days": 100000}):
        assert alice.post(f"{API}/auth/tokens", json=body).status_code == 422, body
