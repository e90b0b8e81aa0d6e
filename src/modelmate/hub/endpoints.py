"""/api/v1 hub: model pages (by owner/slug and by id), publishing, thumbs up/down, download, lineage."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from modelmate.api.deps import MAX_ID, CurrentUser, IdPath, OptionalUser, SessionDep, SettingsDep
from modelmate.config import Settings
from modelmate.errors import ErrorResponse, OpenApiResponses
from modelmate.hub import download, lineage, playground, service
from modelmate.hub.schemas import FeedbackBlock, FeedbackIn, LineageOut, ModelPageOut, ModelPatch
from modelmate.models import Model, User

router = APIRouter(tags=["hub"])

NOT_FOUND: OpenApiResponses = {404: {"model": ErrorResponse, "description": "No such model, or not visible to you"}}
SIGN_IN: OpenApiResponses = {401: {"model": ErrorResponse, "description": "Sign in first"}}
INVALID: OpenApiResponses = {422: {"model": ErrorResponse}}
UNAVAILABLE: OpenApiResponses = {
    409: {"model": ErrorResponse, "description": "The model's files are not on this server"}}

OwnerPath = Annotated[str, Path(min_length=1, max_length=64)]
SlugPath = Annotated[str, Path(min_length=1, max_length=200)]


def _page(session: Session, settings: Settings, user: User | None, model: Model) -> ModelPageOut:
    """A model's page; whether its demo can run is the playground's call (hub/service does not import it)."""
    return service.page(session, settings, user, model, can_demo=playground.can_run(settings, session, model))


@router.get("/hub/models/by-id/{model_id}", response_model=ModelPageOut, responses=NOT_FOUND,
            summary="A model's hub page by id (public models: anyone; private: their owner)")
def page_by_id(model_id: IdPath, session: SessionDep, settings: SettingsDep, user: OptionalUser) -> ModelPageOut:
    model = service.get_visible(session, user, model_id)
    return _page(session, settings, user, model)


@router.get("/hub/models/{model_id}/download", response_class=StreamingResponse,
            responses={**NOT_FOUND, **UNAVAILABLE,
                       200: {"content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
                             "description": "adapter safetensors + adapter_config.json + tokenizer + README.md card"}},
            summary="Download a fine-tuned model as a zip (PEFT adapter, tokenizer, model card with model-index)")
def download_model(model_id: IdPath, session: SessionDep, settings: SettingsDep, user: OptionalUser
                   ) -> StreamingResponse:
    bundle = download.download_bundle(session, settings, user, model_id)
    return StreamingResponse(download.zip_stream(bundle), media_type="application/zip",
                             headers={"Content-Disposition": f'attachment; filename="{download.zip_name(bundle)}"'})


@router.get("/hub/models/{owner}/{slug}", response_model=ModelPageOut, responses=NOT_FOUND,
            summary="A model's hub page: description, config, dataset card, curves, feedback, permissions")
def page_by_slug(owner: OwnerPath, slug: SlugPath, session: SessionDep, settings: SettingsDep,
                 user: OptionalUser) -> ModelPageOut:
    model = service.get_by_repo(session, user, owner, slug)
    return _page(session, settings, user, model)


@router.patch("/hub/models/{model_id}", response_model=ModelPageOut, responses={**NOT_FOUND, **SIGN_IN, **INVALID},
              summary="Publish / unpublish (visibility) and describe your model")
def update_model(model_id: IdPath, payload: ModelPatch, session: SessionDep, settings: SettingsDep,
                 user: CurrentUser) -> ModelPageOut:
    model = service.update(session, user, model_id, payload)
    return _page(session, settings, user, model)


@router.put("/hub/models/{model_id}/feedback", response_model=FeedbackBlock,
            responses={**NOT_FOUND, **SIGN_IN, **INVALID},
            summary="Thumbs up (1) or down (-1) on a model you can see, with an optional comment")
def put_feedback(model_id: IdPath, payload: FeedbackIn, session: SessionDep, user: CurrentUser) -> FeedbackBlock:
    return service.set_feedback(session, user, model_id, payload)


@router.delete("/hub/models/{model_id}/feedback", status_code=204, responses={**NOT_FOUND, **SIGN_IN},
               summary="Remove your thumbs from a model")
def delete_feedback(model_id: IdPath, session: SessionDep, user: CurrentUser) -> Response:
    service.clear_feedback(session, user, model_id)
    return Response(status_code=204)


@router.get("/lineage", response_model=LineageOut, responses=NOT_FOUND,
            summary="Lineage graph: bases → fine-tunes → forks, datasets, per-domain score deltas on edges")
def get_lineage(session: SessionDep, user: OptionalUser,
                model_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None) -> LineageOut:
    return lineage.lineage(session, user, model_id)
