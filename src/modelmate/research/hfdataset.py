"""The complete research export laid out as a Hugging Face dataset (``modelmate research export --format
hf-dataset``)::

    DIR/README.md                       the card: YAML front matter (configs, dataset_info features, license) + columns
    DIR/runs/runs-00000-of-00001.parquet     one row per run (modelmate.research.export)
    DIR/curves/curves-00000-of-00003.parquet every point of every run's loss curve (modelmate.research.tables)
    DIR/scores/scores-00000-of-00001.parquet every stored per-task benchmark row (modelmate.research.tables)

``datasets.load_dataset(DIR, "runs" | "curves" | "scores")`` loads each table (split ``train``). Runs are read in
keyset batches and each table is written as it goes, in shards of at most ``shard_rows`` rows or about
``shard_bytes`` bytes (a new shard starts once a file reaches that size), so 100k runs × 500 points never sit in
memory at once. Files are private (0600, in a 0700 directory) like every export: they hold the runs' notes.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.orm import Session

from modelmate.models import User
from modelmate.research import export, tables
from modelmate.research import repository as repo
from modelmate.research.export import Column
from modelmate.storage.private import open_private, private_dir

TABLES = ("runs", "curves", "scores")
SHARD_ROWS = {"runs": 50_000, "curves": 2_000_000, "scores": 500_000}
SHARD_BYTES = 100 * 1024 * 1024
_ROW_GROUP = 50_000  # rows buffered before a Parquet row group is written
_DTYPES = {"int": "int64", "float": "float64", "string": "string", "bool": "bool", "timestamp": "timestamp[us, tz=UTC]"}


def table_columns() -> dict[str, list[Column]]:
    return {"runs": export.columns(), "curves": tables.CURVE_COLUMNS, "scores": tables.SCORE_COLUMNS}


@dataclass
class _Shards:
    """One table's shards: rows are buffered into row groups; a shard closes at ``max_rows`` rows or ``max_bytes``."""

    folder: Path
    name: str
    cols: list[Column]
    max_rows: int
    max_bytes: int
    rows: int = 0
    files: list[Path] = field(default_factory=list)
    _buffer: list[dict[str, Any]] = field(default_factory=list)
    _writer: Any = None
    _sink: Any = None
    _in_shard: int = 0
    clean: bool = True  # False: rows come typed already (curves), skip the per-value checks

    def add(self, rows: list[dict[str, Any]]) -> None:
        self._buffer += rows
        self.rows += len(rows)
        group = min(_ROW_GROUP, self.max_rows)
        while len(self._buffer) >= group:
            self._write(group)

    def _open(self) -> None:
        import pyarrow.parquet as pq

        path = self.folder / f"{self.name}-{len(self.files):05d}.parquet"
        self._sink = os.fdopen(open_private(path), "wb")
        self._writer = pq.ParquetWriter(self._sink, export.arrow_schema(self.cols, f"modelmate {self.name}"))
        self.files.append(path)
        self._in_shard = 0

    def _write(self, n: int) -> None:
        """One row group of up to ``n`` buffered rows (fewer when the shard fills up first)."""
        if self._writer is None:
            self._open()
        take = min(n, self.max_rows - self._in_shard)
        chunk, self._buffer = self._buffer[:take], self._buffer[take:]
        self._writer.write_table(export.arrow_table(chunk, self.cols, f"modelmate {self.name}", clean=self.clean))
        self._in_shard += len(chunk)
        self._sink.flush()
        if self._in_shard >= self.max_rows or os.fstat(self._sink.fileno()).st_size >= self.max_bytes:
            self._close_shard()

    def _close_shard(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._sink.close()
            self._writer = self._sink = None

    def close(self) -> list[str]:
        """Write what is buffered (an empty table still gets one shard: its schema), name the shards
        ``<table>-NNNNN-of-MMMMM.parquet`` and return their paths relative to the dataset folder."""
        while self._buffer:
            self._write(len(self._buffer))
        if not self.files:
            self._open()  # closed at once: a file with the schema and no rows
        self._close_shard()
        names = []
        for i, path in enumerate(self.files):
            final = path.with_name(f"{self.name}-{i:05d}-of-{len(self.files):05d}.parquet")
            path.replace(final)
            names.append(f"{self.name}/{final.name}")
        return names


@dataclass
class Written:
    rows: dict[str, int]
    files: dict[str, list[str]]


def write(session: Session, viewer: User, out: Path, *, public: bool = False, key: bytes | None = None,
          license: str = "other", shard_rows: dict[str, int] | None = None, shard_bytes: int = SHARD_BYTES,
          batch: int = 500) -> Written:
    """Write the dataset into ``out`` (which must not exist or be empty): built in a sibling temporary folder and
    renamed into place, so a failed export leaves nothing half-written."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out} exists and is not an empty folder")
    private_dir(out.parent)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}-{time.time_ns()}")
    try:
        written = _write_into(session, viewer, tmp, public=public, key=key, license=license,
                              shard_rows={**SHARD_ROWS, **(shard_rows or {})}, shard_bytes=shard_bytes, batch=batch)
        if out.exists():
            out.rmdir()
        tmp.replace(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return written


def _write_into(session: Session, viewer: User, root: Path, *, public: bool, key: bytes | None, license: str,
                shard_rows: dict[str, int], shard_bytes: int, batch: int) -> Written:
    if public and not key:
        raise ValueError("a public export needs its pseudonym key")
    cols = table_columns()
    shards = {}
    for name in TABLES:
        private_dir(root / name)
        shards[name] = _Shards(root / name, name, cols[name], max(1, shard_rows[name]), shard_bytes,
                               clean=name != "curves")
    base_ids: set[int] = set()
    scored_ids: set[int] = set()  # models whose rows are written already (a base that is also a run's output)
    for runs in repo.export_run_batches(session, viewer, public=public, batch=batch):
        shards["runs"].add(export.batch_rows(session, runs, public=public, key=key))
        shards["curves"].add([p for run in runs for p in tables.curve_points(run)])
        run_of = {r.output_model_id: r.id for r in runs if r.output_model_id}
        scored = repo.exportable_model_ids(session, viewer, set(run_of), public=public)
        shards["scores"].add([tables.score_row(row, run_of[row.model_id], *extra)
                              for row, *extra in repo.export_score_rows(session, scored)])
        base_ids |= {r.base_model_id for r in runs}
        scored_ids |= scored
    bases = repo.exportable_model_ids(session, viewer, base_ids - scored_ids, public=public)
    shards["scores"].add([tables.score_row(row, None, *extra)
                          for row, *extra in repo.export_score_rows(session, bases)])
    files = {name: shards[name].close() for name in TABLES}
    counts = {name: shards[name].rows for name in TABLES}
    with os.fdopen(open_private(root / "README.md"), "w", encoding="utf-8") as fh:
        fh.write(card(counts, files, public=public, license=license,
                      sizes={name: sum((root / f).stat().st_size for f in files[name]) for name in TABLES}))
    return Written(rows=counts, files=files)


# --- the card -----------------------------------------------------------------------------------------------------

_ABOUT = {
    "runs": "One row per fine-tuning run — **failures included**: configuration (`config.*`), dataset facts, outcome "
            "and failure category, training facts, and per-domain scores of the output model with their deltas.",
    "curves": "Every point of every run's loss curve (long format: one row per run and logged step). Joins "
              "`runs` on `run_id`.",
    "scores": "Every stored per-task benchmark row (all metrics, filters and statuses) with its standard error, "
              "document count, shots, limit and hashes: rows of each run's output model (`run_id` set) and of the "
              "base models the runs started from (`run_id` empty). Joins `runs` on `run_id` or on "
              "`output_model_id`/`base_model_id` = `model_id`.",
}


def card(counts: dict[str, int], files: dict[str, list[str]], *, public: bool, license: str = "other",
         sizes: dict[str, int] | None = None) -> str:
    """README.md: YAML front matter the ``datasets`` library reads (``configs`` with their data files,
    ``dataset_info`` with every column's dtype, the row counts and the Parquet bytes), then every column described."""
    sizes = sizes or {}
    cols = table_columns()
    meta: dict[str, Any] = {
        "pretty_name": "ModelMate research dataset" + (" (public)" if public else ""),
        "license": license,
        "task_categories": ["tabular-regression"],
        "tags": ["fine-tuning", "lora", "failures", "benchmarks", "loss-curves"],
        "configs": [{"config_name": name, "data_files": [{"split": "train", "path": f"{name}/*.parquet"}],
                     **({"default": True} if name == "runs" else {})} for name in TABLES],
        "dataset_info": [{"config_name": name,
                          "features": [{"name": c.name, "dtype": _DTYPES[c.type]} for c in cols[name]],
                          "splits": [{"name": "train", "num_bytes": sizes.get(name, 0), "num_examples": counts[name]}]}
                         for name in TABLES],
    }
    lines = ["---", yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=10_000).rstrip(), "---", "",
             "# ModelMate research dataset", "",
             "What fine-tuning runs recorded by ModelMate did: configuration → data → outcome → benchmark scores, "
             "with the full loss curve of every run and every per-task score with its standard error. Nothing is "
             "pruned: failed, partial and poor runs are what makes the data useful.", "",
             "```python", "from datasets import load_dataset", "",
             'runs = load_dataset("PATH", "runs", split="train")',
             'curves = load_dataset("PATH", "curves", split="train")',
             'scores = load_dataset("PATH", "scores", split="train")', "```", ""]
    if public:
        lines += ["## Public export", "",
                  "This is a **public** export. It holds only runs whose output model, base model, parent model "
                  "(for a fork) and dataset are all public — runs that produced no model (most failures) or used "
                  "anything private are left out. Personal text is removed: `owner_id` is empty and `owner_key` is a "
                  "stable pseudonymous id of the owner (a keyed hash; the same owner has the same key in every "
                  "export of this deployment, and without the key nobody can map it back); run names are replaced "
                  "by stable pseudonyms (`run-<hash>`); `feedback_comment` and `failure_message` are empty. Scores "
                  "are those of public models only.", ""]
    else:
        lines += ["## Which runs", "",
                  "The exporting account's runs and every run whose fine-tuned model is public (an admin's export: "
                  "every run). Usernames are never exported; run names and comments are user text, stored raw.", ""]
    for name in TABLES:
        lines += [f"## `{name}` ({counts[name]} rows, {len(files[name])} file(s))", "", _ABOUT[name], "",
                  "| column | dtype | description |", "|---|---|---|"]
        lines += [f"| `{c.name}` | {_DTYPES[c.type]} | {c.description.replace('|', '/')} |" for c in cols[name]]
        lines.append("")
    return "\n".join(lines)

