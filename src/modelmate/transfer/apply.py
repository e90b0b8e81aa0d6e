"""Writing a validated import into the log.

Rows are resolved against the catalog in chunks with the catalog's duplicate rule (``hf_repo_id``, then
``github_repo``, then name + developer — as ``catalog.repository.find_duplicate``):

* a model the user already logged → that entry is updated through ``tracker.service.update_entry`` when the row
  differs (journal notes missing from the entry are added with ``add_journal``), else it is ``unchanged``;
* otherwise the entry (and, for an unknown model, its catalog model) is created. New entries are written in bulk —
  one batched INSERT per table per chunk — with the same rows ``tracker.service.create_entry`` and ``add_journal``
  write: the entry with its original ``created_at``/``updated_at``, its tags, an ``added`` event at ``created_at``,
  each journal note with a ``note_added`` event at the note's time, and the search document.

Nothing here commits; errors in one row are returned for the report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy.orm import Session

from modelmate.catalog import repository as catalog_repo
from modelmate.catalog import service as catalog
from modelmate.catalog.service import MODEL_FIELDS
from modelmate.db.base import utcnow
from modelmate.enums import EventKind
from modelmate.errors import AppError
from modelmate.models import Entry, EntryEvent, EntryTag, JournalNote, Model, SearchDocument, User
from modelmate.tracker import embedding
from modelmate.tracker import repository as tracker_repo
from modelmate.tracker import service as tracker
from modelmate.tracker.schemas import EntryUpdate
from modelmate.transfer import repository as repo
from modelmate.transfer.schemas import JournalRecord, RowError, TransferRow

CHUNK = 1000
ValidRow = tuple[int, TransferRow, frozenset[str]]


@dataclass
class Outcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)


def _value(v: Any) -> Any:
    return getattr(v, "value", v)


def apply_rows(session: Session, user: User, rows: list[ValidRow],
               progress: Callable[[int, int], None] | None = None) -> Outcome:
    """Apply every row in the caller's transaction (small imports, tests); big ones go through :mod:`.batches`."""
    out = Outcome()
    by_model = repo.entry_ids_by_model(session, user.id)
    used: dict[int, int] = {}
    now = utcnow()
    for start in range(0, len(rows), CHUNK):
        apply_chunk(session, user, rows[start:start + CHUNK], by_model, used, now, out)
        if progress is not None:
            progress(min(start + CHUNK, len(rows)), len(rows))
    if out.created:
        # Bulk-inserted entries bypass tracker.refresh_search: queue one sweep of this user's missing embeddings.
        embedding.entries_bulk_added(session, user.id)
    return out


def plan_rows(session: Session, user: User, rows: list[ValidRow]) -> Outcome:
    """What applying the rows would do — created / updated / unchanged counts and per-row errors — found with
    reads only (no write, so no write lock): the same resolution as :func:`apply_chunk`, and every update checked
    with the catalog's edit rules (``catalog.service.check_model_changes``)."""
    out = Outcome()
    by_model = repo.entry_ids_by_model(session, user.id)
    used: dict[int, int] = {}
    for start in range(0, len(rows), CHUNK):
        creates, updates = _resolve(session, user, rows[start:start + CHUNK], by_model, used, out)
        out.created += len(creates)
        _check_updates(session, user, updates, out)
    return out


def _resolve(session: Session, user: User, rows: list[ValidRow], by_model: dict[int, int], used: dict[int, int],
             out: Outcome) -> tuple[list[tuple[int, TransferRow, Model | None]],
                                    list[tuple[int, TransferRow, frozenset[str], int]]]:
    """Match one chunk against the catalog rows the user can see: (rows to create, rows updating an entry)."""
    models = repo.models_matching(
        session, hf_repo_ids={r.hf_repo_id.lower() for _, r, _ in rows if r.hf_repo_id},
        github_repos={r.github_repo.lower() for _, r, _ in rows if r.github_repo},
        name_keys={catalog_repo.normalise_key(r.name) for _, r, _ in rows}, viewer_id=user.id)
    by_hf = {m.hf_repo_id.lower(): m for m in models if m.hf_repo_id}
    by_gh = {m.github_repo.lower(): m for m in models if m.github_repo}
    by_name = {(m.name_key, m.developer_key or ""): m for m in models}
    creates: list[tuple[int, TransferRow, Model | None]] = []
    updates: list[tuple[int, TransferRow, frozenset[str], int]] = []
    for row_no, row, fields in rows:
        match = ((by_hf.get(row.hf_repo_id.lower()), "hf_repo_id") if row.hf_repo_id else (None, ""))
        if match[0] is None and row.github_repo:
            match = (by_gh.get(row.github_repo.lower()), "github_repo")
        if match[0] is None:
            key = (catalog_repo.normalise_key(row.name), catalog_repo.normalise_key(row.developer))
            match = (by_name.get(key), "name and developer")
        model, how = match
        if model is None:
            creates.append((row_no, row, None))
            continue
        if model.id in used:
            out.errors.append(RowError(row=row_no, message=f"the same model as row {used[model.id]} ({how} "
                                                           "matches the same catalog model)"))
            continue
        used[model.id] = row_no
        if model.id in by_model:
            updates.append((row_no, row, fields, by_model[model.id]))
        else:
            creates.append((row_no, row, model))
    return creates, updates


