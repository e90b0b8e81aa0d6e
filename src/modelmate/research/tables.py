"""The research export's two long tables beside the per-run rows (:mod:`modelmate.research.export`):

- **curves**: every point of every exported run's loss curve (``training_runs.loss_curve_data``), one row per point,
  in the run's own order — nothing is thinned or deduplicated.
- **scores**: every stored per-task benchmark row (``benchmark_results``, all statuses) of each exported run's output
  model (``run_id`` set) and of the base models the runs started from (``run_id`` empty), with the evaluation's
  settings hash and finish time.

Both are built batch by batch from the same run batches as the per-run rows, so an export never holds every run,
point or score at once.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from modelmate.evaluation.backends import recorded_engine
from modelmate.models import BenchmarkResult, TrainingRun
from modelmate.research.export import Column, finite_number

CURVE_COLUMNS = [
    Column("run_id", "int", "The training run (runs.run_id)."),
    Column("step", "int", "Optimizer step of the point."),
    Column("epoch", "float", "Epoch at that step (fractional), when recorded."),
    Column("loss", "float", "Training loss logged at that step (empty where only a held-out loss was logged)."),
    Column("eval_loss", "float", "Held-out loss measured at that step, when an evaluation ran there."),
    Column("lr", "float", "Learning rate at that step."),
    Column("grad_norm", "float", "Gradient norm before clipping."),
    Column("tokens", "int", "Tokens trained on so far (cumulative)."),
    Column("seconds", "float", "Wall-clock seconds of training so far."),
]

SCORE_COLUMNS = [
    Column("run_id", "int", "The run whose output model was evaluated; empty for a base model's row."),
    Column("model_id", "int", "Catalog id of the evaluated model."),
    Column("evaluation_id", "int", "The evaluation (one lm-evaluation-harness run) the row comes from."),
    Column("task", "string", "lm-evaluation-harness task (a leaf task or a group)."),
    Column("domain", "string", "Benchmark domain of the task (math, code, ...)."),
    Column("metric", "string", "Metric name (acc, acc_norm, exact_match, chrf, ...)."),
    Column("filter", "string", "lm-evaluation-harness filter the metric was computed after (none, strict-match, "
                               "flexible-extract, ...)."),
    Column("primary", "bool", "Whether this is the task's headline metric (the one domain scores average)."),
    Column("value", "float", "The metric's value on the harness's own scale (BLEU/chrF 0-100, others 0-1); empty "
                             "when the task failed."),
    Column("stderr", "float", "Standard error of the value (bootstrap or binomial, as the harness reports it)."),
    Column("n", "int", "Documents the value was computed over."),
    Column("n_shot", "int", "Few-shot examples in each prompt."),
    Column("limit", "int", "Per-task document limit of the evaluation (quick mode); empty when every document ran."),
    Column("mode", "string", "Evaluation mode: quick or full."),
    Column("status", "string", "Row status: final, partial (the evaluation did not finish), skipped or failed."),
    Column("harness_version", "string", "lm-evaluation-harness version."),
    Column("task_hash", "string", "Hash of the task's documents and prompt configuration (equal hash = same test)."),
    Column("settings_hash", "string", "Hash of the evaluation's settings (tasks, limits, shots, chat template, ...); "
                                      "equal hash = comparable scores."),
    Column("chat_template_hash", "string", "Hash of the chat template applied to the prompts, if any."),
    Column("backend", "string", "Engine that scored the row (hf or vllm) when recorded; both score the same "
                                "documents with the same prompts."),
    Column("evaluated_at", "timestamp", "When the evaluation finished (UTC); the row's own time when it has none."),
]


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) \
        else None


def curve_points(run: TrainingRun) -> list[dict[str, Any]]:
    """Every point of the run's curve, each value already of its column's type (points without a step are malformed
    and skipped)."""
    out = []
    num, whole, run_id = finite_number, _int, run.id
    for point in run.loss_curve_data or []:
        if not isinstance(point, dict):
            continue
        step = whole(point.get("step"))
        if step is None:
            continue
        out.append({"run_id": run_id, "step": step, "epoch": num(point.get("epoch")), "loss": num(point.get("loss")),
                    "eval_loss": num(point.get("eval_loss")), "lr": num(point.get("lr")),
                    "grad_norm": num(point.get("grad_norm")), "tokens": whole(point.get("tokens")),
                    "seconds": num(point.get("seconds"))})
    return out


def _backend(raw: dict[str, Any], settings: dict[str, Any] | None) -> str | None:
    for value in (raw.get("backend"), (settings or {}).get("backend")):
        if recorded_engine(value):
            return value
    return None


def score_row(row: BenchmarkResult, run_id: int | None, settings_hash: str | None,
              settings: dict[str, Any] | None, finished_at: datetime | None) -> dict[str, Any]:
    raw = row.raw if isinstance(row.raw, dict) else {}
    metric, _, filter_ = row.metric.partition(",")
    return {"run_id": run_id, "model_id": row.model_id, "evaluation_id": row.evaluation_id, "task": row.task,
            "domain": row.domain, "metric": metric, "filter": filter_ or None, "primary": bool(raw.get("primary")),
            "value": finite_number(row.value), "stderr": finite_number(row.stderr), "n": row.n_samples,
            "n_shot": row.n_shot,
            "limit": row.sample_limit, "mode": row.mode, "status": row.status,
            "harness_version": row.harness_version, "task_hash": row.task_hash, "settings_hash": settings_hash,
            "chat_template_hash": row.chat_template_hash, "backend": _backend(raw, settings),
            "evaluated_at": finished_at or row.created_at}
