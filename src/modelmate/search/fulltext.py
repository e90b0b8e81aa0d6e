"""Full-text query building for SQLite FTS5 and PostgreSQL tsvector.

User text is never passed to the FTS engine as query syntax: it is split into word tokens and
re-assembled as quoted phrases (FTS5) or escaped lexemes (PostgreSQL), so operators, quotes
and column filters in user input are inert.
"""

from __future__ import annotations

import re

from sqlalchemy import Boolean, ColumnElement, Text, TextClause, bindparam, cast, func, literal_column, select, text
from sqlalchemy.dialects.postgresql import TSQUERY, TSVECTOR
from sqlalchemy.orm import Session
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
    query = pg_tsquery(q)
    if query is None:
        return None
    return (
        select(SearchDocument.entry_id)
        .where(SearchDocument.owner_id == owner_id)
        .where(pg_tsv().op("@@", return_type=Boolean)(query))
    )


def pg_tsv() -> ColumnElement:
    """The generated ``search_documents.tsv`` column (PostgreSQL only; not mapped in the ORM)."""
    return literal_column("search_documents.tsv", TSVECTOR)


def pg_match_clause(parts: list[str]) -> TextClause:
    """``tsv @@ ((simple(t1) || english(t1)) && (simple(t2) || english(t2)) ...)``."""
    pieces = []
    params = {}
    for i, part in enumerate(parts):
        pieces.append(f"(to_tsquery('simple', :tq{i}) || to_tsquery('english', :tq{i}))")
        params[f"tq{i}"] = part
    return text("search_documents.tsv @@ (" + " && ".join(pieces) + ")").bindparams(**params)


# --- query words (raw word + its tokens) ------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def query_words(q: str) -> list[tuple[str, list[str]]]:
    """Like :func:`query_terms`, keeping each whitespace-separated word (control characters removed) too."""
    words: list[tuple[str, list[str]]] = []
    for word in _CONTROL.sub(" ", q).split():
        tokens = _WORD.findall(word)
        if tokens:
            words.append((word[:100], [t.lower() for t in tokens]))
        if len(words) >= MAX_TERMS:
            break
    return words


def pg_tsquery(q: str) -> ColumnElement | None:
    """A PostgreSQL ``tsquery`` expression for user text (None: nothing searchable).

    Every word must match (``&&``); a word matches through any of: its word tokens as a phrase with a
    prefix on the last one, in the ``simple`` and ``english`` configurations, or PostgreSQL's own parse of
    the raw word (``phraseto_tsquery``), also with a prefix on its last lexeme. The last form is what finds
    ``llama-3.1`` (parsed as ``llama`` + ``-3.1``) and ``gpt-4o`` the way they were indexed. User text is only
    ever a bound value: ``phraseto_tsquery`` has no syntax, and the token phrases are made of ``\\w`` tokens.
    """
    words = query_words(q)
    if not words:
        return None
    combined: ColumnElement | None = None
    for i, (word, tokens) in enumerate(words):
        simple, english, parsed_prefix = _pg_word_forms(i, word, tokens)
        alternatives = (simple.op("||", return_type=TSQUERY)(english)
                        .op("||", return_type=TSQUERY)(parsed_prefix))
        term = alternatives.self_group()
        combined = term if combined is None else combined.op("&&", return_type=TSQUERY)(term)
    return combined


def _pg_word_forms(i: int, word: str, tokens: list[str]) -> tuple[ColumnElement, ColumnElement, ColumnElement]:
    """The three ways one word matches (see :func:`pg_tsquery`), as tsquery expressions."""
    phrase = " <-> ".join(tokens[:-1] + [tokens[-1] + ":*"])
    tq = bindparam(f"pg_tq{i}", phrase, type_=Text, unique=True)
    raw = bindparam(f"pg_w{i}", word, type_=Text, unique=True)
    parsed = func.phraseto_tsquery(literal_column("'simple'"), raw, type_=TSQUERY)
    parsed_prefix = func.coalesce(
        cast(func.nullif(cast(parsed, Text), "").concat(":*"), TSQUERY),
        cast(literal_column("''"), TSQUERY),
    )
    return (func.to_tsquery(literal_column("'simple'"), tq, type_=TSQUERY),
            func.to_tsquery(literal_column("'english'"), tq, type_=TSQUERY), parsed_prefix)


