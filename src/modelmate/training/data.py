"""Dataset files in, canonical training records out.

Reading is streamed (JSONL line by line with a line-length cap, CSV through ``csv`` with a field-size cap, Parquet in
record batches), every problem is a :class:`DataError` naming the row (1-based: the line number for JSONL, the data
row for CSV — the header is not counted — and the record number for Parquet) and the column.

Four formats are recognised (``detect_format``) and normalised (``normalize``) to one of two canonical records:

- ``text``      ``{"text": "..."}``                                          → ``{"text": str}``
- ``alpaca``    ``{"instruction", "input"?, "output", "system"?}``           → ``{"messages": [...]}``
- ``sharegpt``  ``{"conversations": [{"from": "human"|"gpt"|..., "value"}]}`` → ``{"messages": [...]}``
- ``messages``  OpenAI ``{"messages": [{"role", "content"}]}``               → ``{"messages": [...]}``

Messages have roles ``system`` (only at the start), ``user`` and ``assistant`` and string content; a conversation
must contain an assistant reply (that is what gets trained). Canonical records are stored as sorted-key JSONL whose
sha256 is the dataset's identity (``canonical_bytes``/``content_hash``).

``encode_record`` turns a record into ``(input_ids, labels)`` with the tokenizer's chat template (rendered by
transformers' sandboxed Jinja); only assistant turns (and the closing end-of-sequence token) are labelled.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import random
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelmate.enums import DatasetFormat
from modelmate.jsonutil import json_depth

FILE_TYPES = ("jsonl", "csv", "parquet")
FORMATS: tuple[str, ...] = tuple(f.value for f in DatasetFormat)
MAX_ERRORS = 20
MAX_DEPTH = 20
MAX_MESSAGES = 1000
MAX_CSV_COLUMNS = 1000
DETECT_SAMPLE = 100
IGNORE_INDEX = -100

SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "chatgpt": "assistant", "bard": "assistant", "bing": "assistant", "model": "assistant",
                  "system": "system"}
MESSAGE_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
_EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".parquet": "parquet",
               ".pq": "parquet"}
_SURROGATE = re.compile(r"[\udc80-\udcff]")


class DataError(ValueError):
    """One problem in a dataset, with the row and column it is in when known."""

    def __init__(self, message: str, *, row: int | None = None, column: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.row = row
        self.column = column

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        return f"{', '.join(where)}: {self.message}" if where else self.message

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "message": self.message}


class DataErrors(ValueError):
    """Several problems (at most ``MAX_ERRORS`` kept); ``total`` counts all that were found."""

    def __init__(self, errors: list[DataError], total: int | None = None) -> None:
        self.errors = errors[:MAX_ERRORS]
        self.total = total if total is not None else len(errors)
        first = str(self.errors[0]) if self.errors else "invalid dataset"
        more = f" (and {self.total - 1} more)" if self.total > 1 else ""
        super().__init__(first + more)


# ---------------------------------------------------------------------------------------------------------------
# File types and raw records
# ---------------------------------------------------------------------------------------------------------------

def sniff_file_type(filename: str | None, head: bytes) -> str:
    """``jsonl``, ``csv`` or ``parquet`` from the content's first bytes, then the file name's extension."""
    if head.startswith(b"PAR1"):
        return "parquet"
    suffix = Path(filename or "").suffix.lower() if filename and "\x00" not in filename else ""
    by_name = _EXTENSIONS.get(suffix)
    if by_name == "parquet":
        raise DataError("the file is named .parquet but is not a Parquet file")
    if by_name:
        return by_name
    text = head.removeprefix(codecs.BOM_UTF8).lstrip()
    if not text:
        raise DataError("the file is empty")
    if text[:1] == b"{":
        return "jsonl"
    first_line = text.split(b"\n", 1)[0]
    if b"," in first_line or first_line.strip().isalnum():
        return "csv"
    raise DataError("unrecognised file type: upload JSON Lines (.jsonl), CSV (.csv) or Parquet (.parquet)")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def _json_value(text: str, *, row: int, column: str | None = None) -> Any:
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise DataError(f"nested more than {MAX_DEPTH} levels deep", row=row, column=column) from None
    except ValueError as exc:
        raise DataError(f"not valid JSON ({exc})", row=row, column=column) from None
    if json_depth(value, MAX_DEPTH) > MAX_DEPTH:
        raise DataError(f"nested more than {MAX_DEPTH} levels deep", row=row, column=column)
    return value


def _iter_jsonl(path: Path, max_line_bytes: int) -> Iterator[tuple[int, dict]]:
    with path.open("rb") as fh:
        row = 0
        while True:
            line = fh.readline(max_line_bytes + 1)
            if not line:
                return
            row += 1
            if len(line) > max_line_bytes and not line.endswith(b"\n"):
                raise DataError(f"the line is longer than {max_line_bytes} bytes", row=row)
            if row == 1:
                line = line.removeprefix(codecs.BOM_UTF8)
            if not line.strip():
                continue
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(f"not valid UTF-8 (byte {exc.start + 1} of the line); save the file as UTF-8",
                                row=row) from None
            value = _json_value(text, row=row)
            if not isinstance(value, dict):
                raise DataError(f"each line must be a JSON object, not {type(value).__name__}", row=row)
            yield row, value


def _iter_csv(path: Path, max_line_bytes: int) -> Iterator[tuple[int, dict]]:
    if csv.field_size_limit() < max_line_bytes:
        csv.field_size_limit(max_line_bytes)
    with path.open("rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")
        reader = csv.reader(text)
        try:
            header = next(reader, None)
        except csv.Error as exc:
            raise DataError(f"unreadable CSV header ({exc})", row=None) from None
        if not header:
            raise DataError("the CSV file is empty (it needs a header row)")
        header = [h.strip() for h in header]
        for index, name in enumerate(header):
            if _SURROGATE.search(name):
                raise DataError("the header is not valid UTF-8; save the file as UTF-8", column=f"#{index + 1}")
        if len(header) > MAX_CSV_COLUMNS:
            raise DataError(f"more than {MAX_CSV_COLUMNS} columns")
        if any(not name for name in header) or len(set(header)) != len(header):
            raise DataError("the header row needs a unique, non-empty name for every column")
        row = 0
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise DataError(f"unreadable CSV ({exc})", row=row + 1) from None
            row += 1
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) > len(header):
                raise DataError(f"{len(cells)} values but the header has {len(header)} columns", row=row)
            record: dict[str, Any] = {}
            for name, cell in zip(header, cells, strict=False):
                if _SURROGATE.search(cell):
                    raise DataError("not valid UTF-8 text; save the file as UTF-8", row=row, column=name)
                record[name] = cell
            yield row, record


def _iter_parquet(path: Path) -> Iterator[tuple[int, dict]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        batches = parquet.iter_batches(batch_size=1024)
        row = 0
        for batch in batches:
            for record in batch.to_pylist():
                row += 1
                for name, value in record.items():
                    if isinstance(value, bytes):
                        try:
                            record[name] = value.decode("utf-8")
                        except UnicodeDecodeError:
                            raise DataError("binary value that is not UTF-8 text", row=row, column=name) from None
                if json_depth(record, MAX_DEPTH) > MAX_DEPTH:
                    raise DataError(f"nested more than {MAX_DEPTH} levels deep", row=row)
                yield row, record
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"not a readable Parquet file ({exc})") from None


def iter_raw_records(path: Path, file_type: str, *, max_line_bytes: int = 1_000_000) -> Iterator[tuple[int, dict]]:
    """``(row, record)`` pairs of a file; stops with a :class:`DataError` at the first unreadable row."""
    path = Path(path)
    if file_type == "jsonl":
        return _iter_jsonl(path, max_line_bytes)
    if file_type == "csv":
        return _iter_csv(path, max_line_bytes)
    if file_type == "parquet":
        return _iter_parquet(path)
    raise DataError(f"unknown file type {file_type!r}: use one of {', '.join(FILE_TYPES)}")


# ---------------------------------------------------------------------------------------------------------------
# Formats
# ---------------------------------------------------------------------------------------------------------------

def detect_format(record: dict) -> str | None:
    """The format one raw record looks like, by its fields; None when it fits none."""
    if "messages" in record:
        return "messages"
    if "conversations" in record:
        return "sharegpt"
    if "instruction" in record and "output" in record:
        return "alpaca"
    if "text" in record:
        return "text"
    return None


def _text(value: Any, *, row: int, column: str, required: bool = True) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise DataError("is missing or empty", row=row, column=column)
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise DataError(f"must be text, not {type(value).__name__}", row=row, column=column)
    return str(value)


def _list_field(record: dict, name: str, row: int) -> list:
    value = record.get(name)
    if isinstance(value, str):  # CSV cells hold the list as JSON text
        value = _json_value(value, row=row, column=name) if value.strip() else None
    if not isinstance(value, list) or not value:
        raise DataError("must be a non-empty list of messages", row=row, column=name)
    if len(value) > MAX_MESSAGES:
        raise DataError(f"more than {MAX_MESSAGES} messages", row=row, column=name)
    return value


def _content(value: Any, *, row: int, column: str) -> str:
    if isinstance(value, list):  # OpenAI content parts
        parts = []
        for part in value:
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise DataError("only text content parts are supported", row=row, column=column)
            parts.append(part["text"])
        value = "".join(parts)
    return _text(value, row=row, column=column)


def _check_conversation(messages: list[dict], row: int, column: str) -> list[dict]:
    seen_other = False
    for index, message in enumerate(messages):
        if message["role"] == "system":
            if seen_other:
                raise DataError("a system message may only come at the start", row=row,
                                column=f"{column}[{index}]")
        else:
            seen_other = True
    if not any(m["role"] == "assistant" for m in messages):
        raise DataError("has no assistant reply to learn from", row=row, column=column)
    return messages


def normalize(record: dict, fmt: str, row: int) -> dict:
    """The canonical record for one raw record of format ``fmt``; a :class:`DataError` names the bad field."""
    if fmt == "text":
        return {"text": _text(record.get("text"), row=row, column="text")}
    if fmt == "alpaca":
        instruction = _text(record.get("instruction"), row=row, column="instruction")
        extra = _text(record.get("input"), row=row, column="input", required=False)
        output = _text(record.get("output"), row=row, column="output")
        system = _text(record.get("system"), row=row, column="system", required=False)
        messages = [{"role": "system", "content": system}] if system else []
        user = f"{instruction}\n\n{extra}" if extra else instruction
        return {"messages": [*messages, {"role": "user", "content": user}, {"role": "assistant", "content": output}]}
    if fmt == "sharegpt":
        turns = _list_field(record, "conversations", row)
        messages = []
        system = _text(record.get("system"), row=row, column="system", required=False)
        if system:
            messages.append({"role": "system", "content": system})
        for index, turn in enumerate(turns):
            where = f"conversations[{index}]"
            if not isinstance(turn, dict):
                raise DataError("each turn must be an object with 'from' and 'value'", row=row, column=where)
            speaker = turn.get("from", turn.get("role"))
            role = SHAREGPT_ROLES.get(str(speaker).strip().lower()) if isinstance(speaker, str) else None
            if role is None:
                raise DataError(f"unknown speaker {speaker!r} (use human, gpt or system)", row=row,
                                column=f"{where}.from")
            value = turn.get("value", turn.get("content"))
            messages.append({"role": role, "content": _content(value, row=row, column=f"{where}.value")})
        return {"messages": _check_conversation(messages, row, "conversations")}
    if fmt == "messages":
        items = _list_field(record, "messages", row)
        messages = []
        for index, item in enumerate(items):
            where = f"messages[{index}]"
            if not isinstance(item, dict):
                raise DataError("each message must be an object with 'role' and 'content'", row=row, column=where)
            raw_role = item.get("role")
            role = MESSAGE_ROLES.get(raw_role.strip().lower()) if isinstance(raw_role, str) else None
            if role is None:
                raise DataError(f"unsupported role {raw_role!r} (use system, user or assistant)", row=row,
                                column=f"{where}.role")
            messages.append({"role": role, "content": _content(item.get("content"), row=row,
                                                               column=f"{where}.content")})
        return {"messages": _check_conversation(messages, row, "messages")}
    raise DataError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")


# ---------------------------------------------------------------------------------------------------------------
# Whole files
# ---------------------------------------------------------------------------------------------------------------

@dataclass
class LoadedDataset:
    format: str
    file_type: str
    records: list[dict]
    fields: list[str] = field(default_factory=list)


def _choose_format(sample: list[tuple[int, dict]]) -> str:
    counts: dict[str, int] = {}
    for _, record in sample:
        fmt = detect_format(record)
        if fmt:
            counts[fmt] = counts.get(fmt, 0) + 1
    if not counts:
        first = sorted(sample[0][1])[:10] if sample else []
        raise DataErrors([DataError(
            "could not recognise the format: expected a 'text' field (text), 'instruction' and 'output' "
            "(alpaca), 'conversations' (sharegpt) or 'messages' (OpenAI messages); found "
            + (", ".join(repr(f) for f in first) or "no fields"), row=sample[0][0] if sample else None)])
    return max(counts, key=lambda k: (counts[k], -FORMATS.index(k)))


def load_dataset_file(path: Path, *, filename: str | None, fmt: str | None, max_rows: int,
                      max_line_bytes: int = 1_000_000) -> LoadedDataset:
    """Read, detect (unless ``fmt`` is given) and normalise a whole file; raises :class:`DataErrors`."""
    path = Path(path)
    if fmt is not None and fmt not in FORMATS:
        raise DataErrors([DataError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")])
    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
        file_type = sniff_file_type(filename, head)
    except DataError as exc:
        raise DataErrors([exc]) from None
    errors: list[DataError] = []
    total_errors = 0
    records: list[dict] = []
    fields: dict[str, None] = {}
    sample: list[tuple[int, dict]] = []
    chosen = fmt

    def take(row: int, raw: dict) -> None:
        nonlocal total_errors
        try:
            records.append(normalize(raw, chosen, row))  # type: ignore[arg-type]
        except DataError as exc:
            total_errors += 1
            if len(errors) < MAX_ERRORS:
                errors.append(exc)

    count = 0
    try:
        for row, raw in iter_raw_records(path, file_type, max_line_bytes=max_line_bytes):
            count += 1
            if count > max_rows:
                raise DataError(f"the dataset has more than {max_rows} rows, the most accepted", row=row)
            if len(fields) < 50:
                fields.update(dict.fromkeys(list(raw)[:50]))
            if chosen is None:
                sample.append((row, raw))
                if len(sample) < DETECT_SAMPLE:
                    continue
                chosen = _choose_format(sample)
                for item in sample:
                    take(*item)
                sample = []
            else:
                take(row, raw)
            if total_errors >= MAX_ERRORS:
                break
    except DataError as exc:
        raise DataErrors([*errors, exc], total=total_errors + 1) from None
    if sample:
        chosen = _choose_format(sample)
        for item in sample:
            take(*item)
    if errors:
        raise DataErrors(errors, total=total_errors)
    if not records:
        raise DataErrors([DataError("the file has no rows")])
    return LoadedDataset(format=chosen or "text", file_type=file_type, records=records, fields=list(fields))


def canonical_bytes(records: Iterable[dict]) -> bytes:
    """Canonical JSONL: one record per line, sorted keys, UTF-8 (not escaped), each line ending in ``\\n``."""
    return b"".join(
        json.dumps(r, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
        for r in records)


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_canonical(path: Path) -> list[dict]:
    with Path(path).open("rb") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def split_indices(n: int, eval_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """(train, eval) row indices, each sorted: a seeded shuffle, the first ``round(n * fraction)`` held back.

    At least one row is held back when the fraction is above 0 and there are 2 rows or more, and at least one row
    always stays for training.
    """
    if n <= 0:
        return [], []
    if eval_fraction <= 0 or n < 2:
        return list(range(n)), []
    order = list(range(n))
    random.Random(seed).shuffle(order)
    n_eval = min(max(1, round(n * eval_fraction)), n - 1)
    return sorted(order[n_eval:]), sorted(order[:n_eval])


# ---------------------------------------------------------------------------------------------------------------
# Encoding
# ---------------------------------------------------------------------------------------------------------------

def _render(tokenizer: Any, messages: list[dict], *, add_generation_prompt: bool) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)


def _common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def assistant_spans(tokenizer: Any, messages: list[dict]) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the character spans of its assistant turns (with their end-of-turn marks).

    A turn starts where the conversation rendered up to it with a generation prompt stops matching the full text,
    and ends where the conversation rendered through it stops matching.
    """
    full = _render(tokenizer, messages, add_generation_prompt=False)
    spans: list[tuple[int, int]] = []
    cursor = 0
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        content = message["content"].strip()
        found = full.find(content, cursor)
        try:
            start = _common_prefix(_render(tokenizer, messages[:index], add_generation_prompt=True), full)
        except Exception:  # a template that cannot render this partial conversation: locate the content
            start = found if found >= 0 else cursor
        start = max(start, cursor)
        try:
            end = _common_prefix(_render(tokenizer, messages[: index + 1], add_generation_prompt=False), full)
        except Exception:
            end = found + len(content) if found >= 0 else start
        if end > start:
            spans.append((start, end))
            cursor = end
    return full, spans


