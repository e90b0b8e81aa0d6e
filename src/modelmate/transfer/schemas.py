"""Schemas for import/export of the tracker log.

One exported entry is a :class:`TransferRecord`: the catalog model's descriptive fields, the entry's fields, its
timestamps and its journal notes. An imported row is validated with :class:`TransferRow`, which is the API's own
:class:`~modelmate.tracker.schemas.EntryCreate` (same rules: rating 1–5, status enum, parameters ≥ 0, http(s) links,
tag lengths…) plus timestamps and journal notes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from modelmate.catalog.schemas import ModelFieldsOut
from modelmate.tracker.schemas import MAX_NOTES, EntryCreate

EXPORT_FORMAT_NAME = "modelmate-export"
EXPORT_VERSION = 1
MAX_JOURNAL_NOTES = 10_000
PREVIEW_ROWS = 20
MAX_REPORTED_ERRORS = 1000

# Keys that may appear in a file (ours from another install, or hand-made) but are never taken from it:
# ownership and ids always come from the importing user and this database.
IGNORED_FIELDS = frozenset({"id", "owner_id", "model_id", "user_id", "entry_id", "owner", "user", "visibility",
                            "kind"})


class ExportFormat(StrEnum):
    CSV = "csv"
    JSON = "json"


class ImportFormat(StrEnum):
    AUTO = "auto"
    CSV = "csv"
    JSON = "json"


def _utc(v: datetime | None) -> datetime | None:
    """Timestamps without an offset are taken as UTC; all are stored as UTC."""
    if v is None:
        return None
    return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)


UtcDateTime = Annotated[datetime | None, AfterValidator(_utc)]


def _not_blank(v: str) -> str:
    if not v.strip():  # the same rule as the journal API (JournalCreate)
        raise ValueError("note must not be blank")
    return v


class JournalRecord(BaseModel):
    """A journal note as exported: body (markdown, raw) and its timestamps."""

    model_config = ConfigDict(extra="ignore")

    body: Annotated[str, Field(min_length=1, max_length=MAX_NOTES), AfterValidator(_not_blank)]
    created_at: UtcDateTime = None
    updated_at: UtcDateTime = None


class TransferRow(EntryCreate):
    """One imported row: the API's entry rules plus timestamps and journal notes."""

    created_at: UtcDateTime = Field(None, description="When the entry was created (kept on import)")
    updated_at: UtcDateTime = Field(None, description="When the entry was last updated (kept on import)")
    journal: Annotated[list[JournalRecord], Field(max_length=MAX_JOURNAL_NOTES)] = Field(
        default_factory=list, description="Timestamped journal notes")


class TransferRecord(ModelFieldsOut):
    """One entry as exported (and as shown in an import preview). Its fields, in order, are the CSV columns."""

    status: str
    date_interacted: date | None
    rating: int | None
    tags: list[str]
    notes: str
    created_at: datetime | None
    updated_at: datetime | None
    journal: list[JournalRecord]


class RowError(BaseModel):
    row: int | None = Field(description="1-based data row (CSV: the header is not counted); null: the whole file")
    column: str | None = Field(None, description="Column / field the error is about, if any")
    message: str


class ImportReport(BaseModel):
    format: ExportFormat
    total_rows: int = Field(description="Data rows in the file")
    valid_rows: int = Field(description="Rows that passed validation")
    created: int = Field(0, description="Entries created (or that would be, in a dry run)")
    updated: int = Field(0, description="Existing entries of yours that the file changed")
    unchanged: int = Field(0, description="Rows identical to an existing entry of yours")
    errors: list[RowError] = Field(default_factory=list,
                                   description=f"Row errors (the first {MAX_REPORTED_ERRORS}; see error_count)")
    error_count: int = Field(0, description="Number of errors in total")
    warnings: list[str] = Field(default_factory=list, description="Ignored columns and other remarks")
    preview: list[TransferRecord] = Field(default_factory=list,
                                          description=f"The first {PREVIEW_ROWS} rows, normalised")
    committed: bool = Field(False, description="True when the import was written to your log")
