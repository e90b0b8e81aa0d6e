"""Hub data: datasets, training runs, evaluations, benchmark results, capability changes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Float, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from modelmate.db.base import Base, IdType, JSONType, UTCDateTime, utcnow


class Dataset(Base):
    """An immutable, content-addressed training dataset."""

    __tablename__ = "datasets"
    __table_args__ = (
        CheckConstraint("format IN ('text','alpaca','sharegpt','messages')", name="format"),
        CheckConstraint("visibility IN ('private','public')", name="visibility"),
        Index("ix_datasets_owner", "owner_id", "created_at"),
        Index("ix_datasets_hash", "content_hash"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    owner_id: Mapped[int] = mapped_column(IdType, ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(16))
    content_hash: Mapped[str] = mapped_column(String(64))  # sha256 of the normalised content
    storage_uri: Mapped[str] = mapped_column(String(500))
    original_filename: Mapped[str | None] = mapped_column(String(300))  # metadata only, never a path
    file_type: Mapped[str | None] = mapped_column(String(16))  # jsonl | csv | parquet (as uploaded)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    rows: Mapped[int] = mapped_column(BigInteger, default=0)
    train_rows: Mapped[int | None] = mapped_column(BigInteger)
    eval_rows: Mapped[int | None] = mapped_column(BigInteger)
    token_counts: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # per tokenizer: total/mean/max
    stats: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # length histogram, fields, ...
    domain: Mapped[str | None] = mapped_column(String(32))
    license: Mapped[str | None] = mapped_column(String(100))
    visibility: Mapped[str] = mapped_column(String(16), default="private")
    parent_dataset_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("datasets.id", ondelete="RESTRICT"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Soft delete: the row and its content-addressed file stay for the runs that used them.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DatasetContamination(Base):
    """A dataset's latest benchmark-contamination check: its status, and the report (``ContaminationReport.to_json``)
    once done. One row per dataset; a re-check replaces it."""

    __tablename__ = "dataset_contamination"
    __table_args__ = (
        CheckConstraint("status IN ('pending','running','done','failed','unavailable')", name="status"),
    )

    dataset_id: Mapped[int] = mapped_column(IdType, ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    message: Mapped[str | None] = mapped_column(Text)  # why it failed / is unavailable
    index_version: Mapped[str | None] = mapped_column(String(200))
    report: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    job_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("jobs.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ContaminationOverlap(Base):
    """The queryable part of a done check: per (dataset, benchmark leaf task) the overlapping test documents and
    dataset rows, with the task's domain, so SQL can say whether a model's training data overlaps a domain."""

    __tablename__ = "contamination_overlaps"
    __table_args__ = (
        Index("ix_contamination_overlaps_domain", "domain", "dataset_id"),
    )

    dataset_id: Mapped[int] = mapped_column(IdType, ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True)
    task: Mapped[str] = mapped_column(String(100), primary_key=True)  # lm-eval leaf task
    suite_task: Mapped[str] = mapped_column(String(100))  # the suite entry (gsm8k, mmlu, ...)
    domain: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    documents: Mapped[int] = mapped_column()
    rows: Mapped[int] = mapped_column()
    exact: Mapped[int] = mapped_column()


class Job(Base):
    """Durable queue row for every background task (train, evaluate, enrich, embed)."""

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint("status IN ('queued','running','succeeded','failed','cancelled')", name="status"),
        Index("ix_jobs_claim", "status", "run_after", "priority", "id"),
        Index("ix_jobs_owner", "owner_id", "created_at"),
        Index("uq_jobs_idempotency", "owner_id", "idempotency_key", unique=True),
        Index("ix_jobs_lease", "status", "lease_expires_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    priority: Mapped[int] = mapped_column(default=0)
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=3)
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fencing_token: Mapped[int] = mapped_column(BigInteger, default=0)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    progress_message: Mapped[str | None] = mapped_column(String(500))
    log: Mapped[str] = mapped_column(Text, default="")
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    run_after: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# The failure museum's rule (``research.repository.museum_condition``) as SQL: the condition of the partial index
# ``ix_training_runs_in_museum``. The query spells it with the same literals so that the planners (SQLite's term
# match, PostgreSQL's predicate proof) see that the index covers it.
MUSEUM_WHERE = ("training_outcome IN ('failure', 'partial') OR failure_category IS NOT NULL "
                "OR feedback_value = -1")


class TrainingRun(Base):
    """One fine-tuning run, failures included: configuration → outcome, with its whole story."""

    __tablename__ = "training_runs"
    __table_args__ = (
        CheckConstraint("status IN ('queued','running','succeeded','failed','cancelled')", name="status"),
        CheckConstraint("training_outcome IS NULL OR training_outcome IN ('success','failure','partial')",
                        name="outcome"),
        Index("ix_training_runs_owner", "owner_id", "created_at"),
        Index("ix_training_runs_outcome", "training_outcome", "failure_category"),
        CheckConstraint("source IN ('modelmate','external','mlflow')", name="source"),
        Index("uq_training_runs_external", "owner_id", "source", "external_id", unique=True),
        Index("ix_training_runs_museum", "created_at", "id", "training_outcome", "failure_category", "feedback_value",
              "owner_id", "output_model_id", "base_model_id"),
        Index("ix_training_runs_base_status", "base_model_id", "status", "id"),
        # the museum's runs only (migration 0012): its counts, total and page read ~15 % of the runs, not all
        Index("ix_training_runs_in_museum", "created_at", "id", "training_outcome", "failure_category",
              "feedback_value", "owner_id", "output_model_id", "base_model_id",
              sqlite_where=text(MUSEUM_WHERE), postgresql_where=text(MUSEUM_WHERE)),
        Index("ix_training_runs_base_created", "base_model_id", "created_at", "id", "status", "owner_id",
              "output_model_id", "dataset_id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    owner_id: Mapped[int] = mapped_column(IdType, ForeignKey("users.id", ondelete="CASCADE"))
    job_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("jobs.id", ondelete="SET NULL"), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    total_steps: Mapped[int | None] = mapped_column()
    output_model_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("models.id", ondelete="RESTRICT"), index=True)
    base_model_id: Mapped[int] = mapped_column(IdType, ForeignKey("models.id", ondelete="RESTRICT"), index=True)
    parent_model_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("models.id", ondelete="RESTRICT"), index=True)
    dataset_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("datasets.id", ondelete="RESTRICT"),
                                                   index=True)
    dataset_hash: Mapped[str | None] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(16), default="guided")  # guided | expert
    preset: Mapped[str | None] = mapped_column(String(32))
    config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    training_outcome: Mapped[str | None] = mapped_column(String(16))
    failure_category: Mapped[str | None] = mapped_column(String(32))
    failure_message: Mapped[str | None] = mapped_column(Text)
    loss_curve_data: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    early_stopping: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONType)  # type, message, traceback
    environment: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # versions, hardware
    estimate: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # memory/time before launch
    tokens_per_second: Mapped[float | None] = mapped_column(Float)
    train_tokens: Mapped[int | None] = mapped_column(BigInteger)
    peak_memory_bytes: Mapped[int | None] = mapped_column(BigInteger)
    train_seconds: Mapped[float | None] = mapped_column(Float)
    final_loss: Mapped[float | None] = mapped_column(Float)
    final_eval_loss: Mapped[float | None] = mapped_column(Float)
    artifact_uri: Mapped[str | None] = mapped_column(String(500))
    feedback_value: Mapped[int | None] = mapped_column()  # the run owner's thumbs: -1 / +1
    feedback_comment: Mapped[str | None] = mapped_column(Text)
    # Where it was trained (RunSource): "modelmate" (launched here, with a job), "external" (logged through the API
    # by the SDK / Trainer callback, no job) or "mlflow" (imported); ``external_id`` is the run's id over there (the
    # MLflow run id, a client's own id), unique per owner and source so an import or a retried start is idempotent.
    source: Mapped[str] = mapped_column(String(16), default="modelmate", server_default="modelmate")
    external_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RunCurvePoint(Base):
    """A run's compact curve (:mod:`modelmate.training.curve_buckets`): its mean training loss per log-spaced step
    bucket, rewritten whenever the run's ``loss_curve_data`` is saved. The curve-history band is computed over these
    rows in SQL (~30–60 a run) instead of over every run's full JSON curve."""

    __tablename__ = "run_curve_points"
    __table_args__ = {"sqlite_with_rowid": False}  # SQLite: rows clustered by (run_id, bucket), no second lookup

    run_id: Mapped[int] = mapped_column(IdType, ForeignKey("training_runs.id", ondelete="CASCADE"), primary_key=True)
    bucket: Mapped[int] = mapped_column(primary_key=True)
    loss: Mapped[float] = mapped_column(Float)
    points: Mapped[int] = mapped_column()
    last_step: Mapped[int] = mapped_column()


