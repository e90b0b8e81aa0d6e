"""API schemas of the research layer: capability changes, the failure museum, run feedback, the research
dataset preview and the advisor."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from modelmate.catalog.schemas import RawText
from modelmate.enums import RunSource

MAX_ID = 2**63 - 1


class ModelRef(BaseModel):
    id: int
    name: str
    kind: str
    owner: str | None = Field(None, description="The owner's username (fine-tuned models)")
    slug: str | None = None
    page_path: str | None = Field(None, description="UI path of the model page ('/m/owner/slug'), fine-tunes only")


class CapabilityChangeOut(BaseModel):
    id: int
    model: ModelRef
    reference: ModelRef
    reference_kind: str = Field(description="parent | base")
    domain: str
    task: str | None = Field(None, description="null: the domain aggregate (mean of its tasks)")
    metric: str | None = None
    value: float | None = None
    reference_value: float | None = None
    delta: float = Field(description="value - reference value, on the 0-1 scale")
    relative_delta: float | None = None
    z_score: float | None = None
    p_value: float | None = None
    p_adjusted: float | None = Field(None, description="Holm-adjusted over every comparison of the pair")
    test: str | None = Field(None, description="The significance test used: mcnemar (exact, 0/1 metrics), "
                                               "sign_flip_exact / sign_flip_mc (paired permutation, continuous "
                                               "metrics), randomization (corpus metrics such as chrF), "
                                               "stratified_permutation / stratified_randomization (domain "
                                               "aggregates), z (unpaired, where per-document outcomes are missing); "
                                               "null: not tested")
    n: int | None = Field(None, description="Documents both models were scored on (paired tests); the smaller "
                                            "sample for the unpaired z-test")
    flagged: bool = Field(description="Significant after correction and at least the minimum effect")
    direction: str | None = None
    sentence: str | None = None
    contaminated: bool = Field(False, description="The model's training data overlaps this domain's test sets")
    contamination: str | None = Field(None, description='"contaminated: trained on GSM8K test items" when so')
    headline: bool = Field(False, description="A headline change: flagged, and not a gain on a contaminated domain "
                                              "(a contaminated gain is never reported as a new capability)")
    created_at: datetime


class CapabilityChangePage(BaseModel):
    items: list[CapabilityChangeOut]
    total: int


class DomainAggregate(BaseModel):
    training_domain: str
    target_domain: str
    mean_delta: float
    n_models: int
    n_up: int
    n_down: int


class BaseAggregate(BaseModel):
    base: ModelRef
    target_domain: str
    mean_delta: float
    n_models: int
    n_up: int
    n_down: int


class CapabilityAggregates(BaseModel):
    by_training_domain: list[DomainAggregate]
    by_base: list[BaseAggregate]


class DatasetBrief(BaseModel):
    id: int
    name: str
    domain: str | None = None


class MuseumItem(BaseModel):
    run_id: int
    name: str | None = None
    owner: str | None = None
    base: ModelRef | None = None
    model: ModelRef | None = None
    status: str
    source: RunSource = Field(RunSource.MODELMATE, description="Where it was trained: modelmate, external "
                                                               "(SDK / HF Trainer callback) or mlflow")
    outcome: str | None = None
    failure_category: str | None = None
    failure_message: str | None = None
    error_type: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    curve: list[dict[str, Any]] = Field(default_factory=list, description="The loss curve, at most 200 points")
    dataset: DatasetBrief | None = None
    feedback_value: int | None = None
    feedback_comment: str | None = None
    created_at: datetime


class MuseumPage(BaseModel):
    items: list[MuseumItem]
    total: int
    counts: dict[str, int] = Field(description="Runs per failure category ('uncategorized' for none), over the "
                                               "other filters")


class RunFeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: Literal[-1, 1]
    comment: RawText | None = Field(None, max_length=2000)


class RunFeedbackOut(BaseModel):
    run_id: int
    name: str | None = None
    status: str
    training_outcome: str | None = None
    failure_category: str | None = None
    feedback_value: int | None = None
    feedback_comment: str | None = None
    output_model_id: int | None = None


class ColumnOut(BaseModel):
    name: str
    type: str
    description: str


class ResearchRows(BaseModel):
    columns: list[ColumnOut]
    rows: list[dict[str, Any]]
    total: int


class AdvisorRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_model: RawText = Field(min_length=1, max_length=200, description="Base model id, key or Hugging Face id "
                                                                          "(as a run takes it)")
    preset: RawText | None = Field(None, max_length=32)
    config: dict[str, Any] | None = Field(None, description="Field values that override the preset")
    dataset_id: int | None = Field(None, ge=1, le=MAX_ID)


class SimilarRun(BaseModel):
    run_id: int
    name: str | None = None
    distance: float
    same_base: bool
    outcome: str | None = None
    status: str
    failure_category: str | None = None
    config: dict[str, Any]
    final_loss: float | None = None
    final_eval_loss: float | None = None
    scores: dict[str, float] = Field(default_factory=dict)
    model: ModelRef | None = None


class AdvisorOut(BaseModel):
    similar: list[SimilarRun]
    warnings: list[str]


class BandPoint(BaseModel):
    bucket: int
    step: float = Field(description="Where the bucket is drawn: the geometric middle of its steps (log axis)")
    step_from: int
    step_to: int
    runs: int = Field(description="How many earlier runs reached this bucket")
    p10: float
    p25: float
    median: float
    p75: float
    p90: float


class CurvePointOut(BaseModel):
    bucket: int
    step: float
    last_step: int = Field(description="The run's last logged step in the bucket")
    loss: float = Field(description="The run's mean training loss over its points in the bucket")


class HistoryCurve(BaseModel):
    run_id: int
    name: str | None
    status: str
    outcome: str | None
    created_at: datetime
    points: list[CurvePointOut]


class CurveVerdict(BaseModel):
    kind: Literal["faster", "slower", "typical", "too_few", "no_loss"]
    sentence: str
    percentile: float | None = Field(None, description="Share (%) of the band's runs whose loss was higher at "
                                                       "the run's last bucket (higher: it learned faster)")
    compared_runs: int = 0
    step: int | None = None
    loss: float | None = None
    median: float | None = None


class CurveHistoryOut(BaseModel):
    run_id: int
    base_model_id: int
    x_axis: str = Field(description="How curves line up: the absolute training step, bucketed on a log scale")
    earlier_runs: int = Field(description="Every earlier finished run on this base model that you can see and that "
                                          "recorded a training loss (counted up to 5,000)")
    earlier_runs_more: bool = Field(False, description="There are more earlier runs than earlier_runs (the count "
                                                       "stopped)")
    band_runs: int = Field(description="How many of them the band is made of (the newest, at most band_cap)")
    band_cap: int
    band: list[BandPoint]
    run: list[CurvePointOut]
    same_dataset: list[HistoryCurve] = Field(description="Earlier runs on the same base model and dataset, newest "
                                                         "first")
    verdict: CurveVerdict
