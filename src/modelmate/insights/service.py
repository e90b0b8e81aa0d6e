"""Insights over your log: the dashboard, the timeline (from entry events) and side-by-side compare.

Services never commit; everything here only reads.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.orm import Session

from modelmate.enums import EntryStatus
from modelmate.errors import NotFoundError, ValidationFailed
from modelmate.insights import repository as repo
from modelmate.insights.schemas import (
    CompareField,
    Comparison,
    CountItem,
    Dashboard,
    MonthActivity,
    TimelineEvent,
    TimelineFilter,
    TimelineMonth,
    TimelinePage,
    Totals,
)
from modelmate.models import EntryEvent, User
from modelmate.tracker import repository as tracker_repo
from modelmate.tracker.schemas import EntryOut
from modelmate.tracker.service import to_out

MONTHS = 12
RECENT = 10
WISHLIST = 6
COMPARE_MIN, COMPARE_MAX = 2, 4


# --- months ----------------------------------------------------------------------------------------------------

def _month_start(d: date) -> date:
    return d.replace(day=1)


def _add_months(d: date, n: int) -> date:
    index = d.year * 12 + d.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def _midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def last_months(today: date, count: int = MONTHS) -> list[date]:
    """First days of the last ``count`` months, oldest first, the current one included."""
    current = _month_start(today)
    return [_add_months(current, -i) for i in range(count - 1, -1, -1)]


# --- dashboard -------------------------------------------------------------------------------------------------

def dashboard(session: Session, user: User, *, today: date | None = None) -> Dashboard:
    today = today or datetime.now(UTC).date()
    months = last_months(today)
    bounds = [*months, _add_months(months[-1], 1)]
    added = repo.added_by_month(session, user.id, [_midnight(b) for b in bounds])
    interacted = repo.interacted_by_month(session, user.id, bounds)
    by_status = repo.count_by_status(session, user.id)
    return Dashboard(
        totals=Totals(**repo.totals(session, user.id)),
        by_status=[CountItem(value=s.value, count=by_status.get(s.value, 0)) for s in EntryStatus],
        by_type=[CountItem(value=v, count=c) for v, c in repo.count_by_type(session, user.id)],
        top_tags=[CountItem(value=v, count=c) for v, c in repo.top_tags(session, user.id)],
        by_month=[MonthActivity(month=m.strftime("%Y-%m"), added=a, interacted=i)
                  for m, a, i in zip(months, added, interacted, strict=True)],
        recent_activity=[_event_out(e, t) for e, t in
                         repo.timeline_events(session, user.id, TimelineFilter(), before=None, limit=RECENT)],
        wishlist=[to_out(e) for e in repo.oldest_wishlist(session, user.id, WISHLIST)],
    )


# --- timeline --------------------------------------------------------------------------------------------------

def _event_out(event: EntryEvent, model_type: str | None) -> TimelineEvent:
    return TimelineEvent(id=event.id, kind=event.kind, occurred_at=event.occurred_at, entry_id=event.entry_id,
                         model_id=event.model_id, model_name=event.model_name, model_type=model_type,
                         from_status=event.from_status, to_status=event.to_status, data=dict(event.data or {}))


def encode_cursor(at: datetime, event_id: int) -> str:
    raw = json.dumps([at.astimezone(UTC).isoformat(), event_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at_text, event_id = json.loads(raw)
        at = datetime.fromisoformat(at_text)
        if at.tzinfo is None or not isinstance(event_id, int) or isinstance(event_id, bool) or event_id < 1:
            raise ValueError("bad cursor")
        return at.astimezone(UTC), event_id
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, OverflowError) as exc:
        raise ValidationFailed("before: not a cursor from a previous timeline page", code="invalid_cursor") from exc


def timeline(session: Session, user: User, f: TimelineFilter, *, limit: int = 50,
             before: str | None = None) -> TimelinePage:
    key = decode_cursor(before) if before else None
    rows = repo.timeline_events(session, user.id, f, before=key, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1][0].occurred_at, rows[-1][0].id) if more and rows else None
    groups: dict[str, list[TimelineEvent]] = {}
    for event, model_type in rows:
        groups.setdefault(event.occurred_at.astimezone(UTC).strftime("%Y-%m"), []).append(
            _event_out(event, model_type))
    counts: dict[str, int] = {}
    if rows:
        oldest = _month_start(rows[-1][0].occurred_at.astimezone(UTC).date())
        newest = _month_start(rows[0][0].occurred_at.astimezone(UTC).date())
        counts = repo.timeline_month_counts(session, user.id, f, _midnight(oldest),
                                            _midnight(_add_months(newest, 1)))
    months = [TimelineMonth(month=m, count=counts.get(m, len(events)), events=events)
              for m, events in groups.items()]
    return TimelinePage(months=months, next_cursor=next_cursor)


# --- compare ---------------------------------------------------------------------------------------------------

def _as_set(values: list[Any]) -> list[Any]:
    return [frozenset(str(v).casefold() for v in (value or [])) for value in values]


# (field, label, how values are made comparable: None = as they are; _as_set = order and case ignored)
_FIELDS: list[tuple[str, str, Callable[[list[Any]], list[Any]] | None]] = [
    ("name", "Name", None),
    ("developer", "Developer", None),
    ("model_type", "Type", None),
    ("parameters", "Parameters", None),
    ("license", "License", None),
    ("version", "Version", None),
    ("status", "Status", None),
    ("rating", "Rating", None),
    ("date_interacted", "Last interacted", None),
    ("tags", "Tags", _as_set),
    ("hf_repo_id", "Hugging Face repo", None),
    ("github_repo", "GitHub repo", None),
    ("source_links", "Links", _as_set),
    ("description", "Description", None),
    ("notes_length", "Notes length (characters)", None),
    ("journal_count", "Journal notes", None),
    ("created_at", "Added", None),
]


def _check_ids(ids: Sequence[int]) -> None:
    if not COMPARE_MIN <= len(ids) <= COMPARE_MAX:
        raise ValidationFailed(f"compare needs {COMPARE_MIN} to {COMPARE_MAX} entries; got {len(ids)}",
                               code="compare_count", details={"count": len(ids)})
    duplicated = sorted({i for i in ids if list(ids).count(i) > 1})
    if duplicated:
        raise ValidationFailed(f"each entry can be compared once; repeated: {', '.join(map(str, duplicated))}",
                               code="compare_duplicates", details={"duplicated": duplicated})


def compare(session: Session, user: User, ids: Sequence[int]) -> Comparison:
    _check_ids(ids)
    found = {e.id: e for e in tracker_repo.get_entries(session, user.id, list(ids))}
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFoundError(f"entries not found: {', '.join(map(str, missing))}", details={"missing": missing})
    entries: list[EntryOut] = [to_out(found[i]) for i in ids]
    journal = repo.journal_counts(session, user.id, list(ids))
    rows = []
    for entry in entries:
        row = entry.model_dump(mode="json")
        row["notes_length"] = len(entry.notes)
        row["journal_count"] = journal.get(entry.id, 0)
        rows.append(row)
    fields = []
    for name, label, key in _FIELDS:
        values = [row[name] for row in rows]
        comparable = key(values) if key else values
        fields.append(CompareField(field=name, label=label, values=values,
                                   differs=any(v != comparable[0] for v in comparable[1:])))
    return Comparison(entries=entries, fields=fields)
