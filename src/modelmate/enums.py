"""Every enumeration of ModelMate, defined once: shared by the ORM, the API schemas (and so the UI's generated
types), the services and the pure packages (training/, evaluation/). Stored as plain strings.

A pure leaf: the standard library only, never another modelmate module, so any layer may import it.
"""

from enum import StrEnum
from typing import Literal


class ModelType(StrEnum):
    LLM = "LLM"
    VISION = "Vision"
    AUDIO = "Audio"
    EMBEDDING = "Embedding"
    MULTIMODAL = "Multimodal"
    OTHER = "Other"


class EntryStatus(StrEnum):
    WISHLIST = "wishlist"
    TRIED = "tried"
    STUDIED = "studied"
    USING = "using"
    ARCHIVED = "archived"


class ModelKind(StrEnum):
    EXTERNAL = "external"
    BASE = "base"
    FINETUNED = "finetuned"


class ModelMethod(StrEnum):
    """How a model on a leaderboard was made: a base model, a LoRA adapter, a full fine-tune, or elsewhere."""

    BASE = "base"
    LORA = "lora"
    FINETUNED = "finetuned"
    EXTERNAL = "external"


class Visibility(StrEnum):
    PRIVATE = "private"
    PUBLIC = "public"


class DatasetFormat(StrEnum):
    TEXT = "text"
    ALPACA = "alpaca"
    SHAREGPT = "sharegpt"
    MESSAGES = "messages"


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class EvaluationState(StrEnum):
    """A training run's evaluation as its page shows it (from the evaluation's status and its job's)."""

    QUEUED = "queued"  # waiting for a worker
    PAUSED = "paused"  # yielded to higher-priority work after some tasks
    RUNNING = "running"
    DONE = "done"  # final scores
    PARTIAL = "partial"  # some tasks failed
    FAILED = "failed"  # no scores


class TrainingOutcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    PARTIAL = "partial"


class RunSource(StrEnum):
    """Where a training run was trained: launched here, logged from anywhere (SDK / Trainer callback), or imported
    from an MLflow tracking store."""

    MODELMATE = "modelmate"
    EXTERNAL = "external"
    MLFLOW = "mlflow"


class FailureCategory(StrEnum):
    DIVERGED = "diverged"
    NO_LEARNING = "no_learning"
    OVERFITTING = "overfitting"
    FORGETTING = "forgetting"
    OUT_OF_MEMORY = "out_of_memory"
    CRASHED = "crashed"
    INVALID_DATA = "invalid_data"
    CANCELLED = "cancelled"
    WORKER_LOST = "worker_lost"
    UNSUPPORTED = "unsupported"  # a choice the worker's machine cannot run, refused before the model loads


# The failure museum's category filter takes a FailureCategory or one more value, "uncategorized": museum runs
# without a category (a failure or partial outcome nobody classified). It is not a FailureCategory: no run is
# stored with it. In the API schema the filter is the FailureCategory enum or this one constant.
Uncategorized = Literal["uncategorized"]
UNCATEGORIZED: Uncategorized = "uncategorized"
FailureFilter = FailureCategory | Uncategorized


class Domain(StrEnum):
    """The benchmark domains (what a suite measures, what a capability change is about), in report order."""

    MATH = "math"
    CODE = "code"
    KNOWLEDGE = "knowledge"
    REASONING = "reasoning"
    READING = "reading"
    TRUTHFULNESS = "truthfulness"
    TRANSLATION = "translation"


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class JobKind(StrEnum):
    TRAIN = "train"
    EVALUATE = "evaluate"
    ENRICH = "enrich"
    EMBED = "embed"
    IMPORT_MODEL = "import_model"
    CONTAMINATION = "contamination"


class ContaminationStatus(StrEnum):
    """Where a dataset's benchmark-contamination check stands (``dataset_contamination.status``)."""

    PENDING = "pending"  # queued
    RUNNING = "running"
    DONE = "done"  # a report is stored
    FAILED = "failed"  # the check raised (message says why)
    UNAVAILABLE = "unavailable"  # no benchmark data on this server (message says so)


class EvaluationStatus(StrEnum):
    RUNNING = "running"
    FINAL = "final"
    PARTIAL = "partial"
    FAILED = "failed"


class ResultStatus(StrEnum):
    """One benchmark result row's status (a task the run skipped, e.g. code with execution off, is never scored)."""

    FINAL = "final"
    PARTIAL = "partial"
    SKIPPED = "skipped"
    FAILED = "failed"


# The states a job, a training run or an evaluation never leaves.
FINISHED_JOB_STATUSES: tuple[str, ...] = (JobStatus.SUCCEEDED.value, JobStatus.FAILED.value, JobStatus.CANCELLED.value)
FINISHED_RUN_STATUSES: tuple[str, ...] = (RunStatus.SUCCEEDED.value, RunStatus.FAILED.value, RunStatus.CANCELLED.value)
FINISHED_EVALUATION_STATUSES: tuple[str, ...] = (EvaluationStatus.FINAL.value, EvaluationStatus.PARTIAL.value,
                                                 EvaluationStatus.FAILED.value)


class EvalBackend(StrEnum):
    """The engine an evaluation runs on (setting ``MODELMATE_EVAL_BACKEND``): ``auto`` picks vLLM where the package
    is installed and a CUDA GPU is present, else the Hugging Face one; a stored score names ``hf`` or ``vllm``."""

    AUTO = "auto"
    HF = "hf"
    VLLM = "vllm"


class EventKind(StrEnum):
    ADDED = "added"
    STATUS_CHANGED = "status_changed"
    NOTE_ADDED = "note_added"
    NOTE_EDITED = "note_edited"
    RATED = "rated"
    UPDATED = "updated"
    DELETED = "deleted"
