"""The demo log: ~40 real models with a believable engineer's diary, backdated over the last ten months.

The catalog facts and the diary text live in ``catalog.json`` beside this module. Dates are not stored there:
:func:`plan_log` spreads them over the :data:`WINDOW_DAYS` days before *today*, deterministically for a given
``seed`` and date, so the dashboard and the timeline look alive whenever the demo is installed.

History is consistent: every entry gets an ``added`` event at its creation time, ``status_changed`` events
walking ``log.path`` (each ``from`` is the previous ``to``; the last ``to`` is the entry's status), ``rated``
events when a rating is given or changed, and ``note_added`` events at each journal note's time. Every
timestamp is at or after the entry's creation and before the start of today (so never in the future).
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from importlib import resources
from typing import Any

from sqlalchemy.orm import Session

from modelmate.catalog import repository as catalog_repo
from modelmate.catalog.schemas import ModelCreate
from modelmate.db.base import utcnow
from modelmate.db.engine import Database, immediate_transaction
from modelmate.demo import repository as demo_repo
from modelmate.enums import EntryStatus, EventKind
from modelmate.models import Entry, Model, User
from modelmate.tracker import service as tracker
from modelmate.tracker.schemas import EntryCreate

log = logging.getLogger("modelmate.demo")

WINDOW_DAYS = 300  # about ten months of history
DEFAULT_SEED = 2024
CATALOG_FILE = "catalog.json"
STATUSES = {s.value for s in EntryStatus}
# Statuses that mean "I actually ran or read it" (a rating makes sense from here on).
ENGAGED = {EntryStatus.TRIED, EntryStatus.STUDIED, EntryStatus.USING}


@dataclass(frozen=True)
class DemoModel:
    """One catalog item: the model's public facts and the diary written about it."""

    model: dict[str, Any]
    path: tuple[str, ...]
    tags: tuple[str, ...]
    notes: str
    journal: tuple[str, ...]
    rating: int | None = None
    first_rating: int | None = None
    released: date | None = None

    @property
    def status(self) -> str:
        return self.path[-1]


@dataclass
class PlannedEvent:
    kind: EventKind
    at: datetime
    from_status: str | None = None
    to_status: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    body: str | None = None  # journal note text for NOTE_ADDED


@dataclass
class PlannedEntry:
    item: DemoModel
    created_at: datetime
    updated_at: datetime
    date_interacted: date | None
    events: list[PlannedEvent]  # chronological; NOTE_ADDED events carry the journal body

    @property
    def journal(self) -> list[PlannedEvent]:
        return [e for e in self.events if e.kind == EventKind.NOTE_ADDED]


@dataclass
class SeedResult:
    entries: int = 0
    journal_notes: int = 0
    events: int = 0
    skipped: list[str] = field(default_factory=list)
    by_status: dict[str, list[str]] = field(default_factory=dict)  # status -> model names
    first: datetime | None = None
    last: datetime | None = None


# --- the catalog file -----------------------------------------------------------------------------------------

def _text(value: str | list[str] | None) -> str:
    """Markdown stored as a list of lines in the JSON (readable diffs) or as one string."""
    if value is None:
        return ""
    return "\n".join(value) if isinstance(value, list) else value


def _released(value: str | None) -> date | None:
    if not value:
        return None
    year, month = value.split("-")[:2]
    return date(int(year), int(month), 1)


def parse_item(raw: dict[str, Any]) -> DemoModel:
    """Validate one catalog item (model facts through the API schema, diary through our own rules)."""
    model = ModelCreate.model_validate(raw["model"])
    name = model.name
    story = raw.get("log") or {}
    path = tuple(story.get("path") or ["wishlist"])
    bad = [s for s in path if s not in STATUSES]
    if bad:
        raise ValueError(f"{name}: unknown status {bad[0]!r} in log.path")
    if any(a == b for a, b in zip(path, path[1:], strict=False)):
        raise ValueError(f"{name}: log.path repeats a status")
    rating, first = story.get("rating"), story.get("first_rating")
    for r in (rating, first):
        if r is not None and not (isinstance(r, int) and 1 <= r <= 5):
            raise ValueError(f"{name}: ratings are whole numbers from 1 to 5")
    if path[-1] in ("tried", "using") and rating is None:
        raise ValueError(f"{name}: a tried or used model needs a rating")
    if first is not None and rating is None:
        raise ValueError(f"{name}: first_rating without a final rating")
    if rating is not None and not ENGAGED & set(path):
        raise ValueError(f"{name}: rated but never tried, studied or used")
    journal = tuple(_text(j) for j in story.get("journal") or [])
    if len(journal) > 3 or any(not j.strip() for j in journal):
        raise ValueError(f"{name}: 0 to 3 non-blank journal notes")
    return DemoModel(model=model.model_dump(mode="json", exclude={"kind", "visibility"}), path=path,
                     tags=tuple(story.get("tags") or ()), notes=_text(story.get("notes")), journal=journal,
                     rating=rating, first_rating=first, released=_released(story.get("released")))


def raw_catalog() -> dict[str, Any]:
    return json.loads(resources.files("modelmate.demo").joinpath(CATALOG_FILE).read_text(encoding="utf-8"))


