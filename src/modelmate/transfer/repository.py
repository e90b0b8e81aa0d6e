"""SQL for import/export: the user's entries in export order, their journal notes, entry ids by model."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any, cast

from sqlalchemy import Table, delete, func, insert, select, update
from sqlalchemy.orm import Session

from modelmate.catalog.repository import visible_to
from modelmate.db.base import Base, affected_rows, utcnow
from modelmate.models import Entry, JournalNote, Model
from modelmate.models.tracker import ImportBatch, ImportStagedRow


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
                    name_keys: set[str], viewer_id: int) -> list[Model]:
    """Every catalog model ``viewer_id`` can see (public or their own) that any of these identities could match
    (lower-cased repo ids, normalised names); the caller applies the catalog's duplicate rule
    (``catalog.repository.find_duplicate``) to them. Other users' private rows are never matched."""
    found: dict[int, Model] = {}
    for column, values in ((func.lower(Model.hf_repo_id), hf_repo_ids), (func.lower(Model.github_repo), github_repos),
                           (Model.name_key, name_keys)):
        for chunk in _chunks(sorted(values)):
            for model in session.scalars(select(Model).where(column.in_(chunk), visible_to(viewer_id))):
                found[model.id] = model
    return list(found.values())


INSERT_BATCH = 1000


def insert_returning_ids(session: Session, table: type[Base], rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert many rows with batched Core INSERTs (no ORM objects); their new ids, in the order of ``rows``."""
    ids: list[int] = []
    for i in range(0, len(rows), INSERT_BATCH):
        core = cast(Table, table.__table__)  # a declarative model's __table__ is its Table
        stmt = insert(core).returning(core.c.id, sort_by_parameter_order=True)
        ids += session.scalars(stmt, list(rows[i:i + INSERT_BATCH])).all()
    return ids


def insert_rows(session: Session, table: type[Base], rows: Sequence[dict[str, Any]]) -> None:
    for i in range(0, len(rows), INSERT_BATCH):
        session.execute(insert(cast(Table, table.__table__)), list(rows[i:i + INSERT_BATCH]))


# --- staged import batches (transfer.batches) ---------------------------------------------------------------------

def new_batch(session: Session, owner_id: int, total_rows: int) -> int:
    batch = ImportBatch(owner_id=owner_id, state="staging", total_rows=total_rows)
    session.add(batch)
    session.flush()
    return batch.id


def stage_rows(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    insert_rows(session, ImportStagedRow, rows)


def set_batch_state(session: Session, batch_id: int, state: str) -> None:
    session.execute(update(ImportBatch).where(ImportBatch.id == batch_id)
                    .values(state=state, updated_at=utcnow()))


def get_batch(session: Session, batch_id: int) -> ImportBatch | None:
    return session.get(ImportBatch, batch_id)


def batches(session: Session) -> list[ImportBatch]:
    return list(session.scalars(select(ImportBatch).order_by(ImportBatch.id)))


def staged_rows(session: Session, batch_id: int, *, after: int, limit: int) -> list[ImportStagedRow]:
    return list(session.scalars(select(ImportStagedRow).where(ImportStagedRow.batch_id == batch_id,
                                                              ImportStagedRow.seq > after)
                                .order_by(ImportStagedRow.seq).limit(limit)))


def delete_staged(session: Session, batch_id: int, *, upto: int | None = None, limit: int | None = None) -> int:
    """Delete staged rows of a batch: those with ``seq <= upto``, or (``limit``) the first ``limit`` of them."""
    cond = ImportStagedRow.batch_id == batch_id
    if upto is not None:
        cond = cond & (ImportStagedRow.seq <= upto)
    if limit is not None:
        first = select(ImportStagedRow.seq).where(cond).order_by(ImportStagedRow.seq).limit(limit)
        cond = cond & ImportStagedRow.seq.in_(first.scalar_subquery())
    return affected_rows(session.execute(delete(ImportStagedRow).where(cond))) or 0


def delete_batch(session: Session, batch_id: int) -> None:
    session.execute(delete(ImportBatch).where(ImportBatch.id == batch_id))
