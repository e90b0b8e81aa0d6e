"""Scenario 38: a request whose Host is not one the server serves (DNS rebinding: ``Host: evil.example`` with a
matching ``Origin``) is refused before any handler runs, and the first admin can never be created by it. Also:
reverse proxies (trusted or not), the public URL, Secure cookies."""

from __future__ import annotations

import json
import logging

import anyio
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import func, select

from modelmate.accounts.middleware import AuthMiddleware
from modelmate.api.hosts import HostPolicy
from modelmate.app import create_app
from modelmate.config import Settings
from modelmate.hostnames import parse_host_pattern, split_host
from modelmate.models import Entry, User

API = "/api/v1"
OWN = "http://127.0.0.1:8000"
EVIL = "http://evil.example:8000"
PUBLIC = "https://models.example.org"


def _counts(database) -> tuple[int, int]:
    with database.session() as s:
        return s.scalar(select(func.count()).select_from(Entry)), s.scalar(select(func.count()).select_from(User))


def _refused(resp) -> None:
    assert resp.status_code == 421, (resp.request.method, resp.request.url, resp.text)
    body = resp.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == "host_not_allowed"


def test_dns_rebinding_page_can_neither_write_read_nor_claim_the_server(app, client, database, make_entry,
                                                                        setup_token, new_password):
    make_entry(name="My private diary entry")
    token = setup_token()  # even a page that somehow had the real setup token gets nowhere
    before = _counts(database)
    page = TestClient(app, base_url=EVIL, headers={"Origin": EVIL})  # Host: evil.example:8000, same Origin
    _refused(page.post(f"{API}/entries", json={"name": "Planted"}))
    export = page.get(f"{API}/export", params={"format": "json"})
    _refused(export)
    assert "My private diary entry" not in export.text
    _refused(page.post(f"{API}/auth/signup", json={"username": "mallory", "email": "m@example.com",
                                                   "password": new_password(), "setup_token": token}))
    for path in ("/api/v1/entries", "/api/v1/health", "/", "/models/1", "/hf/api/models", "/docs",
                 "/api/v1/openapi.json", "/api/v1/no-such-route"):
        _refused(page.get(path))
    assert _counts(database) == before
    state = client.get(f"{API}/auth/state").json()
    assert state["mode"] == "single_user" and state["setup_required"]
    # the real server's own page still works (and the token is still unused)
    assert client.post(f"{API}/entries", json={"name": "Mine"}, headers={"Origin": OWN}).status_code == 201


def test_refused_before_anything_else_reads_the_request(app, client, database):
    page = TestClient(app, base_url=EVIL)
    _refused(page.post(f"{API}/entries", content=b"x" * (3 * 1024 * 1024), headers={"content-type": "text/plain"}))
    _refused(page.get(f"{API}/entries?q=%00"))  # not the NUL check's 422
    _refused(page.get(f"{API}/auth/me", headers={"Authorization": "Bearer mm_nope"}))  # not the token check's 401
    _refused(page.post(f"{API}/entries", json={"name": "x"}, headers={"Origin": "https://elsewhere.example"}))
    assert _counts(database)[0] == 0


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.1:8000", "127.0.0.1:1", "localhost", "LOCALHOST:9999",
                                  "localhost.", "[::1]", "[::1]:8000"])
def test_loopback_names_are_served_on_any_port(app, client, host):
    assert client.get(f"{API}/health", headers={"Host": host}).status_code == 200, host


@pytest.mark.parametrize("host", ["evil.example", "testserver", "127.0.0.1.evil.example", "localhost.evil.example",
                                  "evil.example:8000", "127.0.0.2", "[::2]", "0.0.0.0", "127.0.0.1:99999",
                                  "127.0.0.1:80x", "evil.example@127.0.0.1", "127.0.0.1/x", "", "[::1", "::1"])
def test_other_hosts_are_refused(app, client, host):
    _refused(client.get(f"{API}/health", headers={"Host": host}))


def _raw(app, headers: list[tuple[bytes, bytes]]) -> tuple[int, dict]:
    """Speak ASGI directly (httpx always sends exactly one Host header)."""
    sent: list[dict] = []

    async def run() -> None:
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                 "scheme": "http", "path": "/api/v1/health", "raw_path": b"/api/v1/health", "query_string": b"",
                 "root_path": "", "headers": headers, "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 8000),
                 "app": app}

        async def receive() -> dict:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict) -> None:
            sent.append(message)

        await app(scope, receive, send)

    anyio.run(run)
    return sent[0]["status"], json.loads(b"".join(m.get("body", b"") for m in sent[1:]) or b"{}")


def test_a_missing_or_repeated_host_header_is_refused(app, client):
    assert _raw(app, [(b"host", b"127.0.0.1:8000")])[0] == 200
    for headers in ([], [(b"host", b"127.0.0.1"), (b"host", b"evil.example")],
                    [(b"host", b"evil.example"), (b"host", b"127.0.0.1")]):
        status, body = _raw(app, headers)
        assert status == 421 and body["error"]["code"] == "host_not_allowed", headers


