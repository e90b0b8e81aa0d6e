"""SQL for import/export: the user's entries in export order, their journal notes, entry ids by model."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from modelmate.db.base import Base
from modelmate.models import Entry, JournalNote, Model


def entry_ids(session: Session, owner_id: int) -> list[int]:
    """Every entry id of the user, oldest first (the export order)."""
    return list(session.scalars(select(Entry.id).where(Entry.owner_id == owner_id)
                                .order_by(Entry.created_at, Entry.id)))


def load_entries(session: Session, owner_id: int, ids: Sequence[int]) -> list[Entry]:
    """Entries (with model and tags) in the order of ``ids``."""
    found = {e.id: e for e in session.scalars(select(Entry).where(Entry.owner_id == owner_id,
                                                                  Entry.id.in_(list(ids))))}
    return [found[i] for i in ids if i in found]


def journal_by_entry(session: Session, entry_ids: Sequence[int]) -> dict[int, list[JournalNote]]:
    out: dict[int, list[JournalNote]] = defaultdict(list)
    if not entry_ids:
        return out
    stmt = (select(JournalNote).where(JournalNote.entry_id.in_(list(entry_ids)))
            .order_by(JournalNote.entry_id, JournalNote.created_at, JournalNote.id))
    for note in session.scalars(stmt):
        out[note.entry_id].append(note)
    return out


def entry_ids_by_model(session: Session, owner_id: int) -> dict[int, int]:
    """model id → entry id for the user's entries."""
    return {m: e for m, e in session.execute(select(Entry.model_id, Entry.id).where(Entry.owner_id == owner_id))}


def count_entries(session: Session, owner_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Entry).where(Entry.owner_id == owner_id)) or 0


def _chunks(values: Sequence[str], n: int = 1000) -> Iterator[list[str]]:
    for i in range(0, len(values), n):
        yield list(values[i:i + n])


def models_matching(session: Session, *, hf_repo_ids: set[str], github_repos: set[str],
                    name_keys: set[str]) -> list[Model]:
    """Every catalog model that any of these identities could match (lower-cased repo ids, normalised names);
    the caller applies the catalog's duplicate rule (``catalog.repository.find_duplicate``) to them."""
    found: dict[int, Model] = {}
    for column, values in ((func.lower(Model.hf_repo_id), hf_repo_ids), (func.lower(Model.github_repo), github_repos),
                           (Model.name_key, name_keys)):
        for chunk in _chunks(sorted(values)):
            for model in session.scalars(select(Model).where(column.in_(chunk))):
                found[model.id] = model
    return list(found.values())


INSERT_BATCH = 1000


def insert_returning_ids(session: Session, table: type[Base], rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert many rows with batched Core INSERTs (no ORM objects); their new ids, in the order of ``rows``."""
    ids: list[int] = []
    for i in range(0, len(rows), INSERT_BATCH):
        core = table.__table__
        stmt = insert(core).returning(core.c.id, sort_by_parameter_order=True)
        ids += session.scalars(stmt, list(rows[i:i + INSERT_BATCH])).all()
    return ids


def insert_rows(session: Session, table: type[Base], rows: Sequence[dict[str, Any]]) -> None:
    for i in range(0, len(rows), INSERT_BATCH):
        session.execute(insert(table.__table__), list(rows[i:i + INSERT_BATCH]))
