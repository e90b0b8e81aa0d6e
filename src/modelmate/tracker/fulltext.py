"""Full-text query text for SQLite FTS5 and PostgreSQL tsvector, and the highlight markers. Pure: no SQL.

User text is never passed to the FTS engine as query syntax: it is split into word tokens and
re-assembled as quoted phrases (FTS5) or escaped lexemes (PostgreSQL), so operators, quotes
and column filters in user input are inert. The SQL expressions built from these words (``matching_entry_ids``,
``pg_tsquery``, ``pg_tsquery_compact``) are in :mod:`modelmate.tracker.repository`, which keeps the index.
"""

from __future__ import annotations

import re

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
