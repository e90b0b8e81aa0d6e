"""API schemas for tracker entries, journal notes and history."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from modelmate.catalog.schemas import ModelFields, ModelFieldsOut, RawText, Tags, Text200
from modelmate.enums import EntryStatus

MAX_NOTES = 200_000

Rating = Annotated[int | None, Field(ge=1, le=5, description="Your rating, 1–5")]


class EntryFields(BaseModel):
    status: EntryStatus | None = Field(None, description="wishlist, tried, studied, using or archived")
    date_interacted: date | None = Field(None, description="When you last interacted with the model")
    rating: Rating = None
    tags: Tags = Field(None, description="Your tags (case-insensitive, deduplicated)")
    notes: RawText | None = Field(None, max_length=MAX_NOTES, description="Markdown notes, stored raw")


class EntryCreate(ModelFields, EntryFields):
    """Create an entry for an existing catalog model (``model_id``) or for a new one (``name``...)."""

    model_config = ConfigDict(extra="forbid")

    model_id: int | None = Field(None, ge=1, le=2**63 - 1, description="Existing catalog model to log")
    name: Text200 = Field(None, description="Model name (required unless model_id is given)")

    @model_validator(mode="after")
    def _need_model(self) -> EntryCreate:
        if self.model_id is None and not self.name:
            raise ValueError("give either model_id or a name for the model")
        return self


class EntryUpdate(ModelFields, EntryFields):
    """Partial update: only the fields sent are changed. ``tags`` replaces the whole set."""

    model_config = ConfigDict(extra="forbid")

    name: Text200 = None


class EntryOut(ModelFieldsOut):
    id: int
    model_id: int
    kind: str
    status: EntryStatus
    date_interacted: date | None
    rating: int | None
    tags: list[str]
    notes: str
    visibility: str
    created_at: datetime
    updated_at: datetime


class FacetCount(BaseModel):
    value: str
    count: int


class Facets(BaseModel):
    status: list[FacetCount]
    model_type: list[FacetCount]
    tags: list[FacetCount]
    developer: list[FacetCount]
    license: list[FacetCount]


class EntryPage(BaseModel):
    items: list[EntryOut]
    total: int
    limit: int
    offset: int
    facets: Facets | None = None


class SortField(StrEnum):
    NAME = "name"
    DATE = "date"
    UPDATED = "updated"
    CREATED = "created"
    PARAMETERS = "parameters"
    RATING = "rating"


class SortOrder(StrEnum):
    ASC = "asc"
    DESC = "desc"


class TagMode(StrEnum):
    ANY = "any"
    ALL = "all"


Ranked = list[tuple[int, float]]  # (entry id, score), best first: what every search ranking returns


class EntryFilter(BaseModel):
    """Filters for the entry list; every field is optional."""

    status: list[EntryStatus] = []
    model_type: list[str] = []
    tag: list[str] = []
    tag_mode: TagMode = TagMode.ANY
    date_from: date | None = None
    date_to: date | None = None
    developer: list[str] = []
    license: list[str] = []
    min_parameters: int | None = None
    max_parameters: int | None = None
    min_rating: int | None = None
    q: str | None = None
    ids: list[int] = []


class JournalCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: Annotated[RawText, AfterValidator(lambda v: v if v.strip() else _blank())] = Field(
        ..., min_length=1, max_length=MAX_NOTES, description="Markdown, stored raw")


def _blank() -> str:
    raise ValueError("note must not be blank")


class JournalOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    entry_id: int
    body: str
    created_at: datetime
    updated_at: datetime


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    entry_id: int | None
    model_id: int | None
    model_name: str
    kind: str
    from_status: str | None
    to_status: str | None
    data: dict[str, Any]
    occurred_at: datetime


class BulkAction(StrEnum):
    SET_STATUS = "set_status"
    ADD_TAGS = "add_tags"
    REMOVE_TAGS = "remove_tags"
    DELETE = "delete"


class BulkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] = Field(..., min_length=1, max_length=1000)
    action: BulkAction
    status: EntryStatus | None = None
    tags: Tags = None

    @model_validator(mode="after")
    def _check(self) -> BulkRequest:
        if self.action == BulkAction.SET_STATUS and self.status is None:
            raise ValueError("set_status needs a status")
        if self.action in (BulkAction.ADD_TAGS, BulkAction.REMOVE_TAGS) and not self.tags:
            raise ValueError(f"{self.action.value} needs tags")
        return self


class BulkResult(BaseModel):
    action: BulkAction
    affected: int


class TagOut(BaseModel):
    name: str
    count: int
