"""Catalog models: /api/v1/models (PATCH /models/{id} lives in tracker/endpoints.py: an edit refreshes the search
documents of every entry that shows the model, which is the tracker's work)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from modelmate.api.deps import CurrentUser, IdPath, SessionDep
from modelmate.catalog import service
from modelmate.catalog.schemas import ModelCreate, ModelOut, ModelPage, model_out
from modelmate.enums import ModelKind, ModelType
from modelmate.errors import ErrorResponse, OpenApiResponses

router = APIRouter(prefix="/models", tags=["catalog"])
ERRORS: OpenApiResponses = {404: {"model": ErrorResponse}, 409: {"model": ErrorResponse}, 403: {"model": ErrorResponse}}


@router.get("", response_model=ModelPage, summary="List catalog models")
def list_models(
    session: SessionDep, user: CurrentUser,
    q: Annotated[str | None, Query(max_length=200, description="Text in name, developer or HF id")] = None,
    model_type: Annotated[list[ModelType], Query()] = [],  # noqa: B006
    kind: Annotated[list[ModelKind], Query()] = [],  # noqa: B006
    developer: Annotated[str | None, Query(max_length=200)] = None,
    sort: Literal["name", "parameters", "created", "updated"] = "name",
    order: Literal["asc", "desc"] = "asc",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> ModelPage:
    items, total = service.list_models(session, viewer_id=user.id, q=q, model_type=[t.value for t in model_type],
                                       kind=[k.value for k in kind], developer=developer, sort=sort, order=order,
                                       limit=limit, offset=offset)
    return ModelPage(items=[model_out(m, user) for m in items], total=total, limit=limit, offset=offset)


@router.post("", response_model=ModelOut, status_code=201, responses=ERRORS, summary="Add a catalog model")
def create_model(payload: ModelCreate, session: SessionDep, user: CurrentUser) -> ModelOut:
    return model_out(service.create_model(session, user, payload), user)


@router.get("/{model_id}", response_model=ModelOut, responses=ERRORS, summary="Get a catalog model")
def get_model(model_id: IdPath, session: SessionDep, user: CurrentUser) -> ModelOut:
    return model_out(service.get_visible(session, user, model_id), user)


@router.delete("/{model_id}", status_code=204, responses=ERRORS, summary="Delete an unused catalog model")
def delete_model(model_id: IdPath, session: SessionDep, user: CurrentUser) -> Response:
    service.delete_model(session, user, model_id)
    return Response(status_code=204)
