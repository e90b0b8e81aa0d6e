"""The contamination check: which dataset rows overlap which benchmark test documents.

A row **overlaps** a test document when any of these holds (the rule and its measured precision/recall are in
docs/contamination.md):

1. they share at least one 13-gram (after :func:`.normalise.normalise`; the GPT-3 / Llama rule) — catches every
   verbatim or reformatted copy of a document of 13 words or more;
2. they share at least :data:`MIN_SHARED_C` distinct content n-grams that make up at least :data:`MIN_SHARE_C` of the
   document's distinct content n-grams — catches paraphrases that keep runs of eight words;
3. a segment of the row (a line, a paragraph — a message is a paragraph —, a line's text up to a question mark, or
   the whole row), normalised and with
   leading labels ("question", "q", "user", "instruction", ...) dropped, equals the document's normalised question
   (questions of at least five words that no other document of the task shares) — the only way a document shorter
   than 13 words can be found.

Everything is vectorised: rows are processed in chunks of about a million words; each chunk's words are hashed
once, its n-grams rolled in numpy, screened with a bitmap of the index's hashes and looked up with
``np.searchsorted`` in the index's sorted arrays.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from modelmate.training.data import load_dataset_file

from .index import CONTENT_N, BenchmarkIndex, N
from .normalise import (
    QUESTION_MARK,
    SENTENCE_MARK,
    cleaned,
    content_mask,
    ngram_hashes,
    ngram_rows,
    text_hash,
    word_hashes,
)
from .report import EXCERPT_CHARS, ContaminationReport, OverlapExample, TaskOverlap

MIN_SHARED_C = 3
MIN_SHARE_C = 0.3
EXAMPLES_PER_TASK = 5
CHUNK_WORDS = 1_000_000
MAX_ROWS = 1_000_000  # the default upload limit (Settings.max_dataset_rows)
_LABELS = frozenset({"question", "q", "problem", "user", "human", "assistant", "system", "instruction", "input",
                     "prompt", "homework", "exercise"})
_SKIP_KEYS = frozenset({"role", "from", "type", "name", "id"})
_BITMAP_SHIFT = np.uint64(39)  # 2**25 slots
Progress = Callable[[float, str], None]


class Overlap(NamedTuple):
    """One (row, test document) pair the rule calls overlapping (the report keeps counts and a few examples)."""

    row: int
    task: str
    document_id: str
    kind: str  # "exact" | "ngram"
    shared_ngrams: int


def _strings(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        if value.strip():
            out.append(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in _SKIP_KEYS:
                _strings(item, out)
    elif isinstance(value, list | tuple):
        for item in value:
            _strings(item, out)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        out.append(str(value))


def record_texts(record: dict[str, Any]) -> str:
    """Every text of a dataset record (any format of training/data.py: text, prompt/completion,
    instruction/input/output, messages, conversations, ...), one paragraph per field or message."""
    out: list[str] = []
    _strings(record, out)
    return "\n\n".join(out)


class _Table:
    """One family of the index (13-grams or content n-grams): a bitmap screen and the sorted arrays."""

    def __init__(self, grams: np.ndarray, docs: np.ndarray) -> None:
        self.grams, self.docs = grams, docs
        self.bitmap = np.zeros(1 << 25, dtype=bool)
        self.bitmap[np.asarray(grams) >> _BITMAP_SHIFT] = True

    def lookup(self, hashes: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row, document, gram hash) of every hit."""
        screen = self.bitmap[hashes >> _BITMAP_SHIFT]
        hashes, rows = hashes[screen], rows[screen]
        lo = np.searchsorted(self.grams, hashes, "left")
        hi = np.searchsorted(self.grams, hashes, "right")
        sizes = hi - lo
        hit = sizes > 0
        lo, sizes, hashes, rows = lo[hit], sizes[hit], hashes[hit], rows[hit]
        total = int(sizes.sum())
        offsets = np.arange(total) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        where = np.repeat(lo, sizes) + offsets
        return np.repeat(rows, sizes), np.asarray(self.docs[where]).astype(np.int64), np.repeat(hashes, sizes)


def _distinct_counts(rows: np.ndarray, docs: np.ndarray, grams: np.ndarray) -> dict[tuple[int, int], int]:
    """Distinct shared grams per (row, document)."""
    if not len(rows):
        return {}
    order = np.lexsort((grams, docs, rows))
    rows, docs, grams = rows[order], docs[order], grams[order]
    new = np.r_[True, (rows[1:] != rows[:-1]) | (docs[1:] != docs[:-1]) | (grams[1:] != grams[:-1])]
    rows, docs = rows[new], docs[new]
    starts = np.flatnonzero(np.r_[True, (rows[1:] != rows[:-1]) | (docs[1:] != docs[:-1])])
    counts = np.diff(np.r_[starts, len(rows)])
    return {(int(r), int(d)): int(c) for r, d, c in zip(rows[starts], docs[starts], counts, strict=True)}


