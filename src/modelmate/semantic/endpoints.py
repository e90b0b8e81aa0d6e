"""/api/v1/entries/{id}/similar: your entries nearest in meaning to one of them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from modelmate.api.deps import CurrentUser, IdPath, SessionDep, SettingsDep
from modelmate.errors import ErrorResponse
from modelmate.semantic import service
from modelmate.semantic.schemas import SimilarEntries

router = APIRouter(tags=["search"])


@router.get("/entries/{entry_id}/similar", response_model=SimilarEntries,
            responses={404: {"model": ErrorResponse}, 409: {"model": ErrorResponse}},
            summary="Your entries most similar in meaning to this one (semantic embeddings)")
def similar_entries(entry_id: IdPath, session: SessionDep, user: CurrentUser, settings: SettingsDep,
                    limit: Annotated[int, Query(ge=1, le=50)] = 10) -> SimilarEntries:
    service.require_enabled(settings)
    return service.similar_entries(session, user, entry_id, limit)
