"""Benchmark contamination of datasets: the check on every upload (a background job), its stored report, and what
a run's or a model's training data overlaps.

- :func:`request_check` (the upload, "Check again", the CLI on a stored dataset) records ``pending`` and queues a
  ``contamination`` job; without a benchmark data dir (``MODELMATE_BENCHMARK_DATA_DIR``) it records
  ``unavailable`` with a message instead.
- :func:`run_check` (the job) loads or builds the benchmark index once per benchmark data version
  (``contamination.index.load_or_build``, cached under ``<data_dir>/cache/contamination``), checks the dataset's
  canonical file and stores the report (``ContaminationReport.to_json``) with its per-task overlaps
  (``contamination_overlaps``), all in one transaction.
- :func:`training_contamination` answers for runs and models from the overlap rows (no report JSON is parsed):
  a model's training data is its run's dataset and its parent's training data (forks inherit the flag).

A stored report names the index version it was made with; a newer benchmark mirror does not re-check stored
datasets by itself: "Check again" (``POST /datasets/{id}/contamination``) does, on demand.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from modelmate.config import Settings
from modelmate.contamination.report import ContaminationReport, TaskOverlap
from modelmate.datasets import contamination_repository as repo
from modelmate.datasets.schemas import (
    ContaminationOut,
    OverlapExampleOut,
    TaskOverlapOut,
    TrainingContamination,
)
from modelmate.datasets.service import dataset_path, get_visible
from modelmate.db.base import utcnow
from modelmate.db.engine import Database
from modelmate.enums import ContaminationStatus, JobKind
from modelmate.errors import ForbiddenError
from modelmate.jobs import service as jobs
from modelmate.models import ContaminationOverlap, Dataset, Job, User

log = logging.getLogger(__name__)
NO_BENCHMARK_DATA = ("no benchmark data on this server: set MODELMATE_BENCHMARK_DATA_DIR to a benchmark mirror "
                     "to check datasets for benchmark contamination")
INDEX_SHARE = 0.3  # of the job's progress: loading (or building) the benchmark index


def cache_dir(settings: Settings) -> Path:
    """Where the benchmark index is built and kept (private files)."""
    return settings.cache_dir / "contamination"


# --- requesting ---------------------------------------------------------------------------------------------------

def request_check(session: Session, settings: Settings, dataset: Dataset) -> ContaminationStatus:
    """Queue a check of the dataset (coalesced with one already queued); ``unavailable`` without benchmark data."""
    if settings.benchmark_data_dir is None:
        repo.set_status(session, dataset.id, {"status": ContaminationStatus.UNAVAILABLE.value,
                                              "message": NO_BENCHMARK_DATA, "requested_at": utcnow()})
        return ContaminationStatus.UNAVAILABLE
    job = jobs.enqueue_coalesced(session, kind=JobKind.CONTAMINATION, owner_id=dataset.owner_id,
                                 payload={"dataset_id": dataset.id}, key="dataset_id")
    repo.set_status(session, dataset.id, {"status": ContaminationStatus.PENDING.value, "message": None,
                                          "job_id": job.id, "requested_at": utcnow()})
    return ContaminationStatus.PENDING


def ensure_checked(session: Session, settings: Settings, dataset: Dataset) -> None:
    """After an upload: queue the dataset's first check (an upload of content you already had keeps its check)."""
    if repo.get(session, dataset.id) is None:
        request_check(session, settings, dataset)


def check_again(session: Session, settings: Settings, user: User, dataset_id: int) -> ContaminationOut:
    """The owner's "Check again" (e.g. after the benchmark data changed)."""
    dataset = get_visible(session, user, dataset_id)
    if dataset.owner_id != user.id:
        raise ForbiddenError("only the dataset's owner can ask for a new contamination check")
    request_check(session, settings, dataset)
    return report_out(session, user, dataset_id)


# --- the job ------------------------------------------------------------------------------------------------------

def _set(db: Database, dataset_id: int, values: dict[str, Any]) -> None:
    with db.session() as session:
        repo.set_status(session, dataset_id, values)


