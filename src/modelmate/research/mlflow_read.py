"""Read fine-tuning runs from an MLflow tracking store and map them onto ModelMate's run record (pure: no database).

``read_store(tracking_uri, experiment)`` lists the runs through ``MlflowClient`` (every experiment, or one by name)
and returns one :class:`MappedRun` per MLflow run, which says what maps where and what does not:

* params → ``TrainingConfig`` fields where recognised (``PARAM_FIELDS``, the Hugging Face ``TrainingArguments`` /
  PEFT ``LoraConfig`` names and a few aliases; ``bf16``/``fp16`` → precision, ``optim`` → optimizer,
  ``load_in_4bit``/``load_in_8bit`` → quantization); a recognised param whose value ModelMate cannot take is
  *rejected* with the reason, every other param is *unrecognised* (both are listed in the report, never dropped
  silently); the base model from ``base_model_name_or_path`` / ``model_name_or_path`` / ``_name_or_path``;
* metric histories → the curve, one point per step (``loss`` — else ``train_loss`` —, ``eval_loss``,
  ``learning_rate`` → ``lr``, ``grad_norm``, ``epoch``); NaN/inf are kept as the strings the trainer writes;
* status → outcome: FINISHED → success, FAILED → failure (category from the curve's diagnosis, else ``crashed``),
  KILLED → partial (``cancelled``), RUNNING / SCHEDULED → skipped (import it again once it has ended);
* artifacts: a directory holding both ``adapter_model.safetensors`` and ``adapter_config.json`` (any depth) is the
  adapter; nothing else is ever downloaded (no ``.bin``, no pickle).

``fingerprint`` hashes everything the import writes, so a second import can tell an unchanged run from one that
changed in MLflow since.
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import os
import re
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from pydantic import ValidationError
from sqlalchemy import create_engine, inspect
from sqlalchemy.exc import DBAPIError

from modelmate.enums import FailureCategory, TrainingOutcome
from modelmate.finetune.external import ARG_FIELDS, OPTIMIZERS, PEFT_FIELDS
from modelmate.training.config import TrainingConfig
from modelmate.training.diagnose import classify

ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
SQL_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")
MAX_ARTIFACT_ENTRIES = 5_000  # a run's artifact tree is walked at most this far, 6 directories deep
MAX_ARTIFACT_DEPTH = 6

# MLflow param → TrainingConfig field (value parsers below): the Hugging Face TrainingArguments and PEFT LoraConfig
# names the external-runs service maps (one table for both ways in), plus the short names people log by hand.
PARAM_ALIASES: dict[str, str] = {
    "lora_r": "r", "lora_rank": "r", "lr": "learning_rate", "epochs": "epochs", "batch_size": "batch_size",
    "lora_target_modules": "target_modules", "attn_implementation": "attention", "optimizer": "optimizer",
    "early_stopping_patience": "early_stopping_patience",
}
PARAM_FIELDS: dict[str, str] = {**PEFT_FIELDS, **ARG_FIELDS, **PARAM_ALIASES}
PRECISION_PARAMS = ("bf16", "fp16")
QUANTIZATION_PARAMS = ("load_in_4bit", "load_in_8bit", "quantization_config")
BASE_MODEL_PARAMS = ("base_model_name_or_path", "model_name_or_path", "_name_or_path")
# The base model's config.json entries the Hugging Face MLflowCallback logs with the training arguments: with them
# an unknown Hugging Face base model can be added to the catalog (finetune/external.py resolve_base).
MODEL_CONFIG_KEYS = ("architectures", "hidden_size", "num_hidden_layers", "num_attention_heads",
                     "num_key_value_heads", "intermediate_size", "vocab_size", "max_position_embeddings",
                     "tie_word_embeddings", "attention_bias")
ATTENTION = {"sdpa": "sdpa", "flash_attention_2": "flash_attention_2", "eager": "eager"}
INT_FIELDS = {"r", "max_steps", "batch_size", "gradient_accumulation_steps", "seed", "max_seq_length", "eval_steps",
              "logging_steps", "save_steps", "early_stopping_patience"}
FLOAT_FIELDS = {"learning_rate", "alpha", "dropout", "epochs", "warmup_ratio", "weight_decay", "max_grad_norm"}
BOOL_FIELDS = {"use_dora", "use_rslora", "packing", "gradient_checkpointing"}

# MLflow metric → curve key, in order of preference (``train_loss`` only when there is no ``loss`` history: the
# Hugging Face Trainer logs ``train_loss`` once at the end as the run's average, not as a curve).
CURVE_METRICS: dict[str, tuple[str, ...]] = {
    "loss": ("loss", "train/loss", "train_loss"),
    "eval_loss": ("eval_loss", "eval/loss"),
    "lr": ("learning_rate", "train/learning_rate", "lr"),
    "grad_norm": ("grad_norm", "train/grad_norm"),
    "epoch": ("epoch", "train/epoch"),
}


class MlflowStoreError(ValueError):
    """The tracking URI does not name a readable MLflow store (the message says why and what to give instead)."""


@dataclass
class MappedRun:
    """One MLflow run as ModelMate would record it, with what was and was not mapped."""

    run_id: str
    experiment: str
    name: str | None
    mlflow_status: str
    outcome: str | None = None  # TrainingOutcome; None: skipped
    skip_reason: str | None = None
    failure_category: str | None = None
    failure_message: str | None = None
    base_model: str | None = None
    base_model_config: dict[str, Any] = field(default_factory=dict)  # config.json entries logged as params
    config: dict[str, Any] = field(default_factory=dict)  # the recognised TrainingConfig fields only
    mapped: dict[str, str] = field(default_factory=dict)  # MLflow param → config field (or "base_model")
    rejected: dict[str, str] = field(default_factory=dict)  # recognised param → why its value was not taken
    unrecognised: list[str] = field(default_factory=list)  # params nothing maps
    params: dict[str, str] = field(default_factory=dict)  # every param, as logged
    curve: list[dict[str, Any]] = field(default_factory=list)
    curve_metrics: dict[str, str] = field(default_factory=dict)  # curve key → the MLflow metric it came from
    unused_metrics: list[str] = field(default_factory=list)
    adapter_path: str | None = None  # the artifact directory with the adapter's two files
    adapter_candidates: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def skipped(self) -> bool:
        return self.outcome is None

    def fingerprint(self) -> str:
        """sha256 of everything an import writes: equal fingerprints mean nothing changed in MLflow."""
        data = {"name": self.name, "status": self.mlflow_status, "outcome": self.outcome,
                "category": self.failure_category, "base": self.base_model, "config": self.config,
                "params": self.params, "curve": self.curve, "adapter": self.adapter_path,
                "finished": self.finished_at.isoformat() if self.finished_at else None}
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode("utf-8")).hexdigest()


# --- the tracking URI -----------------------------------------------------------------------------------------------

def check_tracking_uri(uri: str) -> str:
    """The URI MLflow is given, after refusing what would not be read as an existing store.

    ``sqlite:///path`` must be an existing MLflow database (MLflow would otherwise create one, or add its tables to
    any SQLite file it is pointed at); a plain path or ``file://`` URI an existing directory (MLflow's file store);
    ``http(s)://`` a tracking server; other SQLAlchemy URLs (postgresql, mysql, mssql) are passed on as they are.
    """
    uri = (uri or "").strip()
    if not uri:
        raise MlflowStoreError("give the MLflow tracking URI, e.g. sqlite:///mlflow.db or http://127.0.0.1:5000")
    parsed = urlparse(uri)
    scheme = parsed.scheme.split("+")[0].lower()
    if scheme in ("http", "https"):
        if not parsed.hostname:
            raise MlflowStoreError(f"{uri!r} names no host")
        return uri
    if scheme == "sqlite":
        path = Path(unquote(uri.split(":///", 1)[1])) if ":///" in uri else None
        if path is None or not str(path) or str(path) == ":memory:":
            raise MlflowStoreError(f"{uri!r}: give the database file as sqlite:///path/to/mlflow.db")
        _check_sqlite_store(uri, path)
        return uri
    if scheme in SQL_SCHEMES:
        return uri
    if scheme in ("", "file"):
        path = Path(unquote(parsed.path) if scheme == "file" else uri)
        if not path.is_dir():
            raise MlflowStoreError(f"{uri!r}: no MLflow file store there (not a directory)")
        return path.resolve().as_uri()
    raise MlflowStoreError(f"{uri!r}: unsupported tracking URI; use sqlite:///FILE, a directory (file store), "
                           "http(s)://HOST:PORT or a postgresql/mysql/mssql URL")


def _check_sqlite_store(uri: str, path: Path) -> None:
    if not path.is_file():
        raise MlflowStoreError(f"{uri!r}: no such database file ({path})")
    engine = create_engine(f"sqlite:///{path.resolve().as_uri()}?mode=ro&uri=true")  # read-only: never written
    try:
        tables = set(inspect(engine).get_table_names())
    except DBAPIError as exc:
        raise MlflowStoreError(f"{uri!r}: not an SQLite database ({_first_line(exc.orig or exc)})") from exc
    finally:
        engine.dispose()
    if not {"experiments", "runs", "metrics", "params", "alembic_version"} <= tables:
        raise MlflowStoreError(f"{uri!r}: an SQLite database, but not an MLflow tracking store (no MLflow tables)")


def open_client(tracking_uri: str) -> Any:
    """An ``MlflowClient`` on the checked URI (``MlflowStoreError`` when MLflow is not installed or refuses it)."""
    uri = check_tracking_uri(tracking_uri)
    if uri.startswith(("http://", "https://")):  # a wrong address fails in seconds, not after minutes of retries
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
    if uri.startswith("file:"):  # MLflow 3 keeps its file store for reading old stores only behind this switch
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    try:
        from mlflow.tracking import MlflowClient
    except ImportError as exc:
        raise MlflowStoreError("MLflow is not installed: pip install 'modelmate[mlflow]'") from exc
    try:
        return MlflowClient(tracking_uri=uri)
    except Exception as exc:  # MlflowException and the database driver's errors: a store MLflow cannot open
        raise MlflowStoreError(f"{tracking_uri!r}: MLflow cannot open this store: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


# --- reading --------------------------------------------------------------------------------------------------------

def read_store(tracking_uri: str, experiment: str | None = None) -> list[MappedRun]:
    """Every run of the store (or of one experiment, by name), mapped, oldest first."""
    client = open_client(tracking_uri)
    return read_runs(client, experiment)


def read_runs(client: Any, experiment: str | None = None) -> list[MappedRun]:
    try:
        if experiment is not None:
            found = client.get_experiment_by_name(experiment)
            if found is None:
                raise MlflowStoreError(f"no experiment named {experiment!r} in this store")
            experiments = [found]
        else:
            experiments = list(_all_pages(lambda token: client.search_experiments(page_token=token)))
        names = {e.experiment_id: e.name for e in experiments}
        runs = list(_all_pages(lambda token: client.search_runs(list(names), page_token=token,
                                                                 order_by=["attributes.start_time ASC"])))
    except MlflowStoreError:
        raise
    except Exception as exc:  # connection refused, a server error, a locked database
        raise MlflowStoreError(f"cannot read the MLflow store: {_first_line(exc)}") from exc
    return [map_run(client, run, names.get(run.info.experiment_id, run.info.experiment_id)) for run in runs]


def _all_pages(fetch) -> Any:
    token = None
    while True:
        page = fetch(token)
        yield from page
        token = getattr(page, "token", None)
        if not token:
            return


def map_run(client: Any, run: Any, experiment: str) -> MappedRun:
    info, data = run.info, run.data
    params = {str(k): str(v) for k, v in (data.params or {}).items()}
    mapped = MappedRun(run_id=info.run_id, experiment=experiment, name=info.run_name or None,
                       mlflow_status=str(info.status), params=params,
                       started_at=_time(info.start_time), finished_at=_time(info.end_time))
    map_params(mapped, params)
    histories = {key: [(int(m.step), int(m.timestamp), float(m.value)) for m in client.get_metric_history(
        info.run_id, key)] for key in _curve_sources(data.metrics or {})}
    map_curve(mapped, histories, sorted(data.metrics or {}))
    map_status(mapped)
    if not mapped.skipped:
        adapters = find_adapters(client, info.run_id)
        mapped.adapter_candidates = len(adapters)
        mapped.adapter_path = choose_adapter(adapters)
    return mapped


def _time(millis: int | None) -> datetime | None:
    return datetime.fromtimestamp(millis / 1000, tz=UTC) if millis else None


# --- params → config ------------------------------------------------------------------------------------------------

def map_params(run: MappedRun, params: dict[str, str]) -> None:
    values: dict[str, Any] = {}
    source: dict[str, str] = {}
    for name, raw in params.items():
        target = PARAM_FIELDS.get(name)
        if target is None:
            continue
        if target in values:  # two names for one field (lora_r and r): the first one logged wins
            run.rejected[name] = f"{source[target]} already gave {target}"
            continue
        try:
            value = _parse(target, raw)
        except ValueError as exc:
            run.rejected[name] = str(exc)
            continue
        if value is None:
            run.mapped[name] = f"{target} (not set)"
            continue
        values[target], source[target] = value, name
    for name, target, value in _derived(params, run.rejected):
        values[target], source[target] = value, name
    run.config = _validated(values, source, run.rejected)
    for target, name in source.items():
        if target in run.config:
            for part in name.split("+"):
                run.mapped[part] = target
    for name in BASE_MODEL_PARAMS:
        value = params.get(name, "").strip()
        if not value or value.lower() == "none":
            continue
        if run.base_model is None:
            run.base_model = value[:200]
            run.mapped[name] = "base_model"
        else:
            run.rejected[name] = f"{next(n for n, f in run.mapped.items() if f == 'base_model')} gave the base model"
    for name in MODEL_CONFIG_KEYS:
        if name in params:
            value = _literal(params[name])
            run.base_model_config[name] = params[name] if value is None else value
            run.mapped[name] = "base model config"
    used = (set(PARAM_FIELDS) | set(PRECISION_PARAMS) | set(QUANTIZATION_PARAMS) | set(BASE_MODEL_PARAMS)
            | set(MODEL_CONFIG_KEYS))
    run.unrecognised = sorted(name for name in params if name not in used)


def _parse(target: str, raw: str) -> Any:
    text = raw.strip()
    if text.lower() in ("none", "null", ""):
        return None
    if target in INT_FIELDS:
        number = float(text)
        if target in ("max_steps", "eval_steps", "save_steps") and number <= 0:  # the Trainer's -1 / 0: not set
            return None
        if not number.is_integer():
            raise ValueError(f"{text!r} is not a whole number")
        return int(number)
    if target in FLOAT_FIELDS:
        number = float(text)
        if not math.isfinite(number):
            raise ValueError(f"{text!r} is not a finite number")
        return number
    if target in BOOL_FIELDS:
        return _bool(text)
    if target == "lr_scheduler":
        return text.rsplit(".", 1)[-1].lower()  # "SchedulerType.COSINE" → "cosine"
    if target == "optimizer":
        name = text.rsplit(".", 1)[-1].lower()
        if name not in OPTIMIZERS:
            raise ValueError(f"optimizer {text!r} has no ModelMate equivalent (adamw, adamw_8bit, paged_adamw_8bit)")
        return OPTIMIZERS[name]
    if target == "attention":
        if text.lower() not in ATTENTION:
            raise ValueError(f"attention {text!r} is not one of sdpa, flash_attention_2, eager")
        return ATTENTION[text.lower()]
    if target == "target_modules":
        return _module_list(text)
    raise ValueError(f"no parser for {target}")  # pragma: no cover - every PARAM_FIELDS target has one


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise ValueError(f"{text!r} is not true or false")


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)  # literals only: never code (MLflow caps a param at 6,000 characters)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None


def _module_list(text: str) -> list[str] | None:
    value = _literal(text)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple | set | frozenset):
        value = [part.strip().strip("'\"") for part in text.strip("[](){}").split(",")]
    names = sorted({str(v).strip() for v in value if str(v).strip()})
    if not names:
        return None
    bad = [n for n in names if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", n)]
    if bad:
        raise ValueError(f"{bad[0]!r} is not a module name ModelMate can target (e.g. 'all-linear' is not taken)")
    return names


def _derived(params: dict[str, str], rejected: dict[str, str]) -> list[tuple[str, str, Any]]:
    """(param names, field, value) for precision (bf16/fp16) and quantization (load_in_4bit/8bit)."""
    out: list[tuple[str, str, Any]] = []
    flags: dict[str, bool] = {}
    for name in PRECISION_PARAMS + QUANTIZATION_PARAMS[:2]:
        if name in params:
            try:
                flags[name] = _bool(params[name])
            except ValueError as exc:
                rejected[name] = str(exc)
    present = [n for n in PRECISION_PARAMS if n in flags]
    if present:
        on = [n for n in present if flags[n]]
        if len(on) > 1:
            rejected["+".join(on)] = "both bf16 and fp16 are true"
        else:
            out.append(("+".join(present), "precision", on[0] if on else "fp32"))
    quant = dict(flags)
    qconfig = _literal(params.get("quantization_config", "")) if "quantization_config" in params else None
    if isinstance(qconfig, dict):  # the model config's quantization_config (bitsandbytes)
        for name in ("load_in_4bit", "load_in_8bit"):
            if isinstance(qconfig.get(name), bool) and name not in quant:
                quant[name] = qconfig[name]
    named = [n for n in ("load_in_4bit", "load_in_8bit", "quantization_config") if n in params and
             (n != "quantization_config" or isinstance(qconfig, dict))]
    if quant.get("load_in_4bit") and quant.get("load_in_8bit"):
        rejected["load_in_4bit+load_in_8bit"] = "both 4-bit and 8-bit loading are true"
    elif named and ("load_in_4bit" in quant or "load_in_8bit" in quant):
        level = "4bit" if quant.get("load_in_4bit") else "8bit" if quant.get("load_in_8bit") else "none"
        out.append(("+".join(named), "quantization", level))
    return out


def _validated(values: dict[str, Any], source: dict[str, str], rejected: dict[str, str]) -> dict[str, Any]:
    """The values TrainingConfig accepts; each one it refuses moves to ``rejected`` with pydantic's reason."""
    values = dict(values)
    for _ in range(len(values) + 1):
        try:
            config = TrainingConfig.model_validate(values)
        except ValidationError as exc:
            dropped = False
            for error in exc.errors():
                name = str(error["loc"][0]) if error.get("loc") else None
                if name in values:
                    rejected[source[name]] = f"{name}: {error['msg']}"
                    values.pop(name)
                    dropped = True
            if not dropped:  # a rule across fields (early stopping without eval data): keep the fields apart
                name = "early_stopping_patience" if "early_stopping_patience" in values else next(iter(values))
                rejected[source[name]] = f"{name}: {exc.errors()[0]['msg']}"
                values.pop(name)
            continue
        dumped = config.model_dump(mode="json")
        return {name: dumped[name] for name in values}
    return {}  # pragma: no cover - each round drops at least one value


