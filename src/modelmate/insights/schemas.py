"""API schemas for the dashboard, the timeline and compare."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from modelmate.enums import EntryStatus, EventKind
from modelmate.tracker.schemas import EntryOut


class CountItem(BaseModel):
    value: str
    count: int


class Totals(BaseModel):
    entries: int
    tags: int = Field(description="Tags in use on at least one entry")
    journal_notes: int
    rated: int = Field(description="Entries with a rating")
    average_rating: float | None = Field(description="Mean rating of the rated entries (2 decimals); null if none")
    using_now: int = Field(description="Entries with status 'using'")


class MonthActivity(BaseModel):
    month: str = Field(description="YYYY-MM (UTC)", examples=["2026-11"])
    added: int = Field(description="Entries created that month")
    interacted: int = Field(description="Entries whose date_interacted falls in that month")


class TimelineEvent(BaseModel):
    id: int
    kind: str = Field(description="added, status_changed, note_added, note_edited, rated, updated or deleted")
    occurred_at: datetime
    entry_id: int | None = Field(description="Null once the entry was deleted")
    model_id: int | None
    model_name: str = Field(description="The model's name when the event happened")
    model_type: str | None = Field(description="The model's current type; null if the model is gone")
    from_status: str | None
    to_status: str | None
    data: dict[str, Any]


class Dashboard(BaseModel):
    totals: Totals
    by_status: list[CountItem] = Field(description="Every status in lifecycle order, zeros included")
    by_type: list[CountItem] = Field(description="Model types in use, most entries first")
    top_tags: list[CountItem] = Field(description="The 15 most used tags")
    by_month: list[MonthActivity] = Field(description="The last 12 months (UTC), oldest first, current included")
    recent_activity: list[TimelineEvent] = Field(description="The 10 latest events, newest first")
    wishlist: list[EntryOut] = Field(description="Up to 6 wishlist entries to explore next, oldest added first")


class TimelineFilter(BaseModel):
    kind: list[EventKind] = []
    status: list[EntryStatus] = []
    model_type: list[str] = []
    tag: list[str] = []
    date_from: date | None = None
    date_to: date | None = None
    entry_id: int | None = None
    q: str | None = None


class TimelineMonth(BaseModel):
    month: str = Field(description="YYYY-MM (UTC)")
    count: int = Field(description="Events of that month matching the filters, on every page together")
    events: list[TimelineEvent] = Field(description="This page's events of that month, newest first")


class TimelinePage(BaseModel):
    months: list[TimelineMonth]
    next_cursor: str | None = Field(description="Pass as `before` for the next (older) page; null on the last page")


class CompareField(BaseModel):
    field: str
    label: str
    values: list[Any] = Field(description="One value per entry, in the requested order")
    differs: bool = Field(description="True when not all values are equal (tags and links compare as sets)")


class Comparison(BaseModel):
    entries: list[EntryOut]
    fields: list[CompareField]
