"""Enumerations shared by the ORM, the API schemas and the UI. Stored as plain strings."""

from enum import StrEnum


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


class TrainingOutcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    PARTIAL = "partial"


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


class EvaluationStatus(StrEnum):
    RUNNING = "running"
    FINAL = "final"
    PARTIAL = "partial"
    FAILED = "failed"


class EventKind(StrEnum):
    ADDED = "added"
    STATUS_CHANGED = "status_changed"
    NOTE_ADDED = "note_added"
    NOTE_EDITED = "note_edited"
    RATED = "rated"
    UPDATED = "updated"
    DELETED = "deleted"


def values(enum: type[StrEnum]) -> list[str]:
    return [e.value for e in enum]
