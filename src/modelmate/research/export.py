"""The research dataset: one row per training run (failures included) → configuration, data, outcome, scores.

Columns are fixed and documented (:func:`columns`): run facts, every training setting flattened as
``config.<name>`` (descriptions from the settings' own help texts), dataset characteristics, outcome and failure
category, losses and throughput, the owner's feedback, and for every benchmark domain the output model's score
(``score.<domain>``) and its difference with the parent (``delta_parent.<domain>``) and the base
(``delta_base.<domain>``). Usernames are not exported (``owner_id`` only). Rows follow the museum's visibility
rule: your runs and runs whose model is public (admins: every run). Public mode (``public=True``, opt-in) keeps only
runs where everything is public and replaces personal text with stable pseudonyms (:func:`publish`).

:mod:`modelmate.research.tables` adds the curves and per-task scores tables; :mod:`modelmate.research.hfdataset`
writes all three as a Hugging Face dataset.

Formats: Parquet (pyarrow, typed schema), CSV (cells a spreadsheet would run as a formula are prefixed with ``'``)
and JSONL. :func:`card` writes the dataset card: YAML front matter listing every column, then markdown.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from modelmate.datasets import contamination
from modelmate.datasets import contamination_repository as contamination_repo
from modelmate.evaluation.suites import DOMAINS, SUITES
from modelmate.finetune.service import dataset_tokens
from modelmate.models import Dataset, Model, TrainingRun, User
from modelmate.research import repository as repo
from modelmate.training import config as training_config
from modelmate.transfer.csvio import guard

FORMATS = {"parquet": "application/vnd.apache.parquet", "csv": "text/csv; charset=utf-8",
           "jsonl": "application/x-ndjson"}


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # int | float | string | bool | timestamp
    description: str


_CONFIG_TYPES = {"int": "int", "float": "float", "bool": "bool", "choice": "string", "list": "string"}

RUN_COLUMNS = [
    Column("run_id", "int", "ModelMate training run id."),
    Column("name", "string", "The run's name as its owner typed it (user text, stored raw); in a public export "
                          "a stable pseudonym (run-<hash>) instead."),
    Column("owner_id", "int", "Numeric id of the run's owner (usernames are not exported); empty in a public "
                              "export."),
    Column("owner_key", "string", "Public exports only: a stable pseudonymous id of the run's owner (a keyed hash "
                                  "of the owner id; the same owner gets the same key in every export of this "
                                  "deployment). Empty otherwise."),
    Column("created_at", "timestamp", "When the run was launched (UTC)."),
    Column("finished_at", "timestamp", "When the run ended (UTC); empty while it runs."),
    Column("source", "string", "Where the run was trained: modelmate (launched here), external (logged from "
                               "anywhere with the SDK or the HF Trainer callback) or mlflow (imported)."),
    Column("mode", "string", "Builder mode: guided or expert."),
    Column("preset", "string", "Preset the configuration started from (quick, balanced, ...), if any."),
    Column("base_model_id", "int", "Catalog id of the base model."),
    Column("base_model", "string", "Base model name."),
    Column("base_model_hf_id", "string", "Base model Hugging Face id (empty for the toy model)."),
    Column("base_model_parameters", "int", "Parameters of the base model."),
    Column("parent_model_id", "int", "Catalog id of the fine-tuned model this run forked (continued); empty when "
                                     "trained from the base."),
    Column("output_model_id", "int", "Catalog id of the fine-tuned model the run produced; empty when none."),
]
DATASET_COLUMNS = [
    Column("dataset_id", "int", "ModelMate dataset id."),
    Column("dataset_hash", "string", "sha256 of the normalised dataset content the run trained on."),
    Column("dataset_format", "string", "Dataset format: text, alpaca, sharegpt or messages."),
    Column("dataset_domain", "string", "The dataset's domain as its owner labelled it (math, code, ...)."),
    Column("dataset_rows", "int", "Examples in the dataset."),
    Column("dataset_train_rows", "int", "Examples used for training."),
    Column("dataset_eval_rows", "int", "Examples held back to measure the held-out loss."),
    Column("dataset_tokens", "int", "Tokens in the whole dataset (base model's tokenizer when known)."),
    Column("dataset_mean_tokens", "float", "Mean tokens per example."),
    Column("dataset_max_tokens", "int", "Longest example in tokens."),
    Column("dataset_mean_chars", "float", "Mean characters per example."),
    Column("dataset_max_chars", "int", "Longest example in characters."),
]
OUTCOME_COLUMNS = [
    Column("status", "string", "Run status: queued, running, succeeded, failed or cancelled."),
    Column("outcome", "string", "Training outcome: success, failure or partial (stopped early with an adapter)."),
    Column("failure_category", "string", "Automatic failure category: diverged, no_learning, overfitting, "
                                         "forgetting, out_of_memory, crashed, invalid_data, cancelled, worker_lost; "
                                         "empty for a healthy run."),
    Column("error_type", "string", "Type of the error that stopped the run, if any."),
    Column("failure_message", "string", "Plain-language explanation of the failure (empty in a public export: it "
                                        "can quote an error's text)."),
    Column("steps", "int", "Optimizer steps done (last step of the loss curve)."),
    Column("total_steps", "int", "Steps the run planned."),
    Column("final_loss", "float", "Training loss at the end."),
    Column("final_eval_loss", "float", "Held-out loss at the end."),
    Column("min_eval_loss", "float", "Lowest held-out loss seen."),
    Column("early_stopped", "bool", "Whether early stopping ended the run."),
    Column("train_seconds", "float", "Wall-clock seconds of training."),
    Column("tokens_per_second", "float", "Training throughput."),
    Column("train_tokens", "int", "Tokens trained on."),
    Column("peak_memory_bytes", "int", "Peak memory of the training process (bytes)."),
    Column("device", "string", "Hardware the run trained on (cpu, cuda, ...)."),
    Column("feedback_value", "int", "The owner's thumbs: 1 up, -1 down, empty none."),
    Column("feedback_comment", "string", "The owner's comment with the thumbs (user text; empty in a public "
                                         "export)."),
]


def columns() -> list[Column]:
    config = [Column(f"config.{f['name']}", _CONFIG_TYPES.get(f["type"], "string"),
                     f["help"] + (" (list, comma-separated)" if f["type"] == "list" else ""))
              for f in training_config.config_fields()]
    scores = []
    for domain in DOMAINS:
        scores += [
            Column(f"score.{domain}", "float", f"The output model's {domain} score (0-1, latest final evaluation)."),
            Column(f"delta_parent.{domain}", "float", f"{domain} score minus the parent model's (forks only; same "
                                                      "evaluation mode)."),
            Column(f"delta_base.{domain}", "float", f"{domain} score minus the base model's (same evaluation mode)."),
        ]
    return RUN_COLUMNS + config + DATASET_COLUMNS + OUTCOME_COLUMNS + scores + CONTAMINATION_COLUMNS


CONTAMINATION_COLUMNS = [
    Column("contaminated", "bool", "Whether the run's training data (its dataset and, for a fork, the parent's) "
                                   "overlaps any benchmark test set; empty when a dataset was never checked."),
    *[Column(f"contaminated_{spec.name}", "int", f"{spec.title} test documents the training data overlaps (13-gram "
                                                 "or exact question match); empty when not checked.")
      for spec in SUITES],
]


# --- rows ---------------------------------------------------------------------------------------------------------

def finite_number(value: Any) -> float | None:
    """``value`` as a float when it is a finite int/float (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _score(model: Model | None, domain: str) -> tuple[float | None, str | None]:
    entry = ((model.benchmark_scores or {}) if model is not None else {}).get(domain)
    if not isinstance(entry, dict):
        return None, None
    return finite_number(entry.get("score")), entry.get("mode")


def _delta(model: Model | None, other: Model | None, domain: str) -> float | None:
    mine, mode = _score(model, domain)
    theirs, their_mode = _score(other, domain)
    if mine is None or theirs is None or mode != their_mode:
        return None
    return mine - theirs


def _dataset_facts(dataset: Dataset | None, base: Model | None) -> dict[str, Any]:
    if dataset is None:
        return {c.name: None for c in DATASET_COLUMNS}
    stats = dataset.stats or {}
    chars = stats.get("chars")
    if not isinstance(chars, dict):
        chars = {}
    tokens = stats.get("tokens")
    if not isinstance(tokens, dict):
        tokens = {}
    total = tokens.get("total")
    if base is not None:
        total = dataset_tokens(dataset, base)
    return {"dataset_id": dataset.id, "dataset_hash": dataset.content_hash, "dataset_format": dataset.format,
            "dataset_domain": dataset.domain, "dataset_rows": dataset.rows, "dataset_train_rows": dataset.train_rows,
            "dataset_eval_rows": dataset.eval_rows, "dataset_tokens": total,
            "dataset_mean_tokens": finite_number(tokens.get("mean")), "dataset_max_tokens": tokens.get("max"),
            "dataset_mean_chars": finite_number(chars.get("mean")), "dataset_max_chars": chars.get("max")}


def _reported_dataset(run: TrainingRun) -> dict[str, Any]:
    """The dataset facts a run trained elsewhere reported (``config.external.dataset``: rows, tokens, hash)."""
    external = (run.config or {}).get("external")
    reported = external.get("dataset") if isinstance(external, dict) else None
    reported = reported if isinstance(reported, dict) else {}
    facts: dict[str, Any] = {c.name: None for c in DATASET_COLUMNS}
    rows, tokens = reported.get("rows"), reported.get("tokens")
    facts.update({"dataset_hash": run.dataset_hash, "dataset_rows": rows if isinstance(rows, int) else None,
                  "dataset_tokens": tokens if isinstance(tokens, int) else None})
    if isinstance(rows, int) and rows and isinstance(tokens, int):
        facts["dataset_mean_tokens"] = tokens / rows
    return facts


def _config_value(value: Any) -> Any:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return value


def row_of(run: TrainingRun, models: dict[int, Model], datasets: dict[int, Dataset],
           fields: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """One run's row. ``fields``: the settings' field list (``training_config.config_fields()``), passed by a
    caller building many rows so that it is built once."""
    base, parent = models.get(run.base_model_id), models.get(run.parent_model_id or 0)
    output = models.get(run.output_model_id or 0)
    curve = run.loss_curve_data or []
    evals = [e for p in curve if isinstance(p, dict) and (e := finite_number(p.get("eval_loss"))) is not None]
    row: dict[str, Any] = {
        "run_id": run.id, "name": run.name, "owner_id": run.owner_id, "owner_key": None, "created_at": run.created_at,
        "finished_at": run.finished_at, "source": run.source or "modelmate", "mode": run.mode,
        "preset": run.preset, "base_model_id": run.base_model_id,
        "base_model": base.name if base else None, "base_model_hf_id": base.hf_repo_id if base else None,
        "base_model_parameters": base.parameters if base else None, "parent_model_id": run.parent_model_id,
        "output_model_id": run.output_model_id}
    config = run.config or {}
    native = (run.source or "modelmate") == "modelmate"
    # a setting added after a run was recorded had its default then; a run trained elsewhere
    # has only the settings it reported (no default pretends to be what it used)
    for f in fields if fields is not None else training_config.config_fields():
        row[f"config.{f['name']}"] = _config_value(config.get(f["name"], f["default"] if native else None))
    dataset = datasets.get(run.dataset_id or 0)
    row.update(_dataset_facts(dataset, base) if dataset is not None or native else _reported_dataset(run))
    row.update({
        "status": run.status, "outcome": run.training_outcome, "failure_category": run.failure_category,
        "error_type": (run.error or {}).get("type"), "failure_message": run.failure_message,
        "steps": curve[-1].get("step") if curve and isinstance(curve[-1], dict) else None,
        "total_steps": run.total_steps, "final_loss": finite_number(run.final_loss),
        "final_eval_loss": finite_number(run.final_eval_loss), "min_eval_loss": min(evals) if evals else None,
        "early_stopped": bool(run.early_stopping), "train_seconds": finite_number(run.train_seconds),
        "tokens_per_second": finite_number(run.tokens_per_second), "train_tokens": run.train_tokens,
        "peak_memory_bytes": run.peak_memory_bytes, "device": _device(run.environment),
        "feedback_value": run.feedback_value, "feedback_comment": run.feedback_comment})
    for domain in DOMAINS:
        row[f"score.{domain}"] = _score(output, domain)[0]
        row[f"delta_parent.{domain}"] = _delta(output, parent, domain) if parent is not None else None
        row[f"delta_base.{domain}"] = _delta(output, base, domain)
    return row


def contamination_facts(session: Session, runs: list[TrainingRun]) -> list[dict[str, Any]]:
    """Per run, the contamination columns (its dataset and its parent's lineage, read in a few queries)."""
    parents = contamination_repo.lineage_datasets(session, [r.parent_model_id for r in runs if r.parent_model_id])
    wanted = [({r.dataset_id} if r.dataset_id else set()) | parents.get(r.parent_model_id or 0, set()) for r in runs]
    every = set().union(*wanted) if wanted else set()
    statuses = contamination_repo.statuses(session, every)
    overlaps = contamination_repo.overlaps_of(session, every)
    out = []
    for ids in wanted:
        found = contamination.summarise(ids, statuses, [o for o in overlaps if o.dataset_id in ids])
        checked = found.contaminated is not None
        per_suite = {f"contaminated_{spec.name}": 0 if checked else None for spec in SUITES}
        for task in found.tasks:
            key = f"contaminated_{task.suite_task}"
            if key in per_suite:
                per_suite[key] = (per_suite[key] or 0) + task.documents
        out.append({"contaminated": found.contaminated, **per_suite})
    return out


def _device(environment: dict[str, Any] | None) -> str | None:
    env = environment or {}
    for key in ("device", "accelerator"):
        if isinstance(env.get(key), str):
            return env[key][:64]
    hardware = env.get("hardware")
    if isinstance(hardware, dict) and isinstance(hardware.get("device"), str):
        return hardware["device"][:64]
    return None


def pseudonym(key: bytes, kind: str, value: Any) -> str:
    """A stable pseudonymous id: ``<kind>-`` and 16 hex digits of HMAC-SHA256(key, "<kind>:<value>"). Without the
    key nobody can tell which owner (or run name) it stands for, even knowing every owner id."""
    return f"{kind}-{hmac.new(key, f'{kind}:{value}'.encode(), hashlib.sha256).hexdigest()[:16]}"


def publish(row: dict[str, Any], run: TrainingRun, key: bytes) -> dict[str, Any]:
    """Public mode: no owner id, no user text (run name → pseudonym, comment and failure message dropped)."""
    row.update({"name": pseudonym(key, "run", run.id), "owner_id": None,
                "owner_key": pseudonym(key, "owner", run.owner_id), "feedback_comment": None,
                "failure_message": None})
    return row


def batch_rows(session: Session, runs: list[TrainingRun], *, public: bool = False,
               key: bytes | None = None) -> list[dict[str, Any]]:
    """The rows of a batch of runs (their models and datasets read in one query each)."""
    if public and not key:
        raise ValueError("a public export needs its pseudonym key")
    models = repo.models_by_id(session, {r.base_model_id for r in runs} | {r.parent_model_id or 0 for r in runs}
                               | {r.output_model_id or 0 for r in runs})
    datasets = repo.datasets_by_id(session, {r.dataset_id or 0 for r in runs})
    fields = training_config.config_fields()
    out = [row_of(r, models, datasets, fields) for r in runs]
    for row, facts in zip(out, contamination_facts(session, runs), strict=True):
        row.update(facts)
    if public and key:
        out = [publish(row, run, key) for row, run in zip(out, runs, strict=True)]
    repo.forget(session, [*models.values(), *datasets.values()])
    return out


def rows(session: Session, viewer: User, *, limit: int | None = None, offset: int = 0, public: bool = False,
         key: bytes | None = None) -> tuple[list[dict[str, Any]], int]:
    """The export's rows in run id order and their total: all of them (``limit=None``, read in batches), or the
    page of ``limit`` rows after the first ``offset``."""
    total = repo.count_export_runs(session, viewer, public=public)
    out: list[dict[str, Any]] = []
    if limit == 0 or offset >= total:
        return out, total
    if limit is not None:
        return batch_rows(session, repo.export_run_page(session, viewer, public=public, limit=limit, offset=offset),
                          public=public, key=key), total
    for runs in repo.export_run_batches(session, viewer, public=public, batch=min(limit or 500, 500)):
        out += batch_rows(session, runs, public=public, key=key)
        if limit is not None and len(out) >= limit:
            return out[:limit], total
    return out, total


# --- serialisation ------------------------------------------------------------------------------------------------

def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def to_jsonl(data: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps({k: jsonable(v) for k, v in r.items()}, ensure_ascii=False) + "\n"
                   for r in data).encode("utf-8")


def to_csv(data: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    names = [c.name for c in columns()]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    for r in data:
        cells = []
        for name in names:
            value = jsonable(r.get(name))
            cells.append("" if value is None else guard(value) if isinstance(value, str) else
                         str(value).lower() if isinstance(value, bool) else value)
        writer.writerow(cells)
    return out.getvalue().encode("utf-8")


def arrow_schema(cols: list[Column], title: str = "modelmate research dataset"):
    import pyarrow as pa

    kinds = {"int": pa.int64(), "float": pa.float64(), "string": pa.string(), "bool": pa.bool_(),
             "timestamp": pa.timestamp("us", tz="UTC")}
    return pa.schema([pa.field(c.name, kinds[c.type], metadata={"description": c.description}) for c in cols],
                     metadata={"card": title})


def arrow_table(data: list[dict[str, Any]], cols: list[Column] | None = None,
                title: str = "modelmate research dataset", *, clean: bool = True):
    """``clean=False``: the rows' values already have their column's type (or None), as the curve rows do."""
    import pyarrow as pa

    cols = cols if cols is not None else columns()
    schema = arrow_schema(cols, title)
    arrays = []
    for c in cols:
        values = [r.get(c.name) for r in data]
        if not clean:
            pass
        elif c.type == "int":
            values = [int(v) if isinstance(v, int | float) and not isinstance(v, bool) else None for v in values]
        elif c.type == "float":
            values = [finite_number(v) for v in values]
        elif c.type == "string":
            values = [None if v is None else str(v) for v in values]
        elif c.type == "bool":
            values = [bool(v) if v is not None else None for v in values]
        arrays.append(pa.array(values, type=schema.field(c.name).type))
    return pa.Table.from_arrays(arrays, schema=schema)


def to_parquet(data: list[dict[str, Any]]) -> bytes:
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(arrow_table(data), sink)
    return sink.getvalue()


def serialise(data: list[dict[str, Any]], fmt: str) -> bytes:
    if fmt == "parquet":
        return to_parquet(data)
    if fmt == "csv":
        return to_csv(data)
    if fmt == "jsonl":
        return to_jsonl(data)
    raise ValueError(f"unknown format {fmt!r}; use parquet, csv or jsonl")


# --- the card -----------------------------------------------------------------------------------------------------

def card(total: int | None = None, *, public: bool = False) -> str:
    """Markdown dataset card with YAML front matter describing every column."""
    cols = columns()
    q = json.dumps  # a JSON string is a valid YAML scalar
    lines = ["---", "pretty_name: ModelMate research dataset", "license: other",
             "task_categories: [tabular-regression]", "tags: [fine-tuning, lora, failures, benchmarks]"]
    if total is not None:
        lines.append(f"num_rows: {int(total)}")
    lines.append("columns:")
    for c in cols:
        lines += [f"  - name: {q(c.name)}", f"    type: {c.type}", f"    description: {q(c.description)}"]
    lines += ["---", "", "# ModelMate research dataset", "",
              "One row per fine-tuning run recorded by ModelMate — **failures included**: configuration → data → "
              "outcome → benchmark scores. Nothing is pruned: failed, partial and poor runs are what makes the data "
              "useful.", "",
              ("- Public export: only runs whose output, base and parent models and dataset are all public; "
               "`owner_id` is empty and `owner_key` a stable pseudonym of the owner, run names are pseudonyms "
               "(`run-<hash>`), `feedback_comment` and `failure_message` are left out." if public else
               "- Rows: your runs and every run whose fine-tuned model is public (an admin's export: every run)."),
              "- Usernames are never exported; `owner_id` is a numeric id.",
              "- `config.*`: every training setting, flattened (lists comma-separated).",
              "- `score.<domain>`: the output model's latest final score (0-1; BLEU/chrF divided by 100); "
              "`delta_parent.<domain>` / `delta_base.<domain>`: the same minus the parent's / base's score, only "
              "when both were measured in the same evaluation mode (quick or full).",
              "- `contaminated` / `contaminated_<task>`: whether, and how many test documents of each benchmark "
              "task, the run's training data overlaps (a fork inherits its parent's); empty when not checked.",
              "- Text columns (`name`, `feedback_comment`, `failure_message`) are user or system text, stored raw. "
              "In the CSV, a cell a spreadsheet would run as a formula starts with `'`.", "",
              "## Columns", "", "| column | type | description |", "|---|---|---|"]
    for c in cols:
        lines.append(f"| `{c.name}` | {c.type} | {c.description.replace('|', '/')} |")
    return "\n".join(lines) + "\n"
