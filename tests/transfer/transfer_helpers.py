"""Helpers for the import/export tests: direct service access to the fixtures' database."""

from __future__ import annotations

import io
import json

from sqlalchemy import delete, func, select

from modelmate.accounts.service import ensure_local_user
from modelmate.db.engine import Database, immediate_transaction
from modelmate.models import (
    Entry,
    EntryEmbedding,
    EntryEvent,
    EntryTag,
    JournalNote,
    Model,
    SearchDocument,
    Tag,
    User,
)
from modelmate.transfer import service
from modelmate.transfer.schemas import ExportFormat, ImportFormat, ImportReport


def wipe(db: Database) -> None:
    """Remove every entry and catalog model (users stay): an empty log in an empty catalog."""
    with db.session() as s:
        for table in (EntryEvent, SearchDocument, EntryEmbedding, JournalNote, EntryTag, Tag, Entry, Model):
            s.execute(delete(table))


def export_text(db: Database, fmt: ExportFormat, user_id: int | None = None) -> str:
    out = io.StringIO(newline="")
    with db.session() as s:
        user = s.get(User, user_id) if user_id else ensure_local_user(s)
        service.write_export(s, user, fmt, out)
    return out.getvalue()


def import_bytes(db: Database, data: bytes, *, fmt: ImportFormat = ImportFormat.AUTO, filename: str | None = None,
                 dry_run: bool = False, user_id: int | None = None, max_rows: int = 100_000) -> ImportReport:
    with db.session() as s:
        immediate_transaction(s)
        user = s.get(User, user_id) if user_id else ensure_local_user(s)
        uid = user.id
    return service.import_file(db, uid, io.BytesIO(data), filename=filename, fmt=fmt, dry_run=dry_run,
                               max_bytes=50 * 1024 * 1024, max_rows=max_rows)


def count_entries(db: Database, user_id: int | None = None) -> int:
    with db.session() as s:
        stmt = select(func.count()).select_from(Entry)
        if user_id:
            stmt = stmt.where(Entry.owner_id == user_id)
        return s.scalar(stmt) or 0


def make_user(db: Database, username: str) -> int:
    with db.session() as s:
        user = User(username=username, display_name=username)
        s.add(user)
        s.flush()
        return user.id


def without_exported_at(text: str) -> dict:
    doc = json.loads(text)
    doc.pop("exported_at")
    return doc