class Evaluation(Base):
    """One lm-evaluation-harness run over a model: the raw results JSON kept as is."""

    __tablename__ = "evaluations"
    __table_args__ = (
        CheckConstraint("status IN ('running','final','partial','failed')", name="status"),
        Index("ix_evaluations_model", "model_id", "created_at"),
        Index("ix_evaluations_cache", "model_id", "settings_hash"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("users.id", ondelete="SET NULL"))
    model_id: Mapped[int] = mapped_column(IdType, ForeignKey("models.id", ondelete="CASCADE"))
    run_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("training_runs.id", ondelete="SET NULL"))
    job_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("jobs.id", ondelete="SET NULL"))
    mode: Mapped[str] = mapped_column(String(16), default="quick")
    status: Mapped[str] = mapped_column(String(16), default="running")
    tasks: Mapped[list[str]] = mapped_column(JSONType, default=list)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    settings_hash: Mapped[str | None] = mapped_column(String(64))
    harness_version: Mapped[str | None] = mapped_column(String(32))
    raw_results: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class BenchmarkResult(Base):
    """One task/metric score. Low scores and failed runs are kept, never filtered."""

    __tablename__ = "benchmark_results"
    __table_args__ = (
        Index("ix_benchmark_results_model", "model_id", "domain", "task"),
        Index("ix_benchmark_results_board", "domain", "task", "metric", "task_hash"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    evaluation_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("evaluations.id", ondelete="CASCADE"),
                                                      index=True)
    model_id: Mapped[int] = mapped_column(IdType, ForeignKey("models.id", ondelete="CASCADE"))
    task: Mapped[str] = mapped_column(String(100))
    domain: Mapped[str] = mapped_column(String(32))
    metric: Mapped[str] = mapped_column(String(100))
    value: Mapped[float | None] = mapped_column(Float)
    stderr: Mapped[float | None] = mapped_column(Float)
    n_samples: Mapped[int | None] = mapped_column()
    n_shot: Mapped[int | None] = mapped_column()
    sample_limit: Mapped[int | None] = mapped_column()
    mode: Mapped[str] = mapped_column(String(16), default="quick")
    status: Mapped[str] = mapped_column(String(16), default="final")  # final | partial | skipped | failed
    harness_version: Mapped[str | None] = mapped_column(String(32))
    task_hash: Mapped[str | None] = mapped_column(String(64))
    chat_template_hash: Mapped[str | None] = mapped_column(String(64))
    raw: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DocumentOutcome(Base):
    """One document's per-metric outcomes in one evaluation (what paired significance tests compare): the doc index,
    lm-eval's ``doc_hash`` (documents are matched by content) and ``{"<metric>,<filter>": value}`` — a number, or
    ``{"ref", "pred"}`` texts for corpus metrics (chrF/BLEU/TER), see :mod:`modelmate.evaluation.outcomes`."""

    __tablename__ = "document_outcomes"
    __table_args__ = (
        Index("uq_document_outcomes_doc", "evaluation_id", "task", "doc_id", unique=True),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(IdType, ForeignKey("evaluations.id", ondelete="CASCADE"))
    task: Mapped[str] = mapped_column(String(100))  # the leaf task
    doc_id: Mapped[int] = mapped_column()
    doc_hash: Mapped[str] = mapped_column(String(64))
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONType)  # "<metric>,<filter>" -> value


class CapabilityChange(Base):
    """A model's score versus its reference (parent, else base), per task/domain, with significance."""

    __tablename__ = "capability_changes"
    __table_args__ = (
        Index("ix_capability_changes_model", "model_id", "created_at"),
        Index("ix_capability_changes_flagged", "flagged", "created_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    model_id: Mapped[int] = mapped_column(IdType, ForeignKey("models.id", ondelete="CASCADE"))
    reference_model_id: Mapped[int] = mapped_column(IdType, ForeignKey("models.id", ondelete="CASCADE"))
    reference_kind: Mapped[str] = mapped_column(String(16))  # parent | base
    evaluation_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("evaluations.id", ondelete="SET NULL"))
    domain: Mapped[str] = mapped_column(String(32))
    task: Mapped[str | None] = mapped_column(String(100))  # null = domain aggregate
    metric: Mapped[str | None] = mapped_column(String(100))
    value: Mapped[float | None] = mapped_column(Float)
    reference_value: Mapped[float | None] = mapped_column(Float)
    delta: Mapped[float] = mapped_column(Float)
    relative_delta: Mapped[float | None] = mapped_column(Float)
    z_score: Mapped[float | None] = mapped_column(Float)
    p_value: Mapped[float | None] = mapped_column(Float)
    p_adjusted: Mapped[float | None] = mapped_column(Float)
    test: Mapped[str | None] = mapped_column(String(32))  # mcnemar | sign_flip_* | randomization | stratified_* | z
    n: Mapped[int | None] = mapped_column()  # paired documents (z: the smaller sample)
    flagged: Mapped[bool] = mapped_column(default=False)
    direction: Mapped[str | None] = mapped_column(String(8))  # up | down
    sentence: Mapped[str | None] = mapped_column(Text)
    reviewed: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CapabilityChangeFact(Base):
    """One model's domain-level capability change in one target domain, as the aggregates count it: its delta(s),
    flagged up/down, the grouping keys (training domain, base) and who may see it (``scope``: 0 everyone, an
    owner's id, -1 admins only). Kept in step by ``research.change_totals`` (the previous facts are what it
    subtracts from :class:`CapabilityChangeTotal` when a model's changes, visibility, base or first run change)."""

    __tablename__ = "capability_change_facts"

    model_id: Mapped[int] = mapped_column(IdType, primary_key=True)  # no FK: kept after the model goes, to subtract
    domain: Mapped[str] = mapped_column(String(32), primary_key=True)
    training_domain: Mapped[str] = mapped_column(String(64))
    base_id: Mapped[int | None] = mapped_column(IdType)
    scope: Mapped[int] = mapped_column(BigInteger)
    n_changes: Mapped[int] = mapped_column()
    sum_delta_e12: Mapped[int] = mapped_column(BigInteger)  # Σ round(delta · 10¹²): exact sums, no drift
    n_up: Mapped[int] = mapped_column()
    n_down: Mapped[int] = mapped_column()


class CapabilityChangeTotal(Base):
    """The capability-change aggregates, summed per (grouping, key, target domain, scope): ``grouping``
    ``training_domain`` (key: the domain of the model's first run's dataset, ``unknown`` without) or ``base`` (key:
    the base's id). A request sums the rows of the scopes the viewer may see: O(groups), not O(changes)."""

    __tablename__ = "capability_change_totals"

    grouping: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    domain: Mapped[str] = mapped_column(String(32), primary_key=True)
    scope: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    n_models: Mapped[int] = mapped_column(BigInteger)
    n_changes: Mapped[int] = mapped_column(BigInteger)
    sum_delta_e12: Mapped[int] = mapped_column(BigInteger)
    n_up: Mapped[int] = mapped_column(BigInteger)
    n_down: Mapped[int] = mapped_column(BigInteger)
