"""Full-text query building for SQLite FTS5 and PostgreSQL tsvector.

User text is never passed to the FTS engine as query syntax: it is split into word tokens and
re-assembled as quoted phrases (FTS5) or escaped lexemes (PostgreSQL), so operators, quotes
and column filters in user input are inert.
"""

from __future__ import annotations

import re

from sqlalchemy import ColumnElement, bindparam, literal_column, select, text
from sqlalchemy.sql import Select

from modelmate.models import SearchDocument

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_TERMS = 12


def query_terms(q: str) -> list[list[str]]:
    """Split user text into terms; each term is the list of word tokens of one whitespace-separated word."""
    terms: list[list[str]] = []
    for word in q.split():
        tokens = _WORD.findall(word)
        if tokens:
            terms.append([t.lower() for t in tokens])
        if len(terms) >= MAX_TERMS:
            break
    return terms


def fts5_query(q: str) -> str | None:
    """``llama code`` → ``"llama"* AND "code"*``; ``llama-3.1`` → ``"llama 3 1"*`` (a phrase)."""
    terms = query_terms(q)
    if not terms:
        return None
    return " AND ".join('"' + " ".join(tokens) + '"*' for tokens in terms)


def pg_tsquery_parts(q: str) -> list[str]:
    """One tsquery string per term: tokens joined as a phrase, the last one a prefix."""
    parts = []
    for tokens in query_terms(q):
        parts.append(" <-> ".join(tokens[:-1] + [tokens[-1] + ":*"]))
    return parts


def matching_entry_ids(dialect: str, owner_id: int, q: str) -> Select | None:
    """A SELECT of entry ids owned by ``owner_id`` whose document matches ``q`` (None: nothing searchable)."""
    if dialect == "sqlite":
        expr = fts5_query(q)
        if expr is None:
            return None
        return (
            select(SearchDocument.entry_id)
            .where(SearchDocument.owner_id == owner_id)
            .where(SearchDocument.entry_id.in_(
                select(literal_column("rowid")).select_from(text("search_fts"))
                .where(text("search_fts MATCH :fts_q").bindparams(bindparam("fts_q", expr)))
            ))
        )
    parts = pg_tsquery_parts(q)
    if not parts:
        return None
    return (
        select(SearchDocument.entry_id)
        .where(SearchDocument.owner_id == owner_id)
        .where(pg_match_clause(parts))
    )


def pg_match_clause(parts: list[str]) -> ColumnElement[bool]:
    """``tsv @@ ((simple(t1) || english(t1)) && (simple(t2) || english(t2)) ...)``."""
    pieces = []
    params = {}
    for i, part in enumerate(parts):
        pieces.append(f"(to_tsquery('simple', :tq{i}) || to_tsquery('english', :tq{i}))")
        params[f"tq{i}"] = part
    return text("search_documents.tsv @@ (" + " && ".join(pieces) + ")").bindparams(**params)
