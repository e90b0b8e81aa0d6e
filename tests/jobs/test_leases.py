"""Leases, heartbeats and retry back-off driven by a manual clock (``tests/manual_clock.py``), on both backends.

Time moves only when the test advances it, so every deadline is checked to the second and nothing depends on how
busy the machine is: real time only bounds how long a test waits for a thread to do what the clock told it to.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import defaultdict
from datetime import timedelta

from manual_clock import ManualClock
from modelmate.db.base import utcnow
from modelmate.jobs import registry
from modelmate.jobs import repository as repo
from modelmate.jobs.worker import RETRY_BASE_S, Worker
from modelmate.models import Job

LEASE_S = 30.0
GATES: defaultdict[str, threading.Event] = defaultdict(threading.Event)  # payload["gate"] → "the handler may finish"
LOST: list[tuple[int, int]] = []  # (job id, attempt) of handlers that saw their lease lost


@registry.register("t-lease-hold")
def _hold(ctx):
    """Runs until the test opens its gate; a lost lease stops it (``ctx.check``)."""
    try:
        while not GATES[ctx.payload["gate"]].wait(0.005):
            ctx.check()
        ctx.progress(1.0, "done")
    except registry.LeaseLost:
        LOST.append((ctx.job_id, ctx.attempt))
        raise
    return {"attempt": ctx.attempt}


@registry.register("t-lease-flaky")
def _flaky(ctx):
    if ctx.attempt < 2:
        raise RuntimeError("transient failure")
    return {"attempt": ctx.attempt}


def enqueue(database, owner: int, kind: str, clock: ManualClock) -> int:
    with database.session() as s:
        job, _ = repo.insert(s, kind=kind, payload={"gate": uuid.uuid4().hex}, owner_id=owner, run_after=clock.now())
        return job.id


def job(database, job_id: int) -> Job:
    with database.session() as s:
        row = s.get(Job, job_id)
        s.expunge(row)
        return row


def until(predicate, what: str, timeout: float = 60.0) -> None:
    """Wait for another thread to act on what the clock told it; the timeout is a bound, not part of the check."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def worker(database, settings, name: str, clock: ManualClock, kind: str = "t-lease-hold") -> Worker:
    return Worker(database, settings, worker_id=name, lease_s=LEASE_S, kinds=[kind], clock=clock)


def start(w: Worker) -> threading.Thread:
    thread = threading.Thread(target=w.run_once, daemon=True)
    thread.start()
    return thread


def test_a_heartbeat_every_third_of_the_lease_keeps_the_job_and_reclaim_waits(database, settings, owner):
    clock = ManualClock()
    t0 = clock.now()
    job_id = enqueue(database, owner, "t-lease-hold", clock)
    runner = start(worker(database, settings, "a", clock))
    until(lambda: job(database, job_id).status == "running" and clock.sleepers == 1, "the claim and its heartbeat")
    j = job(database, job_id)
    assert (j.lease_owner, j.heartbeat_at, j.lease_expires_at) == ("a", t0, t0 + timedelta(seconds=LEASE_S))
    other = worker(database, settings, "b", clock)
    for beat in (1, 2, 3, 4):
        clock.advance(LEASE_S / 3)
        beat_at = t0 + timedelta(seconds=beat * LEASE_S / 3)
        until(lambda at=beat_at: job(database, job_id).heartbeat_at == at, f"heartbeat {beat}")
        until(lambda: clock.sleepers == 1, "the heartbeat thread to wait again")
        j = job(database, job_id)
        assert j.lease_expires_at == beat_at + timedelta(seconds=LEASE_S) and j.status == "running"
        assert other.reclaim() == 0  # a live lease is never taken away
    GATES[job(database, job_id).payload["gate"]].set()
    runner.join(timeout=60)
    j = job(database, job_id)
    assert (j.status, j.attempts, j.fencing_token, j.result) == ("succeeded", 1, 1, {"attempt": 1})
    assert j.lease_owner is None and j.lease_expires_at is None


def test_a_paused_worker_loses_its_lease_at_its_end_and_the_job_runs_once_more(database, settings, owner):
    start_at = utcnow().replace(microsecond=0)
    paused, live = ManualClock(start_at), ManualClock(start_at)  # a's time stands still: it misses every heartbeat
    job_id = enqueue(database, owner, "t-lease-hold", live)
    runner = start(worker(database, settings, "a", paused))
    until(lambda: job(database, job_id).status == "running" and paused.sleepers == 1, "a's claim")
    b = worker(database, settings, "b", live)
    live.advance(LEASE_S)
    assert b.reclaim() == 0  # the lease ends at claim + 30 s: at that instant it still holds
    live.advance(0.001)
    assert b.reclaim() == 1
    j = job(database, job_id)
    assert (j.status, j.attempts, j.fencing_token, j.error["type"]) == ("queued", 1, 2, "worker_lost")
    paused.advance(LEASE_S / 3)  # a wakes up: its heartbeat is refused and its handler stops
    runner.join(timeout=60)
    assert not runner.is_alive() and LOST[-1] == (job_id, 1)
    assert job(database, job_id).status == "queued"  # a wrote nothing after losing the lease
    GATES[job(database, job_id).payload["gate"]].set()
    assert b.run_once() is True
    j = job(database, job_id)
    assert (j.status, j.attempts, j.fencing_token, j.result) == ("succeeded", 2, 3, {"attempt": 2})
    assert j.lease_owner is None


def test_a_failed_attempt_is_retried_exactly_after_its_back_off(database, settings, owner):
    clock = ManualClock()
    job_id = enqueue(database, owner, "t-lease-flaky", clock)
    w = worker(database, settings, "a", clock, kind="t-lease-flaky")
    assert w.run_once() is True
    j = job(database, job_id)
    assert (j.status, j.attempts, j.error["message"]) == ("queued", 1, "transient failure")
    assert j.run_after == clock.now() + timedelta(seconds=RETRY_BASE_S)
    clock.advance(RETRY_BASE_S - 0.001)
    assert w.run_once() is False  # still backing off
    clock.advance(0.001)
    assert w.run_once() is True
    j = job(database, job_id)
    assert (j.status, j.attempts, j.result) == ("succeeded", 2, {"attempt": 2})
