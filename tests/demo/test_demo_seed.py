"""Seeding the demo log into a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import date

import pytest
from sqlalchemy import func, select

from modelmate.accounts.service import ensure_local_user
from modelmate.db.base import utcnow
from modelmate.db.engine import Database
from modelmate.demo.seed import load_catalog, seed_if_empty
from modelmate.enums import EntryStatus
from modelmate.models import Entry, EntryEvent, JournalNote, SearchDocument, User
from modelmate.tracker import service as tracker
from modelmate.tracker.schemas import EntryCreate, EntryFilter, SortField, SortOrder

N = len(load_catalog())


@pytest.fixture
def user_id(database: Database) -> int:
    with database.session() as session:
        return ensure_local_user(session).id


def check_history(session, owner_id: int) -> None:
    """For every entry: added first, a chained status walk ending in the entry's status, notes matching events."""
    now = utcnow()
    events = defaultdict(list)
    for ev in session.scalars(select(EntryEvent).where(EntryEvent.owner_id == owner_id)
                              .order_by(EntryEvent.occurred_at, EntryEvent.id)):
        events[ev.entry_id].append(ev)
    entries = list(session.scalars(select(Entry).where(Entry.owner_id == owner_id)))
    assert set(events) == {e.id for e in entries}
    for entry in entries:
        evs = events[entry.id]
        added = [e for e in evs if e.kind == "added"]
        assert len(added) == 1 and evs[0] is added[0], entry.model.name
        assert added[0].occurred_at == entry.created_at
        assert all(added[0].occurred_at <= e.occurred_at <= now for e in evs)
        assert entry.updated_at == evs[-1].occurred_at
        status = added[0].to_status
        for e in (e for e in evs if e.kind == "status_changed"):
            assert e.from_status == status and e.to_status != status, entry.model.name
            status = e.to_status
        assert status == entry.status, entry.model.name
        ratings = [e for e in evs if e.kind == "rated"]
        if entry.rating is None:
            assert ratings == []
        else:
            assert ratings[0].data["from"] is None and ratings[-1].data["to"] == entry.rating
            assert all(a.data["to"] == b.data["from"] for a, b in zip(ratings, ratings[1:], strict=False))
        notes = list(session.scalars(select(JournalNote).where(JournalNote.entry_id == entry.id)
                                     .order_by(JournalNote.created_at)))
        assert [n.created_at for n in notes] == [e.occurred_at for e in evs if e.kind == "note_added"]
        assert len(notes) <= 3
        if entry.status == "wishlist":
            assert entry.date_interacted is None and entry.rating is None
        else:
            assert entry.created_at.date() <= entry.date_interacted <= now.date()


def test_seed_fills_an_empty_log_with_a_consistent_history(database, user_id):
    assert seed_if_empty(database, user_id) == N
    with database.session() as session:
        entries = list(session.scalars(select(Entry).where(Entry.owner_id == user_id)))
        assert len(entries) == N >= 38
        assert {e.status for e in entries} == {s.value for s in EntryStatus}
        assert len({(e.created_at.year, e.created_at.month) for e in entries}) >= 6
        assert sum(1 for e in entries if e.tags) == N
        assert all(e.rating is not None for e in entries if e.status in ("tried", "using"))
        assert session.scalar(select(func.count()).select_from(JournalNote)) >= 30
        check_history(session, user_id)
    assert seed_if_empty(database, user_id) == 0  # idempotent
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Entry)) == N


def _search(database: Database, user_id: int, q: str) -> list[str]:
    with database.session() as session:
        user = session.get(User, user_id)
        page = tracker.list_entries(session, user, EntryFilter(q=q), sort=SortField.NAME, order=SortOrder.ASC,
                                    limit=50, offset=0, facets=False)
        return [i.name for i in page.items]


def test_search_index_covers_notes_journal_and_tags(database, user_id):
    seed_if_empty(database, user_id)
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(SearchDocument)) == N
    assert _search(database, user_id, "hungarian") == ["DETR ResNet-50"]  # in the notes
    assert _search(database, user_id, "DualPipe") == ["DeepSeek-V3"]  # only in a journal note
    assert "Whisper large-v3" in _search(database, user_id, "transcription")  # a tag
    assert _search(database, user_id, "xylophone") == []


def test_dates_follow_today(database, user_id):
    seed_if_empty(database, user_id, today=date(2026, 3, 15))
    with database.session() as session:
        first = session.scalar(select(func.min(EntryEvent.occurred_at)))
        last = session.scalar(select(func.max(EntryEvent.occurred_at)))
    assert first.date() >= date(2025, 5, 19) and last.date() <= date(2026, 3, 14)


def test_a_user_who_emptied_their_log_is_not_seeded_again(database, user_id):
    with database.session() as session:
        user = session.get(User, user_id)
        entry = tracker.create_entry(session, user, EntryCreate(name="My own model"))
        tracker.delete_entry(session, user, entry.id)
    assert seed_if_empty(database, user_id) == 0
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Entry)) == 0


def test_unknown_user_seeds_nothing(database):
    assert seed_if_empty(database, 12345) == 0


def test_concurrent_first_starts_seed_once(database, user_id):
    results: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def start() -> None:
        try:
            barrier.wait()
            results.append(seed_if_empty(database, user_id))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(results) == [0, 0, N]
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Entry)) == N


def test_models_already_in_the_catalog_are_reused(database, user_id):
    with database.session() as session:
        other = User(username="someone", display_name="Someone")
        session.add(other)
        session.flush()
        mine = tracker.create_entry(session, other, EntryCreate(name="Whisper", hf_repo_id="openai/whisper-large-v3"))
        mine.model.visibility = "public"  # shared by its creator: the demo logs it instead of cloning it
        secret = tracker.create_entry(session, other, EntryCreate(name="Gemma 2 9B IT", developer="Google DeepMind",
                                                                  hf_repo_id="google/gemma-2-9b-it"))
        model_id, secret_id = mine.model_id, secret.model_id  # Gemma stays someone's private row
    assert seed_if_empty(database, user_id) == N
    with database.session() as session:
        entry = session.scalars(select(Entry).where(Entry.owner_id == user_id, Entry.model_id == model_id)).one()
        assert entry.status == "using"
        assert session.scalar(select(func.count()).select_from(Entry).where(Entry.owner_id != user_id)) == 2
        # Someone's private row is neither reused nor a reason to skip: the demo gets its own row.
        assert session.scalar(select(func.count()).select_from(Entry).where(Entry.owner_id == user_id,
                                                                           Entry.model_id == secret_id)) == 0
