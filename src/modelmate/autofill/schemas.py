"""API schemas for autofill previews (nothing here is ever saved by the autofill endpoints)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Source(StrEnum):
    HUGGINGFACE = "huggingface"
    GITHUB = "github"


class AutofillRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url_or_id: str = Field(..., min_length=1, max_length=500,
                           description="A Hugging Face id (org/name) or a huggingface.co / hf.co / github.com link")
    entry_id: int | None = Field(None, ge=1, le=2**63 - 1, description="Compare with this entry of yours (adds `diff`)")


class ProposedFields(BaseModel):
    name: str | None = None
    developer: str | None = None
    model_type: str | None = None
    parameters: int | None = None
    license: str | None = None
    version: str | None = None
    description: str | None = Field(None, description="Plain text from the upstream card; render as text")
    source_links: list[str] = []
    hf_repo_id: str | None = None
    github_repo: str | None = None
    tags: list[str] = []


class UpstreamExtra(BaseModel):
    downloads: int | None = None
    likes: int | None = None
    stars: int | None = None
    library: str | None = None
    last_modified: str | None = None
    base_model: str | None = Field(None, description="Lineage hint: the base model named by the model card")
    pipeline_tag: str | None = None
    homepage: str | None = None
    gated: bool = False


class FieldDiff(BaseModel):
    field: str
    current: Any = None
    proposed: Any = None
    changed: bool


class AutofillPreview(BaseModel):
    source: Source
    id: str = Field(description="The repository id the metadata came from")
    fields: ProposedFields = Field(description="Proposed values; send the ones you accept with PATCH/POST")
    extra: UpstreamExtra
    diff: list[FieldDiff] | None = Field(None, description="Per field: your value, the proposal (lists merged "
                                                           "with yours), and whether it differs")
    warnings: list[str] = []
