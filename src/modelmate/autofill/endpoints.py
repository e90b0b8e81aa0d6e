"""/api/v1/autofill: preview metadata from Hugging Face / GitHub (nothing is saved until you PATCH/POST)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header

from modelmate.api.deps import CurrentUser, IdPath, SessionDep, SettingsDep
from modelmate.autofill import service
from modelmate.autofill.schemas import AutofillPreview, AutofillRequest
from modelmate.errors import ErrorResponse, OpenApiResponses
from modelmate.jobs.schemas import JobAccepted

router = APIRouter(tags=["autofill"])

ERRORS: OpenApiResponses = {code: {"model": ErrorResponse} for code in (403, 404, 422, 429, 502, 504)}


@router.post("/autofill", response_model=AutofillPreview, responses=ERRORS,
             summary="Preview a model's metadata from a Hugging Face id/link or a GitHub link (saves nothing)")
def autofill(payload: AutofillRequest, session: SessionDep, user: CurrentUser,
             settings: SettingsDep) -> AutofillPreview:
    return service.preview(session, user, settings, payload.url_or_id, payload.entry_id)


@router.post("/entries/{entry_id}/refresh-metadata", response_model=AutofillPreview, responses=ERRORS,
             summary="Preview fresh metadata for an entry from its own repositories (saves nothing)")
def refresh_metadata(entry_id: IdPath, session: SessionDep, user: CurrentUser,
                     settings: SettingsDep) -> AutofillPreview:
    return service.refresh_entry(session, user, settings, entry_id)


@router.post("/autofill/refresh-all", response_model=JobAccepted, status_code=202,
             summary="Queue a background refresh of every entry that names a repository; follow it at "
                     "GET /api/v1/jobs/{job_id}")
def refresh_all(session: SessionDep, user: CurrentUser,
                idempotency_key: Annotated[str | None, Header(max_length=128)] = None) -> JobAccepted:
    job = service.start_refresh_all(session, user, idempotency_key)
    return JobAccepted(job_id=job.id, status=job.status)
