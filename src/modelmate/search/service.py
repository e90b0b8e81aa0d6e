"""Search rules: run the chosen mode, load the entries of one page, turn highlights into inert segments."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from modelmate.models import User
from modelmate.search import repository as repo
from modelmate.search.fulltext import split_highlight
from modelmate.search.schemas import SearchHit, SearchMode, SearchResults, Segment, Snippet, SnippetField
from modelmate.semantic import service as semantic_service
from modelmate.tracker import repository as tracker_repo
from modelmate.tracker.schemas import EntryFilter
from modelmate.tracker.service import to_out

# One function per mode: (session, owner id, query, filters, limit, offset) → (ranked page, total, highlights).
Engine = Callable[[Session, int, str, EntryFilter, int, int],
                  tuple[list[tuple[int, float]], int, dict[int, dict[str, str]]]]


def _keyword(session: Session, owner_id: int, q: str, f: EntryFilter, limit: int,
             offset: int) -> tuple[list[tuple[int, float]], int, dict[int, dict[str, str]]]:
    ranked, total = repo.keyword_page(session, owner_id, q, f, limit=limit, offset=offset)
    highlights = repo.keyword_highlights(session, owner_id, q, [entry_id for entry_id, _ in ranked])
    return ranked, total, highlights


ENGINES: dict[SearchMode, Engine] = {
    SearchMode.KEYWORD: _keyword,
    SearchMode.SEMANTIC: semantic_service.semantic_engine,
    SearchMode.HYBRID: semantic_service.hybrid_engine,
}


def snippets(marked_fields: dict[str, str]) -> list[Snippet]:
    out = []
    for field in SnippetField:
        marked = marked_fields.get(field.value)
        if not marked:
            continue
        segments = [Segment(text=t, match=m) for t, m in split_highlight(marked)]
        if any(s.match for s in segments):
            out.append(Snippet(field=field, segments=segments))
    return out


def search(session: Session, user: User, q: str, *, mode: SearchMode = SearchMode.KEYWORD,
           filters: EntryFilter | None = None, limit: int = 20, offset: int = 0) -> SearchResults:
    ranked, total, highlights = ENGINES[mode](session, user.id, q, filters or EntryFilter(), limit, offset)
    entries = {e.id: e for e in tracker_repo.get_entries(session, user.id, [entry_id for entry_id, _ in ranked])}
    items = [SearchHit(entry=to_out(entries[entry_id]), score=score, snippets=snippets(highlights.get(entry_id, {})))
             for entry_id, score in ranked if entry_id in entries]
    return SearchResults(query=q, mode=mode, total=total, limit=limit, offset=offset, items=items)
