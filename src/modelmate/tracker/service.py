"""Tracker rules: entries (with their catalog model), tags, journal notes, history, bulk actions.

Services never commit: the request (or job, or CLI command) that owns the session does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from modelmate.catalog import repository as catalog_repo
from modelmate.catalog import service as catalog
from modelmate.catalog.schemas import ModelUpdate, model_values
from modelmate.db.base import utcnow
from modelmate.enums import EventKind
from modelmate.errors import ConflictError, NotFoundError
from modelmate.models import Entry, EntryEvent, JournalNote, Model, User
from modelmate.tracker import embedding
from modelmate.tracker import repository as repo
from modelmate.tracker.schemas import (
    BulkAction,
    BulkRequest,
    EntryCreate,
    EntryFilter,
    EntryOut,
    EntryPage,
    EntryUpdate,
    FacetCount,
    Facets,
    SortField,
    SortOrder,
)

ENTRY_FIELDS = ("status", "date_interacted", "rating", "notes")


def to_out(entry: Entry) -> EntryOut:
    m = entry.model
    return EntryOut(
        **model_values(m), id=entry.id, model_id=m.id, kind=m.kind,
        status=entry.status, date_interacted=entry.date_interacted, rating=entry.rating,
        tags=[t.name for t in entry.tags], notes=entry.notes or "", visibility=entry.visibility,
        created_at=entry.created_at, updated_at=entry.updated_at,
    )


def get_entry(session: Session, user: User, entry_id: int) -> Entry:
    entry = repo.get_entry(session, user.id, entry_id)
    if entry is None:
        raise NotFoundError(f"entry {entry_id} not found")
    return entry


def _event(session: Session, user: User, entry: Entry, kind: EventKind, *, at: datetime | None = None,
           from_status: str | None = None, to_status: str | None = None, data: dict[str, Any] | None = None) -> None:
    repo.add_event(session, EntryEvent(
        owner_id=user.id, entry_id=entry.id, model_id=entry.model_id, model_name=entry.model.name,
        kind=kind.value, from_status=from_status, to_status=to_status, data=data or {},
        occurred_at=at or utcnow()))


def refresh_search(session: Session, entry: Entry) -> None:
    session.flush()
    session.refresh(entry, attribute_names=["tags"])
    repo.upsert_search_document(session, entry, repo.journal_bodies(session, entry.id))
    embedding.entry_changed(session, entry)  # queue the entry's (coalesced) embedding job


def refresh_model_documents(session: Session, model: Model) -> None:
    for entry in repo.entries_for_model(session, model.id):
        refresh_search(session, entry)


def update_catalog_model(session: Session, user: User, model_id: int, payload: ModelUpdate) -> Model:
    """PATCH /models/{id}: change the catalog row, then the search documents of every entry that shows it."""
    model = catalog.get_visible(session, user, model_id)
    changes = payload.model_dump(exclude_unset=True)
    visibility = changes.pop("visibility", None)
    if catalog.apply_model_changes(session, user, model, changes):
        refresh_model_documents(session, model)
    if visibility is not None:
        catalog.set_visibility(session, user, model, visibility)
    return model


def _resolve_model(session: Session, user: User, payload: EntryCreate) -> Model:
    if payload.model_id is not None:
        return catalog.get_visible(session, user, payload.model_id)
    values = payload.model_dump(include=set(catalog.MODEL_FIELDS))
    # Only rows this user can see count: someone else's private row is invisible, never reused, never a clash.
    dup = catalog_repo.find_duplicate(session, name=values.get("name"), developer=values.get("developer"),
                                      hf_repo_id=values.get("hf_repo_id"), github_repo=values.get("github_repo"),
                                      viewer_id=user.id)
    if dup is None:
        return catalog.insert_model(session, user, values)  # private to this user until they share it
    return dup[0]  # a known model: log it rather than cloning the catalog row


def create_entry(session: Session, user: User, payload: EntryCreate, *, created_at: datetime | None = None,
                 updated_at: datetime | None = None, record_event: bool = True) -> Entry:
    model = _resolve_model(session, user, payload)
    existing = repo.get_entry_for_model(session, user.id, model.id)
    if existing is not None:
        raise ConflictError(f"'{model.name}' is already in your log (entry {existing.id})",
                            code="duplicate_entry", details={"existing_id": existing.id, "model_id": model.id})
    now = utcnow()
    entry = Entry(owner_id=user.id, model_id=model.id, status=(payload.status or "wishlist"),
                  date_interacted=payload.date_interacted, rating=payload.rating, notes=payload.notes or "",
                  visibility="private", created_at=created_at or now, updated_at=updated_at or created_at or now,
                  **catalog_repo.entry_copies(model))
    entry.model = model
    session.add(entry)
    session.flush()
    if payload.tags:
        repo.add_tags_to_entries(session, [entry.id], repo.get_or_create_tags(session, user.id, payload.tags))
    if record_event:
        _event(session, user, entry, EventKind.ADDED, at=entry.created_at, to_status=entry.status)
    refresh_search(session, entry)
    return entry


def update_entry(session: Session, user: User, entry_id: int, payload: EntryUpdate) -> Entry:
    entry = get_entry(session, user, entry_id)
    changes = payload.model_dump(exclude_unset=True)
    changed_fields: list[str] = []
    model_changed = catalog.apply_model_changes(session, user, entry.model, changes)
    changed_fields += model_changed
    if "status" in changes and changes["status"] is None:
        changes.pop("status")
    old_status, old_rating = entry.status, entry.rating
    for field in ENTRY_FIELDS:
        if field in changes:
            value = changes[field]
            if field == "notes":
                value = value or ""
            if field == "status":
                value = value.value if hasattr(value, "value") else value
            if getattr(entry, field) != value:
                setattr(entry, field, value)
                changed_fields.append(field)
    if "tags" in changes:
        new_tags = changes["tags"] or []
        current = {t.name_key for t in entry.tags}
        wanted = {catalog_repo.normalise_key(t) for t in new_tags}
        if current != wanted:
            repo.remove_tags_from_entries(session, [entry.id], sorted(current - wanted), user.id)
            repo.add_tags_to_entries(session, [entry.id], repo.get_or_create_tags(session, user.id, new_tags))
            changed_fields.append("tags")
    if not changed_fields:
        return entry
    entry.updated_at = utcnow()
    if "status" in changed_fields:
        _event(session, user, entry, EventKind.STATUS_CHANGED, from_status=old_status, to_status=entry.status)
    if "rating" in changed_fields:
        _event(session, user, entry, EventKind.RATED, data={"from": old_rating, "to": entry.rating})
    other = [f for f in changed_fields if f not in ("status", "rating")]
    if other:
        _event(session, user, entry, EventKind.UPDATED, data={"fields": other})
    if model_changed:
        refresh_model_documents(session, entry.model)
    else:
        refresh_search(session, entry)
    return entry


def delete_entry(session: Session, user: User, entry_id: int) -> None:
    entry = get_entry(session, user, entry_id)
    _event(session, user, entry, EventKind.DELETED, from_status=entry.status)
    session.delete(entry)
    session.flush()


def list_entries(session: Session, user: User, f: EntryFilter, *, sort: SortField, order: SortOrder, limit: int,
                 offset: int, facets: bool) -> EntryPage:
    items, total = repo.list_entries(session, user.id, f, sort=sort, order=order, limit=limit, offset=offset)
    page = EntryPage(items=[to_out(e) for e in items], total=total, limit=limit, offset=offset)
    if facets:
        counts = repo.facet_counts(session, user.id, f)
        page.facets = Facets(**{k: [FacetCount(value=v, count=c) for v, c in vals] for k, vals in counts.items()})
    return page


# --- journal ---------------------------------------------------------------------------------------------------

def list_journal(session: Session, user: User, entry_id: int) -> list[JournalNote]:
    entry = get_entry(session, user, entry_id)
    return repo.list_journal(session, entry.id)


def add_journal(session: Session, user: User, entry_id: int, body: str, *, at: datetime | None = None,
                record_event: bool = True) -> JournalNote:
    entry = get_entry(session, user, entry_id)
    now = at or utcnow()
    note = JournalNote(entry_id=entry.id, owner_id=user.id, body=body, created_at=now, updated_at=now)
    session.add(note)
    session.flush()
    if record_event:
        entry.updated_at = max(entry.updated_at, now)
        _event(session, user, entry, EventKind.NOTE_ADDED, at=now, data={"note_id": note.id, "excerpt": body[:200]})
    refresh_search(session, entry)
    return note


def _get_note(session: Session, user: User, entry_id: int, note_id: int) -> tuple[Entry, JournalNote]:
    entry = get_entry(session, user, entry_id)
    note = repo.get_journal_note(session, entry.id, note_id)
    if note is None:
        raise NotFoundError(f"journal note {note_id} not found")
    return entry, note


def edit_journal(session: Session, user: User, entry_id: int, note_id: int, body: str) -> JournalNote:
    entry, note = _get_note(session, user, entry_id, note_id)
    if note.body != body:
        note.body = body
        note.updated_at = utcnow()
        _event(session, user, entry, EventKind.NOTE_EDITED, data={"note_id": note.id, "excerpt": body[:200]})
        refresh_search(session, entry)
    return note


def delete_journal(session: Session, user: User, entry_id: int, note_id: int) -> None:
    entry, note = _get_note(session, user, entry_id, note_id)
    session.delete(note)
    refresh_search(session, entry)


def history(session: Session, user: User, entry_id: int) -> list[EntryEvent]:
    entry = get_entry(session, user, entry_id)
    return repo.entry_events(session, user.id, entry.id)


# --- bulk and tags ---------------------------------------------------------------------------------------------

def bulk(session: Session, user: User, req: BulkRequest) -> int:
    ids = sorted(set(req.ids))
    entries = repo.get_entries(session, user.id, ids)
    if len(entries) != len(ids):
        missing = sorted(set(ids) - {e.id for e in entries})
        raise NotFoundError(f"entries not found: {', '.join(map(str, missing[:20]))}", details={"missing": missing})
    now = utcnow()
    if req.action == BulkAction.DELETE:
        for entry in entries:
            _event(session, user, entry, EventKind.DELETED, from_status=entry.status, at=now)
            session.delete(entry)
        session.flush()
        return len(entries)
    if req.action == BulkAction.SET_STATUS:
        assert req.status is not None
        changed = 0
        for entry in entries:
            if entry.status != req.status.value:
                _event(session, user, entry, EventKind.STATUS_CHANGED, from_status=entry.status,
                       to_status=req.status.value, at=now)
                entry.status = req.status.value
                entry.updated_at = now
                changed += 1
        session.flush()
        return changed
    assert req.tags
    if req.action == BulkAction.ADD_TAGS:
        repo.add_tags_to_entries(session, ids, repo.get_or_create_tags(session, user.id, req.tags))
    else:
        repo.remove_tags_from_entries(session, ids, [catalog_repo.normalise_key(t) for t in req.tags], user.id)
    for entry in entries:
        entry.updated_at = now
        _event(session, user, entry, EventKind.UPDATED, at=now, data={"fields": ["tags"]})
        refresh_search(session, entry)
    return len(entries)


def list_tags(session: Session, user: User, q: str | None, limit: int) -> list[tuple[str, int]]:
    return repo.list_tags(session, user.id, q, limit)
