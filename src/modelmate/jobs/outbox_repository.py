"""SQL for the transactional outbox (``outbox_events``).

A row is taken the way the queue takes a job: SQLite's write lock first (``BEGIN IMMEDIATE``), or the row locked
with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two workers never deliver the same row at once. A row is
claimable while it is pending, due (``available_at``) and not leased by a live delivery.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from modelmate.db.base import affected_rows, utcnow
from modelmate.db.engine import immediate_transaction
from modelmate.models import OutboxEvent

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


@dataclass(frozen=True)
class Claim:
    """A leased delivery (a subscriber that runs outside the delivery's transaction)."""

    id: int
    token: int
    attempt: int
    job_id: int | None
    payload: dict[str, Any]


def insert(session: Session, *, event: str, subscriber: str, payload: dict[str, Any], job_id: int | None) -> int:
    now = utcnow()
    row = OutboxEvent(event=event, subscriber=subscriber, payload=payload, job_id=job_id, status=PENDING,
                      attempts=0, claim_token=0, available_at=now, created_at=now)
    session.add(row)
    session.flush()
    return row.id


def _claimable(now: datetime):
    return (OutboxEvent.status == PENDING, OutboxEvent.available_at <= now,
            or_(OutboxEvent.lease_expires_at.is_(None), OutboxEvent.lease_expires_at < now))


def has_pending(session: Session) -> bool:
    """A cheap read before taking the write lock (idle workers poll it)."""
    return session.scalar(select(OutboxEvent.id).where(*_claimable(utcnow())).limit(1)) is not None


def pending(session: Session, *, ids: list[int] | None = None, limit: int = 50) -> list[tuple[int, str, str]]:
    """Claimable rows, oldest first: ``(id, event, subscriber)``."""
    stmt = (select(OutboxEvent.id, OutboxEvent.event, OutboxEvent.subscriber).where(*_claimable(utcnow()))
            .order_by(OutboxEvent.id).limit(limit))
    if ids is not None:
        stmt = stmt.where(OutboxEvent.id.in_(ids))
    return [(i, e, s) for i, e, s in session.execute(stmt)]


def lock(session: Session, event_id: int) -> OutboxEvent | None:
    """Take the row for a delivery in this transaction: None when it is delivered, not due, leased, or being
    delivered by another worker right now."""
    immediate_transaction(session)
    stmt = select(OutboxEvent).where(OutboxEvent.id == event_id, *_claimable(utcnow()))
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return session.scalar(stmt)


def claim(session: Session, event_id: int, worker_id: str, *, lease_s: float) -> Claim | None:
    """Lease the row to ``worker_id`` for ``lease_s`` (committed by the caller before the subscriber runs)."""
    row = lock(session, event_id)
    if row is None:
        return None
    now = utcnow()
    row.claim_token += 1
    row.attempts += 1
    row.claimed_by = worker_id[:128]
    row.lease_expires_at = now + timedelta(seconds=lease_s)
    session.flush()
    return Claim(id=row.id, token=row.claim_token, attempt=row.attempts, job_id=row.job_id,
                 payload=dict(row.payload or {}))


def mark_delivered(row: OutboxEvent) -> None:
    """The locked row (from :func:`lock`) is delivered, in the caller's transaction."""
    row.status = DELIVERED
    row.attempts += 1
    row.delivered_at = utcnow()
    row.claimed_by = None
    row.lease_expires_at = None
    row.error = None


def finish_claim(session: Session, claim: Claim) -> bool:
    """A leased delivery succeeded. False: the lease was lost (another worker took the row)."""
    return affected_rows(session.execute(update(OutboxEvent).where(
        OutboxEvent.id == claim.id, OutboxEvent.claim_token == claim.token, OutboxEvent.status == PENDING,
    ).values(status=DELIVERED, delivered_at=utcnow(), claimed_by=None, lease_expires_at=None,
             error=None))) == 1


def record_failure(session: Session, event_id: int, error: dict[str, Any], *, token: int | None,
                   counts_attempt: bool, retry_in: Callable[[int], float | None]) -> str | None:
    """A delivery failed: pending again after ``retry_in(attempts)`` seconds, or ``failed`` for good when that is
    None. ``token``: the claim's (a leased delivery; its claim counted the attempt), None for a transactional one
    (its attempt was rolled back with it: ``counts_attempt``). Returns the row's new status (None: not ours)."""
    immediate_transaction(session)
    row = session.get(OutboxEvent, event_id)
    if row is None or row.status != PENDING or (token is not None and row.claim_token != token):
        return None
    if counts_attempt:
        row.attempts += 1
    row.error = error
    row.claimed_by = None
    row.lease_expires_at = None
    delay = retry_in(row.attempts)
    if delay is None:
        row.status = FAILED
    else:
        row.available_at = utcnow() + timedelta(seconds=delay)
    session.flush()
    return row.status


def prune_delivered(session: Session, *, before: datetime) -> int:
    """Delivered rows older than ``before`` (failed ones stay: they are the evidence of what was not done)."""
    return affected_rows(session.execute(delete(OutboxEvent).where(OutboxEvent.status == DELIVERED,
                                                     OutboxEvent.delivered_at < before))) or 0