def pg_tsquery_compact(session: Session, q: str) -> ColumnElement | None:
    """The tsquery of :func:`pg_tsquery` with each word's identical forms kept once, as one constant.

    For most words the three forms are the same (``'llama':* | 'llama':* | 'llama':*``), and ``ts_rank_cd()``
    pays for every operand of every matching document: ranking 51k matches took 161 ms with the repeated
    operands and 88 ms without, with identical scores (issue 15 §4). The forms are computed by the server in one
    round trip (PostgreSQL's parsers and stemmers decide them), de-duplicated as text, and sent back as one bound
    value cast to ``tsquery`` (tsquery text output reads back as the same query). Matches are unchanged: a
    repeated alternative of an OR adds nothing, and an empty form drops out as ``||``/``&&`` drop it.
    None: nothing searchable (no words, or only words without lexemes, which match nothing either way).
    """
    words = query_words(q)
    if not words:
        return None
    forms = [cast(form, Text) for i, (word, tokens) in enumerate(words) for form in _pg_word_forms(i, word, tokens)]
    texts = session.execute(select(*forms)).one()
    groups = []
    for i in range(len(words)):
        distinct: list[str] = []
        for t in texts[3 * i:3 * i + 3]:
            if t and t not in distinct:
                distinct.append(t)
        if distinct:
            groups.append(" | ".join(f"( {t} )" for t in distinct))
    if not groups:
        return None
    return cast(bindparam("pg_tsq", " & ".join(f"( {g} )" for g in groups), type_=Text, unique=True), TSQUERY)


# --- highlight markers -------------------------------------------------------------------------------------------

# Private-use characters mark the start and end of a match in FTS5 highlight()/snippet() and ts_headline()
# output. They are split into segments by :func:`split_highlight`; no markup ever reaches the client.
MARK_START = "\ue000"
MARK_END = "\ue001"
ELLIPSIS = "…"
_MARKS = re.compile(f"([{MARK_START}{MARK_END}])")


def split_highlight(marked: str) -> list[tuple[str, bool]]:
    """``'a \\ue000b\\ue001 c'`` → ``[('a ', False), ('b', True), (' c', False)]`` (adjacent pieces merged)."""
    out: list[tuple[str, bool]] = []
    in_match = False
    for piece in _MARKS.split(marked):
        if piece == MARK_START:
            in_match = True
        elif piece == MARK_END:
            in_match = False
        elif piece:
            if out and out[-1][1] == in_match:
                out[-1] = (out[-1][0] + piece, in_match)
            else:
                out.append((piece, in_match))
    return out


def has_match(marked: str | None) -> bool:
    return bool(marked) and MARK_START in marked  # type: ignore[operator]


# PostgreSQL's ts_headline() drops what its parser takes for XML tags and entities (``<script>``, ``&amp;``).
# The text handed to it has ``<`` and ``&`` swapped for control characters (and our markers removed), so the
# user's text comes back verbatim; :func:`pg_restore` swaps them back.
PG_PROTECT_FROM = "<&" + MARK_START + MARK_END
PG_PROTECT_TO = "\x01\x02"


def pg_restore(headline: str) -> str:
    return headline.replace("\x01", "<").replace("\x02", "&")


def pg_align(marked: str, original: str, *, fragment: bool) -> str:
    """Re-attach what ts_headline trimmed at the edges of its fragment (punctuation next to the first or last
    word, such as the ``<`` of ``<script>``), and mark a cut with an ellipsis like FTS5's snippet() does."""
    plain = marked.replace(MARK_START, "").replace(MARK_END, "")
    if not plain:
        return marked
    start = original.find(plain)
    if start < 0:
        return marked
    end = start + len(plain)
    lead_from = start
    while lead_from > 0 and not original[lead_from - 1].isspace() and start - lead_from < 40:
        lead_from -= 1
    trail_to = end
    while trail_to < len(original) and not original[trail_to].isspace() and trail_to - end < 40:
        trail_to += 1
    result = original[lead_from:start] + marked + original[end:trail_to]
    if fragment:
        if original[:lead_from].strip():
            result = ELLIPSIS + result
        if original[trail_to:].strip():
            result = result + ELLIPSIS
    return result