# --- metrics → curve ------------------------------------------------------------------------------------------------

def _curve_sources(metrics: dict[str, Any]) -> list[str]:
    keys = []
    for names in CURVE_METRICS.values():
        found = next((n for n in names if n in metrics), None)
        if found is not None:
            keys.append(found)
    return keys


def map_curve(run: MappedRun, histories: dict[str, list[tuple[int, int, float]]], metric_names: list[str]) -> None:
    """One point per step: the last value logged at a step wins; non-finite values become "nan"/"inf"/"-inf"."""
    points: dict[int, dict[str, Any]] = {}
    for key, names in CURVE_METRICS.items():
        metric = next((n for n in names if n in histories), None)
        if metric is None:
            continue
        history = sorted(histories[metric], key=lambda p: (p[1], p[0]))  # by timestamp
        if len(history) > 1 and len({step for step, _, _ in history}) == 1:  # logged without steps
            history = [(i + 1, ts, v) for i, (_, ts, v) in enumerate(history)]
            run.notes.append(f"{metric}: no steps logged; numbered in logging order")
        for step, _, value in history:
            points.setdefault(step, {"step": step})[key] = _value(value)
        run.curve_metrics[key] = metric
    run.curve = [points[s] for s in sorted(points)]
    used = set(run.curve_metrics.values())
    run.unused_metrics = [m for m in metric_names if m not in used]


