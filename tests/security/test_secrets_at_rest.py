"""Scenario 22: tokens and sessions are stored only as SHA-256 digests (+ a display prefix), passwords only as
Argon2id hashes, and no secret ever reaches the logs (uvicorn's access log included)."""

from __future__ import annotations

import hashlib
import logging

import httpx
from sqlalchemy import select, text

from modelmate.models import ApiToken, User, UserSession

API = "/api/v1"


def _dump_tables(database, tables: list[str]) -> str:
    out = []
    with database.engine.connect() as conn:
        for table in tables:
            for row in conn.execute(text(f"SELECT * FROM {table}")):
                out.append(" | ".join(str(v) for v in row))
    return "\n".join(out)


def test_only_hashes_at_rest_and_nothing_secret_in_logs(live_server, database, caplog, new_password, setup_token):
    caplog.set_level(logging.DEBUG)  # every logger, every level
    password, first_account_token = new_password(), setup_token()
    secrets_seen: list[str] = [password, first_account_token]
    with httpx.Client(base_url=live_server, timeout=30) as browser:
        resp = browser.post(f"{API}/auth/signup", json={"username": "alice", "email": "alice@example.com",
                                                        "password": password, "setup_token": first_account_token})
        assert resp.status_code == 201, resp.text
        sid, csrf = browser.cookies["mm_session"], browser.cookies["mm_csrf"]
        secrets_seen += [sid, csrf]
        browser.headers["X-CSRF-Token"] = csrf
        tokens = []
        for scopes in (["read"], ["read", "write"]):
            created = browser.post(f"{API}/auth/tokens", json={"name": "t", "scopes": scopes}).json()
            tokens.append(created)
            secrets_seen.append(created["token"])
        # use everything: bearer calls (ok, refused, tampered), a failed login, a password change
        for t in tokens:
            assert httpx.get(f"{live_server}{API}/auth/me", headers={"Authorization": f"Bearer {t['token']}"}
                             ).status_code == 200
        assert httpx.post(f"{live_server}{API}/entries", json={"name": "x"},
                          headers={"Authorization": f"Bearer {tokens[0]['token']}"}).status_code == 403
        tampered = tokens[1]["token"][:-1] + ("a" if tokens[1]["token"][-1] != "a" else "b")
        assert httpx.get(f"{live_server}{API}/auth/me", headers={"Authorization": f"Bearer {tampered}"}
                         ).status_code == 401
        assert httpx.post(f"{live_server}{API}/auth/login", json={"username": "alice", "password": password + "!"}
                          ).status_code == 401
        new = new_password()
        secrets_seen.append(new)
        assert browser.post(f"{API}/auth/password", json={"current_password": password, "new_password": new}
                            ).status_code == 204
        assert browser.delete(f"{API}/auth/tokens/{tokens[1]['id']}").status_code == 204
        assert httpx.get(f"{live_server}{API}/auth/me", headers={"Authorization": f"Bearer {tokens[1]['token']}"}
                         ).status_code == 401
        assert browser.post(f"{API}/auth/logout").status_code == 204

    # --- at rest: digests and prefixes only -------------------------------------------------------------------
    dump = _dump_tables(database, ["users", "api_tokens", "user_sessions"])
    for secret in secrets_seen:
        assert secret not in dump
        # not even the random part of a token (``mm_<prefix>_<random>``; the random part may itself contain "_")
        assert (secret.split("_", 2)[2] if secret.startswith("mm_") else secret) not in dump
    with database.session() as s:
        rows = {r.id: r for r in s.scalars(select(ApiToken))}
        for t in tokens:
            row = rows[t["id"]]
            assert row.token_hash == hashlib.sha256(t["token"].encode()).hexdigest()
            assert row.prefix == t["prefix"] and t["token"].startswith(f"mm_{row.prefix}_")
        session_row = s.scalars(select(UserSession)).first()
        assert session_row.session_hash == hashlib.sha256(sid.encode()).hexdigest()
        assert session_row.csrf_hash == hashlib.sha256(csrf.encode()).hexdigest()
        assert s.scalar(select(User.password_hash)).startswith("$argon2id$")

    # --- logs: captured (so this check can fail), and clean -----------------------------------------------------
    # httpx/httpcore records come from this test's own HTTP client (it logs the responses it receives, cookies
    # included); everything else was logged by the server side: ModelMate, uvicorn, SQLAlchemy, argon2...
    records = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    access = [r for r in records if r.name == "uvicorn.access"]
    assert len(access) >= 10, "uvicorn access log was not captured"
    text_logged = "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in records)
    assert "/api/v1/auth/login" in text_logged
    for secret in secrets_seen:
        assert secret not in text_logged
    assert "Bearer" not in text_logged and "mm_session=" not in text_logged
