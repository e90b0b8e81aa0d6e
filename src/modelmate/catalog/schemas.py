"""API schemas for catalog models."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from modelmate.enums import ModelKind, ModelType, Visibility

MAX_PARAMETERS = 10**15  # a quadrillion parameters; BigInteger holds it
HF_REPO_RE = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,95}/)?[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
GITHUB_REPO_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
URL_RE = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)


def no_nul(v: str | None) -> str | None:
    """Text may hold anything a person can type, but not NUL (PostgreSQL text cannot store it)."""
    if v is not None and "\x00" in v:
        raise ValueError("must not contain NUL characters")
    return v


RawText = Annotated[str, AfterValidator(no_nul)]


def _strip_or_none(v: str | None) -> str | None:
    if v is None:
        return None
    no_nul(v)
    v = " ".join(v.split())
    return v or None


def _hf_repo(v: str | None) -> str | None:
    v = _strip_or_none(v)
    if v is None:
        return None
    if not HF_REPO_RE.match(v) or ".." in v:
        raise ValueError("must look like 'owner/name' (a Hugging Face model id)")
    return v


def _github_repo(v: str | None) -> str | None:
    v = _strip_or_none(v)
    if v is None:
        return None
    if not GITHUB_REPO_RE.match(v) or ".." in v:
        raise ValueError("must look like 'owner/repo' (a GitHub repository)")
    return v


def _links(v: list[str] | None) -> list[str] | None:
    if v is None:
        return None
    out: list[str] = []
    for link in v:
        no_nul(link)
        link = link.strip()
        if not link:
            continue
        if not URL_RE.match(link):
            raise ValueError(f"'{link[:80]}' is not an http(s) URL")
        if link not in out:
            out.append(link)
    return out


def _tags(v: list[str] | None) -> list[str] | None:
    if v is None:
        return None
    seen: dict[str, str] = {}
    for tag in v:
        no_nul(tag)
        clean = " ".join(tag.split()).strip()
        if not clean:
            continue
        if len(clean) > 64:
            raise ValueError(f"tag '{clean[:20]}…' is longer than 64 characters")
        seen.setdefault(clean.casefold(), clean)
    return list(seen.values())


Name = Annotated[str, AfterValidator(lambda v: _require(_strip_or_none(v), "name")), Field(min_length=1,
                                                                                             max_length=200)]
# Optional one-line texts: whitespace collapsed, blank becomes null. Spelled out (not built by a function) so that
# type checkers see them as type aliases.
Text200 = Annotated[Annotated[str, Field(max_length=200)] | None, AfterValidator(_strip_or_none)]
Text100 = Annotated[Annotated[str, Field(max_length=100)] | None, AfterValidator(_strip_or_none)]
# The length cap sits on the inner str: the validator turns blanks into None, and a cap on None is a TypeError (500).
HfRepo = Annotated[Annotated[str, Field(max_length=200)] | None, AfterValidator(_hf_repo)]
GithubRepo = Annotated[Annotated[str, Field(max_length=200)] | None, AfterValidator(_github_repo)]
Links = Annotated[Annotated[list[Annotated[str, Field(max_length=2048)]], Field(max_length=50)] | None,
                  AfterValidator(_links)]
Tags = Annotated[Annotated[list[Annotated[str, Field(max_length=200)]], Field(max_length=50)] | None,
                 AfterValidator(_tags)]
Parameters = Annotated[int | None, Field(ge=0, le=MAX_PARAMETERS)]


def _require(v: str | None, field: str) -> str:
    if not v:
        raise ValueError(f"{field} must not be blank")
    return v


class ModelFields(BaseModel):
    """Descriptive fields of a catalog model (all optional: used for create and partial update)."""

    model_config = ConfigDict(extra="forbid")

    developer: Text200 = Field(None, description="Who made it (organisation or person)")
    model_type: ModelType | None = Field(None, description="LLM, Vision, Audio, Embedding, Multimodal or Other")
    parameters: Parameters = Field(None, description="Parameter count (e.g. 7000000000 for 7B)")
    license: Text100 = Field(None, description="License name or SPDX id")
    version: Text100 = Field(None, description="Version or release")
    description: RawText | None = Field(None, max_length=20_000, description="Short description")
    source_links: Links = Field(None, description="http(s) links: papers, model cards, repositories")
    hf_repo_id: HfRepo = Field(None, description="Hugging Face model id, e.g. meta-llama/Llama-3.1-8B")
    github_repo: GithubRepo = Field(None, description="GitHub repository, e.g. ggml-org/llama.cpp")


class ModelCreate(ModelFields):
    name: Name = Field(..., description="Model name")
    kind: ModelKind = Field(ModelKind.EXTERNAL, description="external, base or finetuned")
    visibility: Visibility = Field(Visibility.PRIVATE, description="private: only you see it (the default); public: "
                                                          "shared with every user of this server")


class ModelUpdate(ModelFields):
    name: Text200 = None
    visibility: Visibility | None = Field(None, description="Share the model you added with every user (public) "
                                                            "or take it back (private; refused once others use it)")


class ModelFieldsOut(BaseModel):
    """A catalog model's name and descriptive fields as stored: the one output definition of the model field list
    (the catalog's ModelOut, the tracker's EntryOut and the export's TransferRecord all start from it)."""

    name: str
    developer: str | None
    model_type: str
    parameters: int | None
    license: str | None
    version: str | None
    description: str | None
    source_links: list[str]
    hf_repo_id: str | None
    github_repo: str | None


# The model field names, in column order (CSV/JSON exports, copies from a model row): ``name`` + ModelFields.
MODEL_FIELDS: tuple[str, ...] = tuple(ModelFieldsOut.model_fields)


def model_values(model: Any) -> dict[str, Any]:
    """The model field values of a catalog row (an ORM ``Model``), ready for a :class:`ModelFieldsOut`."""
    values = {name: getattr(model, name) for name in MODEL_FIELDS}
    values["source_links"] = list(values["source_links"] or [])
    return values


class ModelOut(ModelFieldsOut):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    visibility: str
    # Never who created a row (a public row must not tell anyone who logged it first): only whether it is yours.
    mine: bool = Field(False, description="You added this catalog row (you may edit, share or delete it)")
    parent_model_id: int | None
    base_model_id: int | None
    benchmark_scores: dict[str, Any]
    created_at: datetime
    updated_at: datetime


def model_out(model: Any, viewer: Any) -> ModelOut:
    out = ModelOut.model_validate(model)
    out.mine = viewer is not None and model.owner_id is not None and model.owner_id == viewer.id
    return out


class ModelPage(BaseModel):
    items: list[ModelOut]
    total: int
    limit: int
    offset: int