def test_the_csrf_check_never_trusts_a_host_nobody_validated():
    """The Origin check compares with the origins the host guard vouched for, never with a raw Host header."""
    sent: list[dict] = []

    async def handler(scope, receive, send) -> None:  # pragma: no cover - must not be reached
        raise AssertionError("the request got through")

    async def run() -> None:
        scope = {"type": "http", "method": "POST", "path": "/api/v1/entries", "scheme": "http", "query_string": b"",
                 "headers": [(b"host", b"evil.example"), (b"origin", b"http://evil.example")]}

        async def receive() -> dict:
            return {"type": "http.request", "body": b"{}", "more_body": False}

        async def send(message: dict) -> None:
            sent.append(message)

        await AuthMiddleware(handler)(scope, receive, send)

    anyio.run(run)
    assert sent[0]["status"] == 403
    assert json.loads(sent[1]["body"])["error"]["code"] == "csrf_failed"


# --- configuration ------------------------------------------------------------------------------------------------

def _policy(**settings) -> HostPolicy:
    return HostPolicy.from_settings(Settings(environment="test", **settings))


def test_allowed_hosts_setting_from_the_environment(monkeypatch):
    monkeypatch.setenv("MODELMATE_ALLOWED_HOSTS", "models.lan, *.example.org ,box.lan:8443")
    assert Settings().allowed_hosts == ["models.lan", "*.example.org", "box.lan:8443"]
    monkeypatch.setenv("MODELMATE_ALLOWED_HOSTS", '["models.lan", "[fd00::1]:8000"]')
    assert Settings().allowed_hosts == ["models.lan", "[fd00::1]:8000"]
    monkeypatch.setenv("MODELMATE_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.1")
    assert Settings().trusted_proxies == ["10.0.0.0/8", "192.0.2.1"]
    for bad in ("*", "*:8000", "evil example", "*.org", "host:0"):
        monkeypatch.setenv("MODELMATE_ALLOWED_HOSTS", bad)
        with pytest.raises(ValidationError):
            Settings()
    monkeypatch.delenv("MODELMATE_ALLOWED_HOSTS")
    monkeypatch.setenv("MODELMATE_TRUSTED_PROXIES", "not-an-ip")
    with pytest.raises(ValidationError):
        Settings()


def test_patterns_ports_and_wildcards():
    policy = _policy(allowed_hosts=["models.lan", "*.example.org", "box.lan:8443", "fd00::1"])
    assert policy.allows("models.lan", 80) and policy.allows("models.lan", 12345)
    assert policy.allows("a.example.org", 443) and policy.allows("a.b.example.org", 80)
    assert not policy.allows("example.org", 443)  # a wildcard covers the subdomains only
    assert not policy.allows("evilexample.org", 443) and not policy.allows("example.org.evil", 443)
    assert policy.allows("box.lan", 8443) and not policy.allows("box.lan", 8000)
    assert policy.allows("fd00::1", 8000)
    assert split_host("[FD00::1]:8000") == ("fd00::1", 8000)
    assert parse_host_pattern("*.Example.ORG:443").wildcard


def test_the_bind_address_is_served_unless_it_is_a_wildcard():
    assert _policy(host="192.168.1.10").allows("192.168.1.10", 8000)
    assert _policy(host="models.lan").allows("models.lan", 8000)
    wildcard = _policy(host="0.0.0.0")
    assert not wildcard.allows("0.0.0.0", 8000) and not wildcard.allows("192.168.1.10", 8000)
    assert wildcard.allows("127.0.0.1", 8000)  # the defaults stay
    assert not _policy(host="::").allows("::", 8000)


def test_public_url_is_normalised_and_served():
    s = Settings(environment="test", public_url="HTTPS://Models.Example.org/")
    assert s.public_url == "https://models.example.org" and s.cookies_secure
    assert HostPolicy.from_settings(s).allows("models.example.org", 443)
    assert not Settings(environment="test", public_url="http://models.lan:8080").cookies_secure
    for bad in ("models.example.org", "ftp://x.example", "https://x.example/sub", "https://u:p@x.example",
                "https://x.example/?a=1"):
        with pytest.raises(ValidationError):
            Settings(environment="test", public_url=bad)


# --- public URL, reverse proxies, cookies ---------------------------------------------------------------------------

@pytest.fixture
def proxied_app(settings, database):
    configured = settings.model_copy(update={"public_url": PUBLIC, "trusted_proxies": ["10.0.0.0/8"]})
    return create_app(configured, database=database)