def encode_record(record: dict, tokenizer: Any, max_seq_length: int) -> tuple[list[int], list[int]]:
    """``(input_ids, labels)`` for one canonical record, cut to ``max_seq_length`` tokens.

    Text: bos (if the tokenizer has one) + tokens + eos, all labelled. Messages: the chat template's rendering;
    labels are ``-100`` except on assistant turns, and an eos is appended (labelled) after a final assistant turn
    that does not already end with one.
    """
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
    if "text" in record:
        ids = list(tokenizer(record["text"], add_special_tokens=False)["input_ids"])
        if bos is not None:
            ids = [bos, *ids]
        if eos is not None:
            ids.append(eos)
        ids = ids[:max_seq_length]
        return ids, list(ids)
    messages = record["messages"]
    if not getattr(tokenizer, "chat_template", None):
        raise DataError("the tokenizer has no chat template, so conversations cannot be encoded (set "
                        "tokenizer.chat_template, e.g. to the base model spec's chat_template)")
    full, spans = assistant_spans(tokenizer, messages)
    encoded = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    ids = list(encoded["input_ids"])
    labels = [IGNORE_INDEX] * len(ids)
    span_index = 0
    for position, (start, end) in enumerate(encoded["offset_mapping"]):
        while span_index < len(spans) and start >= spans[span_index][1]:
            span_index += 1
        # labelled only when the whole token lies inside the turn: a turn's end found by matching renderings can
        # run a few characters into the next turn's marker (``<|`` of ``<|user|>``)
        if span_index < len(spans) and spans[span_index][0] <= start and end <= spans[span_index][1]:
            labels[position] = ids[position]
    if eos is not None and messages[-1]["role"] == "assistant" and (not ids or ids[-1] != eos):
        ids.append(eos)
        labels.append(eos)
    return ids[:max_seq_length], labels[:max_seq_length]