@cache
def load_catalog() -> tuple[DemoModel, ...]:
    return tuple(parse_item(item) for item in raw_catalog()["models"])


# --- planning: dates and the history walk (pure: no database) ------------------------------------------------

class _Clock:
    """Strictly increasing timestamps for one entry: a new day starts in working hours, the same day moves on."""

    def __init__(self, rng: random.Random, origin: datetime) -> None:
        self.rng, self.origin = rng, origin
        self.day: int | None = None
        self.now: datetime | None = None

    def at(self, day: int) -> datetime:
        if self.now is None or self.day is None or day > self.day:
            minutes = self.rng.randint(8 * 60, 18 * 60)  # 08:00–18:00 UTC; later same-day events stay before 23:00
            self.now = self.origin + timedelta(days=day, minutes=minutes)
            self.day = day
        else:
            self.now = self.now + timedelta(minutes=self.rng.randint(2, 30))
        return self.now


def _gap(rng: random.Random, day: int, steps_left: int, last_day: int) -> int:
    """Days until the next status change: a few days to ~6 weeks, leaving room for the remaining steps."""
    room = last_day - day
    if room <= 0:
        return 0
    hi = max(1, min(45, room // max(1, steps_left)))
    return rng.randint(min(2, hi), hi)


def _plan_one(item: DemoModel, rng: random.Random, origin: datetime, created_day: int,
              last_day: int) -> PlannedEntry:
    path = item.path
    # Days of each status: the first is the day the entry was added.
    days = [created_day]
    for i in range(1, len(path)):
        days.append(days[-1] + _gap(rng, days[-1], len(path) - i, last_day))
    # Journal notes are written once the model is in use (or read), up to a month after the last change.
    engaged_idx = next((i for i, s in enumerate(path) if s in ENGAGED), 0)
    lo, hi = days[engaged_idx], min(last_day, days[-1] + 30)
    note_days = sorted(rng.randint(lo, hi) for _ in item.journal)

    # Build in logical order, then stable-sort by day: on a shared day the logical order is kept.
    steps: list[tuple[int, PlannedEvent]] = []
    placeholder = datetime.min.replace(tzinfo=UTC)
    steps.append((days[0], PlannedEvent(EventKind.ADDED, placeholder, to_status=path[0])))
    rating_now: int | None = None
    first_rating = item.first_rating if item.first_rating is not None else item.rating
    last_engaged_idx = max((i for i, s in enumerate(path) if s in ENGAGED), default=None)
    for i, status in enumerate(path):
        if i > 0:
            steps.append((days[i], PlannedEvent(EventKind.STATUS_CHANGED, placeholder, from_status=path[i - 1],
                                                to_status=status)))
        wanted = None
        if i == engaged_idx and status in ENGAGED:
            wanted = first_rating
        if i == last_engaged_idx and item.rating != rating_now and rating_now is not None:
            wanted = item.rating
        if wanted is not None and wanted != rating_now:
            steps.append((days[i], PlannedEvent(EventKind.RATED, placeholder, data={"from": rating_now, "to": wanted})))
            rating_now = wanted
    if item.rating is not None and rating_now != item.rating:  # e.g. re-rated while archiving
        steps.append((days[-1], PlannedEvent(EventKind.RATED, placeholder,
                                             data={"from": rating_now, "to": item.rating})))
    for day, body in zip(note_days, item.journal, strict=True):
        steps.append((day, PlannedEvent(EventKind.NOTE_ADDED, placeholder, data={"excerpt": body[:200]}, body=body)))
    steps.sort(key=lambda s: s[0])

    clock = _Clock(rng, origin)
    events = []
    for day, ev in steps:
        ev.at = clock.at(day)
        events.append(ev)

    created_at = events[0].at
    interactions = [e.at for e in events
                    if (e.kind == EventKind.STATUS_CHANGED and e.to_status in ENGAGED)
                    or e.kind == EventKind.NOTE_ADDED
                    or (e.kind == EventKind.ADDED and e.to_status in ENGAGED)]
    date_interacted = max(interactions).date() if interactions and item.status != "wishlist" else None
    return PlannedEntry(item=item, created_at=created_at, updated_at=events[-1].at,
                        date_interacted=date_interacted, events=events)


def plan_log(today: date, *, seed: int = DEFAULT_SEED, items: tuple[DemoModel, ...] | None = None,
             window_days: int = WINDOW_DAYS) -> list[PlannedEntry]:
    """The whole demo history, oldest entry first. Deterministic for a given ``today`` and ``seed``.

    Entries are added in evenly spread slots across the window (so every month has some), never before
    the model's release; all timestamps fall between ``today - window_days`` and the end of yesterday.
    """
    items = load_catalog() if items is None else items
    rng = random.Random(seed)
    start = today - timedelta(days=window_days)
    origin = datetime.combine(start, time(0), tzinfo=UTC)
    last_day = window_days - 1  # yesterday
    n = len(items)
    earliest = [min(last_day, max(0, (it.released - start).days + 14)) if it.released else 0 for it in items]
    order = list(range(n))
    rng.shuffle(order)
    order.sort(key=lambda i: earliest[i])  # stable: shuffled within the same release constraint
    # Leave the last few weeks for status walks, journal notes and the latest additions.
    span = max(1, last_day - 21)
    plans = []
    for k, i in enumerate(order):
        slot = (k + rng.random() * 0.9) * span / max(1, n)
        created_day = min(last_day, max(earliest[i], int(slot)))
        plans.append(_plan_one(items[i], rng, origin, created_day, last_day))
    plans.sort(key=lambda p: p.created_at)
    return plans


# --- writing ---------------------------------------------------------------------------------------------------

class _KnownModels:
    """Catalog models that already exist (e.g. logged by another user), looked up in one query.

    Mirrors the catalog's duplicate rules (same Hugging Face id, same GitHub repo, or same name and developer),
    so a known public model is logged by id instead of being cloned.
    """

    def __init__(self, session: Session, items: list[DemoModel], viewer_id: int) -> None:
        models = demo_repo.models_matching(
            session, hf_repo_ids={i.model["hf_repo_id"] for i in items if i.model.get("hf_repo_id")},
            github_repos={i.model["github_repo"] for i in items if i.model.get("github_repo")},
            name_keys={catalog_repo.normalise_key(i.model["name"]) for i in items}, viewer_id=viewer_id)
        self.by_hf = {m.hf_repo_id.lower(): m for m in models if m.hf_repo_id}
        self.by_gh = {m.github_repo.lower(): m for m in models if m.github_repo}
        self.by_name = {(m.name_key, m.developer_key): m for m in models}

    def find(self, model: dict[str, Any]) -> Model | None:
        hf, gh = (model.get("hf_repo_id") or "").lower(), (model.get("github_repo") or "").lower()
        key = (catalog_repo.normalise_key(model["name"]), catalog_repo.normalise_key(model.get("developer")))
        return (hf and self.by_hf.get(hf)) or (gh and self.by_gh.get(gh)) or self.by_name.get(key)


def _event_row(user: User, entry: Entry, ev: PlannedEvent) -> dict[str, Any]:
    return {"owner_id": user.id, "entry_id": entry.id, "model_id": entry.model_id, "model_name": entry.model.name,
            "kind": ev.kind.value, "from_status": ev.from_status, "to_status": ev.to_status, "data": ev.data,
            "occurred_at": ev.at}


def seed_log(session: Session, user: User, *, today: date | None = None, seed: int = DEFAULT_SEED) -> SeedResult:
    """Write the demo log for ``user`` (the caller owns the transaction; nothing is committed here).

    Assumes the user's log is empty: a model already in it raises ``ConflictError``.
    """
    today = today or utcnow().date()
    result = SeedResult()
    plans = plan_log(today, seed=seed)
    known = _KnownModels(session, [p.item for p in plans], user.id)
    rows: list[dict[str, Any]] = []
    for plan in plans:
        item = plan.item
        entry_fields = {"status": item.status, "rating": item.rating, "tags": list(item.tags), "notes": item.notes,
                        "date_interacted": plan.date_interacted}
        existing = known.find(item.model)
        if existing is None:
            payload = EntryCreate(**item.model, **entry_fields)
        elif existing.visibility == "public" or existing.owner_id == user.id:
            payload = EntryCreate(model_id=existing.id, **entry_fields)
        else:  # someone's private model holds the name or repository id
            result.skipped.append(item.model["name"])
            continue
        last_change = max(e.at for e in plan.events if e.kind != EventKind.NOTE_ADDED)
        entry = tracker.create_entry(session, user, payload, created_at=plan.created_at, updated_at=last_change,
                                     record_event=False)
        for ev in plan.events:
            if ev.kind == EventKind.NOTE_ADDED:
                assert ev.body is not None
                tracker.add_journal(session, user, entry.id, ev.body, at=ev.at)  # records its own event
                result.journal_notes += 1
            else:
                rows.append(_event_row(user, entry, ev))
            result.events += 1
        result.entries += 1
        result.by_status.setdefault(item.status, []).append(item.model["name"])
        result.first = min(filter(None, [result.first, plan.created_at]))
        result.last = max(filter(None, [result.last, plan.updated_at]))
    session.flush()
    demo_repo.insert_events(session, rows)  # the backdated history, in one batch
    return result


def seed_if_empty(db: Database, user_id: int, *, today: date | None = None, seed: int = DEFAULT_SEED) -> int:
    """Seed the demo log once, for a user who has never logged anything. Returns the number of entries created.

    Safe at every start and under concurrent starts: the write lock (SQLite ``BEGIN IMMEDIATE``) or the user
    row lock (PostgreSQL) is taken before the check, and the whole seed is one transaction. A user who
    deleted every entry keeps an empty log (their history still exists), so the demo never comes back uninvited.
    """
    with db.session() as session:
        immediate_transaction(session)
        user = demo_repo.lock_user(session, user_id)
        if user is None or demo_repo.has_history(session, user_id):
            return 0
        result = seed_log(session, user, today=today, seed=seed)
    log.info("seeded the demo log: %d entries, %d journal notes", result.entries, result.journal_notes)
    return result.entries
