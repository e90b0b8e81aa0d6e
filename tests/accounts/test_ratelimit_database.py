"""The login limits' database backend on both backends: the same answers as the in-memory one, counters shared by
every process using the database (two backends as two processes have them, and two real processes), atomic bumps
under concurrency, long keys, and pruning of what no limit can count any more."""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from sqlalchemy import func, select

from modelmate.accounts.ratelimit import (
    AuthRateLimiter,
    Backoff,
    DatabaseBackend,
    InMemoryBackend,
    Limit,
    RateLimited,
)
from modelmate.db.engine import Database
from modelmate.models import RateLimitEvent, RateLimitStreak


class Clock:
    def __init__(self) -> None:
        self.t = 1_700_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def other_process_db(database: Database):
    """A second engine on the same database: what another server process has (its own connections and locks)."""
    other = Database(database.url)
    yield other
    other.dispose()


def _wait(rl: AuthRateLimiter, ip: str, account: str | None = None) -> int | None:
    try:
        rl.check(ip, account)
    except RateLimited as exc:
        return exc.retry_after
    return None


def rows(database: Database) -> tuple[int, int]:
    with database.session() as s:
        return (s.scalar(select(func.count()).select_from(RateLimitEvent)),
                s.scalar(select(func.count()).select_from(RateLimitStreak)))


def test_answers_are_the_in_memory_backends(database):
    """A long random sequence of checks, failures and successes on a fake clock, replayed against both backends."""
    rng = random.Random(16)
    ops = []
    for _ in range(300):
        ops.append((rng.choice(["check", "check", "failed", "succeeded", "tick"]), rng.choice(["alice", "bob", "x"]),
                    rng.choice(["192.0.2.1", "192.0.2.2", "2001:db8::1", "198.51.100.9"]), rng.choice([1, 7, 45, 400])))

    def replay(backend) -> list:
        clock = Clock()
        rl = AuthRateLimiter(backend, ip_attempts=Limit(8, 120), backoff=Backoff(free=2, base_s=5, cap_s=300,
                             forget_s=3000), account_clients=Limit(3, 600), trusted_s=5000, clock=clock)
        out = []
        for op, account, ip, dt in ops:
            if op == "check":
                out.append(_wait(rl, ip, account))
            elif op == "failed":
                rl.failed(account, ip)
            elif op == "succeeded":
                rl.succeeded(account, ip)
                out.append(rl.is_trusted(account, ip))
            else:
                clock.t += dt
        return out

    expected = replay(InMemoryBackend())
    assert replay(DatabaseBackend(database)) == expected
    assert any(isinstance(w, int) for w in expected) and None in expected  # the sequence meets both answers


def test_two_processes_share_the_counters(database, other_process_db):
    clock = Clock()
    one = AuthRateLimiter(DatabaseBackend(database), ip_attempts=Limit(5, 300), backoff=Backoff(free=2), clock=clock)
    two = AuthRateLimiter(DatabaseBackend(other_process_db), ip_attempts=Limit(5, 300), backoff=Backoff(free=2),
                          clock=clock)
    for rl in (one, two, one, two, one):
        rl.check("203.0.113.5")
    assert _wait(two, "203.0.113.5") == 300 and _wait(one, "203.0.113.5") == 300  # 5 attempts in all, not 5 each
    # wrong passwords counted by one process slow the guesser down on the other
    one.failed("alice", "198.51.100.1")
    two.failed("alice", "198.51.100.1")
    one.failed("alice", "198.51.100.1")
    assert _wait(two, "198.51.100.1", "alice") == 2  # three failures in all: 1 s after two free ones, then 2 s
    # a success on one forgets the failures and trusts the client everywhere
    two.succeeded("alice", "198.51.100.1")
    assert _wait(one, "198.51.100.1", "alice") is None and one.is_trusted("alice", "198.51.100.1")


@pytest.mark.process
def test_two_real_processes_share_one_budget(database, tmp_path):
    """Another server process spends 20 of a client's 30 attempts: this one has 10 left, not 30."""
    child = textwrap.dedent("""
        import sys, time
        from modelmate.accounts.ratelimit import AuthRateLimiter, DatabaseBackend
        from modelmate.db.engine import Database
        limiter = AuthRateLimiter(DatabaseBackend(Database(sys.argv[1])), clock=time.time)
        for _ in range(20):
            limiter.check("203.0.113.77", "alice")
        print("spent 20", flush=True)
    """)
    done = subprocess.run([sys.executable, "-c", child, database.url], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "spent 20" in done.stdout, done.stdout + done.stderr
    here = AuthRateLimiter(DatabaseBackend(database), clock=time.time)
    for _ in range(10):
        here.check("203.0.113.77", "alice")
    with pytest.raises(RateLimited):
        here.check("203.0.113.77", "alice")


def test_concurrent_failures_all_count(database, other_process_db):
    backends = [DatabaseBackend(database), DatabaseBackend(other_process_db)]
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def fail_five(i: int) -> None:
        try:
            barrier.wait()
            for _ in range(5):
                backends[i % 2].bump("pair:alice|192.0.2.9", 86_400, 1000.0)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=fail_five, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert backends[0].streak("pair:alice|192.0.2.9", 86_400, 1000.0) == (40, 1000.0)


def test_long_keys_are_stored_hashed_and_stay_distinct(database):
    backend = DatabaseBackend(database)
    long_a, long_b = "pair:" + "a" * 300 + "|192.0.2.1", "pair:" + "a" * 300 + "|192.0.2.2"
    backend.bump(long_a, 600, 1000.0)
    backend.bump(long_a, 600, 1001.0)
    backend.bump(long_b, 600, 1001.0)
    assert backend.streak(long_a, 600, 1002.0) == (2, 1001.0) and backend.streak(long_b, 600, 1002.0)[0] == 1
    assert len(DatabaseBackend.stored_key(long_a)) <= DatabaseBackend.MAX_KEY
    backend.reset(long_a)
    assert backend.streak(long_a, 600, 1002.0) == (0, None) and backend.streak(long_b, 600, 1002.0)[0] == 1


def test_rows_no_limit_can_count_are_pruned(database):
    backend = DatabaseBackend(database, prune_every_s=60)
    for i in range(10):
        backend.hit(f"ip:192.0.2.{i}", 300, 1000.0)
        backend.bump(f"pair:alice|192.0.2.{i}", 900, 1000.0)
    assert rows(database) == (10, 10)
    backend.hit("ip:198.51.100.1", 300, 1200.0)  # within the windows: nothing expired yet
    assert rows(database) == (11, 10)
    backend.hit("ip:198.51.100.1", 300, 1400.0)  # the first ten events' 300 s windows have passed
    assert rows(database) == (2, 10)
    backend.bump("pair:bob|198.51.100.1", 900, 2000.0)  # and the streaks' 900 s
    assert rows(database) == (0, 1)