def overlap_rows(report: ContaminationReport) -> list[dict[str, Any]]:
    return [{"task": t.task[:100], "suite_task": t.suite_task[:100], "domain": t.domain[:32], "title": t.title[:200],
             "documents": t.documents, "rows": t.rows, "exact": t.exact} for t in report.tasks if t.documents]


def store_report(session: Session, dataset_id: int, report: ContaminationReport) -> None:
    """The report and its overlap rows, in the caller's transaction."""
    repo.set_status(session, dataset_id, {"status": ContaminationStatus.DONE.value, "message": None,
                                          "index_version": report.index_version[:200], "report": report.to_json(),
                                          "checked_at": utcnow()})
    repo.replace_overlaps(session, dataset_id, overlap_rows(report))


def check_dataset_file(settings: Settings, path: Path, *, filename: str | None = None, fmt: str | None = None,
                       progress: Callable[[float, str], None] | None = None) -> ContaminationReport:
    """Load (or build) the benchmark index and check one file. IndexUnavailable when there is no benchmark data."""
    from modelmate.contamination import check, index  # lazy: start-up (numpy index)

    def scaled(start: float, share: float) -> Callable[[float, str], None] | None:
        if progress is None:
            return None
        return lambda fraction, message: progress(start + share * max(0.0, min(1.0, fraction)), message)

    if settings.benchmark_data_dir is None:
        raise index.IndexUnavailable(NO_BENCHMARK_DATA)
    built = index.load_or_build(Path(settings.benchmark_data_dir), cache_dir(settings),
                                progress=scaled(0.0, INDEX_SHARE))
    return check.check_file(path, built, filename=filename, fmt=fmt, max_rows=settings.max_dataset_rows,
                            progress=scaled(INDEX_SHARE, 1 - INDEX_SHARE))


def run_check(db: Database, settings: Settings, dataset_id: int, *, job_id: int | None = None,
              progress: Callable[[float, str], None] | None = None) -> dict[str, Any]:
    """The ``contamination`` job: check the stored dataset and store its report. Returns a summary for the job."""
    from modelmate.contamination.index import IndexUnavailable  # lazy: start-up (numpy index)

    with db.session() as session:
        dataset = session.get(Dataset, dataset_id)
        if dataset is None:
            return {"skipped": f"dataset {dataset_id} is gone"}
        path = dataset_path(settings, dataset)  # canonical records (alpaca/sharegpt are stored as messages)
        repo.set_status(session, dataset_id, {"status": ContaminationStatus.RUNNING.value, "message": None,
                                              "job_id": job_id})
    try:
        report = check_dataset_file(settings, path, filename=path.name, progress=progress)
    except IndexUnavailable as exc:
        _set(db, dataset_id, {"status": ContaminationStatus.UNAVAILABLE.value, "message": str(exc)[:2000]})
        return {"status": "unavailable", "message": str(exc)}
    except Exception as exc:
        _set(db, dataset_id, {"status": ContaminationStatus.FAILED.value,
                              "message": f"the check failed: {type(exc).__name__}: {exc}"[:2000]})
        raise
    with db.session() as session:
        store_report(session, dataset_id, report)
    return {"status": "done", "contaminated": report.contaminated, "summary": report.summary()}


# --- reading ------------------------------------------------------------------------------------------------------

def _task_out(t: TaskOverlap, *, examples: bool) -> TaskOverlapOut:
    return TaskOverlapOut(task=t.task, suite_task=t.suite_task, domain=t.domain, title=t.title, rows=t.rows,
                          documents=t.documents, total_documents=t.total_documents, exact=t.exact,
                          examples=[OverlapExampleOut(**vars(e)) for e in t.examples] if examples else [])