def _segments(text: str) -> set[str]:
    """The normalised segments of a row's :func:`.normalise.cleaned` text: each line, each paragraph, each line up to
    a question mark and that question's sentence, and the whole row; each also without its leading labels."""
    lines = [" ".join(line.split()) for line in text.split("\n")]
    out: set[str] = set()
    para: list[str] = []
    for line in [*lines, ""]:
        if line:
            out.add(line)
            para.append(line)
        elif para:
            out.add(" ".join(para))
            para = []
    out.add(" ".join(line for line in lines if line))
    if QUESTION_MARK in text:
        for raw in text.split("\n"):
            pos = raw.find(QUESTION_MARK)
            while pos >= 0:
                head = raw[:pos]
                out.add(" ".join(head.split()))
                start = max(head.rfind(SENTENCE_MARK), head.rfind(QUESTION_MARK)) + 1
                out.add(" ".join(head[start:].split()))
                pos = raw.find(QUESTION_MARK, pos + 1)
    for seg in list(out):
        words = seg.split(" ")
        start = 0
        while start < len(words) and words[start] in _LABELS:
            start += 1
        if start:
            out.add(" ".join(words[start:]))
    return out


class _Checker:
    def __init__(self, index: BenchmarkIndex) -> None:
        self.index = index
        self.t13 = _Table(index.grams13, index.docs13)
        self.tc = _Table(index.gramsc, index.docsc)
        self.questions = np.asarray(index.questions)
        self.question_docs = np.asarray(index.question_docs)
        self.doc_gramsc = np.asarray(index.doc_gramsc)
        self.shared13: dict[tuple[int, int], int] = {}
        self.sharedc: dict[tuple[int, int], int] = {}
        self.exact: set[tuple[int, int]] = set()
        self.excerpts: dict[int, str] = {}
        self.rows = 0
        self.words = 0

    def chunk(self, texts: list[str], first_row: int) -> None:
        words: list[str] = []
        lengths: list[int] = []
        seg_rows: list[int] = []
        seg_hashes: list[int] = []
        for offset, text in enumerate(texts):
            clean = cleaned(text)
            row_words = clean.split()
            words.extend(row_words)
            lengths.append(len(row_words))
            for seg in _segments(clean):
                if seg.count(" ") + 1 >= 5:
                    seg_rows.append(first_row + offset)
                    seg_hashes.append(text_hash(seg))
        self.words += len(words)
        row_of_word = np.repeat(np.arange(first_row, first_row + len(texts), dtype=np.int64), lengths)
        hashes = word_hashes(words)
        hit_rows: set[int] = set()
        content = content_mask(hashes)
        for n, table, into, h, r in ((N, self.t13, self.shared13, hashes, row_of_word),
                                     (CONTENT_N, self.tc, self.sharedc, hashes[content], row_of_word[content])):
            starts, rows = ngram_rows(r, n)
            grams = ngram_hashes(h, n)[starts]
            for key, count in _distinct_counts(*table.lookup(grams, rows)).items():
                into[key] = count
                hit_rows.add(key[0])
        if seg_hashes:
            q = np.array(seg_hashes, dtype=np.uint64)
            srows = np.array(seg_rows, dtype=np.int64)
            lo = np.searchsorted(self.questions, q, "left")
            hi = np.searchsorted(self.questions, q, "right")
            for i in np.flatnonzero(hi > lo):
                for j in range(lo[i], hi[i]):
                    self.exact.add((int(srows[i]), int(self.question_docs[j])))
                    hit_rows.add(int(srows[i]))
        for row in hit_rows:
            self.excerpts[row] = texts[row - first_row]
        self.rows += len(texts)

    def overlaps(self) -> dict[tuple[int, int], tuple[str, int]]:
        """(row, document) -> (kind, shared n-grams) for every pair the rule calls overlapping."""
        out: dict[tuple[int, int], tuple[str, int]] = {}
        for key, count in self.sharedc.items():
            if count >= MIN_SHARED_C and count >= MIN_SHARE_C * int(self.doc_gramsc[key[1]]):
                out[key] = ("ngram", count)
        for key, count in self.shared13.items():
            out[key] = ("ngram", max(count, out.get(key, ("", 0))[1]))
        for key in self.exact:
            out[key] = ("exact", max(self.shared13.get(key, 0), self.sharedc.get(key, 0)))
        return out

    def report(self, seconds: float) -> ContaminationReport:
        index = self.index
        per_task: dict[int, list[tuple[int, int, str, int]]] = {}
        for (row, doc), (kind, shared) in self.overlaps().items():
            per_task.setdefault(int(index.doc_task[doc]), []).append((row, doc, kind, shared))
        totals = index.total_documents()
        tasks = []
        for number, pairs in per_task.items():
            info = index.infos[number]
            docs = {doc for _row, doc, _k, _s in pairs}
            exact = {doc for _row, doc, kind, _s in pairs if kind == "exact"}
            pairs.sort(key=lambda p: (p[2] != "exact", -p[3], p[0]))
            examples: list[OverlapExample] = []
            seen: set[int] = set()
            for row, doc, kind, shared in pairs:
                if doc in seen:
                    continue
                seen.add(doc)
                document = index.documents[doc]
                examples.append(OverlapExample(row=row, row_text=_excerpt(self.excerpts[row], document["excerpt"]),
                                               document_id=document["id"], document_text=document["excerpt"],
                                               kind=kind, shared_ngrams=shared))
                if len(examples) == EXAMPLES_PER_TASK:
                    break
            tasks.append(TaskOverlap(task=info.task, suite_task=info.suite_task, domain=info.domain, title=info.title,
                                     rows=len({row for row, _d, _k, _s in pairs}), documents=len(docs),
                                     total_documents=int(totals[number]), exact=len(exact),
                                     examples=tuple(examples)))
        tasks.sort(key=lambda t: (-t.documents, t.task))
        return ContaminationReport(index_version=index.version, n=index.n, rows_checked=self.rows,
                                   tokens_checked=self.words, seconds=round(seconds, 3), tasks=tuple(tasks))


