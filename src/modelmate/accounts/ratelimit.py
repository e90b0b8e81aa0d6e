"""Sliding-window rate limits for login and signup.

The counters live in memory (one server process). :class:`RateLimitBackend` is the seam for a shared
store later (Redis, a database table): :class:`AuthRateLimiter` only talks to the backend through it.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


class RateLimitBackend(Protocol):
    def hit(self, key: str, window_s: float, now: float) -> None:
        """Record one event for ``key``."""

    def count(self, key: str, window_s: float, now: float) -> tuple[int, float | None]:
        """Events for ``key`` within the window, and the time of the oldest one (None if none)."""

    def reset(self, key: str) -> None:
        """Forget every event of ``key``."""


class InMemoryBackend:
    """Per-key deques of event times, pruned on access; a lock makes it safe across request threads."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._max_keys = max_keys

    def _prune(self, key: str, window_s: float, now: float) -> deque[float] | None:
        events = self._events.get(key)
        if events is None:
            return None
        while events and events[0] <= now - window_s:
            events.popleft()
        if not events:
            del self._events[key]
            return None
        return events

    def hit(self, key: str, window_s: float, now: float) -> None:
        with self._lock:
            events = self._prune(key, window_s, now)
            if events is None:
                if len(self._events) >= self._max_keys:
                    self._evict(now, window_s)
                events = self._events[key] = deque()
            events.append(now)

    def count(self, key: str, window_s: float, now: float) -> tuple[int, float | None]:
        with self._lock:
            events = self._prune(key, window_s, now)
            if not events:
                return 0, None
            return len(events), events[0]

    def reset(self, key: str) -> None:
        with self._lock:
            self._events.pop(key, None)

    def _evict(self, now: float, window_s: float) -> None:
        # Keep memory bounded under a flood of distinct keys: drop expired keys, then the stalest ones.
        for key in list(self._events):
            self._prune(key, window_s, now)
        while len(self._events) >= self._max_keys:
            oldest = min(self._events, key=lambda k: self._events[k][-1])
            del self._events[oldest]


@dataclass(frozen=True)
class Limit:
    max_events: int
    window_s: float


class RateLimited(Exception):  # noqa: N818 - reads as a state
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many attempts; try again in {retry_after} seconds")
        self.retry_after = retry_after


class AuthRateLimiter:
    """Login/signup limits: attempts per client IP, failures per account name (existing or not)."""

    def __init__(self, backend: RateLimitBackend | None = None, *,
                 ip_attempts: Limit = Limit(30, 300), account_failures: Limit = Limit(10, 300),
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.backend = backend or InMemoryBackend()
        self.ip_attempts = ip_attempts
        self.account_failures = account_failures
        self.clock = clock

    def _retry_after(self, key: str, limit: Limit, now: float) -> int | None:
        n, oldest = self.backend.count(key, limit.window_s, now)
        if n < limit.max_events or oldest is None:
            return None
        return max(1, math.ceil(oldest + limit.window_s - now))

    def check(self, ip: str, account: str | None = None) -> None:
        """Raise :class:`RateLimited` if this IP or account is over its limit; otherwise count the attempt."""
        now = self.clock()
        waits = [self._retry_after(f"ip:{ip}", self.ip_attempts, now)]
        if account:
            waits.append(self._retry_after(f"account:{account.casefold()}", self.account_failures, now))
        worst = max((w for w in waits if w is not None), default=None)
        if worst is not None:
            raise RateLimited(worst)
        self.backend.hit(f"ip:{ip}", self.ip_attempts.window_s, now)

    def failed(self, account: str) -> None:
        self.backend.hit(f"account:{account.casefold()}", self.account_failures.window_s, self.clock())

    def succeeded(self, account: str) -> None:
        self.backend.reset(f"account:{account.casefold()}")
