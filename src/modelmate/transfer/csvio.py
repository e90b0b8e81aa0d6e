"""CSV encoding of the tracker log: one row per entry, lossless in both directions.

The file is UTF-8 (written with a BOM so spreadsheet programs detect it; a BOM is optional on import), RFC 4180
quoting, CRLF line ends; cells may hold newlines. Columns, in order, are :data:`COLUMNS`. Cell encodings:

* empty cell: no value (null). ``notes`` empty means no notes.
* ``tags`` and ``source_links``: the items joined with ``"; "``. Inside an item a backslash is written ``\\\\`` and a
  semicolon ``\\;`` (so ``a;b`` is one tag, written ``a\\;b``). Items are trimmed on import.
* ``journal``: the journal notes as a JSON array of ``{"body", "created_at", "updated_at"}`` objects (empty cell:
  no notes).
* dates are ISO 8601 (``2026-10-01``); timestamps are ISO 8601 with an offset (UTC on export).
* ``parameters`` is a plain integer (``7000000000``); on import ``7e9`` or ``7.0E+09`` (spreadsheet notation) is
  also accepted when it is a whole number.

Formula injection: a cell that would start with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return — after any
leading apostrophes — gets one more ``'`` in front on export, so spreadsheets show it as text. On import one leading
``'`` is removed from a cell that starts with apostrophes followed by one of those characters. The pair of rules is
a bijection, so the round trip stays lossless (a note that really starts with ``'=`` comes back as ``'=``).

Columns that are not ours are ignored (with a warning in the report); ``id``, ``owner_id``, ``model_id``,
``user_id`` and similar columns are ignored too: ownership is never taken from a file.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from modelmate.catalog.schemas import MAX_PARAMETERS
from modelmate.transfer.schemas import IGNORED_FIELDS, RowError, TransferRecord

# name, the model fields, the entry's fields, its timestamps, journal: an exported record's fields in order
COLUMNS: tuple[str, ...] = tuple(TransferRecord.model_fields)
LIST_COLUMNS = frozenset({"tags", "source_links"})
MAX_CELL = 1_000_000  # characters; the largest legal value (notes + journal) is far below the body-size limit

_NEEDS_GUARD = re.compile(r"'*[=+\-@\t\r]")
_GUARDED = re.compile(r"'+[=+\-@\t\r]")
_BAD_BYTES = re.compile(r"[\udc80-\udcff]")
_INT = re.compile(r"\d+")

csv.field_size_limit(MAX_CELL)


# --- cells ----------------------------------------------------------------------------------------------------

def guard(cell: str) -> str:
    """Prefix ``'`` to a cell a spreadsheet would read as a formula (see the module docs)."""
    return "'" + cell if _NEEDS_GUARD.match(cell) else cell


def unguard(cell: str) -> str:
    """Undo :func:`guard`."""
    return cell[1:] if _GUARDED.match(cell) else cell


def join_list(items: Iterable[str]) -> str:
    return "; ".join(i.replace("\\", "\\\\").replace(";", "\\;") for i in items)


def split_list(cell: str) -> list[str]:
    items: list[str] = []
    current: list[str] = []
    chars = iter(cell)
    for ch in chars:
        if ch == "\\":
            current.append(next(chars, "\\"))
        elif ch == ";":
            items.append("".join(current))
            current = []
        else:
            current.append(ch)
    items.append("".join(current))
    return [i.strip() for i in items if i.strip()]


def _cell(column: str, value: Any) -> str:
    if value is None:
        return ""
    if column in LIST_COLUMNS:
        return join_list(value)
    if column == "journal":
        return json.dumps(value, ensure_ascii=False) if value else ""
    return str(value)


# --- writing --------------------------------------------------------------------------------------------------

def write_csv(records: Iterable[dict[str, Any]], out: IO[str]) -> int:
    """Write JSON-ready export records (``TransferRecord`` dumps) as CSV. Returns the number of rows."""
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    n = 0
    for rec in records:
        writer.writerow([guard(_cell(c, rec.get(c))) for c in COLUMNS])
        n += 1
    return n


# --- reading --------------------------------------------------------------------------------------------------

class CsvFileError(Exception):
    """The file as a whole cannot be read (no header, duplicate columns...)."""


@dataclass
class RawRow:
    row: int
    data: dict[str, Any] | None
    errors: list[RowError] = field(default_factory=list)
    encoding_error: bool = False


