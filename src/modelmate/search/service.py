"""Search rules: run the chosen mode, load the entries of one page, turn highlights into inert segments.

Hybrid ranking fuses the keyword (full-text) and semantic rankings with reciprocal-rank fusion:
``score = Σ 1 / (RRF_K + rank)`` over the rankings an entry appears in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy.orm import Session

from modelmate.models import User
from modelmate.search import repository as repo
from modelmate.search.schemas import SearchHit, SearchMode, SearchResults, Segment, Snippet, SnippetField
from modelmate.semantic import service as semantic_service
from modelmate.tracker import repository as tracker_repo
from modelmate.tracker.fulltext import split_highlight
from modelmate.tracker.schemas import EntryFilter, Ranked
from modelmate.tracker.service import to_out

# One function per mode: (session, owner id, query, filters, limit, offset) → (ranked page, total, highlights).
Engine = Callable[[Session, int, str, EntryFilter, int, int],
                  tuple[list[tuple[int, float]], int, dict[int, dict[str, str]]]]


def _keyword(session: Session, owner_id: int, q: str, f: EntryFilter, limit: int,
             offset: int) -> tuple[list[tuple[int, float]], int, dict[int, dict[str, str]]]:
    ranked, total = repo.keyword_page(session, owner_id, q, f, limit=limit, offset=offset)
    highlights = repo.keyword_highlights(session, owner_id, q, [entry_id for entry_id, _ in ranked])
    return ranked, total, highlights


RRF_K = 60


def rrf(rankings: Sequence[Sequence[int]], k: int = RRF_K) -> Ranked:
    """Reciprocal-rank fusion of rankings of ids (best first). Ties keep the first ranking's order."""
    scores: dict[int, float] = {}
    first_seen: dict[int, tuple[int, int]] = {}
    for r_i, ranking in enumerate(rankings):
        for rank, entry_id in enumerate(ranking, start=1):
            scores[entry_id] = scores.get(entry_id, 0.0) + 1.0 / (k + rank)
            first_seen.setdefault(entry_id, (r_i, rank))
    return sorted(scores.items(), key=lambda kv: (-kv[1], first_seen[kv[0]]))


def hybrid_engine(session: Session, owner_id: int, q: str, f: EntryFilter, limit: int,
                  offset: int) -> tuple[Ranked, int, dict[int, dict[str, str]]]:
    """Search-mode engine ``hybrid``: RRF of the keyword and semantic rankings; keyword highlights kept."""
    depth = max(semantic_service.FUSION_DEPTH, offset + limit)
    keyword, _ = repo.keyword_page(session, owner_id, q, f, limit=depth, offset=0)
    semantic = semantic_service.semantic_ranking(session, owner_id, q, f, depth=depth)
    fused = rrf([[i for i, _ in keyword], [i for i, _ in semantic]])
    page = fused[offset:offset + limit]
    highlights = repo.keyword_highlights(session, owner_id, q, [i for i, _ in page])
    return page, len(fused), highlights


ENGINES: dict[SearchMode, Engine] = {
    SearchMode.KEYWORD: _keyword,
    SearchMode.SEMANTIC: semantic_service.semantic_engine,
    SearchMode.HYBRID: hybrid_engine,
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
