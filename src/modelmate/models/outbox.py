"""The transactional outbox: follow-up work written in the same transaction as the outcome that causes it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from modelmate.db.base import Base, IdType, JSONType, UTCDateTime, utcnow


class OutboxEvent(Base):
    """One event for one subscriber (``model_trained`` → the automatic evaluation, ``evaluation_stored`` → the
    capability changes). A job inserts it in the transaction that records its outcome, so a crash can never keep
    the outcome and lose the follow-up; a worker delivers it once (``modelmate.jobs.outbox``).

    ``status``: ``pending`` until delivered, ``delivered``, or ``failed`` once its subscriber failed every attempt
    (kept, with the error). ``claim_token``/``lease_expires_at`` fence a subscriber that runs outside the delivery's
    transaction; ``available_at`` delays a retry."""

    __tablename__ = "outbox_events"
    __table_args__ = (
        CheckConstraint("status IN ('pending','delivered','failed')", name="status"),
        Index("ix_outbox_events_pending", "status", "available_at", "id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    event: Mapped[str] = mapped_column(String(32))
    subscriber: Mapped[str] = mapped_column(String(200))  # "module:function" of the subscriber
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    job_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("jobs.id", ondelete="SET NULL"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    claim_token: Mapped[int] = mapped_column(BigInteger, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
