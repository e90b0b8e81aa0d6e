"""/api/v1/runs/external: record a run trained anywhere (the SDK ``modelmate.client``, the HF Trainer callback
``modelmate.integrations.ModelMateCallback``). Thin: the rules are in :mod:`modelmate.finetune.external`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from modelmate.api.deps import CurrentUser, IdPath, SessionDep, SettingsDep, preflight
from modelmate.api.uploads import ReceivedFile, receive_file
from modelmate.errors import ErrorResponse, OpenApiResponses
from modelmate.finetune import external, service
from modelmate.finetune.schemas import ExternalFinish, ExternalPoints, ExternalPointsOut, ExternalRunCreate, RunOut

router = APIRouter(tags=["fine-tuning"])

ERRORS: OpenApiResponses = {
    404: {"model": ErrorResponse, "description": "No such external run of yours, or an unknown base model"},
    409: {"model": ErrorResponse, "description": "The run has already finished"},
    422: {"model": ErrorResponse, "description": "Invalid request (nothing recorded)"},
}
AdapterFile = Literal["adapter_config.json", "adapter_model.safetensors"]


@router.post("/runs/external", response_model=RunOut, status_code=201, responses=ERRORS,
             summary="Start recording a run trained elsewhere (SDK, HF Trainer callback)")
def create_external_run(payload: ExternalRunCreate, session: SessionDep, settings: SettingsDep,
                        user: CurrentUser) -> RunOut:
    """The run is recorded as running, ``source`` external, with its base model, configuration (PEFT and training
    arguments mapped to ModelMate's settings where recognised, the rest under ``config.external``), dataset
    fingerprint and environment. The same ``external_id`` returns the run recorded before."""
    run = external.create_external_run(session, settings, user, payload)
    return service.run_out(session, settings, run)


@router.post("/runs/external/{run_id}/points", response_model=ExternalPointsOut, responses=ERRORS,
             summary="Append loss-curve points (idempotent on step)")
def append_points(run_id: IdPath, payload: ExternalPoints, session: SessionDep, user: CurrentUser
                  ) -> ExternalPointsOut:
    run = external.get_external_run(session, user, run_id)
    added = external.append_points(session, run, payload.points)
    return ExternalPointsOut(run_id=run.id, points=len(run.loss_curve_data or []), added=added)


def _owned(request: Request, run_id: int) -> None:
    with preflight(request) as (session, user):
        external.get_external_run(session, user, run_id)


async def _received_adapter(request: Request, run_id: IdPath, settings: SettingsDep
                            ) -> AsyncIterator[ReceivedFile]:
    """Authorise (your external run) before reading a byte, then stream the file to a private temp file."""
    await run_in_threadpool(_owned, request, run_id)
    received = await receive_file(request, folder=settings.data_dir / "external_uploads" / "incoming",
                                  file_field="file", max_bytes=settings.max_adapter_bytes, text_fields={})
    try:
        yield received
    finally:
        received.discard()  # moved into the run's staging folder when accepted


ADAPTER_FORM = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {"file": {"type": "string", "contentMediaType": "application/octet-stream"}}}}}}}


@router.put("/runs/external/{run_id}/adapter/{filename}", status_code=204, responses=ERRORS,
            openapi_extra=ADAPTER_FORM, summary="Upload one adapter file (safetensors + adapter_config.json only)")
def upload_adapter_file(run_id: IdPath, filename: AdapterFile,
                        upload: Annotated[ReceivedFile, Depends(_received_adapter)], session: SessionDep,
                        settings: SettingsDep, user: CurrentUser) -> None:
    """Checked (a safetensors header whose tensors lie in the file; a JSON object) and kept until the run finishes,
    when it is sealed in the artifact store. Pickle weights are refused."""
    run = external.get_external_run(session, user, run_id)
    external.stage_adapter_file(settings, run, filename, upload.path)


@router.post("/runs/external/{run_id}/finish", response_model=RunOut, responses=ERRORS,
             summary="Record the outcome; an uploaded adapter becomes the run's model and is evaluated")
def finish_external_run(run_id: IdPath, payload: ExternalFinish, session: SessionDep, settings: SettingsDep,
                        user: CurrentUser) -> RunOut:
    """success / failure / partial. The failure category is the same diagnosis as a native run's (the one given
    wins; else the curve's: diverged, no_learning, overfitting; an unexplained failure is crashed). partial with
    category cancelled (an interrupt) ends the run as cancelled. The uploaded adapter (both files) is sealed in the
    artifact store; a successful run's adapter becomes a private fine-tuned model and its automatic evaluation is
    queued."""
    run = external.get_external_run(session, user, run_id)
    staged = external.staged_adapter(settings, run.id) if payload.outcome != "failure" else None
    external.finish(session, settings, run, payload, adapter_dir=staged)
    out = service.run_out(session, settings, run)
    external.discard_staged(settings, run.id)
    return out
