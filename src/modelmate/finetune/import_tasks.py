"""Job handler ``import_model``: convert an uploaded GGUF file and register it as a base model.

Payload (written by :func:`modelmate.finetune.import_service.queue_import`): ``{"upload", "name", "key", "license",
"file_name", "size_bytes"}``; ``upload`` is the generated name of the file in ``data_dir/imports/``. The handler runs
:func:`~modelmate.finetune.model_imports.import_gguf` in the worker and turns its progress events into the job's
progress and message: hashing (with a percentage), dequantizing, rebuilding, writing, registering. Every report
renews the lease and checks for a cancel request, except once the converted directory is in place (from then on the
import finishes, so nothing is left half-registered).

Any failure is final (the job has one attempt; its input is removed when it ends) and carries a plain message;
``import_gguf`` leaves nothing registered and no model directory behind. The upload is removed in every case.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from modelmate.enums import JobKind
from modelmate.finetune import import_service, model_imports
from modelmate.jobs import registry
from modelmate.jobs import repository as jobs_repo
from modelmate.jobs.registry import JobCancelled, JobContext, LeaseLost, PermanentJobError

log = logging.getLogger("modelmate.finetune")

# where each conversion stage starts, as a share of the whole job (hashing fills HASH_START..HASH_END)
STAGE_PROGRESS = {"inspect": 0.01, "hash": 0.02, "dequantize": 0.32, "rebuild": 0.62, "save": 0.72, "done": 0.95}
HASH_START, HASH_END = 0.02, 0.30
HASH_REPORT_S = 1.0


class _Reporter:
    """``on_progress`` for :func:`import_gguf`: conversion events → the job's progress and message."""

    def __init__(self, ctx: JobContext, file_name: str) -> None:
        self.ctx = ctx
        self.file_name = file_name
        self.last_hash = 0.0

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "hash":
            done, total = event.get("done") or 0, event.get("total") or 0
            now = time.monotonic()
            if not total or (now - self.last_hash < HASH_REPORT_S and done < total):
                return
            self.last_hash = now
            share = min(1.0, done / total)
            self.ctx.progress(HASH_START + (HASH_END - HASH_START) * share,
                              f"hashing {self.file_name} (sha256): {share:.0%}")
        elif kind == "stage":
            stage = str(event.get("stage") or "")
            if stage == "done":  # the model directory is in place: finish without a cancel check
                note(self.ctx, STAGE_PROGRESS["done"], "registering the base model")
            elif stage == "hash":
                self.ctx.progress(HASH_START, f"hashing {self.file_name} (sha256): 0%")
            else:
                self.ctx.progress(STAGE_PROGRESS.get(stage, HASH_END), str(event.get("message") or stage))


def note(ctx: JobContext, fraction: float, message: str) -> None:
    """Record progress (fenced, lease renewed) without checking for a cancel request."""
    with ctx.db.session() as session:
        if not jobs_repo.heartbeat(session, ctx.job_id, ctx.fencing_token, lease_s=ctx.lease_s, progress=fraction,
                                   message=message):
            ctx.lost.set()


def _plain_failure(exc: Exception) -> PermanentJobError:
    if isinstance(exc, MemoryError):
        return PermanentJobError("the server ran out of memory while converting the model")
    if isinstance(exc, OSError):
        return PermanentJobError(f"the converted model could not be written: {exc.strerror or exc}")
    return PermanentJobError(f"the import failed: {type(exc).__name__}: {exc}"[:1000])


@registry.register(JobKind.IMPORT_MODEL.value)
def run_import_model(ctx: JobContext) -> dict[str, Any]:
    payload = ctx.payload
    upload, name, key = payload.get("upload"), payload.get("name"), payload.get("key")
    path = import_service.upload_path(ctx.settings, str(upload or ""))
    if path is None or not isinstance(name, str) or not isinstance(key, str):
        raise PermanentJobError(f"bad import_model payload: {sorted(payload)}")
    file_name = str(payload.get("file_name") or "the uploaded file")
    license_ = payload.get("license") if isinstance(payload.get("license"), str) else None
    try:
        import_service.sweep_uploads(ctx.db, ctx.settings)  # leftovers of earlier crashes (never this one: active)
        if not path.is_file():
            raise PermanentJobError("the uploaded file is no longer on the server; upload it again")
        ctx.progress(0.0, f"starting the import of {file_name}")
        try:
            model = model_imports.import_gguf(ctx.settings, ctx.db, path, name=name, key=key, license=license_,
                                              on_progress=_Reporter(ctx, file_name), display_name=file_name)
        except model_imports.ModelImportError as exc:  # the file's fault, said plainly: no traceback to log
            raise PermanentJobError(str(exc)) from None
        except (JobCancelled, LeaseLost, PermanentJobError):
            raise
        except Exception as exc:  # noqa: BLE001 - every failure ends the job with a plain message
            log.warning("job %d: importing %s as %s failed", ctx.job_id, file_name, key, exc_info=True)
            raise _plain_failure(exc) from exc
    finally:
        path.unlink(missing_ok=True)
    info = model.hub_info or {}
    source = info.get("source")
    if not isinstance(source, dict):
        source = {}
    note(ctx, 1.0, f"imported: base model {key} is ready")
    return {"model_id": model.id, "key": key, "name": model.name, "parameters": model.parameters,
            "file_name": source.get("file"), "sha256": source.get("sha256"),
            "quantization": source.get("quantization"), "stored_dtype": source.get("stored_dtype")}
