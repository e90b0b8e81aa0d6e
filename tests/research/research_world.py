"""Builds research data straight in the database (models, runs, evaluations with score rows) for the API tests;
the end-to-end test makes the same through the real trainer and evaluator."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from modelmate.models import BenchmarkResult, Dataset, DocumentOutcome, Evaluation, Model, TrainingRun

_clock = [datetime(2026, 1, 1, tzinfo=UTC)]


def tick() -> datetime:
    _clock[0] += timedelta(seconds=1)
    return _clock[0]


def add_model(s, name: str, *, kind: str = "finetuned", owner_id: int | None = None, visibility: str = "private",
              base_id: int | None = None, parent_id: int | None = None) -> Model:
    m = Model(name=name, name_key=f"{name.lower()}-{secrets.token_hex(3)}", developer_key="", kind=kind,
              visibility=visibility, owner_id=owner_id, base_model_id=base_id, parent_model_id=parent_id,
              source_links=[], benchmark_scores={}, hub_info={}, metadata_extra={})
    s.add(m)
    s.flush()
    return m


def add_dataset(s, owner_id: int, name: str = "data", *, domain: str | None = "math", rows: int = 100,
                visibility: str = "private") -> Dataset:
    d = Dataset(owner_id=owner_id, name=name, format="text", content_hash=secrets.token_hex(32),
                storage_uri="file:///nowhere", rows=rows, train_rows=rows - 10, eval_rows=10, token_counts={},
                stats={"chars": {"total": rows * 40, "mean": 40.0, "max": 90}}, domain=domain,
                visibility=visibility)
    s.add(d)
    s.flush()
    return d


def add_run(s, owner_id: int, base_id: int, *, name: str = "run", output_id: int | None = None,
            parent_id: int | None = None, dataset_id: int | None = None, status: str = "succeeded",
            outcome: str | None = "success", category: str | None = None, config: dict[str, Any] | None = None,
            curve: list[dict[str, Any]] | None = None, **extra) -> TrainingRun:
    cfg = {"learning_rate": 2e-4, "r": 8, "alpha": 16, "epochs": 1, "max_steps": None, "batch_size": 4,
           "max_seq_length": 256, "target_modules": ["q_proj", "v_proj"]}
    cfg.update(config or {})
    run = TrainingRun(owner_id=owner_id, name=name, base_model_id=base_id, output_model_id=output_id,
                      parent_model_id=parent_id, dataset_id=dataset_id, config=cfg, status=status,
                      training_outcome=outcome, failure_category=category, loss_curve_data=curve or [],
                      early_stopping=[], environment={}, estimate={}, created_at=tick(), **extra)
    s.add(run)
    s.flush()
    return run


def add_scores(s, model_id: int, rows: list[tuple[str, str, float, float | None]], *, mode: str = "quick",
               status: str = "final") -> Evaluation:
    """rows: (task, domain, value, stderr) with metric acc,none, all headline rows."""
    ev = Evaluation(model_id=model_id, mode=mode, status=status, tasks=[r[0] for r in rows], settings={},
                    finished_at=tick())
    s.add(ev)
    s.flush()
    for task, domain, value, stderr in rows:
        s.add(BenchmarkResult(evaluation_id=ev.id, model_id=model_id, task=task, domain=domain, metric="acc,none",
                              value=value, stderr=stderr, mode=mode, status=status,
                              raw={"primary": True, "scale": 1.0}, created_at=tick()))
    scores = dict(s.get(Model, model_id).benchmark_scores or {})
    for task, domain, value, stderr in rows:
        scores[domain] = {"score": value, "stderr": stderr, "tasks": [task], "evaluation_id": ev.id, "mode": mode}
    s.get(Model, model_id).benchmark_scores = scores
    s.flush()
    return ev


def add_outcomes(s, evaluation: Evaluation, task: str, values: list[float], metric: str = "acc,none") -> None:
    """Per-document outcomes of ``task`` in ``evaluation``: document i has content hash ``<task>-doc-<i>``."""
    s.add_all([DocumentOutcome(evaluation_id=evaluation.id, task=task, doc_id=i, doc_hash=f"{task}-doc-{i}",
                               metrics={metric: v}) for i, v in enumerate(values)])
    s.flush()
