"""Import and export of the tracker log (CSV and JSON).

Export writes every entry of the user, oldest first, with its catalog model's fields, its own fields, its timestamps
and its journal notes (see :mod:`.csvio` and :mod:`.jsonio` for the encodings).

Import is all-or-nothing and idempotent:

1. the file is walked once to count rows (refused past ``max_rows`` before anything else is parsed) and to find
   bytes that are not UTF-8;
2. every row is validated with the API's own entry schema (:class:`~.schemas.TransferRow`); ids and ownership
   columns are ignored — everything imported belongs to the importing user; two rows for the same model are an
   error;
3. the rows are applied inside a savepoint: a row whose model (``hf_repo_id``, ``github_repo``, or name +
   developer — the catalog's duplicate rule) already has an entry of the user updates it when something differs,
   else leaves it (``unchanged``); other rows create entries with their original ``created_at``/``updated_at``, an
   ``added`` event at ``created_at``, and their journal notes (a ``note_added`` event each, at the note's time).
   Journal notes are only ever added (matched by body and ``created_at``), never deleted, by an import;
4. a dry run, or any error, rolls the savepoint back. With errors and ``dry_run=False`` a
   :class:`~modelmate.errors.ValidationFailed` carrying the whole report is raised, so the caller's transaction
   rolls back too: nothing is written.

Services never commit.
"""

from __future__ import annotations

import io
import re
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime
from itertools import islice
from typing import IO, Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from modelmate.catalog import repository as catalog_repo
from modelmate.db.base import utcnow
from modelmate.errors import ConflictError, PayloadTooLarge, ValidationFailed
from modelmate.models import Entry, JournalNote, User
from modelmate.transfer import apply, csvio, jsonio
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
        "name": m.name, "developer": m.developer, "model_type": m.model_type, "parameters": m.parameters,
        "license": m.license, "version": m.version, "description": m.description or None,
        "source_links": list(m.source_links or []), "hf_repo_id": m.hf_repo_id, "github_repo": m.github_repo,
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
    return TransferRecord(
        name=row.name or "", developer=row.developer, model_type=(row.model_type or "Other"),
        parameters=row.parameters, license=row.license, version=row.version, description=row.description or None,
        source_links=row.source_links or [], hf_repo_id=row.hf_repo_id, github_repo=row.github_repo,
        status=(row.status or "wishlist"), date_interacted=row.date_interacted, rating=row.rating,
        tags=row.tags or [], notes=row.notes or "", created_at=row.created_at, updated_at=row.updated_at,
        journal=row.journal)


# --- import -----------------------------------------------------------------------------------------------------

def import_file(session: Session, user: User, fp: IO[bytes], *, filename: str | None, fmt: ImportFormat,
                dry_run: bool, max_bytes: int, max_rows: int, progress: Progress | None = None) -> ImportReport:
    """Validate (and unless ``dry_run``, apply) an import. See the module docs for the rules."""
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
            rows = _json_rows(json_source, warnings)
        report = _run(session, user, kind, rows, dry_run=dry_run, max_rows=max_rows, progress=progress,
                      warnings=warnings)
        source = csv_source or json_source
        report.warnings = (source.warnings if source else []) + report.warnings
    except (csvio.CsvFileError, jsonio.JsonFileError) as exc:
        raise ValidationFailed(str(exc), details={"format": kind.value}) from None
    finally:
        if csv_source is not None:
            csv_source.close()
    if report.error_count and not dry_run:
        first = report.errors[0]
        where = f"row {first.row}" + (f", column {first.column}" if first.column else "") if first.row else "file"
        raise ValidationFailed(f"{report.error_count} error(s) in the file, nothing was imported "
                               f"(first: {where}: {first.message})", details=report.model_dump(mode="json"))
    return report


def _run(session: Session, user: User, kind: ExportFormat, rows: RawRows, *, dry_run: bool, max_rows: int,
         progress: Progress | None, warnings: set[str]) -> ImportReport:
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
    del seen

    # 3. apply inside a savepoint; a dry run or any error rolls it back.
    savepoint = session.begin_nested()
    try:
        outcome = apply.apply_rows(session, user, valid, progress)
        session.flush()
    except IntegrityError:
        savepoint.rollback()
        raise ConflictError("the catalog or your log changed while importing; try again") from None
    except BaseException:
        savepoint.rollback()
        raise
    errors += outcome.errors
    commit = not dry_run and not errors
    if commit:
        savepoint.commit()
    else:
        savepoint.rollback()
    errors.sort(key=lambda e: (e.row or 0))
    return ImportReport(
        format=kind, total_rows=total, valid_rows=len(valid) - len({e.row for e in outcome.errors}),
        created=outcome.created, updated=outcome.updated, unchanged=outcome.unchanged,
        errors=errors[:MAX_REPORTED_ERRORS], error_count=len(errors), warnings=sorted(warnings),
        preview=[_preview(r) for _, r, _ in valid[:PREVIEW_ROWS]], committed=commit)
