"""API schemas for semantic features."""

from __future__ import annotations

from pydantic import BaseModel, Field

from modelmate.tracker.schemas import EntryOut


class SimilarEntry(BaseModel):
    entry: EntryOut
    score: float = Field(description="Cosine similarity of the two entries' embeddings (-1..1; higher is closer)")


class SimilarEntries(BaseModel):
    entry_id: int
    items: list[SimilarEntry]
    pending: int = Field(0, description="Your entries still waiting for their embedding (not searchable yet)")
