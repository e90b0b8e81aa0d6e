"""Datasets: validate an uploaded file, store its canonical records content-addressed, list/preview/delete.

An upload goes in two stages so the (possibly slow) reading and tokenising never holds the database's write lock:

1. ``prepare_upload`` copies the file (size-capped: 413) into the store's ``tmp/``, reads, detects and normalises
   it (any bad row: 422 with ``details.errors`` = ``[{row, column, message}]``; nothing written), computes the
   canonical JSONL and its sha256, the default train/eval split (10 % held back, seed 42) and statistics. Token
   counts use the tokenizer of the chosen base model (default ``tiny``) when that model is on this machine;
   otherwise ``token_counts`` stays ``{}`` and the counts can be filled in later (``fill_token_counts``).
   The temporary copy is always removed.
2. ``register`` writes the canonical file (``datasets/<sha256>.jsonl``, atomic, deduplicated) and the row. Uploading
   content you already have (same sha256, not deleted) returns that dataset instead of a second one.

The uploaded file's name is metadata only; nothing a user sends is ever used as a path. Deleting is soft
(``deleted_at``): the row and the file stay, because runs trained on them keep pointing at the snapshot.
Services never commit.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import islice
from pathlib import Path
from typing import IO, Any

from sqlalchemy.orm import Session

from modelmate.config import Settings
from modelmate.datasets import repository as repo
from modelmate.datasets.schemas import DEFAULT_EVAL_SPLIT, DEFAULT_SPLIT_SEED, FormatChoice, UploadFields
from modelmate.db.base import utcnow
from modelmate.errors import ForbiddenError, NotFoundError, PayloadTooLarge, ValidationFailed
from modelmate.models import Dataset, Model, User
from modelmate.storage import ContentStore, TooLarge
from modelmate.storage.artifacts import artifact_store
from modelmate.storage.cache import local_cache
from modelmate.training.data import (
    DataErrors,
    canonical_bytes,
    content_hash,
    load_dataset_file,
    read_canonical,
    split_indices,
)
from modelmate.training.model_specs import TINY_KEY
from modelmate.training.stats import dataset_stats

log = logging.getLogger(__name__)
NAMESPACE = "datasets"
SUFFIX = ".jsonl"
# Tokenising costs about a millisecond per record: above this many records an evenly spaced sample is encoded and
# the totals are scaled (``tokens.sampled`` says so); the trainer counts exactly when it runs.
TOKEN_SAMPLE_ROWS = 5000


@dataclass
class PreparedDataset:
    format: str
    file_type: str
    rows: int
    train_rows: int
    eval_rows: int
    canonical: bytes
    digest: str
    stats: dict[str, Any]
    token_counts: dict[str, Any]
    original_filename: str | None
    size_bytes: int
    fields: list[str] = field(default_factory=list)


def dataset_key(content_hash: str) -> str:
    """The store key of a dataset's canonical JSONL (what ``storage_uri`` holds)."""
    return f"{NAMESPACE}/{content_hash}{SUFFIX}"


def store_for(settings: Settings) -> ContentStore:
    """Where dataset files are written on this machine: the artifact store itself when it is local, else this
    machine's cache (same ``datasets/<sha256>.jsonl`` layout), from which they are uploaded."""
    return ContentStore(settings.artifacts_dir if settings.store_is_local else settings.cache_dir)


def dataset_path(settings: Settings, dataset: Dataset) -> Path:
    """The immutable canonical JSONL of a dataset (deleted or not), on this machine (fetched into its cache from a
    remote store; ArtifactMissing when it is not stored, StoreUnavailable when the store cannot be reached)."""
    path = store_for(settings).resolve(dataset.storage_uri)
    if settings.store_is_local or path.is_file():
        return path
    return local_cache(settings).file(artifact_store(settings), dataset.storage_uri)


# --- names ------------------------------------------------------------------------------------------------------

def clean_text(value: str | None, limit: int) -> str | None:
    """User text kept as metadata: control characters (NUL included) removed, whitespace collapsed, cut."""
    if value is None:
        return None
    cleaned = "".join(ch for ch in value if unicodedata.category(ch)[0] != "C" or ch in "\t")
    cleaned = " ".join(cleaned.split())[:limit]
    return cleaned or None


def default_name(filename: str | None, digest: str) -> str:
    base = re.split(r"[\\/]", filename or "")[-1]
    stem = base.rsplit(".", 1)[0] if "." in base.strip(".") else base
    name = clean_text(stem, 200)
    if not name or set(name) <= {".", " "}:
        return f"Dataset {digest[:8]}"
    return name


# --- tokenizers -------------------------------------------------------------------------------------------------

