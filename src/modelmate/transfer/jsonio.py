"""JSON encoding of the tracker log.

Export: ``{"format": "modelmate-export", "version": 1, "exported_at": "...", "entries": [ {...}, ... ]}``, one entry
per line, UTF-8, values exactly as stored (no formula guarding: JSON is not opened by spreadsheets).

Import accepts that document or a bare list of entries. The top level is walked by hand and the entries are decoded
one at a time (``json.JSONDecoder.raw_decode``), so counting rows never builds the whole document, a too-long list
is refused as soon as it passes the limit, and every syntax error is reported with its line and column.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import IO, Any

from modelmate.jsonutil import json_depth
from modelmate.transfer.schemas import EXPORT_FORMAT_NAME, EXPORT_VERSION

MAX_DEPTH = 32  # an entry is at most 4 levels deep (entry → journal → note → field)

_WS = re.compile(r"[ \t\n\r]*")
_decoder = json.JSONDecoder()


def write_json(records: Iterable[dict[str, Any]], out: IO[str], exported_at: datetime) -> int:
    """Write JSON-ready export records as an export document. Returns the number of entries."""
    head = {"format": EXPORT_FORMAT_NAME, "version": EXPORT_VERSION, "exported_at": exported_at.isoformat()}
    out.write(json.dumps(head, ensure_ascii=False)[:-1] + ', "entries": [')
    n = 0
    for rec in records:
        out.write(",\n  " if n else "\n  ")
        out.write(json.dumps(rec, ensure_ascii=False))
        n += 1
    out.write("\n]}\n" if n else "]}\n")
    return n


class JsonFileError(Exception):
    """The document cannot be read; the message names the line and column."""


def _where(text: str, pos: int) -> str:
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return f"line {line}, column {col}"


class JsonSource:
    """Entries of a JSON upload. :meth:`rows` walks the document again on each call."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.meta: dict[str, Any] = {}
        self.warnings: list[str] = []

    def _skip(self, pos: int) -> int:
        return _WS.match(self.text, pos).end()  # type: ignore[union-attr]

    def _decode(self, pos: int) -> tuple[Any, int]:
        try:
            return _decoder.raw_decode(self.text, pos)
        except json.JSONDecodeError as exc:
            raise JsonFileError(f"invalid JSON at {_where(self.text, exc.pos)}: {exc.msg}") from None
        except RecursionError:
            raise JsonFileError(f"JSON nested too deeply at {_where(self.text, pos)}") from None

    def _expect(self, pos: int, chars: str, what: str) -> tuple[str, int]:
        pos = self._skip(pos)
        if pos >= len(self.text):
            raise JsonFileError(f"invalid JSON: the document ends early; expected {what}")
        ch = self.text[pos]
        if ch not in chars:
            raise JsonFileError(f"invalid JSON at {_where(self.text, pos)}: expected {what}")
        return ch, pos + 1

    def rows(self) -> Iterator[tuple[int, Any]]:
        """Yield ``(row, value)`` for every element of the entries list, 1-based."""
        text = self.text
        pos = self._skip(0)
        if pos >= len(text):
            raise JsonFileError("the file is empty")
        if text[pos] == "[":
            yield from self._array(pos + 1)
            pos = self._end_of_array
        elif text[pos] == "{":
            pos += 1
            found = False
            ch, after = self._expect(pos, '"}', "a key or '}'")
            if ch == "}":
                pos = after
            else:
                while True:
                    pos = self._skip(pos)
                    key, pos = self._decode(pos)
                    _, pos = self._expect(pos, ":", "':'")
                    pos = self._skip(pos)
                    if key == "entries":
                        if found:
                            raise JsonFileError("'entries' appears twice in the document")
                        found = True
                        if pos >= len(text) or text[pos] != "[":
                            raise JsonFileError(f"'entries' must be a list ({_where(text, pos)})")
                        self._check_meta()
                        yield from self._array(pos + 1)
                        pos = self._end_of_array
                    else:
                        value, pos = self._decode(pos)
                        if key in ("format", "version"):
                            self.meta[key] = value
                    ch, pos = self._expect(pos, ",}", "',' or '}'")
                    if ch == "}":
                        break
                    self._expect(pos, '"', "a key")
            if not found:
                raise JsonFileError("no 'entries' list in the document (expected a ModelMate export)")
        else:
            raise JsonFileError(f"invalid JSON at {_where(text, pos)}: expected a document {{...}} or a list [...]")
        pos = self._skip(pos)
        if pos < len(text):
            raise JsonFileError(f"invalid JSON at {_where(text, pos)}: extra data after the document")

    def _check_meta(self) -> None:
        fmt, version = self.meta.get("format"), self.meta.get("version")
        if fmt is not None and fmt != EXPORT_FORMAT_NAME:
            self.warnings.append(f"the document says format {str(fmt)[:50]!r}; read as a ModelMate export")
        if version is not None and (not isinstance(version, int) or version > EXPORT_VERSION):
            raise JsonFileError(f"export version {str(version)[:20]} is not supported (this ModelMate reads "
                                f"version {EXPORT_VERSION}); update ModelMate")

    _end_of_array = 0

    def _array(self, pos: int) -> Iterator[tuple[int, Any]]:
        row = 0
        ch, after = self._expect(pos, "]" + '{["-0123456789tfn', "an entry or ']'")
        if ch == "]":
            self._end_of_array = after
            return
        while True:
            pos = self._skip(pos)
            start = pos
            value, pos = self._decode(pos)
            row += 1
            if json_depth(value, MAX_DEPTH) > MAX_DEPTH:
                raise JsonFileError(f"entry {row} is nested too deeply ({_where(self.text, start)})")
            yield row, value
            ch, pos = self._expect(pos, ",]", "',' or ']'")
            if ch == "]":
                self._end_of_array = pos
                return
