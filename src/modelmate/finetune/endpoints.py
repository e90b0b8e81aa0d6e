"""/api/v1 fine-tuning: base models, training options and estimates, runs (launch, follow, cancel)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from modelmate.api.deps import CurrentUser, DatabaseDep, IdPath, SessionDep, SettingsDep, preflight
from modelmate.api.uploads import receive_file
from modelmate.enums import RunStatus
from modelmate.errors import ErrorResponse, OpenApiResponses
from modelmate.finetune import forks, import_service, service
from modelmate.finetune.schemas import (
    BaseModelOut,
    EstimateOut,
    EstimateRequest,
    ForkTemplateOut,
    GGUFImportAccepted,
    GGUFImportFields,
    RunCreate,
    RunLog,
    RunOut,
    RunPage,
    TrainingOptions,
)

router = APIRouter(tags=["fine-tuning"])

NOT_FOUND: OpenApiResponses = {404: {"model": ErrorResponse}}
INVALID: OpenApiResponses = {
    422: {"model": ErrorResponse, "description": "Invalid configuration or request (nothing was queued)"}}
CONFLICT: OpenApiResponses = {
    409: {"model": ErrorResponse, "description": "The Idempotency-Key was used for another request, or a "
                                                "fork's parent adapter is not on this server"}}
EVENTS_MAX_S = 600  # one event stream lasts at most this long (EventSource reconnects by itself)
EVENTS_POLL_S = 1.0
KEEPALIVE_S = 15.0


@router.get("/base-models", response_model=list[BaseModelOut], summary="Base models you can fine-tune")
def list_base_models(session: SessionDep, settings: SettingsDep, user: CurrentUser) -> list[BaseModelOut]:
    return service.list_base_models(session, settings, user)


def _require_admin(request: Request) -> None:
    with preflight(request) as (_session, user):
        import_service.require_admin(user)


async def _received_gguf(request: Request, settings: SettingsDep
                         ) -> AsyncIterator[import_service.PreparedImport]:
    """Authorise before reading a byte, stream the file to a private temp file, check its header (before the request
    takes the database's write lock). The file is removed afterwards unless a job took it over."""
    await run_in_threadpool(_require_admin, request)
    received = await receive_file(request, folder=import_service.upload_dir(settings), file_field="file",
                                  max_bytes=settings.max_gguf_bytes, text_fields=import_service.TEXT_FIELDS,
                                  prefix=import_service.UPLOAD_PREFIX, suffix=import_service.UPLOAD_SUFFIX)
    prepared = await run_in_threadpool(import_service.check_upload, received)
    try:
        yield prepared
    finally:
        if not prepared.queued:
            received.discard()


GGUF_FORM = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file", "name"],
    "properties": {"file": {"type": "string", "contentMediaType": "application/octet-stream",
                            "description": "A GGUF file (llama.cpp format) of a llama, mistral, qwen2 or phi3 model"},
                   **GGUFImportFields.model_json_schema()["properties"]}}}}}}
IMPORT_ERRORS: OpenApiResponses = {
    401: {"model": ErrorResponse, "description": "Not signed in"},
    403: {"model": ErrorResponse, "description": "Only administrators can import base models"},
    409: {"model": ErrorResponse, "description": "The name is taken (a base model, or an import in progress)"},
    413: {"model": ErrorResponse, "description": "The file is larger than max_gguf_bytes"},
    422: {"model": ErrorResponse, "description": "Not a GGUF file, truncated, an unsupported architecture, or an "
                                                 "invalid form (nothing stored, nothing queued)"},
}


@router.post("/base-models/gguf", response_model=GGUFImportAccepted, status_code=202, responses=IMPORT_ERRORS,
             openapi_extra=GGUF_FORM, summary="Import a GGUF model file as a base model (administrators)")
def import_gguf(upload: Annotated[import_service.PreparedImport, Depends(_received_gguf)], session: SessionDep,
                settings: SettingsDep, user: CurrentUser) -> GGUFImportAccepted:
    """The file is streamed to the server and its header checked at once: not GGUF, truncated, or an architecture
    ModelMate cannot train (llama, mistral, qwen2 and phi3 can) → 422, nothing kept. Then an ``import_model`` job
    dequantizes it with transformers, stores it as safetensors (bfloat16 when quantized) with its tokenizer and chat
    template, and registers it as the base model ``key``, recording the file's name, sha256 and quantization. Follow
    it at ``GET /jobs/{job_id}``."""
    return import_service.queue_import(session, settings, user, upload)


