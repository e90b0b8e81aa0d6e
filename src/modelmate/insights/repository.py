"""SQL for the dashboard, the timeline and compare: GROUP BY queries and index range counts, never rows in Python."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Date, Select, and_, func, or_, select
from sqlalchemy.orm import QueryableAttribute, Session

from modelmate.catalog.repository import normalise_key
from modelmate.db.like import LIKE_ESCAPE, contains
from modelmate.insights.schemas import TimelineFilter
from modelmate.models import Entry, EntryEvent, EntryTag, JournalNote, Model, Tag

TOP_TAGS = 15


def month_key(session: Session, col: ColumnElement[Any] | QueryableAttribute[Any]) -> ColumnElement[str]:
    """``YYYY-MM`` of a date or a (UTC) timestamp column.

    SQLite keeps both as ISO text (``YYYY-MM-DD[ HH:MM:SS.ffffff]``, UTC), so the month is its first 7 characters:
    the same answer as ``strftime('%Y-%m', col)`` at about half the cost per row.
    """
    if session.get_bind().dialect.name == "sqlite":
        return func.substr(col, 1, 7)
    if isinstance(col.type, Date):  # a calendar date: no time zone to convert
        return func.to_char(col, "YYYY-MM")
    return func.to_char(func.timezone("UTC", col), "YYYY-MM")


# --- dashboard -------------------------------------------------------------------------------------------------

def totals(session: Session, owner_id: int) -> dict[str, object]:
    """Each figure from an index: (owner, rating), (owner, status), (tag, entry), journal (owner)."""
    entries, rated, average = session.execute(
        select(func.count(), func.count(Entry.rating), func.avg(Entry.rating)).select_from(Entry)
        .where(Entry.owner_id == owner_id)).one()
    using = session.scalar(select(func.count()).select_from(Entry)
                           .where(Entry.owner_id == owner_id, Entry.status == "using")) or 0
    in_use = select(EntryTag.entry_id).where(EntryTag.tag_id == Tag.id).exists()
    tags = session.scalar(select(func.count()).select_from(Tag).where(Tag.owner_id == owner_id, in_use)) or 0
    notes = session.scalar(select(func.count()).select_from(JournalNote).where(JournalNote.owner_id == owner_id)) or 0
    return {"entries": int(entries), "rated": int(rated), "using_now": int(using), "tags": int(tags),
            "journal_notes": int(notes), "average_rating": None if average is None else round(float(average), 2)}


def count_by_status(session: Session, owner_id: int) -> dict[str, int]:
    stmt = select(Entry.status, func.count(Entry.id)).where(Entry.owner_id == owner_id).group_by(Entry.status)
    return {str(s): int(c) for s, c in session.execute(stmt)}


def count_by_type(session: Session, owner_id: int) -> list[tuple[str, int]]:
    n = func.count(Entry.id)
    stmt = (select(Model.model_type, n).join(Model, Model.id == Entry.model_id).where(Entry.owner_id == owner_id)
            .group_by(Model.model_type).order_by(n.desc(), Model.model_type))
    return [(str(t), int(c)) for t, c in session.execute(stmt)]


def top_tags(session: Session, owner_id: int, limit: int = TOP_TAGS) -> list[tuple[str, int]]:
    n = func.count(EntryTag.entry_id)
    stmt = (select(Tag.name, n).join(EntryTag, EntryTag.tag_id == Tag.id).where(Tag.owner_id == owner_id)
            .group_by(Tag.id, Tag.name).order_by(n.desc(), Tag.name).limit(limit))
    return [(str(name), int(c)) for name, c in session.execute(stmt)]


def _range_counts(session: Session, col: ColumnElement[Any] | QueryableAttribute[Any], owner_id: int,
                  bounds: Sequence[date | datetime]) -> list[int]:
    """Entries with ``bounds[i] <= col < bounds[i + 1]``, one count per interval, in one statement.

    Each count is an index range count on (owner_id, col): no per-row month function, fast at any size.
    """
    counts = [select(func.count()).select_from(Entry)
              .where(Entry.owner_id == owner_id, col >= lo, col < hi).scalar_subquery()
              for lo, hi in zip(bounds, bounds[1:], strict=False)]
    return [int(c or 0) for c in session.execute(select(*counts)).one()]


def added_by_month(session: Session, owner_id: int, bounds: Sequence[datetime]) -> list[int]:
    """Entries created in each [bounds[i], bounds[i+1]) interval (UTC month starts)."""
    return _range_counts(session, Entry.created_at, owner_id, bounds)


def interacted_by_month(session: Session, owner_id: int, bounds: Sequence[date]) -> list[int]:
    """Entries whose date_interacted falls in each [bounds[i], bounds[i+1]) interval."""
    return _range_counts(session, Entry.date_interacted, owner_id, bounds)


def oldest_wishlist(session: Session, owner_id: int, limit: int) -> list[Entry]:
    stmt = (select(Entry).where(Entry.owner_id == owner_id, Entry.status == "wishlist")
            .order_by(Entry.created_at.asc(), Entry.id.asc()).limit(limit))
    return list(session.scalars(stmt))


# --- timeline --------------------------------------------------------------------------------------------------

def _events(owner_id: int, f: TimelineFilter, *columns) -> Select:
    """SELECT ``columns`` FROM entry_events LEFT JOIN models, with every timeline filter applied."""
    stmt = (select(*columns).select_from(EntryEvent).outerjoin(Model, Model.id == EntryEvent.model_id)
            .where(EntryEvent.owner_id == owner_id))
    if f.kind:
        stmt = stmt.where(EntryEvent.kind.in_([k.value for k in f.kind]))
    if f.status:
        statuses = [s.value for s in f.status]
        stmt = stmt.where(or_(EntryEvent.to_status.in_(statuses), EntryEvent.from_status.in_(statuses)))
    if f.model_type:
        stmt = stmt.where(Model.model_type.in_(f.model_type))
    if f.tag:
        keys = sorted({normalise_key(t) for t in f.tag if t.strip()})
        tagged = (select(EntryTag.entry_id).join(Tag, Tag.id == EntryTag.tag_id)
                  .where(Tag.owner_id == owner_id, Tag.name_key.in_(keys)))
        stmt = stmt.where(EntryEvent.entry_id.in_(tagged))
    if f.date_from is not None:
        stmt = stmt.where(EntryEvent.occurred_at >= datetime.combine(f.date_from, time.min, UTC))
    if f.date_to is not None:
        stmt = stmt.where(EntryEvent.occurred_at < datetime.combine(f.date_to + timedelta(days=1), time.min, UTC))
    if f.entry_id is not None:
        stmt = stmt.where(EntryEvent.entry_id == f.entry_id)
    if f.q and f.q.strip():
        pattern = contains(normalise_key(f.q))
        stmt = stmt.where(or_(func.lower(EntryEvent.model_name).like(pattern, escape=LIKE_ESCAPE),
                              Model.name_key.like(pattern, escape=LIKE_ESCAPE)))
    return stmt


def timeline_events(session: Session, owner_id: int, f: TimelineFilter, *, before: tuple[datetime, int] | None,
                    limit: int) -> list[tuple[EntryEvent, str | None]]:
    """Events newest first (ties broken by id), strictly older than the ``before`` key when given."""
    stmt = _events(owner_id, f, EntryEvent, Model.model_type)
    if before is not None:
        at, event_id = before
        stmt = stmt.where(or_(EntryEvent.occurred_at < at,
                              and_(EntryEvent.occurred_at == at, EntryEvent.id < event_id)))
    stmt = stmt.order_by(EntryEvent.occurred_at.desc(), EntryEvent.id.desc()).limit(limit)
    return [(event, model_type) for event, model_type in session.execute(stmt)]


def timeline_month_counts(session: Session, owner_id: int, f: TimelineFilter, start: datetime,
                          end: datetime) -> dict[str, int]:
    """Events matching the filters per month, for months in [start, end)."""
    month = month_key(session, EntryEvent.occurred_at)
    stmt = (_events(owner_id, f, month, func.count(EntryEvent.id))
            .where(EntryEvent.occurred_at >= start, EntryEvent.occurred_at < end).group_by(month))
    return {str(m): int(c) for m, c in session.execute(stmt)}


# --- compare ---------------------------------------------------------------------------------------------------

def journal_counts(session: Session, owner_id: int, entry_ids: Sequence[int]) -> dict[int, int]:
    stmt = (select(JournalNote.entry_id, func.count(JournalNote.id))
            .where(JournalNote.owner_id == owner_id, JournalNote.entry_id.in_(list(entry_ids)))
            .group_by(JournalNote.entry_id))
    return {int(e): int(c) for e, c in session.execute(stmt)}
