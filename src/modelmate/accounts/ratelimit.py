"""Rate limits for login and signup, built so that an attacker cannot lock the real owner out.

Three limits, all answered with 429 ``rate_limited`` and ``Retry-After``:

1. **Attempts per client** (``ip_attempts``, 30 per 5 minutes): logins and signups from one client, whatever the
   account. 1,000 guesses from one address are cut off after the 30th.
2. **Failures per (account, client)** (``backoff``): the first ``free`` wrong passwords from one client for one
   account cost nothing (typos); after that *this client* waits before its next try on *this account*: 1 s, 2 s,
   4 s, … doubling up to 15 minutes. A correct password resets it. Nobody else is slowed down: the owner, signing
   in from another client, gets in at once, so failed guesses are not a way to lock someone out.
3. **Many clients on one account** (``account_clients``, 10 distinct failing clients in 15 minutes): a distributed
   guess (a botnet, one try per address) makes *unknown* clients of that account wait until the wave has passed.
   Clients that signed in to the account successfully before (``trusted_s``, 30 days) are never held back by it.

An account name that does not exist is limited exactly like one that does (same keys, same answers, same timing).
A "client" is its IP address, an IPv6 address counting as its /64 network (one home or server gets a whole /64).

The counters live in the database (:class:`DatabaseBackend`, tables ``rate_limit_events`` and
``rate_limit_streaks``), so every server process sharing the database shares them: a second process is no second
budget of guesses, and a restart forgets nothing. Each backend call is one short transaction of its own, committed
whatever the request's outcome (a failed login must count although its request rolls back); a login costs about five
of them, all by primary key or index. Times are wall-clock epoch seconds (``time.time``), the one clock processes
share. Rows no limit can count any more are pruned at most once a minute. :class:`InMemoryBackend` (one process) is
for tests and tools; :class:`AuthRateLimiter` only talks to a backend through :class:`RateLimitBackend`.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from sqlalchemy.orm import Session

from modelmate.accounts import ratelimit_repository as repo
from modelmate.db.engine import Database, immediate_transaction

T = TypeVar("T")


class RateLimitBackend(Protocol):
    def hit(self, key: str, window_s: float, now: float) -> None:
        """Record one event for ``key``."""

    def count(self, key: str, window_s: float, now: float) -> tuple[int, float | None]:
        """Events for ``key`` within the window, and the time of the oldest one (None if none)."""

    def bump(self, key: str, forget_s: float, now: float) -> int:
        """Add one to the streak of ``key`` (restarted when its last bump is ``forget_s`` old); the new length."""

    def streak(self, key: str, forget_s: float, now: float) -> tuple[int, float | None]:
        """The streak of ``key`` and the time of its last bump ((0, None) once forgotten)."""

    def reset(self, key: str) -> None:
        """Forget every event and the streak of ``key``."""


class InMemoryBackend:
    """Per-key deques of event times and per-key streaks, pruned on access; a lock makes it safe across request
    threads, and ``max_keys`` bounds the memory a flood of distinct keys can take."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self._events: dict[str, deque[float]] = {}
        self._streaks: dict[str, tuple[int, float]] = {}
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

    def _current(self, key: str, forget_s: float, now: float) -> tuple[int, float | None]:
        found = self._streaks.get(key)
        if found is None:
            return 0, None
        if found[1] <= now - forget_s:
            del self._streaks[key]
            return 0, None
        return found

    def bump(self, key: str, forget_s: float, now: float) -> int:
        with self._lock:
            n, _ = self._current(key, forget_s, now)
            if n == 0 and len(self._streaks) >= self._max_keys:
                self._evict_streaks(now, forget_s)
            self._streaks[key] = (n + 1, now)
            return n + 1

    def streak(self, key: str, forget_s: float, now: float) -> tuple[int, float | None]:
        with self._lock:
            return self._current(key, forget_s, now)

    def reset(self, key: str) -> None:
        with self._lock:
            self._events.pop(key, None)
            self._streaks.pop(key, None)

    def _evict(self, now: float, window_s: float) -> None:
        # Keep memory bounded under a flood of distinct keys: drop expired keys, then the stalest ones.
        for key in list(self._events):
            self._prune(key, window_s, now)
        while len(self._events) >= self._max_keys:
            oldest = min(self._events, key=lambda k: self._events[k][-1])
            del self._events[oldest]

    def _evict_streaks(self, now: float, forget_s: float) -> None:
        for key in list(self._streaks):
            self._current(key, forget_s, now)
        if len(self._streaks) >= self._max_keys:  # drop the stalest tenth at once (amortised, not once per key)
            stalest = sorted(self._streaks, key=lambda k: self._streaks[k][1])
            for key in stalest[: max(1, len(stalest) // 10)]:
                del self._streaks[key]


class DatabaseBackend:
    """The counters in the database, shared by every process that uses it. Each call is its own short transaction
    (never the request's: a failed login's request rolls back, its failure must still count). ``now`` must come
    from a clock all those processes share (``time.time``)."""

    MAX_KEY = 200  # longer keys (a very long login name) are stored as a prefix + their SHA-256

    def __init__(self, db: Database, *, prune_every_s: float = 60.0) -> None:
        self.db = db
        self.prune_every_s = prune_every_s
        self._next_prune: float | None = None
        self._lock = threading.Lock()

    @classmethod
    def stored_key(cls, key: str) -> str:
        if len(key) <= cls.MAX_KEY:
            return key
        return f"{key[:cls.MAX_KEY - 72]}#{hashlib.sha256(key.encode()).hexdigest()}"

    def _write(self, now: float, work: Callable[[Session], T]) -> T:
        with self.db.session() as session:
            immediate_transaction(session)
            result = work(session)
            if self._prune_due(now):
                repo.prune(session, now)
            return result

    def _prune_due(self, now: float) -> bool:
        with self._lock:
            if self._next_prune is not None and now < self._next_prune:
                return False
            self._next_prune = now + self.prune_every_s
            return True

    def hit(self, key: str, window_s: float, now: float) -> None:
        self._write(now, lambda s: repo.add_event(s, self.stored_key(key), now, expires_at=now + window_s))

    def count(self, key: str, window_s: float, now: float) -> tuple[int, float | None]:
        with self.db.session() as session:
            return repo.count_events(session, self.stored_key(key), after=now - window_s)

    def bump(self, key: str, forget_s: float, now: float) -> int:
        return self._write(now, lambda s: repo.bump(s, self.stored_key(key), now, forget_s=forget_s))

    def streak(self, key: str, forget_s: float, now: float) -> tuple[int, float | None]:
        with self.db.session() as session:
            return repo.streak(session, self.stored_key(key), after=now - forget_s)

    def reset(self, key: str) -> None:
        with self.db.session() as session:
            immediate_transaction(session)
            repo.forget(session, self.stored_key(key))


@dataclass(frozen=True)
class Limit:
    max_events: int
    window_s: float


@dataclass(frozen=True)
class Backoff:
    """How long one client waits after ``failures`` wrong passwords in a row on one account."""

    free: int = 5  # failures without any wait (typos)
    base_s: float = 1.0  # the first wait; each further failure doubles it ...
    cap_s: float = 900.0  # ... up to this
    forget_s: float = 86_400.0  # a client's failures on an account are forgotten after a quiet day

    def delay(self, failures: int) -> float:
        if failures < self.free:
            return 0.0
        return min(self.cap_s, self.base_s * 2.0 ** min(failures - self.free, 64))


class RateLimited(Exception):  # noqa: N818 - reads as a state
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many attempts; try again in {retry_after} seconds")
        self.retry_after = retry_after


def client_key(ip: str) -> str:
    """The limits' notion of one client: the IP address, or its /64 network for IPv6."""
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return ip  # not an address (a test client, a unix socket): itself
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class AuthRateLimiter:
    """Login/signup limits: attempts per client, growing waits per (account, client), and a guard against many
    clients guessing one account (see the module docs)."""

    def __init__(self, backend: RateLimitBackend | None = None, *,
                 ip_attempts: Limit = Limit(30, 300), backoff: Backoff = Backoff(),
                 account_clients: Limit = Limit(10, 900), trusted_s: float = 30 * 86_400.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.backend = backend or InMemoryBackend()
        self.ip_attempts = ip_attempts
        self.backoff = backoff
        self.account_clients = account_clients
        self.trusted_s = trusted_s
        self.clock = clock

    # --- keys ------------------------------------------------------------------------------------------------

    @staticmethod
    def _pair(account: str, client: str) -> str:
        return f"pair:{account.casefold()}|{client}"

    @staticmethod
    def _trusted(account: str, client: str) -> str:
        return f"trusted:{account.casefold()}|{client}"

    @staticmethod
    def _clients(account: str) -> str:
        return f"clients:{account.casefold()}"

    # --- waits -----------------------------------------------------------------------------------------------

    def _window_wait(self, key: str, limit: Limit, now: float) -> int | None:
        n, oldest = self.backend.count(key, limit.window_s, now)
        if n < limit.max_events or oldest is None:
            return None
        return max(1, math.ceil(oldest + limit.window_s - now))

    def _backoff_wait(self, account: str, client: str, now: float) -> int | None:
        failures, last = self.backend.streak(self._pair(account, client), self.backoff.forget_s, now)
        delay = self.backoff.delay(failures)
        if not delay or last is None or last + delay <= now:
            return None
        return max(1, math.ceil(last + delay - now))

    def is_trusted(self, account: str, ip: str) -> bool:
        """Has this client signed in to this account successfully within ``trusted_s``?"""
        n, _ = self.backend.streak(self._trusted(account, client_key(ip)), self.trusted_s, self.clock())
        return n > 0

    def check(self, ip: str, account: str | None = None) -> None:
        """Raise :class:`RateLimited` if this client must wait (for this account, when given); otherwise count the
        attempt against the client's own limit."""
        now = self.clock()
        client = client_key(ip)
        waits = [self._window_wait(f"ip:{client}", self.ip_attempts, now)]
        if account:
            waits.append(self._backoff_wait(account, client, now))
            if not self.is_trusted(account, ip):
                waits.append(self._window_wait(self._clients(account), self.account_clients, now))
        worst = max((w for w in waits if w is not None), default=None)
        if worst is not None:
            raise RateLimited(worst)
        self.backend.hit(f"ip:{client}", self.ip_attempts.window_s, now)

    def failed(self, account: str, ip: str) -> None:
        """A wrong password (or an unknown account) from ``ip``: this client's wait on this account grows."""
        now = self.clock()
        client = client_key(ip)
        pair = self._pair(account, client)
        _, last = self.backend.streak(pair, self.backoff.forget_s, now)
        self.backend.bump(pair, self.backoff.forget_s, now)
        if last is None or last <= now - self.account_clients.window_s:  # a client new to this window
            self.backend.hit(self._clients(account), self.account_clients.window_s, now)

    def succeeded(self, account: str, ip: str) -> None:
        """The right password from ``ip``: its failures on the account are forgotten and it becomes trusted."""
        now = self.clock()
        client = client_key(ip)
        self.backend.reset(self._pair(account, client))
        self.backend.bump(self._trusted(account, client), self.trusted_s, now)
