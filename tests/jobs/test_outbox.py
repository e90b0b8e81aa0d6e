"""The transactional outbox on both backends: events commit with the outcome or not at all, are delivered once
(also by racing deliverers), failures are retried then given up, leased deliveries are redelivered after a crash,
and the worker loop delivers what a crashed process left pending."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from modelmate.db.base import utcnow
from modelmate.jobs import outbox, registry
from modelmate.jobs import outbox_repository as outbox_repo
from modelmate.jobs import repository as jobs_repo
from modelmate.jobs.worker import Worker
from modelmate.models import Job, OutboxEvent

EVENT = "model_trained"


@pytest.fixture
def subscribers(monkeypatch: pytest.MonkeyPatch):
    """Replace the event's subscribers with the test's own for the test (the built-in ones are restored after)."""
    registry.load_builtin()
    monkeypatch.setitem(registry._SUBSCRIBERS, EVENT, [])  # noqa: SLF001 - the registry's own table, restored
    return lambda fn, **kw: registry.subscribe(EVENT, **kw)(fn)


def queue_job(delivery: registry.EventDelivery, *, model_id: int, **_details) -> None:
    """A transactional subscriber with a visible effect: one job row per delivery."""
    jobs_repo.insert(delivery.session, kind="t-follow-up", payload={"model_id": model_id}, owner_id=None)


def follow_ups(database) -> int:
    with database.session() as s:
        return s.query(Job).filter(Job.kind == "t-follow-up").count()


def rows(database) -> list[OutboxEvent]:
    with database.session() as s:
        return list(s.scalars(select(OutboxEvent).order_by(OutboxEvent.id)))


def record(database, **details) -> list[int]:
    with database.session() as s:
        return outbox.enqueue(s, EVENT, job_id=None, **details)


def test_events_commit_with_the_outcome_or_not_at_all(database, settings, subscribers):
    subscribers(queue_job, transactional=True)
    with pytest.raises(RuntimeError), database.session() as s:
        outbox.enqueue(s, EVENT, job_id=None, model_id=1)
        raise RuntimeError("the outcome's transaction failed")
    assert rows(database) == []
    ids = record(database, model_id=1, run_id=2, owner_id=None)
    [row] = rows(database)
    assert [row.id] == ids and row.status == "pending" and row.payload == {"model_id": 1, "run_id": 2, "owner_id": None}
    assert row.subscriber.endswith(":queue_job")


def test_a_transactional_subscriber_runs_once_and_its_writes_commit_with_the_mark(database, settings, subscribers):
    subscribers(queue_job, transactional=True)
    ids = record(database, model_id=7)
    assert outbox.deliver(database, settings, ids) == 1
    assert follow_ups(database) == 1
    [row] = rows(database)
    assert row.status == "delivered" and row.attempts == 1 and row.delivered_at is not None
    assert outbox.deliver(database, settings, ids) == 0  # delivering twice never queues twice
    assert outbox.dispatch_pending(database, settings) == 0
    assert follow_ups(database) == 1


def test_racing_deliverers_deliver_once(database, settings, subscribers):
    subscribers(queue_job, transactional=True)
    ids = record(database, model_id=7) + record(database, model_id=8)
    barrier = threading.Barrier(6)
    counts: list[int] = []
    errors: list[BaseException] = []

    def race(i: int) -> None:
        try:
            barrier.wait()
            if i % 2:
                counts.append(outbox.deliver(database, settings, ids))
            else:
                counts.append(outbox.dispatch_pending(database, settings, worker_id=f"w{i}"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(counts) == 2 and follow_ups(database) == 2
    assert [r.status for r in rows(database)] == ["delivered", "delivered"]


def test_a_failing_subscriber_is_rolled_back_retried_and_finally_given_up(database, settings, subscribers,
                                                                          monkeypatch):
    calls: list[int] = []

    def flaky(delivery, *, model_id: int) -> None:
        calls.append(delivery.attempt)
        queue_job(delivery, model_id=model_id)  # written, then rolled back with the failed delivery
        if delivery.attempt < 2:
            raise RuntimeError("benchmark suites not readable yet")

    subscribers(flaky, transactional=True)
    ids = record(database, model_id=3)
    assert outbox.deliver(database, settings, ids) == 0
    [row] = rows(database)
    assert follow_ups(database) == 0 and row.status == "pending" and row.attempts == 1
    assert row.error["type"] == "RuntimeError" and row.available_at > utcnow()  # retried later, not at once
    assert outbox.dispatch_pending(database, settings) == 0  # not due yet
    _make_due(database)
    assert outbox.dispatch_pending(database, settings) == 1
    assert calls == [1, 2] and follow_ups(database) == 1 and rows(database)[0].status == "delivered"

    def broken(delivery, **_details) -> None:
        raise ValueError("always")

    monkeypatch.setitem(registry._SUBSCRIBERS, EVENT, [])  # noqa: SLF001
    subscribers(broken, transactional=True)
    ids = record(database, model_id=4)
    for _ in range(outbox.MAX_ATTEMPTS):
        _make_due(database)
        outbox.dispatch_pending(database, settings)
    failed = rows(database)[-1]
    assert failed.status == "failed" and failed.attempts == outbox.MAX_ATTEMPTS and failed.error["type"] == "ValueError"
    _make_due(database)
    assert outbox.dispatch_pending(database, settings) == 0  # kept as evidence, never delivered


def test_a_leased_delivery_lost_in_a_crash_is_delivered_again_after_its_lease(database, settings, subscribers):
    seen: list[int] = []
    subscribers(lambda delivery, *, model_id: seen.append(model_id))
    [event_id] = record(database, model_id=5)
    with database.session() as s:  # a worker claimed it and died before marking it delivered
        claim = outbox_repo.claim(s, event_id, "dead-worker", lease_s=300)
    assert claim is not None and claim.attempt == 1
    assert outbox.dispatch_pending(database, settings) == 0 and seen == []  # its lease is still live
    with database.session() as s:
        s.get(OutboxEvent, event_id).lease_expires_at = utcnow() - timedelta(seconds=1)
    assert outbox.dispatch_pending(database, settings) == 1 and seen == [5]
    [row] = rows(database)
    assert row.status == "delivered" and row.attempts == 2 and row.claimed_by is None
    with database.session() as s:  # the dead worker's late mark is refused (its token is stale)
        assert outbox_repo.finish_claim(s, claim) is False


def test_an_event_whose_subscriber_is_gone_is_marked_failed(database, settings, subscribers):
    subscribers(queue_job, transactional=True)
    [event_id] = record(database, model_id=1)
    with database.session() as s:
        s.get(OutboxEvent, event_id).subscriber = "modelmate.gone:subscriber"
    assert outbox.dispatch_pending(database, settings) == 0
    [row] = rows(database)
    assert row.status == "failed" and row.error["type"] == "NoSubscriber" and follow_ups(database) == 0


def test_the_worker_loop_delivers_pending_events(database, settings, subscribers):
    subscribers(queue_job, transactional=True)
    record(database, model_id=9)
    own_jobs = Worker(database, settings, kinds=["t-none"], job_ids=[10**9])
    assert own_jobs.run_once() is False and follow_ups(database) == 0  # a CLI's own-job worker leaves them
    assert Worker(database, settings, kinds=["t-none"]).run_once() is False  # no job to run …
    assert follow_ups(database) == 1  # … but the event was delivered


def test_delivered_events_are_pruned_after_a_while(database, settings, subscribers, monkeypatch):
    subscribers(queue_job, transactional=True)
    old, new = record(database, model_id=1), record(database, model_id=2)
    outbox.deliver(database, settings, old + new)
    with database.session() as s:
        s.get(OutboxEvent, old[0]).delivered_at = utcnow() - outbox.KEEP_DELIVERED - timedelta(days=1)
    monkeypatch.setattr(outbox, "_last_prune", 0.0)
    outbox.dispatch_pending(database, settings)
    assert [r.id for r in rows(database)] == new


def _make_due(database) -> None:
    with database.session() as s:
        for row in s.scalars(select(OutboxEvent).where(OutboxEvent.status == "pending")):
            row.available_at = utcnow() - timedelta(seconds=1)