def _value(value: float) -> float | str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


# --- status → outcome -----------------------------------------------------------------------------------------------

def map_status(run: MappedRun) -> None:
    status = run.mlflow_status.upper()
    if status == "FINISHED":
        run.outcome = TrainingOutcome.SUCCESS.value
        run.failure_category = classify(run.curve, run.outcome, None)
    elif status == "FAILED":
        run.outcome = TrainingOutcome.FAILURE.value
        run.failure_category = classify(run.curve, run.outcome, None) or FailureCategory.CRASHED.value
        run.failure_message = f"The MLflow run ended with status FAILED ({_steps(run)})."
    elif status == "KILLED":
        run.outcome = TrainingOutcome.PARTIAL.value
        run.failure_category = FailureCategory.CANCELLED.value
        run.failure_message = f"The MLflow run was killed ({_steps(run)}); the curve so far is kept."
    else:
        run.skip_reason = (f"still {status.lower()} in MLflow: import it again once it has ended"
                           if status in ("RUNNING", "SCHEDULED") else f"unknown MLflow status {status!r}")
    if run.failure_category is not None:
        run.failure_category = str(run.failure_category)


def _steps(run: MappedRun) -> str:
    return f"last logged step {run.curve[-1]['step']}" if run.curve else "no curve logged"


