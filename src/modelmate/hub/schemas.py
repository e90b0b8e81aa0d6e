"""API shapes of the hub: model pages, publishing, feedback, lineage."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from modelmate.datasets.schemas import TrainingContamination
from modelmate.enums import ModelKind, Visibility


class ModelRef(BaseModel):
    """A link to a catalog model. ``page_path`` is the hub page of a fine-tuned model (``/m/owner/slug``)."""

    id: int
    name: str
    kind: str
    owner: str | None = None
    slug: str | None = None
    page_path: str | None = None


class ModelInfo(BaseModel):
    id: int
    name: str
    slug: str | None
    owner: str | None
    kind: str
    visibility: str
    description: str | None
    license: str | None
    parameters: int | None
    base: ModelRef | None
    parent: ModelRef | None
    toy: bool
    created_at: datetime
    repo_id: str | None = Field(description="<owner>/<slug>: the id for downloads and the Hugging Face endpoint")
    page_path: str | None = Field(None, description="The model's one UI page ('/m/owner/slug'); fine-tunes only — "
                                                    "/hub/models/{id} redirects there")


class RunInfo(BaseModel):
    id: int
    name: str | None
    status: str
    mode: str
    preset: str | None
    config: dict[str, Any]
    training_outcome: str | None
    failure_category: str | None
    failure_message: str | None
    curve: list[dict[str, Any]] = Field(description="The full loss curve (step, loss, eval_loss, lr, ...)")
    train_seconds: float | None
    tokens_per_second: float | None
    final_loss: float | None
    final_eval_loss: float | None
    train_tokens: int | None
    environment: dict[str, Any]


class DatasetCard(BaseModel):
    id: int
    name: str
    format: str
    rows: int
    train_rows: int | None
    eval_rows: int | None
    token_counts: dict[str, Any]
    stats: dict[str, Any]
    domain: str | None
    license: str | None
    samples: list[dict[str, Any]] = Field(description="Up to 3 records, strings cut at 500 characters")


class MyFeedback(BaseModel):
    value: int
    comment: str | None


class FeedbackItem(BaseModel):
    user: str | None
    value: int
    comment: str | None
    created_at: datetime


class FeedbackBlock(BaseModel):
    up: int
    down: int
    mine: MyFeedback | None
    recent: list[FeedbackItem] = Field(description="The 20 latest, newest first")


class Permissions(BaseModel):
    can_edit: bool
    can_feedback: bool
    can_download: bool
    can_fork: bool
    can_demo: bool


class ModelPageOut(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    model: ModelInfo
    run: RunInfo | None
    dataset: DatasetCard | None
    contamination: TrainingContamination | None = Field(
        None, description="What the model's training data overlaps among the benchmark test sets (lineage: a fork "
                          "inherits its parent's); null for a model not trained here")
    feedback: FeedbackBlock
    permissions: Permissions


class ModelPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    visibility: Visibility | None = None
    description: str | None = Field(default=None, max_length=5000)


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: Literal[-1, 1]
    comment: str | None = Field(default=None, max_length=2000)


class LineageNode(BaseModel):
    id: str = Field(description='"m<model id>" or "d<dataset id>"')
    type: ModelKind | Literal["dataset"]
    label: str
    model_id: int | None = None
    dataset_id: int | None = None
    owner: str | None = None
    page_path: str | None = None
    outcome: str | None = None
    scores: dict[str, float] = Field(default_factory=dict)


class LineageEdge(BaseModel):
    id: str
    source: str
    target: str
    type: Literal["finetune", "fork", "data"]
    deltas: dict[str, float] = Field(default_factory=dict, description="child score − source score per domain")


class LineageOut(BaseModel):
    focus: str | None
    nodes: list[LineageNode]
    edges: list[LineageEdge]
    truncated: bool = False
