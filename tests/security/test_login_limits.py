"""Scenario 21: login floods are limited per IP and per account (429 + Retry-After); others are unaffected;
an unknown user gets exactly the answer a wrong password gets, after the same work."""

from __future__ import annotations

import statistics
import time

from fastapi.testclient import TestClient

API = "/api/v1"


def _from(app, ip: str) -> TestClient:
    return TestClient(app, base_url="http://127.0.0.1:8000", client=(ip, 40000))


def test_thousand_logins_from_one_ip_are_cut_off_quickly(app, client, account_client):
    alice = account_client("alice")
    bob = account_client("bob")
    attacker = _from(app, "203.0.113.7")
    statuses = []
    started = time.monotonic()
    first_429 = None
    for i in range(1000):
        resp = attacker.post(f"{API}/auth/login", json={"username": f"user{i % 50}", "password": f"guess-{i:06d}"})
        statuses.append(resp.status_code)
        if resp.status_code == 429 and first_429 is None:
            first_429 = resp
    elapsed = time.monotonic() - started
    assert statuses.count(401) == 30 and statuses.count(429) == 970, {s: statuses.count(s) for s in set(statuses)}
    assert statuses.index(429) == 30
    assert first_429 is not None and first_429.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(first_429.headers["Retry-After"]) <= 300
    # even the right password is refused from the flooding IP while the window lasts
    blocked = attacker.post(f"{API}/auth/login", json={"username": "alice", "password": alice.password})
    assert blocked.status_code == 429
    # 970 refusals cost no password hashing: far less than one argon2 verification each
    assert elapsed < 30 + 970 * 0.02, elapsed
    # another IP, and the accounts themselves, are unaffected
    elsewhere = _from(app, "198.51.100.20")
    assert elsewhere.post(f"{API}/auth/login", json={"username": "bob", "password": bob.password}).status_code == 200
    assert alice.get(f"{API}/auth/me").status_code == 200


def test_many_ips_on_one_account_lock_that_account_only(app, client, account_client):
    alice = account_client("alice")
    bob = account_client("bob")
    codes = []
    for i in range(12):
        resp = _from(app, f"192.0.2.{i + 1}").post(f"{API}/auth/login",
                                                   json={"username": "alice", "password": f"wrong-guess-{i}"})
        codes.append(resp.status_code)
    assert codes[:10] == [401] * 10 and codes[10:] == [429, 429], codes
    # the account is locked for everyone (a botnet cannot keep guessing), including a fresh IP
    fresh = _from(app, "192.0.2.200").post(f"{API}/auth/login", json={"username": "ALICE", "password": alice.password})
    assert fresh.status_code == 429 and int(fresh.headers["Retry-After"]) > 0
    # other accounts, and alice's existing sessions, keep working
    assert _from(app, "192.0.2.201").post(f"{API}/auth/login",
                                          json={"username": "bob", "password": bob.password}).status_code == 200
    assert alice.get(f"{API}/auth/me").status_code == 200


def test_unknown_user_is_limited_the_same_way(app, client, account_client):
    account_client("alice")
    codes = [_from(app, f"192.0.2.{i + 1}").post(f"{API}/auth/login",
                                                 json={"username": "ghost", "password": f"guess-{i}-xxxxx"}).status_code
             for i in range(11)]
    assert codes == [401] * 10 + [429]


def test_unknown_user_and_wrong_password_are_indistinguishable(app, client, account_client):
    alice = account_client("alice")
    c = _from(app, "192.0.2.50")
    timings: dict[str, list[float]] = {"wrong": [], "unknown": []}
    bodies = {}
    for i in range(4):
        for kind, username in (("wrong", "alice"), ("unknown", f"nobody{i}")):
            t = time.perf_counter()
            resp = c.post(f"{API}/auth/login", json={"username": username, "password": f"not-it-{i}-xxxxxx"})
            timings[kind].append(time.perf_counter() - t)
            bodies.setdefault(kind, set()).add((resp.status_code, resp.text, resp.headers.get("content-type")))
    assert bodies["wrong"] == bodies["unknown"]
    assert len(bodies["wrong"]) == 1 and next(iter(bodies["wrong"]))[0] == 401
    # both paths run one Argon2 verification: the medians are within a factor of 2 (an unhashed path would be
    # ~100x faster than a 64 MiB Argon2id check)
    ratio = statistics.median(timings["unknown"]) / statistics.median(timings["wrong"])
    assert 0.5 < ratio < 2.0, timings
    assert alice.get(f"{API}/auth/me").status_code == 200


def test_signup_is_limited_per_ip(app, client, account_client):
    account_client("alice")
    c = _from(app, "203.0.113.99")
    codes = [c.post(f"{API}/auth/signup", json={"username": "x", "email": "bad", "password": "p"}).status_code
             for _ in range(3)]
    assert codes == [422, 422, 422]  # malformed requests are rejected before they cost a slot
    codes = []
    for i in range(31):
        c.cookies.clear()
        codes.append(c.post(f"{API}/auth/signup", json={"username": "taken" if i else "dupe", "email":
                                                        f"d{i}@example.com", "password": "weak"}).status_code)
    assert codes[-1] == 429 and 429 not in codes[:30], codes
