"""API shapes of datasets."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from modelmate.enums import Visibility

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
