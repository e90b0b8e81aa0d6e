"""Datasets: /api/v1/datasets."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile

from modelmate.api.deps import CurrentUser, IdPath, SessionDep, SettingsDep, preflight
from modelmate.datasets import contamination, service
from modelmate.datasets.schemas import (
    PREVIEW_MAX,
    ContaminationOut,
    DatasetOut,
    DatasetPage,
    DatasetPreview,
    FormatChoice,
    UploadFields,
)
from modelmate.enums import Visibility
from modelmate.errors import ErrorResponse, OpenApiResponses

router = APIRouter(prefix="/datasets", tags=["datasets"])
ERRORS: OpenApiResponses = {404: {"model": ErrorResponse}, 403: {"model": ErrorResponse}}
UPLOAD_ERRORS: OpenApiResponses = {
    413: {"model": ErrorResponse, "description": "The file is larger than max_dataset_bytes"},
    422: {"model": ErrorResponse, "description": "Bad rows: details.errors = [{row, column, message}]"}}


def _prepared_upload(
    request: Request, settings: SettingsDep,
    file: Annotated[UploadFile, File(description="JSON Lines, CSV or Parquet")],
    name: Annotated[str | None, Form(max_length=200)] = None,
    description: Annotated[str | None, Form(max_length=5000)] = None,
    format: Annotated[FormatChoice, Form(description="auto: detected from the fields")] = FormatChoice.AUTO,
    license: Annotated[str | None, Form(max_length=100)] = None,
    domain: Annotated[str | None, Form(max_length=32)] = None,
    visibility: Annotated[Visibility, Form()] = Visibility.PRIVATE,
    base_model: Annotated[str | None, Form(max_length=200, description="Base model (id, key or HF id) whose "
                                                                        "tokenizer counts tokens; default tiny")]
    = None,
) -> tuple[service.PreparedDataset, UploadFields]:
    """Read and validate the upload before the request takes the database's write lock (see the service)."""
    fields = UploadFields(name=name, description=description, format=format, license=license, domain=domain,
                          visibility=visibility, base_model=base_model)
    with preflight(request) as (session, _user):  # no parsing for anonymous callers
        prepared = service.prepare_upload(session, settings, file.file, filename=file.filename, fields=fields)
    return prepared, fields


@router.post("", response_model=DatasetOut, status_code=201, responses={**UPLOAD_ERRORS, 200: {
    "model": DatasetOut, "description": "You already have a dataset with exactly this content: that one"}},
             summary="Upload a dataset (JSONL, CSV or Parquet)")
def upload_dataset(
    upload: Annotated[tuple[service.PreparedDataset, UploadFields], Depends(_prepared_upload)],
    session: SessionDep, settings: SettingsDep, user: CurrentUser, response: Response,
) -> DatasetOut:
    """Formats text, alpaca, sharegpt and OpenAI messages, detected from the fields. The file is validated as a
    whole (422 naming row and column; nothing stored), normalised, stored content-addressed and split 90/10
    (seed 42). Token counts use the base model's tokenizer when it is on this machine."""
    prepared, fields = upload
    dataset, created = service.register(session, settings, user, prepared, fields)
    contamination.ensure_checked(session, settings, dataset)  # a background job: the response does not wait
    if not created:
        response.status_code = 200
    return DatasetOut.model_validate(dataset)


@router.get("", response_model=DatasetPage, summary="List your datasets and public ones")
def list_datasets(
    session: SessionDep, user: CurrentUser,
    mine: Annotated[bool, Query(description="Only your own")] = False,
    q: Annotated[str | None, Query(max_length=200, description="Text in the name")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> DatasetPage:
    items, total = service.list_datasets(session, user, mine=mine, q=q, limit=limit, offset=offset)
    return DatasetPage(items=[DatasetOut.model_validate(d) for d in items], total=total, limit=limit,
                       offset=offset)


@router.get("/{dataset_id}", response_model=DatasetOut, responses=ERRORS, summary="Get a dataset")
def get_dataset(dataset_id: IdPath, session: SessionDep, user: CurrentUser) -> DatasetOut:
    return DatasetOut.model_validate(service.get_visible(session, user, dataset_id))


@router.get("/{dataset_id}/preview", response_model=DatasetPreview, responses=ERRORS,
            summary="Rows of a dataset, as stored (canonical records)")
def preview_dataset(
    dataset_id: IdPath, session: SessionDep, settings: SettingsDep, user: CurrentUser,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=PREVIEW_MAX)] = 20,
) -> DatasetPreview:
    rows, total = service.preview(session, settings, user, dataset_id, offset=offset, limit=limit)
    return DatasetPreview(rows=rows, total=total, offset=offset, limit=limit)


@router.delete("/{dataset_id}", status_code=204, responses=ERRORS,
               summary="Delete a dataset (runs that used it keep their snapshot)")
def delete_dataset(dataset_id: IdPath, session: SessionDep, user: CurrentUser) -> Response:
    service.delete(session, user, dataset_id)
    return Response(status_code=204)


@router.get("/{dataset_id}/contamination", response_model=ContaminationOut, responses=ERRORS,
            summary="The dataset's benchmark-contamination check: status, per-task overlap and examples")
def get_contamination(dataset_id: IdPath, session: SessionDep, user: CurrentUser) -> ContaminationOut:
    """Overlap of the dataset's text with the test documents of every benchmark task (13-gram overlap after
    normalisation, and exact normalised questions). ``status`` null: never checked."""
    return contamination.report_out(session, user, dataset_id)


@router.post("/{dataset_id}/contamination", response_model=ContaminationOut, status_code=202, responses=ERRORS,
             summary="Check the dataset again (owner only), e.g. after the benchmark data changed")
def check_contamination(dataset_id: IdPath, session: SessionDep, settings: SettingsDep, user: CurrentUser
                        ) -> ContaminationOut:
    return contamination.check_again(session, settings, user, dataset_id)
