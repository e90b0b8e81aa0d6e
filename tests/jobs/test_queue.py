"""The durable job queue on both backends: idempotency, exclusive claims, fencing, lease reclaim, retries."""

from __future__ import annotations

import threading
from datetime import timedelta

from modelmate.db.base import utcnow
from modelmate.jobs import registry
from modelmate.jobs import repository as repo
from modelmate.jobs.worker import Worker
from modelmate.models import Job

RAN: list[tuple[int, int]] = []


@registry.register("t-echo")
def _echo(ctx):
    RAN.append((ctx.job_id, ctx.attempt))
    ctx.progress(0.5, "half way")
    return {"echo": ctx.payload.get("value")}


@registry.register("t-flaky")
def _flaky(ctx):
    if ctx.attempt < 2:
        raise RuntimeError("transient failure")
    return {"ok": True}


@registry.register("t-bad")
def _bad(ctx):
    raise registry.PermanentJobError("payload is wrong")


def enqueue(database, owner, kind="t-echo", **kw) -> int:
    with database.session() as s:
        job, _ = repo.insert(s, kind=kind, payload=kw.pop("payload", {"value": 1}), owner_id=owner, **kw)
        return job.id


def job(database, job_id) -> Job:
    with database.session() as s:
        return s.get(Job, job_id)


def test_idempotency_key_gives_one_job(database, owner):
    a = enqueue(database, owner, idempotency_key="k1")
    b = enqueue(database, owner, idempotency_key="k1")
    c = enqueue(database, owner, idempotency_key="k2")
    assert a == b != c


def test_claims_are_exclusive_across_threads(database, owner, settings):
    ids = [enqueue(database, owner) for _ in range(6)]
    claimed: list[int] = []
    lock = threading.Lock()

    def claimer(n):
        while True:
            with database.session() as s:
                c = repo.claim(s, f"w{n}", kinds=["t-echo"], lease_s=30)
            if c is None:
                return
            with lock:
                claimed.append(c.id)

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(ids)  # each job claimed exactly once


def test_worker_runs_a_job_with_progress_and_result(database, owner, settings):
    job_id = enqueue(database, owner, payload={"value": 42})
    w = Worker(database, settings, kinds=["t-echo"])
    assert w.run_once() is True
    j = job(database, job_id)
    assert j.status == "succeeded" and j.result == {"echo": 42} and j.progress == 1.0
    assert j.progress_message == "half way" and j.attempts == 1 and j.fencing_token == 1
    assert j.lease_owner is None and j.finished_at is not None
    assert w.run_once() is False


def test_stale_fencing_token_is_rejected_and_expired_lease_reclaimed(database, owner):
    job_id = enqueue(database, owner, max_attempts=2)
    with database.session() as s:
        first = repo.claim(s, "w1", kinds=["t-echo"], lease_s=0.01)
    with database.session() as s:
        assert repo.reclaim_expired(s, now=utcnow() + timedelta(seconds=1)) == 1
    j = job(database, job_id)
    assert j.status == "queued" and j.error["type"] == "worker_lost"
    with database.session() as s:  # the paused worker wakes up: every write it tries is refused
        assert repo.heartbeat(s, job_id, first.fencing_token, lease_s=30) is False
        assert repo.complete(s, job_id, first.fencing_token, {"late": True}) is False
    with database.session() as s:
        second = repo.claim(s, "w2", kinds=["t-echo"], lease_s=0.01)
    assert second.attempt == 2 and second.fencing_token > first.fencing_token
    with database.session() as s:
        assert repo.heartbeat(s, job_id, second.fencing_token, lease_s=0.01) is True
    with database.session() as s:  # dies again: attempts are spent → failed, never stuck running
        assert repo.reclaim_expired(s, now=utcnow() + timedelta(seconds=1)) == 1
    j = job(database, job_id)
    assert j.status == "failed" and j.error["type"] == "worker_lost" and j.result is None


def test_failures_retry_then_succeed_and_permanent_errors_fail_at_once(database, owner, settings, monkeypatch):
    import modelmate.jobs.worker as worker_mod

    monkeypatch.setattr(worker_mod, "RETRY_BASE_S", 0)
    flaky = enqueue(database, owner, kind="t-flaky")
    w = Worker(database, settings, kinds=["t-flaky", "t-bad"])
    assert w.run_once()
    j = job(database, flaky)
    assert j.status == "queued" and j.attempts == 1 and j.error["message"] == "transient failure"
    assert "Traceback" in j.error["traceback"]
    assert w.run_once()
    assert job(database, flaky).status == "succeeded"
    bad = enqueue(database, owner, kind="t-bad")
    assert w.run_once()
    j = job(database, bad)
    assert j.status == "failed" and j.attempts == 1 and j.error["type"] == "PermanentJobError"


def test_cancel_queued_job(database, owner, settings):
    job_id = enqueue(database, owner)
    with database.session() as s:
        repo.request_cancel(s, s.get(Job, job_id))
        repo.request_cancel(s, s.get(Job, job_id))  # twice: idempotent
    assert job(database, job_id).status == "cancelled"
    assert Worker(database, settings, kinds=["t-echo"]).run_once() is False
