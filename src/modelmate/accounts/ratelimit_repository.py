"""SQL for the login and signup rate limits (``accounts.ratelimit.DatabaseBackend``): counted events per key
(``rate_limit_events``) and streaks per key (``rate_limit_streaks``). Times are epoch seconds."""

from __future__ import annotations

from sqlalchemy import case, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from modelmate.db.base import affected_rows
from modelmate.models import RateLimitEvent, RateLimitStreak


def add_event(session: Session, key: str, at: float, *, expires_at: float) -> None:
    session.add(RateLimitEvent(key=key, at=at, expires_at=expires_at))
    session.flush()


def count_events(session: Session, key: str, *, after: float) -> tuple[int, float | None]:
    """Events of ``key`` later than ``after``, and the oldest one's time."""
    n, oldest = session.execute(select(func.count(), func.min(RateLimitEvent.at))
                                .where(RateLimitEvent.key == key, RateLimitEvent.at > after)).one()
    return int(n or 0), oldest


def streak(session: Session, key: str, *, after: float) -> tuple[int, float | None]:
    """The streak of ``key`` if its last bump is later than ``after``; else ``(0, None)``."""
    row = session.execute(select(RateLimitStreak.n, RateLimitStreak.last_at)
                          .where(RateLimitStreak.key == key, RateLimitStreak.last_at > after)).first()
    return (int(row[0]), row[1]) if row else (0, None)


def bump(session: Session, key: str, now: float, *, forget_s: float) -> int:
    """One more in the streak of ``key`` (a new streak when its last bump is ``forget_s`` old) in one atomic
    upsert, so concurrent bumps from several processes all count. Returns the new length."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(RateLimitStreak).values(key=key, n=1, last_at=now, expires_at=now + forget_s)
    upsert = stmt.on_conflict_do_update(index_elements=[RateLimitStreak.key], set_={
        "n": case((RateLimitStreak.last_at <= now - forget_s, 1), else_=RateLimitStreak.n + 1),
        "last_at": now, "expires_at": now + forget_s,
    }).returning(RateLimitStreak.n)
    return int(session.execute(upsert).scalar_one())


def forget(session: Session, key: str) -> None:
    session.execute(delete(RateLimitEvent).where(RateLimitEvent.key == key))
    session.execute(delete(RateLimitStreak).where(RateLimitStreak.key == key))


def prune(session: Session, now: float) -> int:
    """Delete what no limit can count any more (past ``expires_at``). Returns how many rows went."""
    events = affected_rows(session.execute(delete(RateLimitEvent).where(RateLimitEvent.expires_at <= now))) or 0
    streaks = affected_rows(session.execute(delete(RateLimitStreak).where(RateLimitStreak.expires_at <= now))) or 0
    return events + streaks