@dataclass
class CsvSource:
    """Rows of a CSV upload, read lazily (every call to :meth:`rows` streams the file again)."""

    fp: IO[bytes]
    warnings: list[str] = field(default_factory=list)
    _text: io.TextIOWrapper | None = None

    def close(self) -> None:
        """Let go of the file without closing it (the caller owns it)."""
        if self._text is not None:
            self._text.detach()
            self._text = None

    def _reader(self) -> tuple[Iterator[list[str]], list[str | None]]:
        self.close()
        self.fp.seek(0)
        text = self._text = io.TextIOWrapper(self.fp, encoding="utf-8-sig", errors="surrogateescape",
                                             newline="")
        reader = csv.reader(text, strict=False)
        header: list[str] | None = None
        try:
            for cells in reader:
                if any(c.strip() for c in cells):
                    header = cells
                    break
        except csv.Error as exc:
            raise CsvFileError(f"the header row cannot be read: {exc}") from exc
        if header is None:
            raise CsvFileError("the file is empty: expected a header row naming the columns (name, status, ...)")
        if _BAD_BYTES.search("".join(header)):
            raise CsvFileError("the header row is not valid UTF-8; save the file as UTF-8 (CSV UTF-8)")
        names = [h.strip().lower() for h in header]
        columns: list[str | None] = []
        seen: set[str] = set()
        ignored, unknown = [], []
        for name in names:
            if name in COLUMNS:
                if name in seen:
                    raise CsvFileError(f"column '{name}' appears twice in the header")
                seen.add(name)
                columns.append(name)
            else:
                columns.append(None)
                if name in IGNORED_FIELDS:
                    ignored.append(name)
                elif name:
                    unknown.append(name)
        if "name" not in seen:
            raise CsvFileError("the header has no 'name' column (expected columns: " + ", ".join(COLUMNS) + ")")
        self.warnings = []
        if ignored:
            self.warnings.append("ignored column(s) " + ", ".join(ignored)
                                 + ": ids and ownership are never taken from a file; everything imported is yours")
        if unknown:
            self.warnings.append("unknown column(s) ignored: " + ", ".join(unknown[:20]))
        return reader, columns

    def rows(self) -> Iterator[RawRow]:
        reader, columns = self._reader()
        row = 0
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                row += 1
                yield RawRow(row, None, [RowError(row=row, message=f"cannot be read as CSV: {exc}")])
                continue
            if not any(c.strip() for c in cells):
                continue  # blank line
            row += 1
            yield _row(row, cells, columns)


def _row(row: int, cells: list[str], columns: list[str | None]) -> RawRow:
    errors: list[RowError] = []
    bad_encoding = False
    for i, cell in enumerate(cells):
        if _BAD_BYTES.search(cell):
            name = columns[i] if i < len(columns) and columns[i] else f"#{i + 1}"
            errors.append(RowError(row=row, column=name, message="not valid UTF-8 text; save the file as UTF-8"))
            bad_encoding = True
    if len(cells) > len(columns) and any(c.strip() for c in cells[len(columns):]):
        errors.append(RowError(row=row, message=f"has {len(cells)} cells but the header names {len(columns)}"))
    if errors:
        return RawRow(row, None, errors, encoding_error=bad_encoding)
    data: dict[str, Any] = {}
    for name, cell in zip(columns, cells, strict=False):
        if name is None:
            continue
        data[name] = _decode(name, unguard(cell), row, errors)
    return RawRow(row, None if errors else data, errors)


def _decode(column: str, cell: str, row: int, errors: list[RowError]) -> Any:
    if column == "notes":
        return cell
    if column in LIST_COLUMNS:
        return split_list(cell)
    if column == "journal":
        if not cell.strip():
            return []
        try:
            return json.loads(cell)
        except (ValueError, RecursionError) as exc:
            errors.append(RowError(row=row, column=column, message=f"not a JSON list of notes: {exc}"))
            return None
    if column == "description":
        return cell or None
    stripped = cell.strip()
    if not stripped:
        return None
    if column == "parameters" and not _INT.fullmatch(stripped):
        try:
            number = Decimal(stripped.replace("_", ""))
        except InvalidOperation:
            return stripped  # the schema reports it
        if number.is_finite() and abs(number) <= MAX_PARAMETERS and number == number.to_integral_value():
            return int(number)
    return stripped
