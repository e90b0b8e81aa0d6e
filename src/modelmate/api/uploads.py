"""Multipart uploads streamed straight to a private file on disk, with a size cap enforced while they arrive.

FastAPI's ``UploadFile`` has Starlette spool the whole body into the system temp directory before the endpoint runs:
fine for a dataset (hundreds of MB), not for a model file of tens of GB that must land in the data directory.
:func:`receive_file` parses the body as it arrives (python-multipart, the parser Starlette itself uses) and writes
the one file part to a fresh file (mode 0600, a generated name) in a folder of the caller's choice. Bytes are counted
as they come: past ``max_bytes`` the file is removed and :class:`~modelmate.errors.PayloadTooLarge` (413) is raised
while the client is still sending. Small text fields are collected, each capped. Anything malformed is a 422
(:class:`~modelmate.errors.ValidationFailed`). On any failure the partial file is removed.

The client's file name is returned as metadata only: it is never part of a path. Disk writes go through a worker
thread in blocks of about a megabyte, so the event loop never waits on the disk.

The whole-request cap (``BodySizeLimitMiddleware`` in ``app.py``: the file cap plus a small allowance for the form)
still applies in front of this: it answers 413 for a declared ``Content-Length`` that is too large before a byte is
read.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

from anyio import to_thread
from python_multipart.multipart import FormParserError, MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from modelmate.errors import AppError, PayloadTooLarge, ValidationFailed
from modelmate.storage.private import private_dir

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

WRITE_BLOCK = 1024 * 1024  # buffered bytes handed to the writer thread at once
OTHER_FIELD_MAX = 8 * 1024  # unknown text fields are read (and dropped) up to this size
MAX_PARTS = 32


class _Refused(Exception):
    """Raised inside the parser's callbacks; carries the AppError to answer with."""

    def __init__(self, error: AppError) -> None:
        super().__init__(error.message)
        self.error = error


@dataclass
class ReceivedFile:
    """An uploaded file on disk (remove it with :meth:`discard` unless it is handed on) and the form's text fields."""

    path: Path
    size: int
    filename: str | None  # the client's name for it, cleaned; metadata only
    fields: dict[str, str] = field(default_factory=dict)

    def discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def clean_filename(raw: str | None, limit: int = 255) -> str | None:
    """The last component of a client's file name, without control characters; None when nothing is left."""
    if not raw:
        return None
    base = re.split(r"[\\/]", raw)[-1]
    cleaned = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()[:limit]
    return cleaned if cleaned.strip(". ") else None


def _invalid(message: str, field_name: str | None = None) -> _Refused:
    return _Refused(ValidationFailed(message, details={"errors": [{"field": field_name, "message": message}]}))


