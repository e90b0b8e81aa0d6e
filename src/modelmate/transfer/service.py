"""Import and export of the tracker log (CSV and JSON).

Export writes every entry of the user, oldest first, with its catalog model's fields, its own fields, its timestamps
and its journal notes (see :mod:`.csvio` and :mod:`.jsonio` for the encodings).

Import is all-or-nothing and idempotent, and it never holds the database's write lock for long (RELIABILITY.md
#41):

1. the file is walked once to count rows (refused past ``max_rows`` before anything else is parsed) and to find
   bytes that are not UTF-8;
2. every row is validated with the API's own entry schema (:class:`~.schemas.TransferRow`); ids and ownership
   columns are ignored — everything imported belongs to the importing user; two rows for the same model are an
   error;
3. the rows are resolved against the catalog and the user's log **with reads only** (``apply.plan_rows``): a row
   whose model (``hf_repo_id``, ``github_repo``, or name + developer — the catalog's duplicate rule, among the rows
   the user can see) already has an entry of the user will update it when something differs, else leave it
   (``unchanged``); every update is checked with the catalog's edit rules; other rows will create entries with
   their original ``created_at``/``updated_at``, an ``added`` event at ``created_at``, and their journal notes (a
   ``note_added`` event each, at the note's time). Journal notes are only ever added (matched by body and
   ``created_at``), never deleted, by an import;
4. a dry run, or any error, stops here: no write transaction was ever opened, so a rejected file never blocks
   another writer. With errors and ``dry_run=False`` a :class:`~modelmate.errors.ValidationFailed` carrying the
   whole report is raised: nothing is written;
5. otherwise :mod:`.batches` writes it in short transactions (staged, decided by one short commit, then applied in
   chunks of about 0.1 s each; a crash before the decision leaves nothing, after it the import is finished at the
   next start).

The import manages its own transactions (it takes a :class:`~modelmate.db.engine.Database`, not a session).
Services never commit.
"""

from __future__ import annotations

import gc
import io
import re
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from itertools import islice
from typing import IO, Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from modelmate.catalog import repository as catalog_repo
from modelmate.catalog.schemas import MODEL_FIELDS, model_values
from modelmate.db.base import utcnow
from modelmate.db.engine import Database
from modelmate.errors import NotFoundError, PayloadTooLarge, ValidationFailed
from modelmate.models import Entry, JournalNote, User
from modelmate.transfer import apply, batches, csvio, jsonio
from modelmate.transfer import repository as repo
from modelmate.transfer.schemas import (
    IGNORED_FIELDS,
    MAX_REPORTED_ERRORS,
    PREVIEW_ROWS,
    ExportFormat,
    ImportFormat,
    ImportReport,
    RowError,
    TransferRecord,
    TransferRow,
)

EXPORT_BATCH = 500
MEDIA_TYPES = {ExportFormat.CSV: "text/csv; charset=utf-8", ExportFormat.JSON: "application/json"}
ROW_FIELDS = frozenset(TransferRow.model_fields) - {"model_id"}
Progress = Callable[[int, int], None]
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _batched(items: list[int], n: int) -> Iterator[list[int]]:
    it = iter(items)
    while chunk := list(islice(it, n)):
        yield chunk


# --- export ---------------------------------------------------------------------------------------------------

def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def record(entry: Entry, notes: list[JournalNote]) -> dict[str, Any]:
    """One entry as a JSON-ready export record (the shape of :class:`TransferRecord`)."""
    m = entry.model
    return {
        **model_values(m), "description": m.description or None,
        "status": entry.status, "date_interacted": _iso(entry.date_interacted), "rating": entry.rating,
        "tags": [t.name for t in entry.tags], "notes": entry.notes or "",
        "created_at": _iso(entry.created_at), "updated_at": _iso(entry.updated_at),
        "journal": [{"body": n.body, "created_at": _iso(n.created_at), "updated_at": _iso(n.updated_at)}
                    for n in notes],
    }


