"""API shapes of datasets."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from modelmate.enums import ContaminationStatus, Visibility

# Room for the multipart framing and the small form fields around the file: the request-body cap of
# POST /datasets is max_dataset_bytes plus this; the file itself is capped at max_dataset_bytes exactly.
UPLOAD_FORM_OVERHEAD = 256 * 1024
DEFAULT_EVAL_SPLIT = 0.1
DEFAULT_SPLIT_SEED = 42
PREVIEW_MAX = 100


class FormatChoice(StrEnum):
    AUTO = "auto"
    TEXT = "text"
    ALPACA = "alpaca"
    SHAREGPT = "sharegpt"
    MESSAGES = "messages"


class DatasetOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str | None
    format: str = Field(description="text | alpaca | sharegpt | messages (as detected or chosen)")
    file_type: str | None = Field(description="jsonl | csv | parquet, as uploaded")
    content_hash: str = Field(description="sha256 of the canonical (normalised) records: the dataset's identity")
    original_filename: str | None = Field(description="The uploaded file's name, kept as text only")
    size_bytes: int = Field(description="Size of the uploaded file")
    rows: int
    train_rows: int | None = Field(description="Rows used for training with the default 10 % held back (seed 42)")
    eval_rows: int | None = Field(description="Rows held back for evaluation with the default split")
    token_counts: dict[str, Any] = Field(description="Per base-model tokenizer key: total, train_total, "
                                                     "eval_total, mean, p50, p95, max, labelled")
    stats: dict[str, Any]
    domain: str | None
    license: str | None
    visibility: str
    owner_id: int
    created_at: datetime


class DatasetPage(BaseModel):
    items: list[DatasetOut]
    total: int
    limit: int
    offset: int


class DatasetPreview(BaseModel):
    rows: list[dict[str, Any]] = Field(description="Canonical records: {text} or {messages: [{role, content}]}")
    total: int
    offset: int
    limit: int


class UploadFields(BaseModel):
    """The form fields that come with an uploaded file (validated like any JSON body)."""

    name: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=5000)
    format: FormatChoice = FormatChoice.AUTO
    license: str | None = Field(None, max_length=100)
    domain: str | None = Field(None, max_length=32)
    visibility: Visibility = Visibility.PRIVATE
    base_model: str | None = Field(None, max_length=200, description="Base model whose tokenizer counts the "
                                                                     "tokens (id, key or HF id); default tiny")


# --- benchmark contamination -------------------------------------------------------------------------------------

class OverlapExampleOut(BaseModel):
    """One dataset row next to the test document it overlaps (both excerpts are user/benchmark text: render inert)."""

    row: int = Field(description="0-based row of the dataset")
    row_text: str
    document_id: str = Field(description="The test document's id within its task")
    document_text: str
    kind: str = Field(description="exact (normalised question equal) or ngram (shared 13-grams)")
    shared_ngrams: int


class TaskOverlapOut(BaseModel):
    task: str = Field(description="lm-eval leaf task")
    suite_task: str = Field(description="The suite entry it belongs to (gsm8k, mmlu, ...)")
    domain: str
    title: str
    rows: int = Field(description="Dataset rows that overlap at least one test document")
    documents: int = Field(description="Test documents that at least one dataset row overlaps")
    total_documents: int | None = Field(None, description="Test documents of the task in the index")
    exact: int = Field(description="Of documents: matched by an exact normalised question")
    examples: list[OverlapExampleOut] = Field(default_factory=list)


class ContaminationOut(BaseModel):
    """A dataset's latest benchmark-contamination check."""

    dataset_id: int
    status: ContaminationStatus | None = Field(description="null: never checked")
    message: str | None = Field(None, description="Why the check failed or is unavailable")
    progress: float | None = Field(None, description="0-1 while pending/running")
    progress_message: str | None = None
    job_id: int | None = None
    index_version: str | None = Field(None, description="The benchmark index the report was made with")
    requested_at: datetime | None = None
    checked_at: datetime | None = None
    contaminated: bool | None = Field(None, description="null until a report is stored")
    summary: str | None = Field(None, description='e.g. "overlaps GSM8K test: 37 documents"')
    rows_checked: int | None = None
    tokens_checked: int | None = None
    seconds: float | None = None
    n: int | None = Field(None, description="n-gram length in tokens")
    domains: dict[str, int] = Field(default_factory=dict, description="Overlapping test documents per domain")
    tasks: list[TaskOverlapOut] = Field(default_factory=list, description="Tasks with overlap, most documents first")
    can_check: bool = Field(False, description="The viewer may ask for a new check (the owner)")


class TrainingContamination(BaseModel):
    """What a run's or model's training data (the run's dataset and, for a fork, its parent's lineage) overlaps."""

    contaminated: bool | None = Field(description="true: overlaps some test set; false: every dataset was checked "
                                                  "clean; null: some dataset was never checked")
    summary: str = Field(description='"trained on data overlapping GSM8K test: 37 documents", or why unknown')
    domains: dict[str, int] = Field(default_factory=dict)
    tasks: list[TaskOverlapOut] = Field(default_factory=list, description="Per task (no examples: the datasets "
                                                                          "may be private)")
    datasets_checked: int = 0
    datasets_unchecked: int = 0