@lru_cache(maxsize=4)
def _load_tokenizer(path: str, _stamp: float) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path, trust_remote_code=False, local_files_only=True)


def find_base_model(session: Session, base_model: str | None) -> Model | None:
    """The catalog base model named by id, key or Hugging Face id (default: ``tiny``); None when not found."""
    wanted = (base_model or TINY_KEY).strip().lower()
    for row in repo.base_models(session):
        info = row.hub_info or {}
        if wanted in {str(row.id), str(info.get("key") or "").lower(), (row.hf_repo_id or "").lower()}:
            return row
    return None


def tokenizer_for(model: Model | None) -> tuple[str, Any] | None:
    """``(key, tokenizer)`` of a base model that is on this machine (``hub_info.local_path``), else None."""
    if model is None:
        return None
    info = model.hub_info or {}
    local = info.get("local_path")
    if not local or not Path(local).is_dir():
        return None
    path = Path(local)
    stamp = max((p.stat().st_mtime for p in path.glob("tokenizer*")), default=0.0)
    try:
        tokenizer = _load_tokenizer(str(path), stamp)
    except Exception:  # a broken local copy must not break uploads: counts are filled in later
        log.warning("could not load the tokenizer of base model %s from %s", model.id, path, exc_info=True)
        return None
    if not getattr(tokenizer, "chat_template", None) and info.get("chat_template"):
        tokenizer.chat_template = info["chat_template"]  # base checkpoints often ship without one
    return str(info.get("key") or model.id), tokenizer


def _stats(records: list[dict], tokenizer: Any, *, fields: list[str] | None, eval_indices: list[int]
           ) -> dict[str, Any]:
    """Statistics with token counts; without them when the tokenizer cannot encode these records."""
    if tokenizer is not None:
        try:
            return dataset_stats(records, tokenizer, fields=fields, eval_indices=eval_indices,
                                 max_token_rows=TOKEN_SAMPLE_ROWS)
        except Exception:
            log.warning("token counting failed; statistics without tokens", exc_info=True)
    return dataset_stats(records, None, fields=fields, eval_indices=eval_indices)


def token_summary(stats: dict[str, Any], key: str) -> dict[str, Any]:
    return {**(stats.get("tokens") or {}), "tokenizer": key}


# --- upload -----------------------------------------------------------------------------------------------------

def _invalid(exc: DataErrors) -> ValidationFailed:
    errors = [e.as_dict() for e in exc.errors]
    return ValidationFailed(f"the dataset was not accepted: {exc}", details={"errors": errors, "total": exc.total})


def prepare_upload(session: Session, settings: Settings, fp: IO[bytes], *, filename: str | None,
                   fields: UploadFields) -> PreparedDataset:
    """Stage 1 (no writes except a temporary copy that is always removed). See the module docs."""
    base = find_base_model(session, fields.base_model)
    if fields.base_model and base is None:
        raise ValidationFailed(f"unknown base model {fields.base_model!r}", details={"errors": [
            {"row": None, "column": "base_model", "message": "no base model with this id, key or Hugging Face id"}]})
    tokenizer = tokenizer_for(base)
    store = store_for(settings)
    fmt = None if fields.format == FormatChoice.AUTO else fields.format.value
    with store.temp_file() as tmp:
        try:
            size = store.copy_capped(fp, tmp, settings.max_dataset_bytes)
        except TooLarge:
            raise PayloadTooLarge(f"the file is larger than {settings.max_dataset_bytes} bytes, the largest "
                                  "accepted dataset") from None
        try:
            loaded = load_dataset_file(tmp, filename=filename, fmt=fmt, max_rows=settings.max_dataset_rows)
        except DataErrors as exc:
            raise _invalid(exc) from None
    records = loaded.records
    data = canonical_bytes(records)
    digest = content_hash(data)
    train_idx, eval_idx = split_indices(len(records), DEFAULT_EVAL_SPLIT, DEFAULT_SPLIT_SEED)
    stats = _stats(records, tokenizer[1] if tokenizer else None, fields=loaded.fields, eval_indices=eval_idx)
    if not stats["tokens"]:
        tokenizer = None
    stats.update(canonical_bytes=len(data), split={"eval_split": DEFAULT_EVAL_SPLIT, "seed": DEFAULT_SPLIT_SEED})
    token_counts = {tokenizer[0]: token_summary(stats, tokenizer[0])} if tokenizer else {}
    return PreparedDataset(format=loaded.format, file_type=loaded.file_type, rows=len(records),
                           train_rows=len(train_idx), eval_rows=len(eval_idx), canonical=data, digest=digest,
                           stats=stats, token_counts=token_counts, original_filename=clean_text(filename, 300),
                           size_bytes=size, fields=loaded.fields)