def test_a_trusted_proxy_forwarding_the_public_host_is_served(proxied_app, database, new_password, caplog):
    from modelmate.accounts.setup import rotate

    caplog.set_level(logging.INFO, logger="modelmate.access")
    forwarded = {"X-Forwarded-Host": "models.example.org", "X-Forwarded-Proto": "https",
                 "X-Forwarded-For": "198.51.100.9, 203.0.113.7", "Origin": PUBLIC}
    with TestClient(proxied_app, base_url="http://10.0.0.2:8000", client=("10.0.0.1", 40000),
                    headers=forwarded) as proxy:
        assert proxy.post(f"{API}/entries", json={"name": "via proxy"}).status_code == 201
        signup = proxy.post(f"{API}/auth/signup", json={"username": "alice", "email": "a@example.com",
                                                        "password": new_password(),
                                                        "setup_token": rotate(proxied_app.state.settings)})
        assert signup.status_code == 201, signup.text
        cookies = signup.headers.get_list("set-cookie")
        assert cookies and all("Secure" in c for c in cookies)
        # the forwarded host is what is checked, and what the Origin must match
        _refused(proxy.get(f"{API}/health", headers={"X-Forwarded-Host": "evil.example"}))
        wrong_scheme = proxy.post(f"{API}/entries", json={"name": "x"}, headers={"Origin": "http://models.example.org"})
        assert wrong_scheme.status_code == 403 and wrong_scheme.json()["error"]["code"] == "csrf_failed"
    assert _counts(database) == (1, 1)
    lines = [r.getMessage() for r in caplog.records if r.name == "modelmate.access"]
    assert any(line.startswith("203.0.113.7:0 ") and "POST /api/v1/entries" in line for line in lines), lines


def test_forwarding_headers_from_anyone_else_are_ignored(settings, database, new_password, caplog):
    from modelmate.accounts.setup import rotate

    caplog.set_level(logging.INFO, logger="modelmate.access")
    configured = settings.model_copy(update={"trusted_proxies": ["10.0.0.0/8"], "allowed_hosts": ["models.lan"]})
    app = create_app(configured, database=database)
    spoofed = {"X-Forwarded-Host": "models.lan", "X-Forwarded-Proto": "https", "X-Forwarded-For": "10.9.9.9"}
    with TestClient(app, base_url=OWN, client=("192.0.2.44", 40000), headers=spoofed) as outsider:
        # X-Forwarded-Host is not believed: the Host (127.0.0.1) is what counts, so the Origin must match that
        resp = outsider.post(f"{API}/entries", json={"name": "x"}, headers={"Origin": "https://models.lan"})
        assert resp.status_code == 403 and resp.json()["error"]["code"] == "csrf_failed"
        assert outsider.post(f"{API}/entries", json={"name": "ok"}, headers={"Origin": OWN}).status_code == 201
        evil = TestClient(app, base_url=EVIL, client=("192.0.2.44", 40000), headers=spoofed)
        _refused(evil.get(f"{API}/health"))  # a forwarded allowed host cannot launder a bad Host either
        # nor X-Forwarded-Proto: the cookie of a plain-http request is not Secure
        signup = outsider.post(f"{API}/auth/signup", json={"username": "bob", "email": "b@example.com",
                                                           "password": new_password(),
                                                           "setup_token": rotate(configured)})
        assert signup.status_code == 201
        assert not any("Secure" in c for c in signup.headers.get_list("set-cookie"))
    lines = [r.getMessage() for r in caplog.records if r.name == "modelmate.access"]
    assert lines and all(line.startswith("192.0.2.44:40000 ") for line in lines), lines


def test_an_https_public_url_makes_the_session_cookie_secure(settings, database, new_password):
    from modelmate.accounts.setup import rotate

    configured = settings.model_copy(update={"public_url": PUBLIC})
    with TestClient(create_app(configured, database=database), base_url=OWN) as c:  # plain http on loopback
        # the public URL's Origin is one of ours even when the request arrived on another served host
        assert c.post(f"{API}/entries", json={"name": "x"}, headers={"Origin": PUBLIC}).status_code == 201
        other_scheme = c.post(f"{API}/entries", json={"name": "y"}, headers={"Origin": "http://models.example.org"})
        assert other_scheme.status_code == 403
        resp = c.post(f"{API}/auth/signup", json={"username": "alice", "email": "a@example.com",
                                                  "password": new_password(), "setup_token": rotate(configured)})
        assert resp.status_code == 201
        cookies = resp.headers.get_list("set-cookie")
        assert len(cookies) == 2 and all("Secure" in h for h in cookies)
        # (a browser sends Secure cookies over https only; this test client needs them spelled out on http)
        sid, csrf = resp.cookies["mm_session"], resp.cookies["mm_csrf"]
        c.cookies.clear()
        logout = c.post(f"{API}/auth/logout", headers={"Origin": PUBLIC, "X-CSRF-Token": csrf,
                                                       "Cookie": f"mm_session={sid}; mm_csrf={csrf}"})
        assert logout.status_code == 204
        assert all("Secure" in h for h in logout.headers.get_list("set-cookie"))
