"""The global catalog of models (external, base and fine-tuned)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Float, ForeignKey, Index, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from modelmate.db.base import Base, IdType, JSONType, UTCDateTime, utcnow


class Model(Base):
    __tablename__ = "models"
    __table_args__ = (
        CheckConstraint("kind IN ('external','base','finetuned')", name="kind"),
        CheckConstraint("visibility IN ('private','public')", name="visibility"),
        CheckConstraint("parameters IS NULL OR parameters >= 0", name="parameters_nonneg"),
        # Identity is unique among public rows, and per owner among private ones: a private row must never make
        # another user's create fail (that 409 would tell them the private model exists).
        Index("uq_models_name_developer", "name_key", "developer_key", unique=True,
              sqlite_where=text("visibility = 'public'"), postgresql_where=text("visibility = 'public'")),
        Index("uq_models_private_name_developer", "owner_id", "name_key", "developer_key", unique=True,
              sqlite_where=text("visibility = 'private'"), postgresql_where=text("visibility = 'private'")),
        # Plain lookup index: duplicate checks ask "public OR mine", which neither partial index can answer.
        Index("ix_models_name_developer", "name_key", "developer_key"),
        Index("ix_models_parameters", "parameters"),
        # visibility checks through a join (a run's output model, a change's model and reference) read this small
        # index instead of the model rows (their scores JSON makes them long): migration 0012
        Index("ix_models_visible", "id", "visibility", "owner_id"),
        Index("ix_models_model_type", "model_type"),
        Index("uq_models_owner_slug", "owner_id", "slug", unique=True),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # URL name of a fine-tuned model, unique per owner: page /m/<owner>/<slug>, hub repo id <owner>/<slug>.
    slug: Mapped[str | None] = mapped_column(String(200))
    developer: Mapped[str | None] = mapped_column(String(200))
    # Normalised copies used for duplicate detection and case-insensitive sorting.
    name_key: Mapped[str] = mapped_column(String(200))
    developer_key: Mapped[str] = mapped_column(String(200), default="")
    model_type: Mapped[str] = mapped_column(String(32), default="Other")
    parameters: Mapped[int | None] = mapped_column(BigInteger)
    license: Mapped[str | None] = mapped_column(String(100))
    version: Mapped[str | None] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    source_links: Mapped[list[str]] = mapped_column(JSONType, default=list)
    hf_repo_id: Mapped[str | None] = mapped_column(String(200))
    github_repo: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default="external")
    visibility: Mapped[str] = mapped_column(String(16), default="public")
    owner_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("users.id", ondelete="SET NULL"), index=True)
    # Research fields, collected from day one.
    parent_model_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("models.id", ondelete="RESTRICT"), index=True)
    base_model_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("models.id", ondelete="RESTRICT"), index=True)
    benchmark_scores: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # Hub facts (architecture, default LoRA targets, chat template, gated...) and autofill extras.
    hub_info: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    metadata_extra: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    metadata_refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


_PUBLIC: dict[str, Any] = {"sqlite_where": text("visibility = 'public'"),
                           "postgresql_where": text("visibility = 'public'")}
_PRIVATE: dict[str, Any] = {"sqlite_where": text("visibility = 'private'"),
                            "postgresql_where": text("visibility = 'private'")}
Index("uq_models_hf_repo_key", func.lower(Model.hf_repo_id), unique=True, **_PUBLIC)
Index("uq_models_github_repo_key", func.lower(Model.github_repo), unique=True, **_PUBLIC)
Index("uq_models_private_hf_repo_key", Model.owner_id, func.lower(Model.hf_repo_id), unique=True, **_PRIVATE)
Index("uq_models_private_github_repo_key", Model.owner_id, func.lower(Model.github_repo), unique=True, **_PRIVATE)
Index("ix_models_hf_repo_key", func.lower(Model.hf_repo_id))  # lookups ("public OR mine"), as above
Index("ix_models_github_repo_key", func.lower(Model.github_repo))


class ModelFeedback(Base):
    """Thumbs up/down with an optional comment, one per user and model (optionally about a run)."""

    __tablename__ = "model_feedback"
    __table_args__ = (
        CheckConstraint("value IN (-1, 1)", name="value"),
        Index("uq_model_feedback_user_model", "user_id", "model_id", unique=True),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    user_id: Mapped[int] = mapped_column(IdType, ForeignKey("users.id", ondelete="CASCADE"))
    model_id: Mapped[int] = mapped_column(IdType, ForeignKey("models.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("training_runs.id", ondelete="SET NULL"))
    value: Mapped[int] = mapped_column()
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class LeaderboardEntry(Base):
    """A model's leaderboard entry per domain (and ``overall``), derived from its ``benchmark_scores`` whenever
    they change (``benchmarking.service``'s flush hook), so that a leaderboard is an indexed read of one domain's
    rows instead of reading every model's scores JSON. ``settings_key`` is the entry's settings hash (``\\x01none``
    when it has none)."""

    __tablename__ = "leaderboard_entries"
    __table_args__ = (
        Index("ix_leaderboard_entries_rank", "domain", "settings_key", text("score DESC"), "model_id", "visibility",
              "owner_id"),
        Index("ix_leaderboard_entries_score", "domain", text("score DESC"), "model_id"),
        # the base-model filter (with the parameter and method filters covered): migration 0012
        Index("ix_leaderboard_entries_base", "domain", "base_model_id", "settings_key", text("score DESC"),
              "model_id", "visibility", "owner_id", "parameters", "method"),
    )

    model_id: Mapped[int] = mapped_column(IdType, ForeignKey("models.id", ondelete="CASCADE"), primary_key=True)
    domain: Mapped[str] = mapped_column(String(32), primary_key=True)
    score: Mapped[float] = mapped_column(Float)
    stderr: Mapped[float | None] = mapped_column(Float)
    settings_key: Mapped[str] = mapped_column(String(200))
    visibility: Mapped[str] = mapped_column(String(16))  # the model's, copied so the board needs no join
    owner_id: Mapped[int | None] = mapped_column(IdType)
    # the model's base, size and method (``leaderboard.method_of``), copied so the filters need no join
    base_model_id: Mapped[int | None] = mapped_column(IdType)
    parameters: Mapped[int | None] = mapped_column(BigInteger)
    method: Mapped[str | None] = mapped_column(String(16))
