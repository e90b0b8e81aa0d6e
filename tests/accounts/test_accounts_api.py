"""Single-user mode → accounts: signup hand-over, login, logout, password change, sessions, admin."""

from __future__ import annotations

from datetime import timedelta

from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from modelmate.db.base import utcnow
from modelmate.models import Entry, User, UserSession

API = "/api/v1"


def _anon(app) -> TestClient:
    return TestClient(app, base_url="http://127.0.0.1:8000")


def test_first_signup_takes_over_single_user_data_then_anonymous_is_401(app, client, make_entry, account_client,
                                                                         database):
    state = client.get(f"{API}/auth/state").json()
    assert state["mode"] == "single_user" and state["user"]["is_local"] and state["signup_open"]
    before = [make_entry(name=f"Model {i}", notes=f"note {i}") for i in range(3)]
    with database.session() as s:
        local_id = s.scalars(select(User.id).where(User.is_local.is_(True))).one()

    alice = account_client("alice")
    assert alice.user["id"] == local_id and alice.user["is_admin"] and not alice.user["is_local"]
    page = alice.get(f"{API}/entries").json()
    assert sorted(e["id"] for e in page["items"]) == sorted(e["id"] for e in before)
    with database.session() as s:
        assert s.scalar(select(User).where(User.is_local.is_(True))) is None
        assert {o for (o,) in s.execute(select(Entry.owner_id))} == {alice.user["id"]}

    anon = _anon(app)
    for method, path in [("GET", "/entries"), ("GET", f"/entries/{before[0]['id']}"), ("GET", "/tags"),
                         ("POST", "/entries"), ("GET", "/models"), ("GET", "/auth/me")]:
        resp = anon.request(method, API + path, json={"name": "x"} if method == "POST" else None)
        assert resp.status_code == 401, (method, path, resp.text)
        assert resp.json()["error"]["code"] == "unauthorized"
    state = anon.get(f"{API}/auth/state").json()
    assert state == {"mode": "accounts", "user": None, "signup_open": True, "setup_required": False}
    assert anon.get(f"{API}/health").status_code == 200

    bob = account_client("bob")
    assert bob.user["id"] != alice.user["id"] and not bob.user["is_admin"]
    assert bob.get(f"{API}/entries").json()["total"] == 0
    assert bob.get(f"{API}/auth/me").json()["username"] == "bob"
    assert alice.get(f"{API}/entries").json()["total"] == 3


def test_restart_after_accounts_does_not_recreate_the_local_user(app, client, account_client, settings, database):
    account_client("alice")
    from modelmate.app import create_app

    with TestClient(create_app(settings, database=database), base_url="http://127.0.0.1:8000") as again:
        assert again.get(f"{API}/entries").status_code == 401
        assert again.get(f"{API}/auth/state").json()["mode"] == "accounts"
    with database.session() as s:
        assert s.scalar(select(User).where(User.is_local.is_(True))) is None


