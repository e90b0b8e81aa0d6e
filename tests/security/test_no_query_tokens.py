"""Scenario 24 (backend): no endpoint takes a credential from the query string; the session cookie (+ CSRF
token) or an Authorization header are the only ways in, so a bookmarklet or a shared URL never carries one."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

API = "/api/v1"
CREDENTIAL_NAME = re.compile(r"token|key|secret|passw|session|csrf|auth|bearer|credential", re.IGNORECASE)


def test_no_route_declares_a_credential_query_parameter(app, client):
    spec = app.openapi()
    offenders = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            for p in op.get("parameters", []):
                if p["in"] in ("query", "path") and CREDENTIAL_NAME.search(p["name"]) and p["name"] != "token_id":
                    offenders.append(f"{method.upper()} {path} ?{p['name']}")
    assert not offenders, offenders
    schemes = spec.get("components", {}).get("securitySchemes", {})
    assert all(s.get("in") != "query" for s in schemes.values())


def test_a_token_in_the_query_string_authenticates_nothing(app, client, account_client):
    alice = account_client("alice")
    token = alice.post(f"{API}/auth/tokens", json={"name": "t", "scopes": ["read", "write"]}).json()["token"]
    anon = TestClient(app, base_url="http://127.0.0.1:8000")
    for name in ("token", "access_token", "api_key", "mm_session", "auth"):
        assert anon.get(f"{API}/auth/me", params={name: token}).status_code == 401
        assert anon.post(f"{API}/entries", params={name: token}, json={"name": "x"}).status_code == 401
    assert anon.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_session_cookie_is_httponly_so_page_scripts_cannot_read_it(app, client, new_password, setup_token):
    c = TestClient(app, base_url="http://127.0.0.1:8000")
    resp = c.post(f"{API}/auth/signup", json={"username": "alice", "email": "a@example.com",
                                              "password": new_password(), "setup_token": setup_token()})
    cookies = {h.split("=", 1)[0]: h for h in resp.headers.get_list("set-cookie")}
    assert "HttpOnly" in cookies["mm_session"]
    assert "samesite=lax" in cookies["mm_session"].lower()
