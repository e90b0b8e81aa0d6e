"""The benchmark index: hashed n-grams and normalised questions of every test document, built once per benchmark
data version and memory-mapped on load.

On disk (``<cache_dir>/index-<version>/``, private 0700/0600, created under a temporary name and renamed, so a
reader never sees half an index and concurrent builders keep one):

- ``grams13.npy`` / ``docs13.npy``: every distinct 13-gram hash of every document (sorted uint64) and the document
  it belongs to (int32, parallel); a 13-gram in several documents has several entries;
- ``gramsc.npy`` / ``docsc.npy``: the same for content n-grams (the paraphrase rule of :mod:`.check`);
- ``doc_gramsc.npy``: each document's number of distinct content n-grams; ``doc_task.npy``: each document's task number;
- ``questions.npy`` / ``question_docs.npy``: the hash of each document's normalised question, sorted, and its
  document (questions of at least five words that no other document of the same task has);
- ``documents.json``: per document its task, id and an excerpt; ``meta.json``: the version, n and the tasks.

N-grams that also occur in the benchmark's own non-test splits (GSM8K train, MMLU dev, ...; see
:mod:`.documents`) are left out, and so are n-grams that occur in more than :data:`MAX_DOCS_PER_GRAM` documents
(boilerplate: a prompt phrase, a code idiom): they say nothing about which item leaked. Arrays are
saved with ``allow_pickle=False``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelmate.contamination.report import EXCERPT_CHARS
from modelmate.evaluation import mirror
from modelmate.storage.private import private_dir

from .documents import DOCUMENTS_VERSION, BenchDocument, TaskInfo, benchmark_documents, leaves
from .normalise import NORMALISATION_VERSION, content_mask, ngram_hashes, normalise, text_hash, word_hashes

N = 13  # the long n-gram (GPT-3, Llama 2 decontamination)
CONTENT_N = 4  # the paraphrase rule's n-gram, over content words (stopwords dropped)
INDEX_FORMAT = "1"
MAX_DOCS_PER_GRAM = 50
MIN_QUESTION_WORDS = 5  # shorter questions ("is the sun a star") are too common to call an exact match a leak
Progress = Callable[[float, str], None]


class IndexUnavailable(RuntimeError):
    """The benchmark mirror is missing or unreadable, so no index can be built."""


@dataclass
class BenchmarkIndex:
    version: str
    n: int
    directory: Path
    infos: list[TaskInfo]
    documents: list[dict[str, str]]  # per document: task, id, excerpt
    grams13: np.ndarray
    docs13: np.ndarray
    gramsc: np.ndarray
    docsc: np.ndarray
    doc_gramsc: np.ndarray
    doc_task: np.ndarray
    questions: np.ndarray
    question_docs: np.ndarray
    built: bool = False  # True when this load built the index (False: reused from the cache)

    def tasks(self) -> list[str]:
        return [info.task for info in self.infos]

    def total_documents(self) -> np.ndarray:
        return np.bincount(self.doc_task, minlength=len(self.infos))


def _dataset_keys() -> list[str]:
    return list(dict.fromkeys(leaf.dataset for _spec, leaf in leaves()))


def _root(data_dir: Path) -> Path:
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise IndexUnavailable(f"benchmark data directory {root} does not exist")
    return root.resolve()


def index_version(data_dir: Path, *, _memo: Path | None = None) -> str:
    """``<n>-<normalisation>.<documents>.<format>-<hash>``: the hash covers every mirror file the suites read and
    the source of the modules that build the index (a change to either rebuilds it)."""
    root = _root(data_dir)
    digest = hashlib.sha256(f"n={N};short={CONTENT_N};max={MAX_DOCS_PER_GRAM};q={MIN_QUESTION_WORDS}".encode())
    for module in ("normalise.py", "documents.py", "index.py"):  # the code that decides what the index holds
        digest.update((Path(__file__).parent / module).read_bytes())
    try:
        for key in _dataset_keys():
            digest.update(f"{key}={mirror.content_hash(root, mirror.DATASETS[key], _memo)};".encode())
    except (OSError, mirror.MirrorError) as exc:
        raise IndexUnavailable(f"the benchmark mirror {root} cannot be read: {exc}") from exc
    return f"{N}-{NORMALISATION_VERSION}.{DOCUMENTS_VERSION}.{INDEX_FORMAT}-{digest.hexdigest()[:16]}"


def _distinct(values: np.ndarray) -> np.ndarray:
    return np.unique(values)


def _sorted_pairs(grams: list[np.ndarray], docs: list[np.ndarray], sanctioned: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """All (gram, doc) pairs sorted by gram, without grams in ``sanctioned`` (sorted, distinct) and grams shared by
    more than MAX_DOCS_PER_GRAM documents."""
    g = np.concatenate(grams) if grams else np.empty(0, np.uint64)
    d = np.concatenate(docs) if docs else np.empty(0, np.int32)
    keep = ~np.isin(g, sanctioned, assume_unique=False)
    g, d = g[keep], d[keep]
    order = np.argsort(g, kind="stable")
    g, d = g[order], d[order]
    if len(g):
        starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
        sizes = np.diff(np.r_[starts, len(g)])
        keep = np.repeat(sizes <= MAX_DOCS_PER_GRAM, sizes)
        g, d = g[keep], d[keep]
    return g, d


def _specific_questions(questions: list[int], docs: list[int], doc_task: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """The questions that identify one document of their task: a stem that several documents of one task share
    ("Which of the following statements is correct?") is left to the n-gram rules."""
    per_task: dict[tuple[int, int], int] = {}
    for question, doc in zip(questions, docs, strict=True):
        key = (question, doc_task[doc])
        per_task[key] = per_task.get(key, 0) + 1
    keep = [i for i, (question, doc) in enumerate(zip(questions, docs, strict=True))
            if per_task[(question, doc_task[doc])] == 1]
    return (np.array([questions[i] for i in keep], dtype=np.uint64),
            np.array([docs[i] for i in keep], dtype=np.int32))


def _build(root: Path, out: Path, version: str, progress: Progress | None) -> None:
    infos: list[TaskInfo] = []
    table: list[dict[str, str]] = []
    g13: list[np.ndarray] = []
    d13: list[np.ndarray] = []
    gc: list[np.ndarray] = []
    dc: list[np.ndarray] = []
    countsc: list[int] = []
    doc_task: list[int] = []
    questions: list[int] = []
    question_docs: list[int] = []
    other13: list[np.ndarray] = []
    otherc: list[np.ndarray] = []
    seen_other: set[int] = set()

    def add(doc: BenchDocument, number: int) -> None:
        hashes = word_hashes(normalise(doc.text).split())
        grams = _distinct(ngram_hashes(hashes, N))
        g13.append(grams)
        d13.append(np.full(len(grams), number, np.int32))
        grams = _distinct(ngram_hashes(hashes[content_mask(hashes)], CONTENT_N))
        gc.append(grams)
        dc.append(np.full(len(grams), number, np.int32))
        countsc.append(len(grams))
        question = normalise(doc.question)
        if question.count(" ") + 1 >= MIN_QUESTION_WORDS:
            questions.append(text_hash(question))
            question_docs.append(number)
        table.append({"task": doc.task, "id": doc.id, "excerpt": doc.text[:EXCERPT_CHARS]})

    def reading(fraction: float, message: str) -> None:
        if progress:
            progress(0.8 * fraction, message)

    for info, docs, other in benchmark_documents(root, reading):
        key = hash(tuple(other))
        if other and key not in seen_other:  # NTREX and TruthfulQA tasks share one dataset: read it once
            seen_other.add(key)
            hashes = word_hashes(normalise("\n".join(other)).split())
            other13.append(_distinct(ngram_hashes(hashes, N)))
            otherc.append(_distinct(ngram_hashes(hashes[content_mask(hashes)], CONTENT_N)))
        for doc in docs:
            add(doc, len(table))
            doc_task.append(len(infos))
        infos.append(info)
    if progress:
        progress(0.85, f"sorting the n-grams of {len(table)} test documents")
    grams13, docs13 = _sorted_pairs(g13, d13, _distinct(np.concatenate([np.empty(0, np.uint64), *other13])))
    gramsc, docsc = _sorted_pairs(gc, dc, _distinct(np.concatenate([np.empty(0, np.uint64), *otherc])))
    q, qdocs = _specific_questions(questions, question_docs, doc_task)
    order = np.argsort(q, kind="stable")
    arrays: dict[str, np.ndarray] = {
        "grams13": grams13, "docs13": docs13, "gramsc": gramsc, "docsc": docsc,
        "doc_gramsc": np.array(countsc, np.int32), "doc_task": np.array(doc_task, np.int16),
        "questions": q[order], "question_docs": qdocs[order],
    }
    for name, array in arrays.items():
        np.save(out / f"{name}.npy", array, allow_pickle=False)
    (out / "documents.json").write_text(json.dumps(table, ensure_ascii=False), encoding="utf-8")
    meta = {"version": version, "n": N, "short_n": CONTENT_N, "documents": len(table), "grams13": int(len(grams13)),
            "gramsc": int(len(gramsc)), "tasks": [info.__dict__ for info in infos]}
    (out / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")


def _load(directory: Path, built: bool) -> BenchmarkIndex:
    meta: dict[str, Any] = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
    arrays = {name: np.load(directory / f"{name}.npy", mmap_mode="r", allow_pickle=False)
              for name in ("grams13", "docs13", "gramsc", "docsc", "doc_gramsc", "doc_task", "questions",
                           "question_docs")}
    documents = json.loads((directory / "documents.json").read_text(encoding="utf-8"))
    return BenchmarkIndex(version=meta["version"], n=int(meta["n"]), directory=directory,
                          infos=[TaskInfo(**t) for t in meta["tasks"]], documents=documents, built=built, **arrays)


def index_stats(index: BenchmarkIndex) -> dict[str, int]:
    """Documents, n-grams and bytes on disk of a loaded index (for the benchmark script and the docs)."""
    size = sum(p.stat().st_size for p in index.directory.iterdir())
    return {"documents": len(index.documents), "grams13": len(index.grams13), "gramsc": len(index.gramsc),
            "questions": len(index.questions), "bytes": size}


def load_or_build(data_dir: Path, cache_dir: Path, *, progress: Progress | None = None) -> BenchmarkIndex:
    """The index of the mirror at ``data_dir``: loaded from ``cache_dir`` when built for this version, else built
    (and older versions there removed)."""
    root = _root(data_dir)
    cache = Path(cache_dir)
    private_dir(cache)
    version = index_version(root, _memo=cache)
    final = cache / f"index-{version}"
    if (final / "meta.json").is_file():
        return _load(final, built=False)

    def fill(tmp: Path) -> None:
        try:
            _build(root, tmp, version, progress)
        except (OSError, mirror.MirrorError, KeyError, ValueError) as exc:
            raise IndexUnavailable(f"the benchmark mirror {root} cannot be read: {exc}") from exc

    mirror.atomic_dir(final, fill)
    for old in cache.glob("index-*"):
        if old != final:
            with contextlib.suppress(OSError):
                shutil.rmtree(old)
    if progress:
        progress(1.0, "benchmark index built")
    return _load(final, built=True)
