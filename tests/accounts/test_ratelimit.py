"""The login limiter itself, on a controlled clock (the API-level scenarios are in tests/security)."""

from __future__ import annotations

import pytest

from modelmate.accounts.ratelimit import AuthRateLimiter, Backoff, InMemoryBackend, Limit, RateLimited, client_key


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _wait(rl: AuthRateLimiter, ip: str, account: str | None = None) -> int | None:
    try:
        rl.check(ip, account)
    except RateLimited as exc:
        return exc.retry_after
    return None


def test_ip_window_slides_and_reports_retry_after():
    clock = Clock()
    rl = AuthRateLimiter(ip_attempts=Limit(3, 60), clock=clock)
    for _ in range(3):
        rl.check("1.1.1.1")
        clock.t += 10
    with pytest.raises(RateLimited) as exc:
        rl.check("1.1.1.1")
    assert exc.value.retry_after == 30  # the first attempt (t=1000) leaves the window at t=1060; now t=1030
    rl.check("2.2.2.2")  # another IP is unaffected
    clock.t += 30
    rl.check("1.1.1.1")  # one slot freed


def test_failures_slow_down_that_client_on_that_account_only_with_doubling_waits():
    clock = Clock()
    rl = AuthRateLimiter(ip_attempts=Limit(1000, 60), backoff=Backoff(free=2, base_s=1, cap_s=8), clock=clock)
    waits = []
    for _ in range(8):
        wait = _wait(rl, "9.9.9.9", "ALICE")
        if wait is not None:
            waits.append(wait)
            clock.t += wait
            rl.check("9.9.9.9", "alice")
        rl.failed("Alice", "9.9.9.9")
    assert waits == [1, 2, 4, 8, 8, 8]  # two free failures, then 1 s, 2 s, 4 s … capped at 8 s
    assert _wait(rl, "9.9.9.9", "alice") == 8
    assert _wait(rl, "9.9.9.9", "bob") is None  # the same client on another account
    assert _wait(rl, "8.8.8.8", "alice") is None  # the owner, from elsewhere, is not slowed down
    rl.succeeded("alice", "8.8.8.8")
    assert _wait(rl, "9.9.9.9", "alice") == 8  # someone else's success does not reset the guesser's wait
    clock.t += 8
    rl.check("9.9.9.9", "alice")
    rl.succeeded("alice", "9.9.9.9")  # a success resets the client's own failures
    rl.failed("alice", "9.9.9.9")
    assert _wait(rl, "9.9.9.9", "alice") is None


def test_failures_are_forgotten_after_a_quiet_period():
    clock = Clock()
    rl = AuthRateLimiter(backoff=Backoff(free=1, base_s=10, cap_s=100, forget_s=500), clock=clock)
    for _ in range(4):
        rl.failed("alice", "9.9.9.9")
    assert _wait(rl, "9.9.9.9", "alice") == 80
    clock.t += 500
    assert _wait(rl, "9.9.9.9", "alice") is None
    rl.failed("alice", "9.9.9.9")
    assert _wait(rl, "9.9.9.9", "alice") == 10  # a fresh streak


def test_many_clients_on_one_account_hold_back_unknown_clients_but_not_trusted_ones():
    clock = Clock()
    rl = AuthRateLimiter(account_clients=Limit(3, 60), clock=clock)
    rl.check("192.0.2.100", "alice")
    rl.succeeded("alice", "192.0.2.100")  # the owner's usual client
    for i in range(3):
        rl.check(f"198.51.100.{i}", "alice")
        rl.failed("alice", f"198.51.100.{i}")
    for _ in range(5):  # one client failing again is still one client
        rl.failed("alice", "198.51.100.0")
    assert _wait(rl, "198.51.100.77", "alice") == 60  # a new client waits until the wave has passed
    assert _wait(rl, "198.51.100.77", "bob") is None  # other accounts are unaffected
    assert not rl.is_trusted("alice", "198.51.100.77") and rl.is_trusted("ALICE", "192.0.2.100")
    assert _wait(rl, "192.0.2.100", "alice") is None  # the owner's own client gets in
    clock.t += 60
    assert _wait(rl, "198.51.100.77", "alice") is None


def test_unknown_accounts_are_limited_exactly_like_existing_ones():
    def sequence(account: str) -> list[int | None]:
        clock = Clock()
        rl = AuthRateLimiter(clock=clock)
        out = []
        for _ in range(12):
            out.append(_wait(rl, "203.0.113.9", account))
            clock.t += out[-1] or 0
            rl.failed(account, "203.0.113.9")
        return out

    assert sequence("alice") == sequence("nobody-at-all") == [None] * 5 + [1, 2, 4, 8, 16, 32, 64]


def test_an_ipv6_client_is_its_64_network():
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:192.0.2.1") == "192.0.2.1" and client_key("192.0.2.1") == "192.0.2.1"
    assert client_key("testclient") == "testclient"
    rl = AuthRateLimiter(backoff=Backoff(free=1), clock=Clock())
    rl.failed("alice", "2001:db8:1:2::1")
    assert _wait(rl, "2001:db8:1:2::ffff", "alice") == 1  # rotating inside the /64 does not help


def test_backend_memory_is_bounded():
    backend = InMemoryBackend(max_keys=100)
    for i in range(1000):
        backend.hit(f"k{i}", 60, 1000.0 + i * 0.001)
        backend.bump(f"s{i}", 600, 1000.0 + i * 0.001)
    assert len(backend._events) <= 100 and len(backend._streaks) <= 100
    assert backend.count("k999", 60, 1001.0) == (1, pytest.approx(1000.999))
    assert backend.streak("s999", 600, 1001.0) == (1, pytest.approx(1000.999))
