"""Scenario 21: login floods are limited per IP and per account (429 + Retry-After); others are unaffected;
an unknown user gets exactly the answer a wrong password gets, after the same work. Wrong passwords slow down the
client that sent them, never lock the owner out (issue 15: lockout as a denial of service)."""

from __future__ import annotations

import statistics
import time

from fastapi.testclient import TestClient

from modelmate.accounts.ratelimit import AuthRateLimiter

API = "/api/v1"


class Clock:
    def __init__(self) -> None:
        self.t = 10_000.0

    def __call__(self) -> float:
        return self.t


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


def test_many_ips_on_one_account_hold_back_new_clients_but_not_the_owners(app, client, account_client):
    alice = account_client("alice")
    bob = account_client("bob")
    home = _from(app, "192.0.2.150")  # where alice usually signs in: a client that succeeded before
    assert home.post(f"{API}/auth/login", json={"username": "alice", "password": alice.password}).status_code == 200
    codes = []
    for i in range(12):
        resp = _from(app, f"192.0.2.{i + 1}").post(f"{API}/auth/login",
                                                   json={"username": "alice", "password": f"wrong-guess-{i}"})
        codes.append(resp.status_code)
    assert codes[:10] == [401] * 10 and codes[10:] == [429, 429], codes
    # a distributed guess: clients new to the account wait (a botnet cannot keep guessing, one try per address) …
    fresh = _from(app, "192.0.2.200").post(f"{API}/auth/login", json={"username": "ALICE", "password": alice.password})
    assert fresh.status_code == 429 and int(fresh.headers["Retry-After"]) > 0
    # … but the owner's own client is never locked out
    home.cookies.clear()  # signed out since; signing in again from the same machine
    again = home.post(f"{API}/auth/login", json={"username": "alice", "password": alice.password})
    assert again.status_code == 200, again.text
    # other accounts, and alice's existing sessions, keep working
    assert _from(app, "192.0.2.201").post(f"{API}/auth/login",
                                          json={"username": "bob", "password": bob.password}).status_code == 200
    assert alice.get(f"{API}/auth/me").status_code == 200


def _guess_until(c: TestClient, clock: Clock, username: str, failures: int) -> list[int]:
    """Wrong passwords from one client until ``failures`` were refused with 401, waiting out each 429 on the fake
    clock; returns every Retry-After met on the way."""
    waits: list[int] = []
    failed = 0
    while failed < failures:
        resp = c.post(f"{API}/auth/login", json={"username": username, "password": f"guess-{failed}-xxxxxxxx"})
        if resp.status_code == 401:
            failed += 1
            continue
        assert resp.status_code == 429 and resp.json()["error"]["code"] == "rate_limited", resp.text
        waits.append(int(resp.headers["Retry-After"]))
        clock.t += waits[-1]
    return waits


def test_wrong_passwords_slow_the_guesser_down_and_never_lock_the_owner_out(app, client, account_client):
    alice = account_client("alice")
    clock = Clock()
    app.state.auth_limiter = AuthRateLimiter(clock=clock)
    attacker = _from(app, "203.0.113.66")
    waits = _guess_until(attacker, clock, "alice", 20)
    # five free tries (typos), then waits that double up to 15 minutes
    assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900, 900, 900], waits
    blocked = attacker.post(f"{API}/auth/login", json={"username": "alice", "password": alice.password})
    assert blocked.status_code == 429 and blocked.headers["Retry-After"] == "900"  # even the right password waits
    # alice, from another client, signs in at once with her password
    elsewhere = _from(app, "198.51.100.7")
    ok = elsewhere.post(f"{API}/auth/login", json={"username": "alice", "password": alice.password})
    assert ok.status_code == 200, ok.text
    # … which does not let the guesser go on
    assert attacker.post(f"{API}/auth/login", json={"username": "alice", "password": "x" * 12}).status_code == 429
    # an account that does not exist is throttled in exactly the same way
    ghost_clock_start = clock.t
    assert _guess_until(_from(app, "203.0.113.67"), clock, "ghost", 20) == waits
    assert clock.t - ghost_clock_start == sum(waits)


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