def _excerpt(row_text: str, document: str) -> str:
    """At most EXCERPT_CHARS of the row, starting a little before the document's first words when they are found."""
    probe = " ".join(document.split()[:4]).lower()
    at = row_text.lower().find(probe) if probe else -1
    start = max(0, at - 40) if at >= 0 else 0
    text = row_text[start:start + EXCERPT_CHARS]
    return ("…" + text[1:] if start else text)[:EXCERPT_CHARS]


def check_texts(texts: Iterable[str], index: BenchmarkIndex, *, total: int | None = None,
                progress: Progress | None = None) -> ContaminationReport:
    """Check the rows ``texts`` (one string per dataset row, see :func:`record_texts`) against ``index``.

    ``progress(fraction, message)`` after each chunk of about a million words: the fraction of ``total`` rows done
    (0.0 throughout when ``total`` is not given), the message counts rows and words."""
    return check_texts_detailed(texts, index, total=total, progress=progress)[0]


def check_texts_detailed(texts: Iterable[str], index: BenchmarkIndex, *, total: int | None = None,
                         progress: Progress | None = None) -> tuple[ContaminationReport, list[Overlap]]:
    """:func:`check_texts` plus every overlapping (row, document) pair."""
    started = time.perf_counter()
    checker = _Checker(index)
    batch: list[str] = []
    size = 0

    def flush() -> None:
        nonlocal batch, size
        if batch:
            checker.chunk(batch, checker.rows)
            batch, size = [], 0
            if progress:
                fraction = min(checker.rows / total, 1.0) if total else 0.0
                progress(fraction, f"checked {checker.rows:,} rows ({checker.words:,} words)")

    for text in texts:
        batch.append(text)
        size += len(text) // 6 + 1  # about six characters a word
        if size >= CHUNK_WORDS:
            flush()
    flush()
    report = checker.report(time.perf_counter() - started)
    pairs = [Overlap(row, index.infos[int(index.doc_task[doc])].task, index.documents[doc]["id"], kind, shared)
             for (row, doc), (kind, shared) in sorted(checker.overlaps().items())]
    return report, pairs


def check_file(path: Path, index: BenchmarkIndex, *, filename: str | None = None, fmt: str | None = None,
               progress: Progress | None = None, max_rows: int = MAX_ROWS) -> ContaminationReport:
    """Read a dataset file as an upload is read (training/data.py's formats and limits; raises its DataErrors)
    and check every row."""
    if progress:
        progress(0.0, f"reading {filename or Path(path).name}")
    loaded = load_dataset_file(Path(path), filename=filename or Path(path).name, fmt=fmt, max_rows=max_rows)
    records = loaded.records
    return check_texts((record_texts(r) for r in records), index, total=len(records), progress=progress)
