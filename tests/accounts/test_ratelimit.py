"""The sliding-window limiter itself, on a controlled clock (the API-level scenario is in tests/security)."""

from __future__ import annotations

import pytest

from modelmate.accounts.ratelimit import AuthRateLimiter, InMemoryBackend, Limit, RateLimited


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_ip_window_slides_and_reports_retry_after():
    clock = Clock()
    rl = AuthRateLimiter(ip_attempts=Limit(3, 60), account_failures=Limit(2, 60), clock=clock)
    for _ in range(3):
        rl.check("1.1.1.1")
        clock.t += 10
    with pytest.raises(RateLimited) as exc:
        rl.check("1.1.1.1")
    assert exc.value.retry_after == 30  # the first attempt (t=1000) leaves the window at t=1060; now t=1030
    rl.check("2.2.2.2")  # another IP is unaffected
    clock.t += 30
    rl.check("1.1.1.1")  # one slot freed


def test_account_failures_are_per_name_and_reset_on_success():
    clock = Clock()
    rl = AuthRateLimiter(ip_attempts=Limit(100, 60), account_failures=Limit(2, 60), clock=clock)
    rl.failed("Alice")
    rl.failed("alice")
    with pytest.raises(RateLimited):
        rl.check("9.9.9.9", "ALICE")
    rl.check("9.9.9.9", "bob")
    clock.t += 61
    rl.check("9.9.9.9", "alice")
    rl.failed("alice")
    rl.succeeded("alice")
    rl.failed("alice")
    rl.check("9.9.9.9", "alice")


def test_backend_memory_is_bounded():
    backend = InMemoryBackend(max_keys=100)
    for i in range(1000):
        backend.hit(f"k{i}", 60, 1000.0 + i * 0.001)
    assert len(backend._events) <= 100
    assert backend.count("k999", 60, 1001.0) == (1, pytest.approx(1000.999))