class _Receiver:
    """The parser's callbacks: one file part to ``out``, capped text fields into ``fields``."""

    def __init__(self, out: IO[bytes], *, file_field: str, max_bytes: int, text_fields: Mapping[str, int]) -> None:
        self.out = out
        self.file_field = file_field
        self.max_bytes = max_bytes
        self.text_fields = dict(text_fields)
        self.fields: dict[str, str] = {}
        self.size = 0
        self.filename: str | None = None
        self.file_seen = False
        self.pending: list[bytes] = []
        self.pending_bytes = 0
        self.parts = 0
        self.ended = False  # the closing boundary was read
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._part: str | None = None  # "file", or the name of a text field
        self._text = bytearray()
        self._text_limit = 0

    def callbacks(self) -> MultipartCallbacks:
        return {"on_part_begin": self.on_part_begin, "on_part_data": self.on_part_data,
                "on_part_end": self.on_part_end, "on_header_field": self.on_header_field,
                "on_header_value": self.on_header_value, "on_header_end": self.on_header_end,
                "on_headers_finished": self.on_headers_finished, "on_end": self.on_end}

    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise _invalid(f"the form has more than {MAX_PARTS} parts")
        self._disposition = b""
        self._part = None
        self._text = bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        if self._header_name.strip().lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name, self._header_value = b"", b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        raw_name = options.get(b"name")
        if raw_name is None:
            raise _invalid("every part of the form needs a name (Content-Disposition: form-data; name=...)")
        name = raw_name.decode("utf-8", "replace")
        if b"filename" in options or name == self.file_field:
            if name != self.file_field:
                raise _invalid(f"unexpected file in the form field {name[:50]!r}: send the file as "
                               f"{self.file_field!r}", name[:50])
            if self.file_seen:
                raise _invalid(f"send one file only (the field {self.file_field!r} appears twice)", self.file_field)
            self.file_seen = True
            self.filename = clean_filename(options.get(b"filename", b"").decode("utf-8", "replace"))
            self._part = "file"
            return
        self._part = name
        self._text_limit = self.text_fields.get(name, OTHER_FIELD_MAX)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._part == "file":
            n = end - start
            self.size += n
            if self.size > self.max_bytes:
                raise _Refused(PayloadTooLarge(f"the file is larger than {self.max_bytes:,} bytes, the largest "
                                               "this server accepts"))
            self.pending.append(bytes(data[start:end]))
            self.pending_bytes += n
            return
        self._text += data[start:end]
        if len(self._text) > self._text_limit * 4:  # the limit is in characters; UTF-8 needs at most 4 bytes each
            raise _invalid(f"the field {self._part!r} is too long", self._part)

    def on_part_end(self) -> None:
        if self._part is None or self._part == "file":
            return
        if self._part in self.text_fields:
            try:
                self.fields[self._part] = self._text.decode("utf-8")
            except UnicodeDecodeError:
                raise _invalid(f"the field {self._part!r} is not valid UTF-8 text", self._part) from None
        self._part = None

    def on_end(self) -> None:
        self.ended = True

    def take_pending(self) -> bytes:
        data = b"".join(self.pending)
        self.pending.clear()
        self.pending_bytes = 0
        return data


def _boundary(request: Request) -> bytes:
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise ValidationFailed("send the upload as multipart/form-data (with a boundary)",
                               details={"errors": [{"field": None, "message": "expected multipart/form-data"}]})
    return boundary


async def receive_file(request: Request, *, folder: Path, file_field: str, max_bytes: int,
                       text_fields: Mapping[str, int], prefix: str = "upload-", suffix: str = "") -> ReceivedFile:
    """Stream the request's multipart body: the ``file_field`` part into a new private file in ``folder``, the
    ``text_fields`` (name → maximum length in characters) into :attr:`ReceivedFile.fields`. See the module docs."""
    boundary = _boundary(request)
    private_dir(folder)
    fd, name = tempfile.mkstemp(dir=folder, prefix=prefix, suffix=suffix)  # O_EXCL, mode 0600, a random name
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            receiver = _Receiver(out, file_field=file_field, max_bytes=max_bytes, text_fields=text_fields)
            parser = MultipartParser(boundary, receiver.callbacks())
            try:
                async for chunk in request.stream():
                    if chunk:
                        parser.write(chunk)
                    if receiver.pending_bytes >= WRITE_BLOCK:
                        await to_thread.run_sync(out.write, receiver.take_pending())
                parser.finalize()
            except _Refused as exc:
                raise exc.error from None
            except FormParserError:
                raise ValidationFailed("the upload is not valid multipart/form-data",
                                       details={"errors": [{"field": None, "message": "malformed multipart body"}]}
                                       ) from None
            except ClientDisconnect:
                raise AppError("the upload was interrupted", code="upload_interrupted") from None
            if receiver.pending_bytes:
                await to_thread.run_sync(out.write, receiver.take_pending())
        if receiver.parts and not receiver.ended:
            raise ValidationFailed("the upload ended before the form did (its closing boundary is missing)",
                                   details={"errors": [{"field": None, "message": "incomplete multipart body"}]})
        if not receiver.file_seen:
            raise ValidationFailed(f"the form has no file: send it in the field {file_field!r}",
                                   details={"errors": [{"field": file_field, "message": "a file is required"}]})
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        raise
    return ReceivedFile(path=path, size=receiver.size, filename=receiver.filename, fields=receiver.fields)