def report_out(session: Session, user: User, dataset_id: int) -> ContaminationOut:
    """A visible dataset's check, with its examples (another user's private dataset: 404)."""
    dataset = get_visible(session, user, dataset_id)
    row = repo.get(session, dataset.id)
    can_check = dataset.owner_id == user.id
    if row is None:
        return ContaminationOut(dataset_id=dataset.id, status=None, can_check=can_check)
    out = ContaminationOut(dataset_id=dataset.id, status=ContaminationStatus(row.status), message=row.message,
                           job_id=row.job_id, index_version=row.index_version, requested_at=row.requested_at,
                           checked_at=row.checked_at, can_check=can_check)
    if row.status in (ContaminationStatus.PENDING, ContaminationStatus.RUNNING) and row.job_id:
        job = session.get(Job, row.job_id)
        if job is not None:
            out.progress, out.progress_message = job.progress, job.progress_message
    if row.report:
        report = ContaminationReport.from_json(row.report)
        out.contaminated, out.summary, out.domains = report.contaminated, report.summary(), report.domains
        out.rows_checked, out.tokens_checked = report.rows_checked, report.tokens_checked
        out.seconds, out.n = report.seconds, report.n
        out.tasks = [_task_out(t, examples=True) for t in report.tasks if t.documents]
    return out


def _merged(rows: list[ContaminationOverlap]) -> list[TaskOverlap]:
    """Per task, over several datasets: the largest counts (at least that many documents overlap)."""
    best: dict[str, ContaminationOverlap] = {}
    for r in rows:
        if r.task not in best or r.documents > best[r.task].documents:
            best[r.task] = r
    tasks = [TaskOverlap(task=r.task, suite_task=r.suite_task, domain=r.domain, title=r.title, rows=r.rows,
                         documents=r.documents, total_documents=0, exact=r.exact) for r in best.values()]
    return sorted(tasks, key=lambda t: (-t.documents, t.task))


def summarise(dataset_ids: set[int], statuses: dict[int, str], rows: list[ContaminationOverlap]
              ) -> TrainingContamination:
    """What training on these datasets overlaps (``rows``: their overlap rows; ``statuses``: their checks)."""
    tasks = _merged(rows)
    report = ContaminationReport(index_version="", n=0, rows_checked=0, tokens_checked=0, seconds=0.0,
                                 tasks=tuple(tasks))
    checked = sum(1 for i in dataset_ids if statuses.get(i) == ContaminationStatus.DONE)
    unchecked = len(dataset_ids) - checked
    if report.contaminated:
        contaminated: bool | None = True
        summary = f"trained on data that {report.summary()}"
    elif not dataset_ids:
        contaminated, summary = None, "no training dataset recorded"
    elif unchecked:
        contaminated, summary = None, "training data not checked for benchmark contamination"
    else:
        contaminated, summary = False, "training data has no overlap with any benchmark test set"
    return TrainingContamination(contaminated=contaminated, summary=summary, domains=report.domains,
                                 tasks=[_task_out(t, examples=False) for t in tasks], datasets_checked=checked,
                                 datasets_unchecked=unchecked)


def training_contamination(session: Session, dataset_ids: set[int]) -> TrainingContamination:
    ids = {i for i in dataset_ids if i}
    return summarise(ids, repo.statuses(session, ids), repo.overlaps_of(session, ids))


def run_datasets(session: Session, dataset_id: int | None, parent_model_id: int | None) -> set[int]:
    """A run's training data: its dataset and, for a fork, everything its parent model was trained on."""
    ids = {dataset_id} if dataset_id else set()
    if parent_model_id:
        ids |= repo.lineage_datasets(session, [parent_model_id]).get(parent_model_id, set())
    return ids


def models_contamination(session: Session, model_ids: list[int]) -> dict[int, TrainingContamination]:
    """Each model's training contamination (lineage included), read in three queries."""
    lineage = repo.lineage_datasets(session, model_ids)
    every = set().union(*lineage.values()) if lineage else set()
    statuses = repo.statuses(session, every)
    rows = repo.overlaps_of(session, every)
    return {model_id: summarise(ids, statuses, [r for r in rows if r.dataset_id in ids])
            for model_id, ids in lineage.items()}