def iter_records(session: Session, user: User) -> Iterator[dict[str, Any]]:
    """Every entry of the user as an export record, oldest first, loaded in batches."""
    for chunk in _batched(repo.entry_ids(session, user.id), EXPORT_BATCH):
        entries = repo.load_entries(session, user.id, chunk)
        notes = repo.journal_by_entry(session, chunk)
        for entry in entries:
            yield record(entry, notes.get(entry.id, []))
        for entry in entries:  # keep memory flat on big logs: these rows are not needed again
            for note in notes.get(entry.id, []):
                session.expunge(note)
            session.expunge(entry)


def export_filename(fmt: ExportFormat, now: datetime | None = None) -> str:
    return f"modelmate-export-{(now or utcnow()):%Y%m%d}.{fmt.value}"


def write_export(session: Session, user: User, fmt: ExportFormat, out: IO[str], *,
                 now: datetime | None = None) -> int:
    """Write the user's whole log to a text stream. Returns the number of entries."""
    records = iter_records(session, user)
    if fmt == ExportFormat.CSV:
        return csvio.write_csv(records, out)
    return jsonio.write_json(records, out, now or utcnow())


def export_file(session: Session, user: User, fmt: ExportFormat) -> tuple[IO[bytes], str, str]:
    """The export in a temporary file (in memory while small), rewound: ``(file, filename, media type)``."""
    now = utcnow()
    buf = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024, mode="w+b")  # noqa: SIM115 - caller closes
    text = io.TextIOWrapper(buf, encoding="utf-8", newline="")
    write_export(session, user, fmt, text, now=now)
    text.flush()
    text.detach()
    buf.seek(0)
    return buf, export_filename(fmt, now), MEDIA_TYPES[fmt]


# --- import: reading --------------------------------------------------------------------------------------------

def detect_format(fmt: ImportFormat, filename: str | None, head: bytes) -> ExportFormat:
    if fmt != ImportFormat.AUTO:
        return ExportFormat(fmt.value)
    name = (filename or "").lower()
    if name.endswith(".json"):
        return ExportFormat.JSON
    if name.endswith(".csv"):
        return ExportFormat.CSV
    start = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    return ExportFormat.JSON if start[:1] in (b"{", b"[") else ExportFormat.CSV


def _size(fp: IO[bytes]) -> int:
    fp.seek(0, io.SEEK_END)
    size = fp.tell()
    fp.seek(0)
    return size


RawRows = Callable[[], Iterator[tuple[int, dict[str, Any] | None, list[RowError], bool]]]


def _csv_rows(source: csvio.CsvSource) -> RawRows:
    def rows() -> Iterator[tuple[int, dict[str, Any] | None, list[RowError], bool]]:
        for raw in source.rows():
            yield raw.row, raw.data, raw.errors, raw.encoding_error
    return rows


def _json_rows(source: jsonio.JsonSource, warnings: set[str]) -> RawRows:
    def rows() -> Iterator[tuple[int, dict[str, Any] | None, list[RowError], bool]]:
        for row, value in source.rows():
            if not isinstance(value, dict):
                yield row, None, [RowError(row=row, message="each entry must be a JSON object {...}")], False
                continue
            data: dict[str, Any] = {}
            for key, v in value.items():
                if key in ROW_FIELDS:
                    data[key] = v
                elif key in IGNORED_FIELDS:
                    warnings.add(f"ignored field '{key}': ids and ownership are never taken from a file; "
                                 "everything imported is yours")
                else:
                    warnings.add(f"unknown field '{key[:50]}' ignored")
            yield row, data, [], False
    return rows


