"""SQL for entry embeddings: the text to embed (from the entry's search document), stored vectors, staleness."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from modelmate.db.base import utcnow
from modelmate.models import Entry, EntryEmbedding, SearchDocument
from modelmate.semantic.embedder import from_bytes, to_bytes

MAX_TEXT_CHARS = 4000  # the model reads ~256 word pieces; the most telling fields come first


def document_text(name: str, developer: str, description: str, tags: str, notes: str) -> str:
    """name + developer + (description, license, type) + tags + (notes, journal), one field a line."""
    parts = [name, developer, description, tags, notes]
    return "\n".join(p.strip() for p in parts if p and p.strip())[:MAX_TEXT_CHARS]


def entry_texts(session: Session, entry_ids: Sequence[int]) -> dict[int, tuple[int, str]]:
    """entry id → (owner id, text to embed), from the search documents the tracker keeps up to date."""
    if not entry_ids:
        return {}
    d = SearchDocument
    rows = session.execute(select(d.entry_id, d.owner_id, d.name, d.developer, d.description, d.tags, d.notes)
                           .where(d.entry_id.in_(list(entry_ids))))
    return {int(r[0]): (int(r[1]), document_text(*r[2:])) for r in rows}


def entry_ids(session: Session, *, owner_id: int | None, after_id: int, limit: int) -> list[int]:
    """Entry ids (of one owner, or of everyone) in id order, for batched sweeps."""
    stmt = select(Entry.id).where(Entry.id > after_id).order_by(Entry.id).limit(limit)
    if owner_id is not None:
        stmt = stmt.where(Entry.owner_id == owner_id)
    return list(session.scalars(stmt))


def count_entries(session: Session, owner_id: int | None) -> int:
    stmt = select(func.count()).select_from(Entry)
    if owner_id is not None:
        stmt = stmt.where(Entry.owner_id == owner_id)
    return session.scalar(stmt) or 0


def count_missing(session: Session, owner_id: int, embedder: str) -> int:
    """Entries of ``owner_id`` without a vector from ``embedder``."""
    e = EntryEmbedding
    stmt = (select(func.count()).select_from(Entry)
            .outerjoin(e, (e.entry_id == Entry.id) & (e.embedder == embedder))
            .where(Entry.owner_id == owner_id, e.entry_id.is_(None)))
    return session.scalar(stmt) or 0


def stored_hashes(session: Session, entry_ids: Sequence[int]) -> dict[int, str]:
    if not entry_ids:
        return {}
    rows = session.execute(select(EntryEmbedding.entry_id, EntryEmbedding.text_hash)
                           .where(EntryEmbedding.entry_id.in_(list(entry_ids))))
    return {int(i): h for i, h in rows}


def upsert(session: Session, rows: Sequence[tuple[int, int, str, np.ndarray, str]]) -> None:
    """rows: (entry id, owner id, embedder, vector, text hash)."""
    if not rows:
        return
    now = utcnow()
    existing = {e.entry_id: e for e in session.scalars(
        select(EntryEmbedding).where(EntryEmbedding.entry_id.in_([r[0] for r in rows])))}
    live = set(session.scalars(select(Entry.id).where(Entry.id.in_([r[0] for r in rows]))))
    for entry_id, owner_id, embedder, vector, text_hash in rows:
        if entry_id not in live:  # deleted while we embedded it
            continue
        row = existing.get(entry_id)
        if row is None:
            session.add(EntryEmbedding(entry_id=entry_id, owner_id=owner_id, embedder=embedder,
                                       dim=int(vector.shape[0]), vector=to_bytes(vector), text_hash=text_hash,
                                       updated_at=now))
        else:
            row.owner_id = owner_id
            row.embedder = embedder
            row.dim = int(vector.shape[0])
            row.vector = to_bytes(vector)
            row.text_hash = text_hash
            row.updated_at = now
    session.flush()


def signature(session: Session, owner_id: int, embedder: str) -> tuple[int, datetime | None]:
    """Changes when the owner's vectors change (count and newest update)."""
    e = EntryEmbedding
    row = session.execute(select(func.count(), func.max(e.updated_at))
                          .where(e.owner_id == owner_id, e.embedder == embedder)).one()
    return int(row[0]), row[1]


def load_matrix(session: Session, owner_id: int, embedder: str, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(entry ids int64, vectors float32 n × dim) of one owner: never anyone else's vectors."""
    e = EntryEmbedding
    rows = session.execute(select(e.entry_id, e.vector)
                           .where(e.owner_id == owner_id, e.embedder == embedder, e.dim == dim)
                           .order_by(e.entry_id)).all()
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    matrix = np.empty((len(rows), dim), dtype=np.float32)
    for i, r in enumerate(rows):
        matrix[i] = from_bytes(r[1], dim)
    return ids, matrix


def get_vector(session: Session, owner_id: int, entry_id: int, embedder: str, dim: int) -> np.ndarray | None:
    e = EntryEmbedding
    data = session.scalar(select(e.vector).where(e.entry_id == entry_id, e.owner_id == owner_id,
                                                 e.embedder == embedder, e.dim == dim))
    return None if data is None else from_bytes(data, dim)