def test_login_by_username_or_email_logout_revokes_server_side(app, client, account_client, database):
    alice = account_client("alice", email="Alice@Example.COM")
    anon = _anon(app)
    wrong = anon.post(f"{API}/auth/login", json={"username": "alice", "password": alice.password + "x"})
    assert wrong.status_code == 401 and wrong.json()["error"]["message"] == "invalid username or password"
    for login in ("alice", "ALICE", "alice@example.com"):
        c = _anon(app)
        resp = c.post(f"{API}/auth/login", json={"username": login, "password": alice.password})
        assert resp.status_code == 200, resp.text
        assert resp.json()["user"]["username"] == "alice"
        cookies = resp.headers.get_list("set-cookie")
        session_cookie = next(h for h in cookies if h.startswith("mm_session="))
        csrf_cookie = next(h for h in cookies if h.startswith("mm_csrf="))
        assert "HttpOnly" in session_cookie and "samesite=lax" in session_cookie.lower()
        assert "HttpOnly" not in csrf_cookie and "samesite=lax" in csrf_cookie.lower()
        assert "Secure" not in session_cookie  # plain http here; https requests get Secure
    assert anon.post(f"{API}/auth/login", json={"username": "al\x00ice", "password": "x" * 12}).status_code == 422
    c = _anon(app)
    c.post(f"{API}/auth/login", json={"username": "alice", "password": alice.password})
    sid, csrf = c.cookies["mm_session"], c.cookies["mm_csrf"]
    assert c.get(f"{API}/auth/me").status_code == 200
    assert c.post(f"{API}/auth/logout").status_code == 403  # cookie-authenticated POST needs the CSRF token
    assert c.post(f"{API}/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    replay = _anon(app)
    replay.cookies.set("mm_session", sid)
    replay.cookies.set("mm_csrf", csrf)
    assert replay.get(f"{API}/auth/me").status_code == 401  # revoked on the server, not just forgotten
    assert alice.get(f"{API}/auth/me").status_code == 200  # other sessions untouched


def test_https_requests_get_secure_cookies(app, client, new_password, setup_token):
    c = TestClient(app, base_url="https://127.0.0.1:8443")
    resp = c.post(f"{API}/auth/signup", json={"username": "alice", "email": "a@example.com",
                                              "password": new_password(), "setup_token": setup_token()})
    assert resp.status_code == 201
    assert all("Secure" in h for h in resp.headers.get_list("set-cookie"))


def test_signup_validation_and_password_policy(app, client, account_client, new_password, setup_token):
    anon = _anon(app)
    token = setup_token()  # the first account (carol) needs it; later signups ignore it

    def signup(**kw):
        body = {"username": "carol", "email": "carol@example.com", "password": new_password(),
                "setup_token": token} | kw
        return anon.post(f"{API}/auth/signup", json=body)

    for bad in ({"username": "ab"}, {"username": "x" * 33}, {"username": "has space"}, {"username": "Ünï"},
                {"username": "admin"}, {"email": "not-an-email"}, {"email": "a@b"}, {"email": "a@@b.com"},
                {"password": "short"}):
        resp = signup(**bad)
        assert resp.status_code == 422, (bad, resp.text)
    for weak in ("password123", "1234567890", "qwertyuiop", "aaaaaaaaaaaa", "carol@example.com", "changeme123"):
        resp = signup(password=weak)
        assert resp.status_code == 422 and resp.json()["error"]["code"] == "weak_password", (weak, resp.text)
    created = signup(username="CAROL")
    assert created.status_code == 201 and created.json()["user"]["username"] == "carol"  # stored lower-case
    anon.cookies.clear()
    dup = signup(email="other@example.com")
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "username_taken"
    dup = signup(username="carol2", email="CAROL@example.com")
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "email_taken"


def test_signup_closed_after_first_account(client, settings, database, new_password, setup_token):
    from modelmate.app import create_app

    closed = create_app(settings.model_copy(update={"signup_open": False}), database=database)
    with TestClient(closed, base_url="http://127.0.0.1:8000") as c:
        first = c.post(f"{API}/auth/signup", json={"username": "owner", "email": "o@example.com",
                                                   "password": new_password(), "setup_token": setup_token()})
        assert first.status_code == 201  # the first account is always possible (it claims the server)
        other = TestClient(closed, base_url="http://127.0.0.1:8000")
        assert other.get(f"{API}/auth/state").json()["signup_open"] is False
        resp = other.post(f"{API}/auth/signup", json={"username": "intruder", "email": "i@example.com",
                                                      "password": new_password()})
        assert resp.status_code == 403 and resp.json()["error"]["code"] == "signup_closed"


def test_password_is_argon2id_and_rehashed_when_parameters_change(app, client, account_client, database):
    alice = account_client("alice")
    with database.session() as s:
        stored = s.scalar(select(User.password_hash).where(User.username == "alice"))
        assert stored.startswith("$argon2id$") and alice.password not in stored
        weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(alice.password)
        s.execute(update(User).where(User.username == "alice").values(password_hash=weak))
    resp = _anon(app).post(f"{API}/auth/login", json={"username": "alice", "password": alice.password})
    assert resp.status_code == 200
    with database.session() as s:
        upgraded = s.scalar(select(User.password_hash).where(User.username == "alice"))
    assert upgraded != weak and upgraded.startswith("$argon2id$") and "m=65536" in upgraded


def test_password_change_revokes_other_sessions(app, client, account_client, new_password):
    alice = account_client("alice")
    other = _anon(app)
    other.post(f"{API}/auth/login", json={"username": "alice", "password": alice.password})
    assert other.get(f"{API}/auth/me").status_code == 200
    bad = alice.post(f"{API}/auth/password", json={"current_password": "wrong-" + alice.password,
                                                   "new_password": new_password()})
    assert bad.status_code == 403
    weak = alice.post(f"{API}/auth/password", json={"current_password": alice.password,
                                                    "new_password": "password123"})
    assert weak.status_code == 422
    new = new_password()
    ok = alice.post(f"{API}/auth/password", json={"current_password": alice.password, "new_password": new})
    assert ok.status_code == 204
    assert alice.get(f"{API}/auth/me").status_code == 200  # this session stays
    assert other.get(f"{API}/auth/me").status_code == 401
    assert _anon(app).post(f"{API}/auth/login", json={"username": "alice", "password": alice.password}
                           ).status_code == 401
    assert _anon(app).post(f"{API}/auth/login", json={"username": "alice", "password": new}).status_code == 200


def test_expired_session_is_anonymous_and_sliding_expiry_moves(app, client, account_client, database):
    alice = account_client("alice")
    with database.session() as s:
        s.execute(update(UserSession).values(last_seen_at=utcnow() - timedelta(hours=2),
                                             expires_at=utcnow() + timedelta(hours=1)))
    resp = alice.get(f"{API}/auth/me")
    assert resp.status_code == 200
    assert any(h.startswith("mm_session=") for h in resp.headers.get_list("set-cookie"))  # cookie re-sent
    with database.session() as s:
        row = s.scalars(select(UserSession)).one()
        assert row.expires_at > utcnow() + timedelta(days=13)
    resp = alice.get(f"{API}/auth/me")  # touched less than a minute ago: no write, no cookie
    assert resp.status_code == 200 and not resp.headers.get_list("set-cookie")
    with database.session() as s:
        s.execute(update(UserSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert alice.get(f"{API}/auth/me").status_code == 401


def test_admin_endpoints(app, client, account_client, database):
    alice = account_client("alice")  # first account: admin
    bob = account_client("bob")
    assert bob.get(f"{API}/admin/users").status_code == 403
    assert bob.patch(f"{API}/admin/users/{alice.user['id']}", json={"is_active": False}).status_code == 403
    users = alice.get(f"{API}/admin/users").json()
    assert [u["username"] for u in users["items"]] == ["alice", "bob"] and users["total"] == 2
    token = bob.post(f"{API}/auth/tokens", json={"name": "t", "scopes": ["read"]}).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    assert _anon(app).get(f"{API}/auth/me", headers=auth).status_code == 200

    resp = alice.patch(f"{API}/admin/users/{bob.user['id']}", json={"is_active": False})
    assert resp.status_code == 200 and resp.json()["is_active"] is False
    assert bob.get(f"{API}/auth/me").status_code == 401
    assert _anon(app).get(f"{API}/auth/me", headers=auth).status_code == 401
    login = _anon(app).post(f"{API}/auth/login", json={"username": "bob", "password": bob.password})
    assert login.status_code == 401 and login.json()["error"]["message"] == "invalid username or password"

    last = alice.patch(f"{API}/admin/users/{alice.user['id']}", json={"is_admin": False})
    assert last.status_code == 409 and last.json()["error"]["code"] == "last_admin"
    assert alice.patch(f"{API}/admin/users/999999", json={"is_active": True}).status_code == 404
    assert alice.patch(f"{API}/admin/users/{bob.user['id']}", json={"is_active": True, "is_admin": True}
                       ).json()["is_admin"] is True
    assert _anon(app).get(f"{API}/auth/me", headers=auth).status_code == 200  # tokens work again
    assert bob.get(f"{API}/auth/me").status_code == 401  # but sessions were revoked for good
