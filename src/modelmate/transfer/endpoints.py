"""Import and export of your log: GET /api/v1/export, POST /api/v1/import."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Annotated

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from modelmate.api.deps import CurrentUser, DatabaseDep, SessionDep, SettingsDep, get_optional_user
from modelmate.errors import ErrorResponse, Unauthorized
from modelmate.transfer import service
from modelmate.transfer.schemas import ExportFormat, ImportFormat, ImportReport

router = APIRouter(tags=["import/export"])
CHUNK = 64 * 1024


def _chunks(fp: IO[bytes]) -> Iterator[bytes]:
    while chunk := fp.read(CHUNK):
        yield chunk


@router.get("/export", summary="Download your whole log as CSV or JSON",
            response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}, "application/json": {}},
                             "description": "modelmate-export-YYYYMMDD.csv|json"}})
def export(session: SessionDep, user: CurrentUser,
           format: Annotated[ExportFormat, Query(description="csv or json")] = ExportFormat.JSON,
           ) -> StreamingResponse:
    """Every entry with its model's fields, tags, notes, journal notes and timestamps.

    CSV: one row per entry; list cells joined with `; ` (`\\;` and `\\\\` escape), journal notes as a JSON cell,
    and cells that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR) prefixed with `'`.
    JSON: `{"format": "modelmate-export", "version": 1, "exported_at", "entries": [...]}`, values unaltered.
    """
    fp, filename, media_type = service.export_file(session, user, format)
    return StreamingResponse(_chunks(fp), media_type=media_type, background=BackgroundTask(fp.close),
                             headers={"Content-Disposition": f'attachment; filename="{filename}"',
                                      "Cache-Control": "no-store"})


def _importing_user(request: Request, db: DatabaseDep) -> int:
    """The caller, resolved in a read-only session: an import must not hold a write transaction (nor the SQLite
    write slot other requests queue on) while it parses, validates and writes in its own short transactions."""
    with db.session() as session:
        user = get_optional_user(request, session)
        if user is None:
            raise Unauthorized("sign in to continue (or send an API token: Authorization: Bearer mm_...)")
        return user.id


@router.post("/import", response_model=ImportReport, summary="Import a CSV or JSON export (preview by default)",
             responses={413: {"model": ErrorResponse}, 422: {"model": ErrorResponse,
                                                             "description": "bad file or rows; details: the report"}})
def import_(user_id: Annotated[int, Depends(_importing_user)], db: DatabaseDep, settings: SettingsDep,
            file: Annotated[UploadFile, File(description="A ModelMate CSV or JSON export (or a file like it)")],
            format: Annotated[ImportFormat, Query(description="csv, json or auto (by extension, then content)")]
            = ImportFormat.AUTO,
            dry_run: Annotated[bool, Query(description="Only validate and preview; write nothing")] = True,
            ) -> ImportReport:
    """Validate every row with the entry rules and report per-row errors; with `dry_run=false`, import
    all-or-nothing (any error: 422 with the report in `details`, nothing written). Rows for a model you already
    logged update that entry (or are `unchanged`); ids and owners in the file are ignored. The file is validated
    completely before anything is written, and a large import is written in short transactions, so other users'
    writes are never held up for more than a fraction of a second."""
    return service.import_file(db, user_id, file.file, filename=file.filename, fmt=format, dry_run=dry_run,
                               max_bytes=settings.max_import_bytes, max_rows=settings.max_import_rows)
