"""The result of a contamination check: per benchmark task, which dataset rows overlap which test documents.

One definition, read by every consumer: the check writes it, the datasets service stores it as JSON
(:meth:`ContaminationReport.to_json` / :meth:`ContaminationReport.from_json`), and the dataset page, the run and
model records, the research export, the capability feed and the leaderboards read it back.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

REPORT_VERSION = 1
EXCERPT_CHARS = 300  # an example's texts are cut to this many characters


@dataclass(frozen=True)
class OverlapExample:
    """One dataset row that overlaps one benchmark test document."""

    row: int  # 0-based index of the dataset row
    row_text: str  # an excerpt of the row (at most EXCERPT_CHARS), around the overlap where possible
    document_id: str  # the test document's id within its task (e.g. "test:123")
    document_text: str  # an excerpt of the test document
    kind: str  # "exact" (normalised question equal) or "ngram" (shared long n-grams)
    shared_ngrams: int  # n-grams the row and the document share (0 for an exact match of a short question)


@dataclass(frozen=True)
class TaskOverlap:
    """Overlap with one benchmark task's test split (one lm-eval leaf task, e.g. ``gsm8k``, ``mmlu_nutrition``)."""

    task: str  # lm-eval leaf task name
    suite_task: str  # the suite entry it belongs to (``evaluation.suites`` TaskSpec name, e.g. ``mmlu``)
    domain: str  # the domain it is scored in (``enums.Domain`` value)
    title: str  # human title, e.g. "GSM8K"
    rows: int  # dataset rows that overlap at least one test document of this task
    documents: int  # test documents of this task that at least one dataset row overlaps
    total_documents: int  # test documents of this task in the index
    exact: int  # of ``documents``: those matched by an exact normalised question
    examples: tuple[OverlapExample, ...] = ()  # a few, most-overlapping first

    @property
    def fraction(self) -> float:
        return self.documents / self.total_documents if self.total_documents else 0.0


@dataclass(frozen=True)
class ContaminationReport:
    """A dataset checked against every test document of the suites' tasks."""

    index_version: str  # identifies the benchmark index (data hash, n, normalisation version)
    n: int  # n-gram length in tokens (13)
    rows_checked: int
    tokens_checked: int
    seconds: float  # wall time of the check (index load excluded)
    tasks: tuple[TaskOverlap, ...] = field(default_factory=tuple)  # only tasks with overlap, most documents first

    @property
    def contaminated(self) -> bool:
        return any(t.documents for t in self.tasks)

    @property
    def domains(self) -> dict[str, int]:
        """Overlapping test documents per domain (domains without overlap are absent)."""
        out: dict[str, int] = {}
        for t in self.tasks:
            if t.documents:
                out[t.domain] = out.get(t.domain, 0) + t.documents
        return out

    def summary(self) -> str:
        """One line for a run or model record: "overlaps GSM8K test: 37 documents; MMLU test: 4 documents"."""
        if not self.contaminated:
            return "no overlap with any benchmark test set"
        by_title: dict[str, int] = {}
        for t in self.tasks:
            if t.documents:
                by_title[t.title] = by_title.get(t.title, 0) + t.documents
        parts = [f"{title} test: {n} document{'s' if n != 1 else ''}" for title, n in by_title.items()]
        return "overlaps " + "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["version"] = REPORT_VERSION
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ContaminationReport:
        tasks = tuple(
            TaskOverlap(**{**t, "examples": tuple(OverlapExample(**e) for e in t.get("examples", ()))})
            for t in data.get("tasks", ())
        )
        return cls(
            index_version=str(data["index_version"]), n=int(data["n"]), rows_checked=int(data["rows_checked"]),
            tokens_checked=int(data["tokens_checked"]), seconds=float(data["seconds"]), tasks=tasks,
        )
