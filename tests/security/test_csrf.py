"""Scenario 20: a cross-site POST carrying the session cookie is refused (403) and writes nothing."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from modelmate.accounts.middleware import same_origin
from modelmate.models import Entry, JournalNote, Model

API = "/api/v1"
OWN = "http://127.0.0.1:8000"


def _counts(database) -> tuple[int, int, int]:
    with database.session() as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) for t in (Entry, Model, JournalNote))


def _victim(app, account_client) -> tuple[TestClient, str, int]:
    """A signed-in victim whose browser holds mm_session + mm_csrf; returns a client WITHOUT the CSRF header."""
    alice = account_client("alice")
    entry = alice.post(f"{API}/entries", json={"name": "Mine"}).json()
    browser = TestClient(app, base_url=OWN)
    browser.cookies.set("mm_session", alice.cookies["mm_session"])
    browser.cookies.set("mm_csrf", alice.cookies["mm_csrf"])
    return browser, alice.cookies["mm_csrf"], entry["id"]


ATTACKS = [
    ("evil origin", {"Origin": "https://evil.example"}, True),
    ("look-alike origin", {"Origin": "http://127.0.0.1:8000.evil.example"}, True),
    ("other port", {"Origin": "http://127.0.0.1:9000"}, True),
    ("other scheme", {"Origin": "https://127.0.0.1:8000"}, True),
    ("null origin", {"Origin": "null"}, True),
    ("sec-fetch cross-site", {"Sec-Fetch-Site": "cross-site"}, True),
    ("missing token", {}, False),
    ("wrong token", {"X-CSRF-Token": "not-the-token"}, False),
    ("token of the header only", {"X-CSRF-Token": "forged", "Cookie": "mm_csrf=forged"}, False),
]


@pytest.mark.parametrize(("name", "headers", "with_token"), ATTACKS, ids=[a[0] for a in ATTACKS])
def test_cross_site_writes_with_the_session_cookie_are_refused(app, client, account_client, database, name,
                                                               headers, with_token):
    browser, csrf, entry_id = _victim(app, account_client)
    h = dict(headers)
    if with_token:  # even a request that carries the right token is refused from a foreign origin
        h["X-CSRF-Token"] = csrf
    if "Cookie" in h:  # an attacker planting their own mm_csrf value next to the real session
        browser.cookies.set("mm_csrf", "forged")
        h.pop("Cookie")
    before = _counts(database)
    attempts = [
        browser.post(f"{API}/entries", json={"name": "Planted"}, headers=h),
        browser.post(f"{API}/entries/{entry_id}/journal", json={"body": "planted"}, headers=h),
        browser.patch(f"{API}/entries/{entry_id}", json={"notes": "defaced"}, headers=h),
        browser.delete(f"{API}/entries/{entry_id}", headers=h),
        browser.post(f"{API}/auth/tokens", json={"name": "stolen", "scopes": ["read", "write"]}, headers=h),
        browser.post(f"{API}/auth/logout", headers=h),
    ]
    for resp in attempts:
        assert resp.status_code == 403, (name, resp.request.url, resp.text)
        assert resp.json()["error"]["code"] == "csrf_failed"
    assert _counts(database) == before
    with database.session() as s:
        assert s.scalar(select(Entry.notes).where(Entry.id == entry_id)) == ""
    # the session survived (logout was refused too) and the real UI flow works
    ok = browser.post(f"{API}/entries", json={"name": "Legit"},
                      headers={"X-CSRF-Token": csrf, "Origin": OWN, "Sec-Fetch-Site": "same-origin"})
    if name == "token of the header only":
        assert ok.status_code == 403  # the planted cookie no longer matches the header
    else:
        assert ok.status_code == 201, ok.text


def test_origin_checks_apply_to_login_signup_and_single_user_mode(app, client, database, new_password):
    before = _counts(database)
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        assert client.post(f"{API}/entries", json={"name": "x"}, headers=headers).status_code == 403
        signup = client.post(f"{API}/auth/signup", headers=headers,
                             json={"username": "mallory", "email": "m@example.com", "password": new_password()})
        assert signup.status_code == 403
        login = client.post(f"{API}/auth/login", json={"username": "x", "password": "y" * 12}, headers=headers)
        assert login.status_code == 403
    assert _counts(database) == before
    assert client.get(f"{API}/auth/state").json()["mode"] == "single_user"
    # same-origin browsers and scripts without Origin/Sec-Fetch-Site pass
    assert client.post(f"{API}/entries", json={"name": "a"}, headers={"Origin": OWN}).status_code == 201
    assert client.post(f"{API}/entries", json={"name": "b"}, headers={"Sec-Fetch-Site": "same-origin"}
                       ).status_code == 201
    assert client.post(f"{API}/entries", json={"name": "c"}).status_code == 201
    # reads are not blocked by the origin check (GET is safe and SameSite=Lax governs cookies)
    assert client.get(f"{API}/entries", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 200


def test_bearer_requests_skip_the_csrf_token_but_not_the_origin_check(app, client, account_client):
    alice = account_client("alice")
    token = alice.post(f"{API}/auth/tokens", json={"name": "w", "scopes": ["read", "write"]}).json()["token"]
    c = TestClient(app, base_url=OWN, headers={"Authorization": f"Bearer {token}"})
    assert c.post(f"{API}/entries", json={"name": "script"}).status_code == 201
    assert c.post(f"{API}/entries", json={"name": "x"}, headers={"Origin": "https://evil.example"}
                  ).status_code == 403


def test_same_origin_parser():
    assert same_origin("http://127.0.0.1:8000", "http", "127.0.0.1:8000")
    assert same_origin("http://LOCALHOST", "http", "localhost:80")
    assert same_origin("https://mm.example.org", "https", "mm.example.org")
    assert not same_origin("https://mm.example.org", "http", "mm.example.org")
    assert not same_origin("http://mm.example.org.evil.com", "http", "mm.example.org")
    assert not same_origin("http://user@127.0.0.1:8000", "http", "127.0.0.1:8000")
    assert not same_origin("http://127.0.0.1:8000/path", "http", "127.0.0.1:8000")
    assert not same_origin("http://[::1", "http", "127.0.0.1:8000")
    assert not same_origin("file://", "http", "127.0.0.1:8000")
    assert not same_origin("http://127.0.0.1:8000", "http", "")