@router.get("/training/options", response_model=TrainingOptions,
            summary="Every training setting with its help text and limits, the presets, and what the machine "
                    "can run")
def training_options(settings: SettingsDep, user: CurrentUser) -> TrainingOptions:
    return service.training_options(settings)


@router.post("/training/estimate", response_model=EstimateOut, responses={**NOT_FOUND, **INVALID},
             summary="Memory, time and steps a run would take, before launching it")
def estimate(payload: EstimateRequest, session: SessionDep, settings: SettingsDep, user: CurrentUser) -> EstimateOut:
    return service.estimate(session, settings, user, payload)


@router.post("/runs", response_model=RunOut, status_code=202, responses={**NOT_FOUND, **INVALID, **CONFLICT},
             summary="Launch a fine-tuning run (queued as a background job)")
def create_run(payload: RunCreate, session: SessionDep, settings: SettingsDep, user: CurrentUser,
               idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", min_length=1,
                                                             max_length=128)] = None) -> RunOut:
    run = service.create_run(session, settings, user, payload, idempotency_key)
    return service.run_out(session, settings, run)


@router.get("/models/{model_id}/fork-template", response_model=ForkTemplateOut,
            responses={**NOT_FOUND, **INVALID, 409: {"model": ErrorResponse, "description": "No recorded base model"}},
            summary="Fork a fine-tuned model: its base, dataset, preset and full configuration for the run builder")
def fork_template(model_id: IdPath, session: SessionDep, settings: SettingsDep, user: CurrentUser
                  ) -> ForkTemplateOut:
    return forks.fork_template(session, settings, user, model_id)


@router.get("/runs", response_model=RunPage, summary="Your fine-tuning runs, newest first")
def list_runs(session: SessionDep, user: CurrentUser, status: RunStatus | None = None,
              limit: Annotated[int, Query(ge=1, le=200)] = 50,
              offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> RunPage:
    return service.list_runs(session, user, status=status, limit=limit, offset=offset)


@router.get("/runs/{run_id}", response_model=RunOut, responses=NOT_FOUND,
            summary="One run: configuration, live status, the full loss curve, outcome")
def get_run(run_id: IdPath, session: SessionDep, settings: SettingsDep, user: CurrentUser) -> RunOut:
    return service.run_out(session, settings, service.get_run(session, user, run_id))


@router.get("/runs/{run_id}/log", response_model=RunLog, responses=NOT_FOUND,
            summary="The end of the training process's log")
def run_log(run_id: IdPath, session: SessionDep, settings: SettingsDep, user: CurrentUser) -> RunLog:
    return service.read_log(settings, service.get_run(session, user, run_id).id)


@router.post("/runs/{run_id}/cancel", response_model=RunOut, responses=NOT_FOUND,
             summary="Cancel a run (idempotent): queued stops at once, running stops its training process")
def cancel_run(run_id: IdPath, session: SessionDep, settings: SettingsDep, user: CurrentUser) -> RunOut:
    return service.run_out(session, settings, service.cancel_run(session, user, run_id))


@router.get("/runs/{run_id}/events", responses={**NOT_FOUND, 200: {"content": {"text/event-stream": {}},
                                                                   "description": "RunOut snapshots (SSE)"}},
            response_class=StreamingResponse,
            summary="Server-sent events: a RunOut snapshot whenever the run changes, until it finishes")
def run_events(run_id: IdPath, session: SessionDep, db: DatabaseDep, settings: SettingsDep,
               user: CurrentUser) -> StreamingResponse:
    service.get_run(session, user, run_id)  # 404 before the stream starts
    owner_id = user.id

    async def stream() -> AsyncIterator[str]:
        last, last_sent = None, time.monotonic()
        deadline = last_sent + EVENTS_MAX_S
        while True:
            snapshot = await run_in_threadpool(service.snapshot, db, settings, owner_id, run_id)
            if snapshot is None:
                return
            data = snapshot.model_dump_json()
            now = time.monotonic()
            if data != last:
                yield f"event: run\ndata: {data}\n\n"
                last, last_sent = data, now
            elif now - last_sent >= KEEPALIVE_S:
                yield ": keep-alive\n\n"
                last_sent = now
            if snapshot.status in service.FINAL_RUN:
                yield "event: end\ndata: {}\n\n"
                return
            if now >= deadline:
                return
            await asyncio.sleep(EVENTS_POLL_S)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
