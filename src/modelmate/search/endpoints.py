"""/api/v1/search: full-text search over your entries with highlighted snippets."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from modelmate.api.deps import CurrentUser, SessionDep, SettingsDep
from modelmate.enums import EntryStatus, ModelType
from modelmate.errors import ErrorResponse
from modelmate.search import service
from modelmate.search.schemas import MAX_QUERY, SearchMode, SearchResults
from modelmate.semantic import service as semantic_service
from modelmate.tracker.schemas import EntryFilter

router = APIRouter(tags=["search"])


@router.get("/search", response_model=SearchResults, responses={422: {"model": ErrorResponse}},
            summary="Search your entries (name, developer, description, tags, notes, journal), best match first")
def search(
    session: SessionDep, user: CurrentUser, settings: SettingsDep,
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY,
                            description="Words to find; every word must match, the last letters may be left off. "
                                        "Plain text: quotes and operators have no special meaning")],
    mode: Annotated[SearchMode, Query(description="keyword: full-text; semantic: by meaning (embeddings); "
                                                  "hybrid: both, fused by reciprocal rank")] = SearchMode.KEYWORD,
    status: Annotated[list[EntryStatus], Query(description="Any of these statuses")] = [],  # noqa: B006
    model_type: Annotated[list[ModelType], Query(description="Any of these model types")] = [],  # noqa: B006
    tag: Annotated[list[Annotated[str, Query(max_length=64)]],
                   Query(max_length=20, description="Any of these tags")] = [],  # noqa: B006
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> SearchResults:
    if mode != SearchMode.KEYWORD:
        semantic_service.require_enabled(settings)
    f = EntryFilter(status=status, model_type=[t.value for t in model_type], tag=tag)
    return service.search(session, user, q, mode=mode, filters=f, limit=limit, offset=offset)