def apply_chunk(session: Session, user: User, rows: list[ValidRow], by_model: dict[int, int],
                used: dict[int, int], now: datetime, out: Outcome) -> None:
    """Resolve and write one chunk of rows (``by_model`` and ``used`` carry over between chunks)."""
    creates, updates = _resolve(session, user, rows, by_model, used, out)
    _create(session, user, creates, by_model, now)
    out.created += len(creates)
    _update(session, user, updates, out)


# --- new entries (bulk) -----------------------------------------------------------------------------------------

def _new_model(user: User, row: TransferRow, now: datetime) -> dict[str, Any]:
    """The catalog row ``catalog.service.insert_model`` makes (duplicates were ruled out by the caller)."""
    return {**catalog.model_row(user, row.model_dump(include=set(MODEL_FIELDS))), "created_at": now, "updated_at": now}


def _create(session: Session, user: User, creates: list[tuple[int, TransferRow, Model | None]],
            by_model: dict[int, int], now: datetime) -> None:
    """Insert the new entries of one chunk with one batched INSERT per table."""
    if not creates:
        return
    new = [(row_no, _new_model(user, row, now)) for row_no, row, model in creates if model is None]
    new_ids = dict(zip([n for n, _ in new], repo.insert_returning_ids(session, Model, [v for _, v in new]),
                       strict=True))
    new_values = dict(new)
    first_spelling: dict[str, str] = {}
    for _, row, _ in creates:
        for tag in row.tags or []:
            first_spelling.setdefault(catalog_repo.normalise_key(tag), tag)
    tags = {t.name_key: t for t in tracker_repo.get_or_create_tags(session, user.id, list(first_spelling.values()))}

    views: list[tuple[Any, TransferRow]] = []  # what the search document and the events need of each entry
    entry_rows: list[dict[str, Any]] = []
    for row_no, row, model in creates:
        model_view = model if model is not None else SimpleNamespace(id=new_ids[row_no], **new_values[row_no])
        created = row.created_at or now
        updated = row.updated_at or max([created, *(n.created_at or now for n in row.journal)])
        keys = sorted({catalog_repo.normalise_key(t) for t in row.tags or []})
        view = SimpleNamespace(model=model_view, model_id=model_view.id, owner_id=user.id, notes=row.notes or "",
                               status=_value(row.status) or "wishlist", created_at=created,
                               tags=[tags[k] for k in keys if k in tags])
        views.append((view, row))
        entry_rows.append({"owner_id": user.id, "model_id": view.model_id, "status": view.status,
                           "date_interacted": row.date_interacted, "rating": row.rating, "notes": view.notes,
                           "visibility": "private", "created_at": created, "updated_at": updated,
                           **catalog_repo.entry_copies(model_view)})
    for (view, _), entry_id in zip(views, repo.insert_returning_ids(session, Entry, entry_rows), strict=True):
        view.id = entry_id
        by_model[view.model_id] = entry_id
    repo.insert_rows(session, EntryTag, [{"entry_id": v.id, "tag_id": t.id} for v, _ in views for t in v.tags])

    note_rows: list[dict[str, Any]] = []
    note_views: list[Any] = []
    for view, row in views:
        for n in row.journal:
            at = n.created_at or now
            note_rows.append({"entry_id": view.id, "owner_id": user.id, "body": n.body, "created_at": at,
                              "updated_at": n.updated_at or at})
            note_views.append(view)
    note_ids = repo.insert_returning_ids(session, JournalNote, note_rows)

    events = [{"owner_id": user.id, "entry_id": v.id, "model_id": v.model_id, "model_name": v.model.name,
               "kind": EventKind.ADDED.value, "from_status": None, "to_status": v.status, "data": {},
               "occurred_at": v.created_at} for v, _ in views]
    events += [{"owner_id": user.id, "entry_id": v.id, "model_id": v.model_id, "model_name": v.model.name,
                "kind": EventKind.NOTE_ADDED.value, "from_status": None, "to_status": None,
                "data": {"note_id": note_id, "excerpt": n["body"][:200]}, "occurred_at": n["created_at"]}
               for v, n, note_id in zip(note_views, note_rows, note_ids, strict=True)]
    repo.insert_rows(session, EntryEvent, events)

    bodies: dict[int, list[dict[str, Any]]] = {}
    for note in note_rows:
        bodies.setdefault(note["entry_id"], []).append(note)
    docs = []
    for view, _ in views:
        ordered = [n["body"] for n in sorted(bodies.get(view.id, []), key=lambda n: n["created_at"])]
        docs.append({"entry_id": view.id, **tracker_repo.search_document_values(view, ordered)})
    repo.insert_rows(session, SearchDocument, docs)


