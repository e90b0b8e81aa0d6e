"""API schemas for benchmarking: evaluations, their result rows, a model's scores and the leaderboards."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from modelmate.catalog.schemas import RawText
from modelmate.enums import EvalBackend


class EvaluationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: RawText = Field(min_length=1, max_length=300,
                       description="Catalog id, base-model key (e.g. 'tiny') or Hugging Face id of a catalog model")
    mode: Literal["quick", "full"] = Field("quick", description="quick: a fixed, seeded sample of each task; "
                                                               "full: every document")
    domains: list[RawText] | None = Field(None, max_length=20, description="Domains to measure (default: all)")


class BenchmarkRowOut(BaseModel):
    task: str
    domain: str
    metric: str = Field(description="'<metric>,<filter>' as lm-eval names it, e.g. 'exact_match,strict-match'")
    value: float | None = None
    stderr: float | None = None
    n_samples: int | None = None
    n_shot: int | None = None
    sample_limit: int | None = None
    mode: str
    status: str = Field(description="final | partial | skipped | failed")
    harness_version: str | None = None
    task_hash: str | None = None
    chat_template_hash: str | None = None
    primary: bool = False
    error: str | None = None
    backend: EvalBackend | None = Field(None, description="The engine that scored it: hf (transformers) or vllm; "
                                                  "not part of the settings hash")


class EvaluationOut(BaseModel):
    id: int
    model_id: int
    model_name: str | None = None
    run_id: int | None = None
    job_id: int | None = None
    mode: str
    status: str = Field(description="running | final | partial | failed (only final results count as scores)")
    domains: list[str] = Field(default_factory=list)
    tasks: list[str] = Field(default_factory=list)
    settings: dict[str, Any] = Field(default_factory=dict)
    settings_hash: str | None = None
    harness_version: str | None = None
    error: dict[str, Any] | None = None
    cached: bool = Field(False, description="An earlier final evaluation with the same settings was reused")
    job_status: str | None = None
    progress: float | None = None
    progress_message: str | None = None
    created_at: datetime
    finished_at: datetime | None = None
    rows: list[BenchmarkRowOut] = Field(default_factory=list, description="Only in GET /evaluations/{id}")


class EvaluationPage(BaseModel):
    items: list[EvaluationOut]
    total: int


class DomainScore(BaseModel):
    domain: str
    score: float | None = None
    stderr: float | None = None
    tasks: list[str] = Field(default_factory=list)
    evaluation_id: int | None = None
    mode: str | None = None
    settings_hash: str | None = None
    measured_at: str | None = None
    base_score: float | None = None
    delta_vs_base: float | None = Field(None, description="score - base score, when the base was measured with "
                                                          "the same settings")
    backend: EvalBackend | None = Field(None, description="The engine that scored it: hf (transformers) or vllm; "
                                                  "not part of the settings hash")


class ModelScores(BaseModel):
    model_id: int
    base_model_id: int | None = None
    domains: list[DomainScore]
    evaluation: EvaluationOut | None = Field(None, description="The latest final evaluation, with its rows")


class RefOut(BaseModel):
    id: int
    name: str
    kind: str | None = None


class LeaderboardRow(BaseModel):
    rank: int | None = Field(description="null: not comparable with the ranked rows (other task hash or settings)")
    model: RefOut
    base: RefOut | None = None
    parameters: int | None = None
    method: str
    score: float | None = None
    stderr: float | None = None
    delta_vs_base: float | None = None
    measured_at: str | None = None
    thumbs_up: int = 0
    thumbs_down: int = 0
    comparable: bool
    settings_hash: str | None = None
    tied: bool = Field(False, description="its 95% confidence interval (score ± 1.96·stderr) overlaps the row "
                                          "above's: the two are not told apart, so it shares that row's rank")
    mode: str | None = Field(None, description="evaluation mode of the score: quick (a sample) or full")
    n_documents: int | None = Field(None, description="documents scored in this domain (overall: the fewest of "
                                                      "its domains); null when unknown")
    small_sample: bool = Field(False, description="fewer documents than min_documents (or a quick evaluation of "
                                                  "unknown size): the score is noisy")
    backends: list[EvalBackend] = Field(default_factory=list, description="The engines behind the score (hf, vllm; "
                                        "overall: those of its domains); rows of both engines are ranked together")
    contaminated: bool = Field(False, description="The model's training data overlaps this domain's test sets "
                                                  "(shown only with include_contaminated)")
    contamination: str | None = Field(None, description='e.g. "trained on data that overlaps GSM8K test: 37 '
                                                        'documents"')


class Leaderboard(BaseModel):
    domain: str
    settings_hash: str | None = Field(None, description="The settings the ranked rows share")
    min_documents: int = Field(description="below this many documents per domain a row is flagged small_sample")
    rows: list[LeaderboardRow] = Field(description="this page's rows: comparable ones first, best first")
    total: int = Field(0, description="rows in the whole leaderboard (every page)")
    limit: int = Field(100, description="the page size asked for")
    offset: int = Field(0, description="rows skipped before this page")
    include_contaminated: bool = Field(False, description="Contaminated rows are ranked (flagged) on this board")
    hidden_contaminated: int = Field(0, description="Rows left out because the model's training data overlaps "
                                                    "the domain's test sets (0 with include_contaminated)")