def _text_problem(value: Any) -> str | None:
    """Text the database cannot store (NUL characters, lone surrogates), anywhere in a row."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            if "\x00" in v:
                return "contains a NUL character"
            if not v.isascii() and _SURROGATE.search(v):
                return "contains an invalid unicode escape (a lone surrogate)"
        elif isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return None


def _errors_from(row: int, exc: ValidationError) -> list[RowError]:
    out = []
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err.get("loc", ())]
        message = str(err.get("msg", "invalid value"))
        if len(loc) > 1:
            message = f"{'.'.join(loc[1:])}: {message}"
        value = err.get("input")
        if isinstance(value, str | int | float) and not isinstance(value, bool) and len(str(value)) <= 40 \
                and err.get("type") != "missing":
            message += f" (got {value!r})"
        out.append(RowError(row=row, column=loc[0] if loc else None, message=message))
    return out


def _identity_keys(row: TransferRow) -> list[tuple[str, str]]:
    keys = [("name and developer", catalog_repo.normalise_key(row.name) + "\x00"
             + catalog_repo.normalise_key(row.developer))]
    if row.hf_repo_id:
        keys.append(("hf_repo_id", row.hf_repo_id.lower()))
    if row.github_repo:
        keys.append(("github_repo", row.github_repo.lower()))
    return keys


def _preview(row: TransferRow) -> TransferRecord:
    model = {name: getattr(row, name) for name in MODEL_FIELDS}
    return TransferRecord(
        **{**model, "name": row.name or "", "model_type": row.model_type or "Other",
           "description": row.description or None, "source_links": row.source_links or []},
        status=(row.status or "wishlist"), date_interacted=row.date_interacted, rating=row.rating,
        tags=row.tags or [], notes=row.notes or "", created_at=row.created_at, updated_at=row.updated_at,
        journal=row.journal)


# --- import -----------------------------------------------------------------------------------------------------

_gc_lock = threading.Lock()
_gc_imports = 0
GC_FREEZE_ROWS = 5000


@contextmanager
def _quiet_gc() -> Iterator[Callable[[], None]]:
    """Keep the import's many long-lived objects out of the cyclic garbage collector's full passes.

    Validating 100k rows keeps millions of objects alive; each full collection walked all of them and stopped every
    thread of the server for up to 0.85 s (4.3 s of an 11 s import; measured with ``gc.callbacks``) — other users'
    requests waited that long, write lock or not. The import calls the yielded function every few thousand rows to
    move what is alive into the permanent generation (``gc.freeze``); the last running import moves it back
    (``gc.unfreeze``), when most of it has been freed."""
    global _gc_imports
    with _gc_lock:
        _gc_imports += 1
    try:
        yield gc.freeze
    finally:
        with _gc_lock:
            _gc_imports -= 1
            if _gc_imports == 0:
                gc.unfreeze()


def import_file(db: Database, user_id: int, fp: IO[bytes], *, filename: str | None, fmt: ImportFormat,
                dry_run: bool, max_bytes: int, max_rows: int, progress: Progress | None = None) -> ImportReport:
    """Validate (and unless ``dry_run``, apply) an import for ``user_id``. See the module docs for the rules."""
    with _quiet_gc() as freeze:
        return _import(db, user_id, fp, filename=filename, fmt=fmt, dry_run=dry_run, max_bytes=max_bytes,
                       max_rows=max_rows, progress=progress, freeze=freeze)


def _import(db: Database, user_id: int, fp: IO[bytes], *, filename: str | None, fmt: ImportFormat, dry_run: bool,
            max_bytes: int, max_rows: int, progress: Progress | None, freeze: Callable[[], None]) -> ImportReport:
    size = _size(fp)
    if size > max_bytes:
        raise PayloadTooLarge(f"the file is {size} bytes; the largest accepted import is {max_bytes} bytes")
    kind = detect_format(fmt, filename, fp.read(4096))
    fp.seek(0)
    warnings: set[str] = set()
    csv_source: csvio.CsvSource | None = None
    json_source: jsonio.JsonSource | None = None
    try:
        if kind == ExportFormat.CSV:
            csv_source = csvio.CsvSource(fp)
            rows = _csv_rows(csv_source)
        else:
            raw = fp.read()
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                line = raw.count(b"\n", 0, exc.start) + 1
                raise ValidationFailed(f"the file is not valid UTF-8 (line {line}, byte {exc.start}); "
                                       "save it as UTF-8") from None
            del raw
            json_source = jsonio.JsonSource(text)
            freeze()  # the parsed document: every row's objects at once
            rows = _json_rows(json_source, warnings)
        total, valid, errors = _validate(kind, rows, max_rows=max_rows, freeze=freeze)
        source = csv_source or json_source
        file_warnings = source.warnings if source else []
    except (csvio.CsvFileError, jsonio.JsonFileError) as exc:
        raise ValidationFailed(str(exc), details={"format": kind.value}) from None
    finally:
        if csv_source is not None:
            csv_source.close()

    # 3. resolve with reads only: no write lock is taken before the whole file is known to be good.
    with db.session() as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFoundError("user not found")
        planned = apply.plan_rows(session, user, valid)
    freeze()
    errors += planned.errors
    errors.sort(key=lambda e: (e.row or 0))
    commit = not dry_run and not errors
    outcome = planned
    if commit:
        batches.recover(db)  # what a crashed import left behind (stale batches only)
        outcome = batches.write(db, user_id, valid, progress)
        warnings.update(f"row {e.row} was not applied: the catalog or your log changed while importing "
                        f"({e.message})" for e in outcome.errors[:MAX_REPORTED_ERRORS])
    report = ImportReport(
        format=kind, total_rows=total, valid_rows=len(valid) - len({e.row for e in planned.errors}),
        created=outcome.created, updated=outcome.updated, unchanged=outcome.unchanged,
        errors=errors[:MAX_REPORTED_ERRORS], error_count=len(errors), warnings=file_warnings + sorted(warnings),
        preview=[_preview(r) for _, r, _ in valid[:PREVIEW_ROWS]], committed=commit)
    if report.error_count and not dry_run:
        first = report.errors[0]
        where = f"row {first.row}" + (f", column {first.column}" if first.column else "") if first.row else "file"
        raise ValidationFailed(f"{report.error_count} error(s) in the file, nothing was imported "
                               f"(first: {where}: {first.message})", details=report.model_dump(mode="json"))
    return report


def _validate(kind: ExportFormat, rows: RawRows, *, max_rows: int, freeze: Callable[[], None]
              ) -> tuple[int, list[tuple[int, TransferRow, frozenset[str]]], list[RowError]]:
    """Steps 1 and 2 (no database): (row count, valid rows with the fields the file set, row errors)."""
    # 1. count, refusing too many rows before parsing them, and find bytes that are not UTF-8.
    total = 0
    bad_bytes: list[RowError] = []
    for _, _, errs, encoding_error in rows():
        total += 1
        if total > max_rows:
            raise ValidationFailed(f"too many rows (max {max_rows})", details={"max_rows": max_rows})
        if encoding_error:
            bad_bytes.extend(errs)
    if bad_bytes:
        first = bad_bytes[0]
        raise ValidationFailed(
            f"the file is not valid UTF-8 (row {first.row}, column {first.column}); save it as UTF-8",
            details={"format": kind.value, "errors": [e.model_dump() for e in bad_bytes[:MAX_REPORTED_ERRORS]]})

    # 2. validate every row.
    errors: list[RowError] = []
    valid: list[tuple[int, TransferRow, frozenset[str]]] = []
    seen: dict[str, int] = {}
    for row_no, data, errs, _ in rows():
        if errs or data is None:
            errors.extend(errs)
            continue
        problem = _text_problem(data)
        if problem:
            errors.append(RowError(row=row_no, message=problem))
            continue
        try:
            row = TransferRow.model_validate(data)
        except ValidationError as exc:
            errors.extend(_errors_from(row_no, exc))
            continue
        clash = next(((what, seen[key]) for what, key in _identity_keys(row) if key in seen), None)
        if clash:
            errors.append(RowError(row=row_no, message=f"the same model as row {clash[1]} (same {clash[0]})"))
            continue
        for _, key in _identity_keys(row):
            seen[key] = row_no
        valid.append((row_no, row, frozenset(data)))
        if len(valid) % GC_FREEZE_ROWS == 0:
            freeze()
    freeze()
    return total, valid, errors
