"""Importing a GGUF file through the API (``POST /base-models/gguf``), for administrators.

1. The endpoint authorises (administrators only) before it reads a byte, then streams the file into
   ``data_dir/imports/`` under a generated name (:mod:`modelmate.api.uploads`: mode 0600, 413 past
   ``max_gguf_bytes`` while the file is still arriving).
2. :func:`check_upload` validates the form and the file's header at once
   (:func:`~modelmate.training.gguf.inspect_gguf`): not GGUF, truncated, or an architecture we cannot train → 422
   with the plain reason, and the file is removed.
3. :func:`queue_import` refuses a name that is taken (409), else writes an ``import_model`` job whose payload names
   the upload by its generated file name (the database holds no machine path). The job
   (:mod:`modelmate.finetune.import_tasks`) converts and registers the model with
   :func:`~modelmate.finetune.model_imports.import_gguf` and removes the upload, whatever happens.

The job runs once (``max_attempts=1``): its input is removed when it ends, so there is nothing to retry with. An
upload no active job refers to (a crash between the upload and the job, a worker that died) is swept after
:data:`ORPHAN_AGE_S` by the next import job or the next start of the server.
"""

from __future__ import annotations

import contextlib
import re
import time
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.orm import Session

from modelmate.api.uploads import ReceivedFile
from modelmate.catalog import repository as catalog_repo
from modelmate.config import Settings
from modelmate.datasets.service import clean_text
from modelmate.db.engine import Database
from modelmate.enums import JobKind, ModelKind
from modelmate.errors import ConflictError, ForbiddenError, ValidationFailed
from modelmate.finetune import base_catalog as bases
from modelmate.finetune import repository as repo
from modelmate.finetune.schemas import GGUFImportAccepted, GGUFImportFields
from modelmate.jobs import service as jobs
from modelmate.models import User
from modelmate.training import gguf
from modelmate.training.model_specs import local_key

UPLOAD_FOLDER = "imports"
UPLOAD_PREFIX = "gguf-"
UPLOAD_SUFFIX = ".gguf"
_UPLOAD_NAME = re.compile(r"^gguf-[A-Za-z0-9_]{1,64}\.gguf$")
TEXT_FIELDS = {"name": 200, "license": 100}  # the form's text fields and their maximum lengths
ORPHAN_AGE_S = 3600.0
LOCAL_DEVELOPER = "local"  # the developer training.model_specs.local_spec gives imported models


@dataclass
class PreparedImport:
    """An upload whose form and GGUF header passed the checks."""

    upload: ReceivedFile
    name: str
    license: str | None
    key: str
    info: gguf.GGUFInfo
    queued: bool = False  # an import_model job owns the upload now


def upload_dir(settings: Settings) -> Path:
    return settings.data_dir / UPLOAD_FOLDER


def upload_path(settings: Settings, upload: str) -> Path | None:
    """The file of an upload named in a job payload; None for anything that is not such a generated name."""
    return upload_dir(settings) / upload if _UPLOAD_NAME.match(upload or "") else None


def require_admin(user: User) -> None:
    if not user.is_admin:
        raise ForbiddenError("only administrators can import base models; ask an administrator of this server",
                             code="admin_only")


def _fields(received: ReceivedFile) -> GGUFImportFields:
    try:
        fields = GGUFImportFields.model_validate(received.fields)
    except ValidationError as exc:
        errors = [{"field": ".".join(str(p) for p in e.get("loc", ())) or None,
                   "message": str(e.get("msg", "invalid value")).removeprefix("Value error, ")}
                  for e in exc.errors()[:10]]
        summary = "; ".join(f"{e['field']}: {e['message']}" if e["field"] else str(e["message"]) for e in errors)
        raise ValidationFailed(f"the form is not valid: {summary}", details={"errors": errors}) from None
    name = clean_text(fields.name, 200)
    if not name:
        raise ValidationFailed("the name is empty", details={"errors": [{"field": "name",
                                                                          "message": "a name is required"}]})
    return GGUFImportFields(name=name, license=clean_text(fields.license, 100))


def check_upload(received: ReceivedFile) -> PreparedImport:
    """The form and the file's GGUF header (422 with the reason; the upload is removed on any refusal)."""
    try:
        fields = _fields(received)
        try:
            info = gguf.inspect_gguf(received.path, display_name=received.filename or "the uploaded file")
        except gguf.GGUFImportError as exc:
            raise ValidationFailed(str(exc), code="invalid_gguf",
                                   details={"errors": [{"field": "file", "message": str(exc)}]}) from None
    except BaseException:
        received.discard()
        raise
    name = str(fields.name)
    return PreparedImport(upload=received, name=name, license=fields.license, key=local_key(name), info=info)


def name_conflict(session: Session, settings: Settings, name: str, key: str) -> str | None:
    """Why ``name`` cannot be used for a new import (None when it can)."""
    row = repo.base_by_key(session, key)
    if row is not None:
        return f"the name {name!r} is taken: base model {key} already exists ({row.name}); choose another name"
    dup = catalog_repo.find_duplicate(session, name=name, developer=LOCAL_DEVELOPER, hf_repo_id=None,
                                      github_repo=None)
    if dup is not None and (dup[0].visibility != "public" or dup[0].kind == ModelKind.FINETUNED.value):
        return f"the name {name!r} is taken in the catalog; choose another name"
    for job in repo.active_import_jobs(session):
        if (job.payload or {}).get("key") == key:
            return (f"an import named {name!r} (key {key}) is already {job.status} (job {job.id}); wait for it or "
                    "choose another name")
    if bases.managed_dir(settings, key).exists():
        return f"this server already holds a model directory for {key}; choose another name"
    return None


def queue_import(session: Session, settings: Settings, user: User, prepared: PreparedImport) -> GGUFImportAccepted:
    """Write the ``import_model`` job (202). A taken name is 409; the upload is removed on any refusal."""
    try:
        require_admin(user)
        conflict = name_conflict(session, settings, prepared.name, prepared.key)
        if conflict:
            raise ConflictError(conflict, code="name_taken")
        upload = prepared.upload
        job, _ = jobs.enqueue(session, kind=JobKind.IMPORT_MODEL, owner_id=user.id, max_attempts=1, payload={
            "upload": upload.path.name, "name": prepared.name, "key": prepared.key, "license": prepared.license,
            "file_name": prepared.info.file_name, "size_bytes": upload.size})
        prepared.queued = True
    except BaseException:
        prepared.upload.discard()
        raise
    return GGUFImportAccepted(job_id=job.id, status=job.status, key=prepared.key, name=prepared.name,
                              file_name=upload.filename, size_bytes=upload.size,
                              architecture=prepared.info.architecture, quantization=prepared.info.quantization)


def sweep_uploads(db: Database, settings: Settings, *, older_than_s: float = ORPHAN_AGE_S) -> int:
    """Remove uploads no queued or running import refers to, untouched for ``older_than_s``; returns how many."""
    folder = upload_dir(settings)
    if not folder.is_dir():
        return 0
    with db.session() as session:
        active = {str((job.payload or {}).get("upload")) for job in repo.active_import_jobs(session)}
    cutoff = time.time() - older_than_s
    removed = 0
    for path in folder.glob(f"{UPLOAD_PREFIX}*{UPLOAD_SUFFIX}"):
        if path.name in active:
            continue
        with contextlib.suppress(OSError):
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
    return removed
