"""Semantic rules: embed entries (skipping unchanged text), semantic ranking, similar entries.

Semantic ranking is the cosine similarity of the query's embedding to the user's entry vectors (only ever the
user's own). The hybrid mode, which fuses it with the keyword ranking, is :mod:`modelmate.search.service`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy.orm import Session

from modelmate.config import Settings
from modelmate.db.engine import Database, immediate_transaction
from modelmate.errors import AppError
from modelmate.models import User
from modelmate.semantic import embedder
from modelmate.semantic import index as vector_index
from modelmate.semantic import repository as repo
from modelmate.semantic.schemas import SimilarEntries, SimilarEntry
from modelmate.tracker import repository as tracker_repo
from modelmate.tracker.schemas import EntryFilter, Ranked
from modelmate.tracker.service import get_entry, to_out

FUSION_DEPTH = 200  # how deep each ranking goes into the fusion
MIN_SIMILARITY = 0.2  # below this a vector is unrelated to the query (MiniLM cosine)
EMBED_BATCH = 64



class SemanticDisabled(AppError):
    status_code = 409
    code = "semantic_disabled"


def require_enabled(settings: Settings) -> None:
    if not settings.semantic_enabled:
        raise SemanticDisabled("semantic search is turned off on this server (MODELMATE_SEMANTIC_ENABLED=false)")


# --- embedding ---------------------------------------------------------------------------------------------------

@dataclass
class EmbedReport:
    embedded: int = 0
    unchanged: int = 0
    missing: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"embedded": self.embedded, "unchanged": self.unchanged, "missing": self.missing}


def embed_entries(db: Database, entry_ids: Sequence[int], *, force: bool = False,
                  name: str | None = None) -> EmbedReport:
    """Embed these entries' current text; entries whose text (and embedder) is unchanged are skipped."""
    name = name or embedder.active()
    report = EmbedReport()
    with db.session() as session:
        texts = repo.entry_texts(session, entry_ids)
        hashes = repo.stored_hashes(session, list(texts))
    report.missing = len(set(entry_ids) - set(texts))
    todo: list[tuple[int, int, str, str]] = []
    for entry_id, (owner_id, text) in texts.items():
        h = embedder.text_hash(text, name)
        if not force and hashes.get(entry_id) == h:
            report.unchanged += 1
        else:
            todo.append((entry_id, owner_id, text, h))
    if not todo:
        return report
    vectors = embedder.embed([t[2] for t in todo], name)  # outside any transaction: it takes a while
    with db.session() as session:
        immediate_transaction(session)
        repo.upsert(session, [(eid, owner, name, vec, h) for (eid, owner, _, h), vec in zip(todo, vectors,
                                                                                             strict=True)])
        for owner in {t[1] for t in todo}:
            vector_index.invalidate(session, owner)
    report.embedded = len(todo)
    return report


def embed_all(db: Database, *, owner_id: int | None = None, force: bool = False, name: str | None = None,
              progress: Callable[[int, int], None] | None = None) -> EmbedReport:
    """Embed every entry (of one owner, or of everyone), in batches; ``progress(done, total)`` after each."""
    total_report = EmbedReport()
    with db.session() as session:
        total = repo.count_entries(session, owner_id)
    done, after = 0, 0
    while True:
        with db.session() as session:
            ids = repo.entry_ids(session, owner_id=owner_id, after_id=after, limit=EMBED_BATCH * 4)
        if not ids:
            break
        r = embed_entries(db, ids, force=force, name=name)
        total_report.embedded += r.embedded
        total_report.unchanged += r.unchanged
        after = ids[-1]
        done += len(ids)
        if progress is not None:
            progress(min(done, total), total)
    return total_report


# --- ranking -----------------------------------------------------------------------------------------------------

def _allowed_mask(session: Session, owner_id: int, f: EntryFilter | None, ids: np.ndarray) -> np.ndarray | None:
    if f is None or not f.model_dump(exclude_defaults=True):
        return None
    allowed = np.fromiter(tracker_repo.filtered_ids(session, owner_id, f), dtype=np.int64)
    return np.isin(ids, allowed)


def semantic_ranking(session: Session, owner_id: int, q: str, f: EntryFilter | None, *, depth: int,
                     min_score: float | None = MIN_SIMILARITY) -> Ranked:
    name = embedder.active()
    idx = vector_index.get(session, owner_id, name, embedder.dim(name))
    if len(idx.ids) == 0:
        return []
    query = embedder.embed_one(q, name)
    return vector_index.top_k(idx, query, depth, allowed=_allowed_mask(session, owner_id, f, idx.ids),
                              min_score=min_score)


def semantic_engine(session: Session, owner_id: int, q: str, f: EntryFilter, limit: int,
                    offset: int) -> tuple[Ranked, int, dict[int, dict[str, str]]]:
    """Search-mode engine ``semantic`` (see :mod:`modelmate.search.service`)."""
    ranked = semantic_ranking(session, owner_id, q, f, depth=offset + limit + FUSION_DEPTH)
    return ranked[offset:offset + limit], len(ranked), {}


def similar(session: Session, user: User, entry_id: int, limit: int) -> Ranked:
    """Entries of the same user nearest to this one (the entry itself excluded)."""
    entry = get_entry(session, user, entry_id)  # 404 for someone else's entry
    name = embedder.active()
    vector = repo.get_vector(session, user.id, entry.id, name, embedder.dim(name))
    if vector is None:
        texts = repo.entry_texts(session, [entry.id])
        if entry.id not in texts:
            return []
        vector = embedder.embed_one(texts[entry.id][1], name)
    idx = vector_index.get(session, user.id, name, embedder.dim(name))
    ranked = vector_index.top_k(idx, vector, limit + 1, allowed=idx.ids != entry.id)
    return ranked[:limit]


def missing_vectors(session: Session, owner_id: int) -> int:
    return repo.count_missing(session, owner_id, embedder.active())


def similar_entries(session: Session, user: User, entry_id: int, limit: int) -> SimilarEntries:
    ranked = similar(session, user, entry_id, limit)
    entries = {e.id: e for e in tracker_repo.get_entries(session, user.id, [i for i, _ in ranked])}
    items = [SimilarEntry(entry=to_out(entries[i]), score=s) for i, s in ranked if i in entries]
    return SimilarEntries(entry_id=entry_id, items=items, pending=missing_vectors(session, user.id))
