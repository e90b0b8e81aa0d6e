"""``modelmate research import-mlflow``: record an MLflow store's fine-tuning runs as ModelMate runs.

Each run read and mapped by :mod:`modelmate.research.mlflow_read` is written through the external-runs service
(:mod:`modelmate.finetune.external`): ``source`` "mlflow", ``external_id`` the MLflow run id, unique per owner. So:

* a second import of an unchanged store changes nothing (each run: ``unchanged``);
* a run that changed in MLflow since (it finished, more metrics, new params; compared by
  :meth:`MappedRun.fingerprint`, kept in ``config.external.mlflow``) is ``updated`` in place: its config, curve,
  outcome and times are replaced, and an adapter is uploaded when it has none yet (one already stored is kept);
* runs still running in MLflow, and runs naming no base model (without ``--base-model``), are ``skipped`` with
  the reason; a run the service refuses (an unknown base model, a broken adapter) is ``failed`` with its message —
  each run in its own savepoint, so one refused run never undoes the others.

``dry_run`` reads and maps everything and says what would happen, writing nothing.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from modelmate.config import Settings
from modelmate.enums import RunSource, RunStatus, TrainingOutcome
from modelmate.errors import AppError
from modelmate.finetune import external
from modelmate.finetune import repository as runs_repo
from modelmate.finetune.schemas import ExternalRunCreate
from modelmate.models import TrainingRun, User
from modelmate.research.mlflow_read import MappedRun, download_adapter

CREATED, UPDATED, UNCHANGED, SKIPPED, FAILED = "created", "updated", "unchanged", "skipped", "failed"
POINTS_PER_BATCH = 10_000


@dataclass
class ImportResult:
    """What the import did with one MLflow run (``action``: created, updated, unchanged, skipped, failed)."""

    run: MappedRun
    action: str
    reason: str | None = None
    run_id: int | None = None  # the ModelMate run
    adapter: str | None = None  # "uploaded", "kept" (already stored), or None


def import_runs(session: Session, settings: Settings, user: User, runs: list[MappedRun], client: Any, *,
                default_base: str | None = None, dry_run: bool = False) -> list[ImportResult]:
    """Import (or with ``dry_run`` only plan) each run; never commits (the caller's unit of work does)."""
    results = []
    for run in runs:
        results.append(_import_one(session, settings, user, run, client, default_base=default_base, dry_run=dry_run))
    return results


def _import_one(session: Session, settings: Settings, user: User, run: MappedRun, client: Any, *,
                default_base: str | None, dry_run: bool) -> ImportResult:
    if run.skipped:
        return ImportResult(run, SKIPPED, run.skip_reason)
    base = run.base_model or default_base
    if base is None:
        return ImportResult(run, SKIPPED, "no base model: the run logs none of model_name_or_path, "
                                          "base_model_name_or_path, _name_or_path (give --base-model)")
    existing = runs_repo.run_by_external_id(session, user.id, RunSource.MLFLOW.value, run.run_id)
    fingerprint = run.fingerprint()
    if existing is not None and _mlflow_facts(existing).get("fingerprint") == fingerprint:
        return ImportResult(run, UNCHANGED, run_id=existing.id,
                            adapter="kept" if existing.artifact_uri else None)
    action = UPDATED if existing is not None else CREATED
    wants_adapter = (run.adapter_path is not None and run.outcome != TrainingOutcome.FAILURE.value
                     and not (existing is not None and existing.artifact_uri))
    if dry_run:
        return ImportResult(run, action, run_id=existing.id if existing else None,
                            adapter="would upload" if wants_adapter else
                            "kept" if existing is not None and existing.artifact_uri else None)
    try:
        with session.begin_nested(), tempfile.TemporaryDirectory(prefix="mlflow-adapter-") as tmp:
            adapter_dir = download_adapter(client, run, Path(tmp) / "adapter") if wants_adapter else None
            record = _write(session, settings, user, run, existing, base, fingerprint, adapter_dir)
    except AppError as exc:
        return ImportResult(run, FAILED, exc.message)
    except (OSError, ValueError) as exc:  # the adapter could not be downloaded or read
        return ImportResult(run, FAILED, f"adapter {run.adapter_path!r}: {exc}")
    except Exception as exc:  # MLflow's own errors while downloading (MlflowException, a vanished artifact store)
        return ImportResult(run, FAILED, f"MLflow: {str(exc).splitlines()[0][:300] if str(exc) else type(exc)}")
    adapter = "uploaded" if adapter_dir is not None else "kept" if record.artifact_uri else None
    return ImportResult(run, action, run_id=record.id, adapter=adapter)


def _mlflow_facts(run: TrainingRun) -> dict[str, Any]:
    facts = ((run.config or {}).get("external") or {}).get("mlflow")
    return facts if isinstance(facts, dict) else {}


def _write(session: Session, settings: Settings, user: User, run: MappedRun, existing: TrainingRun | None,
           base: str, fingerprint: str, adapter_dir: Path | None) -> TrainingRun:
    if existing is None:
        record = external.create_external_run(session, settings, user, ExternalRunCreate(
            name=(run.name or f"MLflow run {run.run_id[:8]}")[:200], external_id=run.run_id, base_model=base,
            base_model_config=run.base_model_config or None), source=RunSource.MLFLOW)
    else:  # reopened: the service records the new curve and outcome as for a run that is still running
        record = existing
        record.status = RunStatus.RUNNING.value
        external.reset_curve(session, record)
        if run.name:
            record.name = run.name[:200]
    record.config = {**run.config, "method": "lora", "external": {"mlflow": {
        "run_id": run.run_id, "experiment": run.experiment, "status": run.mlflow_status, "fingerprint": fingerprint,
        "params": {name: run.params[name] for name in sorted(run.params) if name not in run.mapped},
        "rejected": dict(sorted(run.rejected.items())), "adapter_path": run.adapter_path,
        "unused_metrics": run.unused_metrics}}}
    for start in range(0, len(run.curve), POINTS_PER_BATCH):
        external.append_points(session, record, run.curve[start:start + POINTS_PER_BATCH])
    category = "cancelled" if run.outcome == TrainingOutcome.PARTIAL.value else None
    external.finish_external_run(session, settings, record, run.outcome or TrainingOutcome.SUCCESS.value, category,
                                 run.failure_message, adapter_dir=adapter_dir)
    if run.started_at is not None:  # when it trained, not when it was imported
        record.created_at = record.started_at = run.started_at
    record.finished_at = run.finished_at or record.finished_at
    session.flush()
    return record


def totals(results: list[ImportResult]) -> dict[str, int]:
    out = {name: 0 for name in (CREATED, UPDATED, UNCHANGED, SKIPPED, FAILED)}
    for result in results:
        out[result.action] += 1
    return out
