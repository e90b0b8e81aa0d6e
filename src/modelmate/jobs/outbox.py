"""The transactional outbox: follow-up work is never lost between a job's outcome and what reacts to it.

1. A handler calls :func:`enqueue` inside the transaction that records its outcome (the fenced final write of a
   training run or an evaluation): one ``outbox_events`` row per subscriber of the event. The outcome and its
   follow-up commit together, or neither does.
2. Right after that commit the handler calls :func:`deliver`, the in-process fast path: the automatic evaluation is
   queued at once, as before. A crash between the commit and this call leaves the rows pending …
3. … and every worker's loop calls :func:`dispatch_pending`, which delivers what is pending: a crash's leftovers
   and retries. The retried job itself finds its work finished and records nothing again.

Exactly once: a ``transactional`` subscriber (the automatic evaluation) writes through the delivery's own
transaction, which has the row locked (SQLite ``BEGIN IMMEDIATE``, PostgreSQL ``FOR UPDATE SKIP LOCKED``) and marks it
delivered: its writes and the mark commit together, or neither does. Another subscriber (research's capability
changes, whose statistics run outside the write lock) runs under a lease on the row and is marked delivered after it
returns: a crash in between delivers it again, so it must be idempotent (it recomputes and replaces).

A failing subscriber is logged and retried later (5 s, 10 s, 20 s … up to an hour); after ``MAX_ATTEMPTS`` its row is
marked ``failed`` with the error. It never undoes the job that recorded the event.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from modelmate.config import Settings
from modelmate.db.base import utcnow
from modelmate.db.engine import Database, immediate_transaction
from modelmate.jobs import outbox_repository as repo
from modelmate.jobs import registry
from modelmate.jobs.registry import EventDelivery, Subscriber

log = logging.getLogger("modelmate.jobs.outbox")

LEASE_S = 300.0  # a leased subscriber that runs longer may be delivered twice (it is idempotent)
MAX_ATTEMPTS = 8
RETRY_BASE_S = 5.0
RETRY_CAP_S = 3600.0
KEEP_DELIVERED = timedelta(days=30)
PRUNE_EVERY_S = 3600.0

_prune_lock = threading.Lock()
_last_prune = 0.0


def enqueue(session: Session, event: str, *, job_id: int | None, **details: Any) -> list[int]:
    """Record ``event`` for each of its subscribers in ``session``'s transaction (the one that records the outcome
    it follows). ``details`` must be JSON. Returns the rows' ids, for :func:`deliver` after the commit."""
    return [repo.insert(session, event=event, subscriber=s.name, payload=details, job_id=job_id)
            for s in registry.subscribers(event)]


def deliver(db: Database, settings: Settings, ids: Iterable[int]) -> int:
    """The fast path, right after the commit that recorded ``ids``: deliver them now, in this process. Never raises
    (what it cannot deliver stays pending for a worker). Returns how many were delivered."""
    ids = list(ids)
    if not ids:
        return 0
    try:
        with db.session() as session:
            rows = repo.pending(session, ids=ids, limit=len(ids))
        return _deliver_rows(db, settings, rows, _process_id())
    except Exception:  # noqa: BLE001 - the outcome is stored; a worker delivers what is left
        log.exception("outbox: events %s not delivered now; a worker will deliver them", ids)
        return 0


def dispatch_pending(db: Database, settings: Settings, *, worker_id: str | None = None, limit: int = 20) -> int:
    """Deliver up to ``limit`` pending events (the worker loop calls this on every turn). Returns how many were
    delivered."""
    _prune_now_and_then(db)
    with db.session() as session:
        if not repo.has_pending(session):
            return 0
        rows = repo.pending(session, limit=limit)
    return _deliver_rows(db, settings, rows, worker_id or _process_id())


def _deliver_rows(db: Database, settings: Settings, rows: list[tuple[int, str, str]], worker_id: str) -> int:
    delivered = 0
    for event_id, event, name in rows:
        sub = registry.subscriber(event, name) if event in registry.EVENTS else None
        if sub is None:  # the code that subscribed is gone (renamed, removed): nothing can deliver it
            error = {"type": "NoSubscriber", "message": f"no subscriber {name!r} for event {event!r}"}
            log.error("outbox: event %d: %s", event_id, error["message"])
            with db.session() as session:
                repo.record_failure(session, event_id, error, token=None, counts_attempt=True,
                                    retry_in=lambda _n: None)
            continue
        if sub.transactional:
            delivered += _deliver_in_transaction(db, settings, sub, event_id)
        else:
            delivered += _deliver_leased(db, settings, sub, event_id, worker_id)
    return delivered


def _deliver_in_transaction(db: Database, settings: Settings, sub: Subscriber, event_id: int) -> bool:
    try:
        with db.session() as session:
            row = repo.lock(session, event_id)
            if row is None:  # delivered, or being delivered by another worker right now
                return False
            sub.fn(EventDelivery(db=db, settings=settings, event_id=row.id, job_id=row.job_id,
                                 attempt=row.attempts + 1, session=session), **dict(row.payload or {}))
            repo.mark_delivered(row)
    except Exception as exc:  # noqa: BLE001 - rolled back: the event stays pending and is retried
        _failed(db, sub, event_id, exc, token=None)
        return False
    return True


def _deliver_leased(db: Database, settings: Settings, sub: Subscriber, event_id: int, worker_id: str) -> bool:
    with db.session() as session:
        claim = repo.claim(session, event_id, worker_id, lease_s=LEASE_S)
    if claim is None:
        return False
    try:
        sub.fn(EventDelivery(db=db, settings=settings, event_id=claim.id, job_id=claim.job_id,
                             attempt=claim.attempt), **claim.payload)
    except Exception as exc:  # noqa: BLE001 - a subscriber failure never fails the worker
        _failed(db, sub, event_id, exc, token=claim.token)
        return False
    with db.session() as session:
        immediate_transaction(session)
        done = repo.finish_claim(session, claim)
    if not done:
        log.warning("outbox: event %d (%s) outlived its lease; another worker delivers it too", event_id, sub.name)
    return done


def retry_delay(attempts: int) -> float | None:
    """Seconds before the next attempt after ``attempts`` failed ones; None: give up."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return min(RETRY_CAP_S, RETRY_BASE_S * 2 ** max(0, attempts - 1))


def _failed(db: Database, sub: Subscriber, event_id: int, exc: Exception, *, token: int | None) -> None:
    error = {"type": type(exc).__name__, "message": str(exc)[:2000],
             "traceback": "".join(traceback.format_exception(exc))[-8000:]}
    with db.session() as session:
        status = repo.record_failure(session, event_id, error, token=token, counts_attempt=token is None,
                                     retry_in=retry_delay)
    if status == repo.FAILED:
        log.error("outbox: event %d: subscriber %s failed %d times; given up: %s", event_id, sub.name,
                  MAX_ATTEMPTS, exc, exc_info=exc)
    else:
        log.warning("outbox: event %d: subscriber %s failed (retried later): %s", event_id, sub.name, exc,
                    exc_info=exc)


def _prune_now_and_then(db: Database) -> None:
    global _last_prune
    with _prune_lock:
        now = time.monotonic()
        if _last_prune and now - _last_prune < PRUNE_EVERY_S:
            return
        _last_prune = now
    with db.session() as session:
        immediate_transaction(session)
        pruned = repo.prune_delivered(session, before=utcnow() - KEEP_DELIVERED)
    if pruned:
        log.info("outbox: pruned %d delivered event(s) older than %s", pruned, KEEP_DELIVERED)


def _process_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"
