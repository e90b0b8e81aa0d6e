"""/api/v1 fine-tuning: base models, training options and estimates, runs (launch, follow, cancel)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from modelmate.api.deps import CurrentUser, DatabaseDep, IdPath, SessionDep, SettingsDep
from modelmate.errors import ErrorResponse
from modelmate.finetune import forks, service
from modelmate.finetune.schemas import (
    BaseModelOut,
    EstimateOut,
    EstimateRequest,
    ForkTemplateOut,
    RunCreate,
    RunLog,
    RunOut,
    RunPage,
    TrainingOptions,
)
from modelmate.models.enums import RunStatus

router = APIRouter(tags=["fine-tuning"])

NOT_FOUND = {404: {"model": ErrorResponse}}
INVALID = {422: {"model": ErrorResponse, "description": "Invalid configuration or request (nothing was queued)"}}
CONFLICT = {409: {"model": ErrorResponse, "description": "The Idempotency-Key was used for another request, or a "
                                                         "fork's parent adapter is not on this server"}}
EVENTS_MAX_S = 600  # one event stream lasts at most this long (EventSource reconnects by itself)
EVENTS_POLL_S = 1.0
KEEPALIVE_S = 15.0


@router.get("/base-models", response_model=list[BaseModelOut], summary="Base models you can fine-tune")
def list_base_models(session: SessionDep, settings: SettingsDep, user: CurrentUser) -> list[BaseModelOut]:
    return service.list_base_models(session, settings, user)


@router.get("/training/options", response_model=TrainingOptions,
            summary="Every training setting with its help text and limits, and the presets")
def training_options(user: CurrentUser) -> TrainingOptions:
    return service.training_options()


@router.post("/training/estimate", response_model=EstimateOut, responses={**NOT_FOUND, **INVALID},
             summary="Memory, time and steps a run would take, before launching it")
def estimate(payload: EstimateRequest, session: SessionDep, user: CurrentUser) -> EstimateOut:
    return service.estimate(session, user, payload)


@router.post("/runs", response_model=RunOut, status_code=202, responses={**NOT_FOUND, **INVALID, **CONFLICT},
             summary="Launch a fine-tuning run (queued as a background job)")
def create_run(payload: RunCreate, session: SessionDep, settings: SettingsDep, user: CurrentUser,
               idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", min_length=1,
                                                             max_length=128)] = None) -> RunOut:
    run = service.create_run(session, settings, user, payload, idempotency_key)
    return service.run_out(session, run)


@router.get("/models/{model_id}/fork-template", response_model=ForkTemplateOut,
            responses={**NOT_FOUND, **INVALID, 409: {"model": ErrorResponse, "description": "No recorded base model"}},
            summary="Fork a fine-tuned model: its base, dataset, preset and full configuration for the run builder")
def fork_template(model_id: IdPath, session: SessionDep, user: CurrentUser) -> ForkTemplateOut:
    return forks.fork_template(session, user, model_id)


@router.get("/runs", response_model=RunPage, summary="Your fine-tuning runs, newest first")
def list_runs(session: SessionDep, user: CurrentUser, status: RunStatus | None = None,
              limit: Annotated[int, Query(ge=1, le=200)] = 50,
              offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> RunPage:
    return service.list_runs(session, user, status=status, limit=limit, offset=offset)


@router.get("/runs/{run_id}", response_model=RunOut, responses=NOT_FOUND,
            summary="One run: configuration, live status, the full loss curve, outcome")
def get_run(run_id: IdPath, session: SessionDep, user: CurrentUser) -> RunOut:
    return service.run_out(session, service.get_run(session, user, run_id))


@router.get("/runs/{run_id}/log", response_model=RunLog, responses=NOT_FOUND,
            summary="The end of the training process's log")
def run_log(run_id: IdPath, session: SessionDep, settings: SettingsDep, user: CurrentUser) -> RunLog:
    return service.read_log(settings, service.get_run(session, user, run_id).id)


@router.post("/runs/{run_id}/cancel", response_model=RunOut, responses=NOT_FOUND,
             summary="Cancel a run (idempotent): queued stops at once, running stops its training process")
def cancel_run(run_id: IdPath, session: SessionDep, user: CurrentUser) -> RunOut:
    return service.run_out(session, service.cancel_run(session, user, run_id))


@router.get("/runs/{run_id}/events", responses={**NOT_FOUND, 200: {"content": {"text/event-stream": {}},
                                                                   "description": "RunOut snapshots (SSE)"}},
            response_class=StreamingResponse,
            summary="Server-sent events: a RunOut snapshot whenever the run changes, until it finishes")
def run_events(run_id: IdPath, session: SessionDep, db: DatabaseDep, user: CurrentUser) -> StreamingResponse:
    service.get_run(session, user, run_id)  # 404 before the stream starts
    owner_id = user.id

    async def stream() -> AsyncIterator[str]:
        last, last_sent = None, time.monotonic()
        deadline = last_sent + EVENTS_MAX_S
        while True:
            snapshot = await run_in_threadpool(service.snapshot, db, owner_id, run_id)
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