def register(session: Session, settings: Settings, user: User, prepared: PreparedDataset,
             fields: UploadFields) -> tuple[Dataset, bool]:
    """Stage 2: store the file and add the row; ``(dataset, created)`` — False when you already had this content."""
    existing = repo.find_owned_by_hash(session, user.id, prepared.digest)
    if existing is not None:
        return existing, False
    stored = store_for(settings).put_bytes(NAMESPACE, prepared.canonical, SUFFIX)
    if not settings.store_is_local:  # in the shared store before the row points at it (503 when it is down)
        artifact_store(settings).put_file(stored.path, stored.uri)
    name = clean_text(fields.name, 200) or default_name(prepared.original_filename, prepared.digest)
    description = fields.description.replace("\x00", "") if fields.description else None  # PostgreSQL: no NUL
    dataset = repo.add(session, {
        "owner_id": user.id, "name": name, "description": description, "format": prepared.format,
        "content_hash": prepared.digest,
        "storage_uri": stored.uri, "original_filename": prepared.original_filename,
        "file_type": prepared.file_type, "size_bytes": prepared.size_bytes, "rows": prepared.rows,
        "train_rows": prepared.train_rows, "eval_rows": prepared.eval_rows,
        "token_counts": prepared.token_counts, "stats": prepared.stats,
        "domain": clean_text(fields.domain, 32), "license": clean_text(fields.license, 100),
        "visibility": fields.visibility.value,
    })
    return dataset, True


def upload_file(session: Session, settings: Settings, user: User, path: Path, fields: UploadFields
                ) -> tuple[Dataset, bool]:
    """Both stages for a local file (the CLI)."""
    with path.open("rb") as fh:
        prepared = prepare_upload(session, settings, fh, filename=path.name, fields=fields)
    return register(session, settings, user, prepared, fields)


# --- reading ----------------------------------------------------------------------------------------------------

def get_visible(session: Session, user: User, dataset_id: int) -> Dataset:
    """A live dataset the user owns or that is public; anything else is 404."""
    dataset = repo.get_live(session, dataset_id)
    if dataset is None or (dataset.owner_id != user.id and dataset.visibility != "public"):
        raise NotFoundError(f"dataset {dataset_id} not found")
    return dataset


def list_datasets(session: Session, user: User, *, mine: bool, q: str | None, limit: int, offset: int
                  ) -> tuple[list[Dataset], int]:
    return repo.list_visible(session, viewer_id=user.id, mine=mine, q=q, limit=limit, offset=offset)


def preview(session: Session, settings: Settings, user: User, dataset_id: int, *, offset: int, limit: int
            ) -> tuple[list[dict[str, Any]], int]:
    dataset = get_visible(session, user, dataset_id)
    path = dataset_path(settings, dataset)
    try:
        with path.open("rb") as fh:
            rows = [json.loads(line) for line in islice(fh, offset, offset + limit)]
    except FileNotFoundError:
        raise NotFoundError(f"the file of dataset {dataset_id} is missing from the artifact store") from None
    return rows, dataset.rows


def delete(session: Session, user: User, dataset_id: int) -> None:
    """Soft delete (owner only). The row and file stay for the runs that used them."""
    dataset = get_visible(session, user, dataset_id)
    if dataset.owner_id != user.id:
        raise ForbiddenError("only the owner can delete a dataset")
    dataset.deleted_at = utcnow()


def fill_token_counts(session: Session, settings: Settings, dataset: Dataset, base_model: Model) -> dict | None:
    """Add the token counts of a base model's tokenizer to a dataset when that model is now on this machine.

    Returns the counts for that tokenizer (None when its tokenizer is still not available).
    """
    found = tokenizer_for(base_model)
    if found is None:
        return None
    key, tokenizer = found
    if key in (dataset.token_counts or {}):
        return dataset.token_counts[key]
    records = read_canonical(dataset_path(settings, dataset))
    _, eval_idx = split_indices(len(records), DEFAULT_EVAL_SPLIT, DEFAULT_SPLIT_SEED)
    stats = _stats(records, tokenizer, fields=(dataset.stats or {}).get("fields"), eval_indices=eval_idx)
    if not stats["tokens"]:
        return None
    counts = token_summary(stats, key)
    dataset.token_counts = {**(dataset.token_counts or {}), key: counts}
    if not (dataset.stats or {}).get("tokens"):
        dataset.stats = {**(dataset.stats or {}), "tokens": stats["tokens"], "histogram": stats["histogram"],
                         "histogram_unit": stats["histogram_unit"]}
    return counts
