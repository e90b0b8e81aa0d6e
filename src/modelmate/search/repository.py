"""SQL for full-text search: ranked pages and highlighted fields, on SQLite FTS5 and PostgreSQL tsvector.

Ranking: FTS5 ``bm25()`` with per-column weights (name highest) on SQLite; ``ts_rank_cd()`` over the weighted
``search_documents.tsv`` (name A, developer/tags B, description C, notes D) on PostgreSQL. Highlights use the
private-use markers of :mod:`modelmate.tracker.fulltext`; only the rows of one page are highlighted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnClause,
    ColumnElement,
    Float,
    Integer,
    Select,
    bindparam,
    case,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.orm import QueryableAttribute, Session
from sqlalchemy.sql.elements import TextClause

from modelmate.models import Entry, SearchDocument
from modelmate.tracker.fulltext import (
    ELLIPSIS,
    MARK_END,
    MARK_START,
    PG_PROTECT_FROM,
    PG_PROTECT_TO,
    fts5_query,
    has_match,
    pg_align,
    pg_restore,
)
from modelmate.tracker.repository import filtered, pg_tsquery_compact, pg_tsv
from modelmate.tracker.schemas import EntryFilter, Ranked

FIELDS = ("name", "developer", "description", "tags", "notes")
# bm25() column weights, in the FTS5 table's column order (name, developer, description, tags, notes).
FTS5_WEIGHTS = (10.0, 4.0, 2.0, 4.0, 1.0)
# ts_rank_cd() weights for the tsvector labels {D, C, B, A}: notes, description, developer/tags, name.
PG_WEIGHTS = "{0.1,0.2,0.4,1.0}"
# Fragment sizes (in words/tokens) for long fields; short fields are returned whole.
NOTES_WORDS = 20
DESCRIPTION_WORDS = 24

_FTS = table("search_fts", column("rowid", Integer))
_FTS_REF: ColumnClause[Any] = literal_column("search_fts")



def _scope(session: Session, owner_id: int, f: EntryFilter | None) -> Select | None:
    """Entry ids allowed by the filters (None: no filter beyond ownership)."""
    if f is None or not (f.status or f.model_type or f.tag or f.ids):
        return None
    return filtered(session, owner_id, f).with_only_columns(Entry.id).order_by(None)


def keyword_page(session: Session, owner_id: int, q: str, f: EntryFilter | None, *, limit: int,
                 offset: int) -> tuple[Ranked, int]:
    """One page of (entry id, score) best first (higher score is better), and the total number of matches."""
    if session.get_bind().dialect.name == "sqlite":
        return _fts5_page(session, owner_id, q, f, limit=limit, offset=offset)
    return _pg_page(session, owner_id, q, f, limit=limit, offset=offset)


def keyword_highlights(session: Session, owner_id: int, q: str, entry_ids: Sequence[int]) -> dict[int, dict[str, str]]:
    """Per entry, the marked text of each field that matched (long fields cut to a window around a match)."""
    if not entry_ids:
        return {}
    if session.get_bind().dialect.name == "sqlite":
        return _fts5_highlights(session, owner_id, q, entry_ids)
    return _pg_highlights(session, owner_id, q, entry_ids)


# --- SQLite FTS5 ---------------------------------------------------------------------------------------------

def _fts5_match(expr: str) -> TextClause:
    return text("search_fts MATCH :fts_q").bindparams(bindparam("fts_q", expr))


def _fts5_owned(owner_id: int) -> ColumnElement[bool]:
    """The matched row belongs to ``owner_id``: one primary-key lookup per match.

    Never a JOIN with search_documents: SQLite's planner then likes to walk the owner's documents first and
    run the full-text query once per document (``SCAN search_fts VIRTUAL TABLE INDEX 0:=M5``) — measured
    at over 30 s for 100k entries. A correlated scalar subquery keeps the FTS5 match the driving loop.
    """
    owner = select(SearchDocument.owner_id).where(SearchDocument.entry_id == _FTS.c.rowid).scalar_subquery()
    return owner == owner_id


def _sole_owner(session: Session, owner_id: int) -> bool:
    """True when every search document belongs to ``owner_id`` (a one-user install, the common case).

    Two empty range seeks of ``ix_search_documents_owner_id`` (``owner_id < ? OR owner_id > ?``), read in the
    request's transaction, so the match that follows sees the same snapshot.
    """
    other = (select(SearchDocument.entry_id)
             .where(or_(SearchDocument.owner_id < owner_id, SearchDocument.owner_id > owner_id)).limit(1))
    return session.scalar(other) is None


def _fts5_page(session: Session, owner_id: int, q: str, f: EntryFilter | None, *, limit: int,
               offset: int) -> tuple[Ranked, int]:
    expr = fts5_query(q)
    if expr is None:
        return [], 0
    rank = func.bm25(_FTS_REF, *FTS5_WEIGHTS, type_=Float)
    base = select(_FTS.c.rowid).select_from(_FTS).where(_fts5_match(expr))
    scope = _scope(session, owner_id, f)
    if scope is not None:
        # The scope is the owner's filtered entries, so it implies ownership.
        base = base.where((_FTS.c.rowid + 0).in_(scope))  # "+0": a probe of the list, not an FTS rowid lookup
    elif not _sole_owner(session, owner_id):
        # The ownership lookup costs a primary-key probe per match (~60 % of a 10k-match count, issue 15 §4);
        # when the owner has every document, the match alone is the owner's set and the count reads the index.
        base = base.where(_fts5_owned(owner_id))
    total = session.scalar(base.with_only_columns(func.count())) or 0
    if total == 0 or offset >= total:
        return [], total
    page = base.add_columns(rank.label("rank")).order_by(rank, _FTS.c.rowid.desc()).limit(limit).offset(offset)
    # bm25() is "lower is better" and negative; flip it so every backend reports "higher is better".
    return [(int(entry_id), -float(r)) for entry_id, r in session.execute(page)], total


def _fts5_highlights(session: Session, owner_id: int, q: str, entry_ids: Sequence[int]) -> dict[int, dict[str, str]]:
    expr = fts5_query(q)
    if expr is None:
        return {}
    mark = (MARK_START, MARK_END)
    cols = [
        func.highlight(_FTS_REF, 0, *mark),
        func.highlight(_FTS_REF, 1, *mark),
        func.snippet(_FTS_REF, 2, *mark, ELLIPSIS, DESCRIPTION_WORDS),
        func.highlight(_FTS_REF, 3, *mark),
        func.snippet(_FTS_REF, 4, *mark, ELLIPSIS, NOTES_WORDS),
    ]
    # Only the page's rows get highlighted. "rowid + 0": the ids are checked against each match; as an FTS5
    # rowid constraint each id would re-run the (prefix) query: 80 ms instead of 5 ms for "qwen 2" at 100k.
    stmt = (select(_FTS.c.rowid, *cols).select_from(_FTS)
            .where(_fts5_match(expr), (_FTS.c.rowid + 0).in_(list(entry_ids)), _fts5_owned(owner_id)))
    out: dict[int, dict[str, str]] = {}
    for row in session.execute(stmt):
        out[int(row[0])] = {name: value for name, value in zip(FIELDS, row[1:], strict=True) if has_match(value)}
    return out


# --- PostgreSQL tsvector -------------------------------------------------------------------------------------

def _pg_page(session: Session, owner_id: int, q: str, f: EntryFilter | None, *, limit: int,
             offset: int) -> tuple[Ranked, int]:
    query = pg_tsquery_compact(session, q)
    if query is None:
        return [], 0
    base = (select(SearchDocument.entry_id)
            .where(SearchDocument.owner_id == owner_id, pg_tsv().op("@@")(query)))
    scope = _scope(session, owner_id, f)
    if scope is not None:
        base = base.where(SearchDocument.entry_id.in_(scope))
    total = session.scalar(base.with_only_columns(func.count())) or 0
    if total == 0 or offset >= total:
        return [], total
    rank = func.ts_rank_cd(literal_column(f"'{PG_WEIGHTS}'::float4[]"), pg_tsv(), query, type_=Float)
    page = base.add_columns(rank.label("rank")).order_by(rank.desc(), SearchDocument.entry_id.desc())
    rows = session.execute(page.limit(limit).offset(offset))
    return [(int(entry_id), float(r)) for entry_id, r in rows], total


def _pg_headline(col: ColumnElement[Any] | QueryableAttribute[Any], config: str, query: ColumnElement,
                 options: str) -> ColumnElement:
    protected = func.translate(col, PG_PROTECT_FROM, PG_PROTECT_TO)
    return func.ts_headline(literal_column(f"'{config}'"), protected, query, options)


def _pg_highlights(session: Session, owner_id: int, q: str, entry_ids: Sequence[int]) -> dict[int, dict[str, str]]:
    query = pg_tsquery_compact(session, q)
    if query is None:
        return {}
    sel = f'StartSel="{MARK_START}", StopSel="{MARK_END}"'
    whole = f"{sel}, HighlightAll=true"

    def window(col: QueryableAttribute[Any], config: str, words: int) -> ColumnElement:
        """Whole text when it is about ``words`` words or fewer (as FTS5's snippet() does), else one fragment."""
        fragment = f"{sel}, MaxWords={words}, MinWords={max(words // 2, 1)}, MaxFragments=1"
        word_count = func.length(func.regexp_replace(func.btrim(col), r"\S+\s*", "x", "g"))
        short = (func.length(col) <= words * 40) & (word_count <= words)
        return case((short, _pg_headline(col, config, query, whole)),
                    else_=_pg_headline(col, config, query, fragment))

    d = SearchDocument
    configs = {
        "name": (d.name, "simple", None),
        "developer": (d.developer, "simple", None),
        "description": (d.description, "english", DESCRIPTION_WORDS),
        "tags": (d.tags, "simple", None),
        "notes": (d.notes, "english", NOTES_WORDS),
    }
    cols: list[ColumnElement[Any] | QueryableAttribute[Any]] = []
    for col, config, words in configs.values():
        cols += [col, _pg_headline(col, config, query, whole) if words is None else window(col, config, words)]
    stmt = select(d.entry_id, *cols).where(d.owner_id == owner_id, d.entry_id.in_(list(entry_ids)))
    out: dict[int, dict[str, str]] = {}
    for row in session.execute(stmt):
        fields: dict[str, str] = {}
        for i, name in enumerate(configs):
            original, headline = row[1 + 2 * i], row[2 + 2 * i]
            if has_match(headline):
                fields[name] = pg_align(pg_restore(headline), original or "", fragment=True)
        out[int(row[0])] = fields
    return out
