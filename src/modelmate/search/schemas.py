"""API schemas for search: ranked hits with highlight segments (never HTML)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from modelmate.tracker.schemas import EntryOut

MAX_QUERY = 200


class SearchMode(StrEnum):
    """How the query is matched. ``keyword`` is full-text (FTS5 / tsvector); more modes plug in here."""

    KEYWORD = "keyword"
    SEMANTIC = "semantic"  # meaning: cosine similarity of sentence embeddings (modelmate.semantic)
    HYBRID = "hybrid"  # reciprocal-rank fusion of keyword and semantic


class SnippetField(StrEnum):
    NAME = "name"
    DEVELOPER = "developer"
    DESCRIPTION = "description"
    TAGS = "tags"
    NOTES = "notes"


class Segment(BaseModel):
    text: str = Field(description="Plain text, verbatim (render it as text, never as HTML)")
    match: bool = Field(description="True for the words that matched the query")


class Snippet(BaseModel):
    field: SnippetField
    segments: list[Segment] = Field(description="Concatenated, the segments give the (possibly cut) field text")


class SearchHit(BaseModel):
    entry: EntryOut
    score: float = Field(description="Relevance; higher is better. Comparable only within one response")
    snippets: list[Snippet] = Field(description="Only the fields that matched, in field order")


class SearchResults(BaseModel):
    query: str
    mode: SearchMode
    total: int
    limit: int
    offset: int
    items: list[SearchHit]
