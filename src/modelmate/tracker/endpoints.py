"""Tracker entries: /api/v1/entries (+ journal, history, bulk), /api/v1/tags, and PATCH /api/v1/models/{id}
(a catalog edit that also refreshes the search documents of every entry showing the model)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Response

from modelmate.api.deps import MAX_ID, CurrentUser, IdPath, SessionDep
from modelmate.catalog.schemas import MAX_PARAMETERS, ModelOut, ModelUpdate, model_out
from modelmate.enums import EntryStatus, ModelType
from modelmate.errors import ErrorResponse, OpenApiResponses
from modelmate.tracker import service
from modelmate.tracker.schemas import (
    BulkRequest,
    BulkResult,
    EntryCreate,
    EntryFilter,
    EntryOut,
    EntryPage,
    EntryUpdate,
    EventOut,
    JournalCreate,
    JournalOut,
    SortField,
    SortOrder,
    TagMode,
    TagOut,
)

router = APIRouter(tags=["entries"])
ERRORS: OpenApiResponses = {404: {"model": ErrorResponse}, 409: {"model": ErrorResponse}, 403: {"model": ErrorResponse}}


@router.get("/entries", response_model=EntryPage, summary="List your entries with filters, sort and facets")
def list_entries(
    session: SessionDep, user: CurrentUser,
    status: Annotated[list[EntryStatus], Query(description="Any of these statuses")] = [],  # noqa: B006
    model_type: Annotated[list[ModelType], Query(description="Any of these model types")] = [],  # noqa: B006
    tag: Annotated[list[Annotated[str, Query(max_length=64)]], Query(max_length=20)] = [],  # noqa: B006
    tag_mode: Annotated[TagMode, Query(description="Match any or all of the tags")] = TagMode.ANY,
    date_from: Annotated[date | None, Query(description="date_interacted on or after")] = None,
    date_to: Annotated[date | None, Query(description="date_interacted on or before")] = None,
    developer: Annotated[list[Annotated[str, Query(max_length=200)]], Query(max_length=20)] = [],  # noqa: B006
    license: Annotated[list[Annotated[str, Query(max_length=100)]], Query(max_length=20)] = [],  # noqa: B006
    min_parameters: Annotated[int | None, Query(ge=0, le=MAX_PARAMETERS)] = None,
    max_parameters: Annotated[int | None, Query(ge=0, le=MAX_PARAMETERS)] = None,
    min_rating: Annotated[int | None, Query(ge=1, le=5)] = None,
    q: Annotated[str | None, Query(max_length=200, description="Full-text query")] = None,
    ids: Annotated[list[Annotated[int, Query(ge=1, le=MAX_ID)]], Query(max_length=200)] = [],  # noqa: B006
    sort: SortField = SortField.UPDATED,
    order: SortOrder = SortOrder.DESC,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    facets: Annotated[bool, Query(description="Include facet counts")] = False,
) -> EntryPage:
    f = EntryFilter(status=status, model_type=[t.value for t in model_type], tag=tag, tag_mode=tag_mode,
                    date_from=date_from, date_to=date_to, developer=developer, license=license,
                    min_parameters=min_parameters, max_parameters=max_parameters, min_rating=min_rating, q=q,
                    ids=ids)
    return service.list_entries(session, user, f, sort=sort, order=order, limit=limit, offset=offset,
                                facets=facets)


@router.post("/entries", response_model=EntryOut, status_code=201, responses=ERRORS,
             summary="Log a model (creates the catalog model if it is unknown)")
def create_entry(payload: EntryCreate, session: SessionDep, user: CurrentUser) -> EntryOut:
    return service.to_out(service.create_entry(session, user, payload))


@router.post("/entries/bulk", response_model=BulkResult, responses=ERRORS,
             summary="Change status, add/remove tags or delete many entries at once")
def bulk(payload: BulkRequest, session: SessionDep, user: CurrentUser) -> BulkResult:
    return BulkResult(action=payload.action, affected=service.bulk(session, user, payload))


@router.get("/entries/{entry_id}", response_model=EntryOut, responses=ERRORS, summary="Get an entry")
def get_entry(entry_id: IdPath, session: SessionDep, user: CurrentUser) -> EntryOut:
    return service.to_out(service.get_entry(session, user, entry_id))


@router.patch("/entries/{entry_id}", response_model=EntryOut, responses=ERRORS, summary="Update an entry")
def update_entry(entry_id: IdPath, payload: EntryUpdate, session: SessionDep, user: CurrentUser) -> EntryOut:
    return service.to_out(service.update_entry(session, user, entry_id, payload))


@router.delete("/entries/{entry_id}", status_code=204, responses=ERRORS, summary="Delete an entry")
def delete_entry(entry_id: IdPath, session: SessionDep, user: CurrentUser) -> Response:
    service.delete_entry(session, user, entry_id)
    return Response(status_code=204)


@router.get("/entries/{entry_id}/history", response_model=list[EventOut], responses=ERRORS,
            summary="Status history and changes of an entry")
def entry_history(entry_id: IdPath, session: SessionDep, user: CurrentUser) -> list[EventOut]:
    return [EventOut.model_validate(e) for e in service.history(session, user, entry_id)]


@router.get("/entries/{entry_id}/journal", response_model=list[JournalOut], responses=ERRORS,
            summary="Journal notes of an entry, newest first")
def list_journal(entry_id: IdPath, session: SessionDep, user: CurrentUser) -> list[JournalOut]:
    return [JournalOut.model_validate(n) for n in service.list_journal(session, user, entry_id)]


@router.post("/entries/{entry_id}/journal", response_model=JournalOut, status_code=201, responses=ERRORS,
             summary="Add a timestamped journal note")
def add_journal(entry_id: IdPath, payload: JournalCreate, session: SessionDep, user: CurrentUser) -> JournalOut:
    return JournalOut.model_validate(service.add_journal(session, user, entry_id, payload.body))


@router.patch("/entries/{entry_id}/journal/{note_id}", response_model=JournalOut, responses=ERRORS,
              summary="Edit a journal note")
def edit_journal(entry_id: IdPath, note_id: IdPath, payload: JournalCreate, session: SessionDep,
                 user: CurrentUser) -> JournalOut:
    return JournalOut.model_validate(service.edit_journal(session, user, entry_id, note_id, payload.body))


@router.delete("/entries/{entry_id}/journal/{note_id}", status_code=204, responses=ERRORS,
               summary="Delete a journal note")
def delete_journal(entry_id: IdPath, note_id: IdPath, session: SessionDep, user: CurrentUser) -> Response:
    service.delete_journal(session, user, entry_id, note_id)
    return Response(status_code=204)


@router.get("/tags", response_model=list[TagOut], summary="Your tags with usage counts (for autocomplete)")
def list_tags(session: SessionDep, user: CurrentUser,
              q: Annotated[str | None, Query(max_length=64, description="Tag prefix")] = None,
              limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[TagOut]:
    return [TagOut(name=n, count=c) for n, c in service.list_tags(session, user, q, limit)]


# Mounted beside the catalog's /models routes (same tag); here because the tracker owns the search documents.
models_router = APIRouter(prefix="/models", tags=["catalog"])


@models_router.patch("/{model_id}", response_model=ModelOut, responses=ERRORS, summary="Update a catalog model")
def update_model(model_id: IdPath, payload: ModelUpdate, session: SessionDep, user: CurrentUser) -> ModelOut:
    return model_out(service.update_catalog_model(session, user, model_id, payload), user)
