"""Per-user vector matrices kept in memory: a brute-force float32 dot product (100k × 384 floats ≈ 150 MB
at most per user; a few milliseconds per query — see benchmarks/semantic_search.py).

A cached matrix is reused until this process changes the owner's vectors (:func:`invalidate`) or, checked at
most every ``RECHECK_S`` seconds, the database's signature for them (count, newest update) moves — which
catches writes by other processes (another server worker, ``modelmate search reindex``).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy.orm import Session

from modelmate.semantic import repository as repo

RECHECK_S = 2.0
MAX_CACHED_USERS = 64


@dataclass
class UserIndex:
    ids: np.ndarray
    matrix: np.ndarray
    signature: tuple[int, datetime | None]
    checked_at: float

    def scores(self, query: np.ndarray) -> np.ndarray:
        return self.matrix @ query if len(self.ids) else np.zeros(0, dtype=np.float32)


_cache: dict[tuple[str, int, str], UserIndex] = {}
_dirty: set[tuple[str, int]] = set()
_lock = threading.Lock()


def _db_key(session: Session) -> str:
    return str(session.get_bind().engine.url)  # `.engine` is the engine itself, or a connection's engine


def invalidate(session: Session, owner_id: int) -> None:
    with _lock:
        _dirty.add((_db_key(session), owner_id))


def get(session: Session, owner_id: int, embedder: str, dim: int) -> UserIndex:
    db = _db_key(session)
    key = (db, owner_id, embedder)
    now = time.monotonic()
    with _lock:
        cached = _cache.get(key)
        dirty = (db, owner_id) in _dirty
        _dirty.discard((db, owner_id))
    if cached is not None and not dirty and now - cached.checked_at < RECHECK_S:
        return cached
    sig = repo.signature(session, owner_id, embedder)
    if cached is not None and cached.signature == sig and not dirty:
        cached.checked_at = now
        return cached
    ids, matrix = repo.load_matrix(session, owner_id, embedder, dim)
    fresh = UserIndex(ids=ids, matrix=matrix, signature=sig, checked_at=now)
    with _lock:
        if len(_cache) >= MAX_CACHED_USERS and key not in _cache:
            _cache.pop(next(iter(_cache)))
        _cache[key] = fresh
    return fresh


def top_k(index: UserIndex, query: np.ndarray, k: int, *, allowed: np.ndarray | None = None,
          min_score: float | None = None) -> list[tuple[int, float]]:
    """Best ``k`` (entry id, cosine similarity), best first; ``allowed``: a boolean mask over ``index.ids``."""
    scores = index.scores(query)
    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)
    if min_score is not None:
        scores = np.where(scores >= min_score, scores, -np.inf)
    n = int(np.isfinite(scores).sum())
    k = min(k, n)
    if k <= 0:
        return []
    part = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    order = part[np.lexsort((-index.ids[part], -scores[part]))]
    return [(int(index.ids[i]), float(scores[i])) for i in order if np.isfinite(scores[i])][:k]