# --- existing entries -------------------------------------------------------------------------------------------

def _model_changes(row: TransferRow, fields: frozenset[str], model: Model) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name in MODEL_FIELDS:
        if name not in fields:
            continue
        new, old = _value(getattr(row, name)), getattr(model, name)
        if name == "source_links":
            new, old = new or [], list(old or [])
        elif name == "model_type":
            new = new or "Other"
        elif name == "description":
            new, old = new or None, old or None
        elif name == "name" and not new:
            continue
        if new != old:
            changes[name] = new
    return changes


def _entry_changes(row: TransferRow, fields: frozenset[str], entry: Entry) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if "status" in fields and row.status is not None and _value(row.status) != entry.status:
        changes["status"] = _value(row.status)
    for name in ("date_interacted", "rating"):
        if name in fields and getattr(row, name) != getattr(entry, name):
            changes[name] = getattr(row, name)
    if "notes" in fields and (row.notes or "") != (entry.notes or ""):
        changes["notes"] = row.notes or ""
    if "tags" in fields:
        wanted = {catalog_repo.normalise_key(t) for t in row.tags or []}
        if wanted != {t.name_key for t in entry.tags}:
            changes["tags"] = row.tags or []
    return changes


def _missing_notes(row: TransferRow, have: list[JournalNote]) -> list[JournalRecord]:
    stamped = {(n.body, n.created_at) for n in have}
    bodies = {n.body for n in have}
    return [n for n in row.journal if ((n.body, n.created_at) not in stamped if n.created_at else n.body not in bodies)]


def _existing(session: Session, user: User, updates: list[tuple[int, TransferRow, frozenset[str], int]]
              ) -> tuple[dict[int, Any], dict[int, list[JournalNote]]]:
    """The user's entries that ``updates`` touch, by id, and their journal notes."""
    ids = [entry_id for *_, entry_id in updates]
    return {e.id: e for e in repo.load_entries(session, user.id, ids)}, repo.journal_by_entry(session, ids)


def _check_updates(session: Session, user: User, updates: list[tuple[int, TransferRow, frozenset[str], int]],
                   out: Outcome) -> None:
    """Count (and check, without writing) what :func:`_update` would do to existing entries."""
    if not updates:
        return
    entries, journals = _existing(session, user, updates)
    for row_no, row, fields, entry_id in updates:
        entry = entries[entry_id]
        model_changes = _model_changes(row, fields, entry.model)
        try:
            catalog.check_model_changes(session, user, entry.model, model_changes)
        except AppError as exc:
            out.errors.append(RowError(row=row_no, message=exc.message))
            continue
        if model_changes or _entry_changes(row, fields, entry) or _missing_notes(row, journals.get(entry_id, [])):
            out.updated += 1
        else:
            out.unchanged += 1


def _update(session: Session, user: User, updates: list[tuple[int, TransferRow, frozenset[str], int]],
            out: Outcome) -> None:
    if not updates:
        return
    entries, journals = _existing(session, user, updates)
    for row_no, row, fields, entry_id in updates:
        entry = entries[entry_id]
        try:
            changes = _model_changes(row, fields, entry.model) | _entry_changes(row, fields, entry)
            if changes:
                tracker.update_entry(session, user, entry.id, EntryUpdate.model_validate(changes))
            missing = _missing_notes(row, journals.get(entry_id, []))
            for note in missing:
                at = note.created_at or utcnow()
                added = tracker.add_journal(session, user, entry.id, note.body, at=at, record_event=True)
                added.updated_at = note.updated_at or at
        except AppError as exc:
            out.errors.append(RowError(row=row_no, message=exc.message))
            continue
        if changes or missing:
            out.updated += 1
        else:
            out.unchanged += 1