# --- artifacts → adapter --------------------------------------------------------------------------------------------

def find_adapters(client: Any, run_id: str) -> list[str]:
    """Artifact directories holding both adapter files (``""``: the artifact root), walked breadth first."""
    found: list[str] = []
    queue: list[tuple[str, int]] = [("", 0)]
    seen = 0
    while queue and seen < MAX_ARTIFACT_ENTRIES:
        path, depth = queue.pop(0)
        try:
            entries = client.list_artifacts(run_id, path or None)
        except Exception:  # an artifact location this machine cannot reach: no adapter, said in the report
            return found
        seen += len(entries)
        files = {Path(e.path).name for e in entries if not e.is_dir}
        if all(name in files for name in ADAPTER_FILES):
            found.append(path)
        if depth < MAX_ARTIFACT_DEPTH:
            queue.extend((e.path, depth + 1) for e in entries if e.is_dir)
    return found


def choose_adapter(paths: list[str]) -> str | None:
    """The shallowest; among equals the latest checkpoint (highest number in the name), then the last by name."""
    if not paths:
        return None

    def key(path: str) -> tuple[int, int, str]:
        numbers = re.findall(r"\d+", Path(path).name)
        return (-path.count("/") - (1 if path else 0), int(numbers[-1]) if numbers else -1, path)

    return max(paths, key=key)


def download_adapter(client: Any, run: MappedRun, destination: Path) -> Path:
    """The adapter's two files (and nothing else) in ``destination``; checked: JSON config, safetensors header."""
    from safetensors import safe_open

    if run.adapter_path is None:
        raise ValueError("the run has no adapter")
    destination.mkdir(parents=True, exist_ok=True)
    for name in ADAPTER_FILES:
        artifact = f"{run.adapter_path}/{name}" if run.adapter_path else name
        local = Path(client.download_artifacts(run.run_id, artifact, str(destination)))
        target = destination / name
        if local.resolve() != target.resolve():
            local.replace(target)
    for child in destination.iterdir():  # download_artifacts keeps the artifact's folders: flatten them
        if child.is_dir():
            shutil.rmtree(child)
    json.loads((destination / "adapter_config.json").read_text(encoding="utf-8"))
    with safe_open(str(destination / "adapter_model.safetensors"), framework="pt") as fh:
        if not list(fh.keys()):
            raise ValueError("adapter_model.safetensors holds no tensors")
    return destination

