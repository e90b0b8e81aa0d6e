"""The local benchmark-data mirror (``MODELMATE_BENCHMARK_DATA_DIR``, laid out like ``../shared/benchmarks``).

The mirror keeps each benchmark in its original release format (GSM8K jsonl, HumanEval jsonl.gz, MMLU headerless
CSVs, ARC jsonl, PIQA jsonl + a labels file, the SuperGLUE BoolQ jsonl, the original TruthfulQA CSV, NTREX
line-aligned text files). :func:`prepare` converts what a run needs into JSONL with the *same fields and splits as
the Hugging Face dataset* the shipped task config reads, in ``<cache>/data/<dataset>-<content hash>/``, and writes
overlay task configs (``include:`` the shipped YAML, ``dataset_path: json``) in ``<cache>/tasks/<hash>/`` for
``TaskManager(include_path=...)``. Both directories are immutable once written (created under a temporary name, then
renamed), so concurrent runs share them safely and a changed mirror file gets a new hash.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from modelmate.storage.private import private_dir, tighten_tree

from .suites import MMLU_SUBJECTS, NTREX_LANGUAGES, TASKS_DIR, TaskSpec

CONVERTER_VERSION = "2"
SPLIT_KEYS = ("training_split", "validation_split", "test_split", "fewshot_split")

Rows = list[dict[str, Any]]
Converted = dict[str, dict[str, Rows]]  # config -> split -> rows


class MirrorError(RuntimeError):
    """The mirror is missing a file or holds a file that cannot be read."""


# --------------------------------------------------------------------------------------------------- file readers


def read_text_lines(path: Path) -> list[str]:
    """Lines of a line-aligned text file (CRLF or LF); only the empty string after the final newline is dropped."""
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines]


def _jsonl(path: Path) -> Rows:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _csv(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


# ----------------------------------------------------------------------------------------------------- converters


def _gsm8k(root: Path) -> Converted:
    keep = ("question", "answer")
    return {"default": {split: [{k: r[k] for k in keep} for r in _jsonl(root / f"gsm8k/{split}.jsonl")]
                        for split in ("train", "test")}}


def _humaneval(root: Path) -> Converted:
    keep = ("task_id", "prompt", "canonical_solution", "test", "entry_point")
    return {"default": {"test": [{k: r[k] for k in keep} for r in _jsonl(root / "humaneval/HumanEval.jsonl.gz")]}}


def _mbpp(root: Path) -> Converted:
    """The ``full`` configuration's splits by task id: prompt 1-10, test 11-510, validation 511-600, train 601+.

    ``challenge_test_list`` is left out: it is empty in most splits, so the JSON loader infers a different type per
    split and refuses to combine them (no shipped config reads it)."""
    keep = ("task_id", "text", "code", "test_list", "test_setup_code")
    splits: dict[str, Rows] = {"prompt": [], "test": [], "validation": [], "train": []}
    for row in sorted(_jsonl(root / "mbpp/mbpp.jsonl"), key=lambda r: r["task_id"]):
        tid = row["task_id"]
        split = "prompt" if tid <= 10 else "test" if tid <= 510 else "validation" if tid <= 600 else "train"
        splits[split].append({k: row[k] for k in keep})
    return {"default": splits}


def _mmlu(root: Path) -> Converted:
    out: Converted = {}
    for subject in MMLU_SUBJECTS:
        out[subject] = {}
        for split in ("test", "dev"):
            rows = []
            for rec in _csv(root / f"mmlu/{split}/{subject}_{split}.csv"):
                if len(rec) != 6 or rec[5] not in ("A", "B", "C", "D"):
                    raise MirrorError(f"mmlu/{split}/{subject}_{split}.csv: malformed row {rec[:1]!r}")
                rows.append({"question": rec[0], "subject": subject, "choices": rec[1:5],
                             "answer": "ABCD".index(rec[5])})
            out[subject][split] = rows
    return out


def _arc(root: Path) -> Converted:
    out: Converted = {}
    for config, stem in (("ARC-Easy", "ARC-Easy"), ("ARC-Challenge", "ARC-Challenge")):
        out[config] = {}
        for split, suffix in (("test", "Test"), ("validation", "Dev")):
            out[config][split] = [
                {"id": r["id"], "question": r["question"]["stem"],
                 "choices": {"text": [c["text"] for c in r["question"]["choices"]],
                             "label": [c["label"] for c in r["question"]["choices"]]},
                 "answerKey": r["answerKey"]}
                for r in _jsonl(root / f"arc/{stem}-{suffix}.jsonl")
            ]
    return out


def _piqa(root: Path) -> Converted:
    rows = _jsonl(root / "piqa/valid.jsonl")
    labels = [line.strip() for line in read_text_lines(root / "piqa/valid-labels.lst") if line.strip()]
    if len(rows) != len(labels):
        raise MirrorError(f"piqa: {len(rows)} questions but {len(labels)} labels")
    return {"default": {"validation": [{"goal": r["goal"], "sol1": r["sol1"], "sol2": r["sol2"], "label": int(lab)}
                                       for r, lab in zip(rows, labels, strict=True)]}}


def _boolq(root: Path) -> Converted:
    def label(value: Any) -> int:
        return int(value is True or str(value).lower() == "true")

    return {"default": {"validation": [{"question": r["question"], "passage": r["passage"], "idx": r["idx"],
                                        "label": label(r["label"])} for r in _jsonl(root / "boolq/val.jsonl")]}}


def _split_answers(text: str) -> list[str]:
    return [a.strip() for a in text.split(";") if a.strip()]


def _truthfulqa(root: Path) -> Converted:
    """The original CSV to the ``multiple_choice`` layout: mc1 = best answer + incorrect answers (label 1 first);
    mc2 = every correct answer (best first) + incorrect answers."""
    records = _csv(root / "truthfulqa/TruthfulQA.csv")
    header, body = records[0], records[1:]
    col = {name: i for i, name in enumerate(header)}
    rows = []
    for rec in body:
        best = rec[col["Best Answer"]].strip()
        correct = [best] + [a for a in _split_answers(rec[col["Correct Answers"]]) if a != best]
        incorrect = _split_answers(rec[col["Incorrect Answers"]])
        if not best or not incorrect:
            raise MirrorError(f"truthfulqa: question {rec[col['Question']]!r} lacks a best or an incorrect answer")
        rows.append({
            "question": rec[col["Question"]].strip(),
            "mc1_targets": {"choices": [best, *incorrect], "labels": [1] + [0] * len(incorrect)},
            "mc2_targets": {"choices": correct + incorrect, "labels": [1] * len(correct) + [0] * len(incorrect)},
        })
    return {"default": {"validation": rows}}


def _ntrex(root: Path) -> Converted:
    source = read_text_lines(root / "ntrex/newstest2019-src.eng.txt")
    out: Converted = {}
    for code in NTREX_LANGUAGES:
        target = read_text_lines(root / f"ntrex/newstest2019-ref.{code}.txt")
        if len(target) != len(source):
            raise MirrorError(f"ntrex: {len(source)} source lines but {len(target)} {code} lines")
        out[code] = {"test": [{"id": i, "source": s, "target": t}
                              for i, (s, t) in enumerate(zip(source, target, strict=True))]}
    return out


@dataclass(frozen=True)
class DatasetSource:
    key: str
    files: tuple[str, ...]  # relative to the mirror root
    convert: Callable[[Path], Converted]


DATASETS: dict[str, DatasetSource] = {
    "gsm8k": DatasetSource("gsm8k", ("gsm8k/train.jsonl", "gsm8k/test.jsonl"), _gsm8k),
    "humaneval": DatasetSource("humaneval", ("humaneval/HumanEval.jsonl.gz",), _humaneval),
    "mbpp": DatasetSource("mbpp", ("mbpp/mbpp.jsonl",), _mbpp),
    "mmlu": DatasetSource("mmlu", tuple(f"mmlu/{split}/{s}_{split}.csv" for s in MMLU_SUBJECTS
                                        for split in ("test", "dev")), _mmlu),
    "arc": DatasetSource("arc", tuple(f"arc/ARC-{v}-{s}.jsonl" for v in ("Easy", "Challenge")
                                      for s in ("Test", "Dev")), _arc),
    "piqa": DatasetSource("piqa", ("piqa/valid.jsonl", "piqa/valid-labels.lst"), _piqa),
    "boolq": DatasetSource("boolq", ("boolq/val.jsonl",), _boolq),
    "truthfulqa": DatasetSource("truthfulqa", ("truthfulqa/TruthfulQA.csv",), _truthfulqa),
    "ntrex": DatasetSource("ntrex", ("ntrex/newstest2019-src.eng.txt",
                                     *(f"ntrex/newstest2019-ref.{c}.txt" for c in NTREX_LANGUAGES)), _ntrex),
}


# ------------------------------------------------------------------------------------------------- the cache


@dataclass(frozen=True)
class PreparedDataset:
    key: str
    content_hash: str  # of the converter version and every source file's bytes
    directory: Path
    files: dict[str, dict[str, Path]]  # config -> split -> JSONL file
    rows: dict[str, dict[str, int]]  # config -> split -> row count


def _stat_key(root: Path, source: DatasetSource) -> str:
    parts = [CONVERTER_VERSION, source.key, str(root)]
    for rel in source.files:
        path = root / rel
        if not path.is_file():
            raise MirrorError(f"benchmark mirror {root} lacks {rel} (needed for {source.key})")
        st = path.stat()
        parts.append(f"{rel}:{st.st_size}:{st.st_mtime_ns}:{st.st_ino}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def content_hash(root: Path, source: DatasetSource, cache_root: Path | None = None) -> str:
    """sha256 of the converter version and the dataset's source files. With ``cache_root``, a file whose size,
    mtime and inode are unchanged since the last run is not read again."""
    memo = cache_root / "hashes" / _stat_key(root, source) if cache_root is not None else None
    if memo is not None and memo.is_file():
        return memo.read_text(encoding="ascii").strip()
    digest = hashlib.sha256(f"modelmate-mirror:{CONVERTER_VERSION}:{source.key}".encode())
    for rel in source.files:
        digest.update(rel.encode() + b"\0")
        with open(root / rel, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    value = digest.hexdigest()
    if memo is not None:
        private_dir(memo.parent)
        tmp = memo.with_name(f".{memo.name}.{os.getpid()}")
        tmp.write_text(value, encoding="ascii")
        os.replace(tmp, memo)
    return value


def atomic_dir(final: Path, fill: Callable[[Path], None]) -> None:
    """Create ``final`` by filling a temporary sibling and renaming it (private files); a concurrent winner is kept
    (also used for the contamination index)."""
    if final.exists():
        return
    private_dir(final.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    try:
        fill(tmp)
        tighten_tree(tmp)  # the benchmark cache is private (0700/0600) whatever the umask
        try:
            os.rename(tmp, final)
        except OSError:
            if not final.exists():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _manifest(directory: Path) -> dict[str, Any]:
    return json.loads((directory / "manifest.json").read_text(encoding="utf-8"))


def prepare_dataset(root: Path, key: str, cache_root: Path) -> PreparedDataset:
    """Convert one mirror dataset to JSONL (once per content hash) and describe the files."""
    source = DATASETS[key]
    digest = content_hash(root, source, cache_root)
    directory = cache_root / "data" / f"{key}-{digest[:16]}"

    def fill(tmp: Path) -> None:
        converted = source.convert(root)
        rows: dict[str, dict[str, int]] = {}
        for config, splits in converted.items():
            rows[config] = {}
            for split, records in splits.items():
                path = tmp / config / f"{split}.jsonl"
                path.parent.mkdir(parents=True, exist_ok=True)
                with open(path, "w", encoding="utf-8") as fh:
                    for record in records:
                        fh.write(json.dumps(record, ensure_ascii=False) + "\n")
                rows[config][split] = len(records)
        (tmp / "manifest.json").write_text(json.dumps({"dataset": key, "content_hash": digest, "rows": rows,
                                                       "converter_version": CONVERTER_VERSION}, indent=1))

    atomic_dir(directory, fill)
    rows = _manifest(directory)["rows"]
    files = {config: {split: directory / config / f"{split}.jsonl" for split in splits}
             for config, splits in rows.items()}
    return PreparedDataset(key, digest, directory, files, rows)


# ------------------------------------------------------------------------------------------- task config overlay


def _loader() -> type[yaml.SafeLoader]:
    class Loader(yaml.SafeLoader):
        pass

    def function_tag(loader: yaml.SafeLoader, node: yaml.Node) -> str:
        assert isinstance(node, yaml.ScalarNode)  # `!function name` is always a scalar
        return f"!function {loader.construct_scalar(node)}"

    Loader.add_constructor("!function", function_tag)
    return Loader


def load_config(path: Path) -> dict[str, Any]:
    """A shipped task YAML with its ``include:`` chain merged (functions left as strings)."""
    with open(path, encoding="utf-8") as fh:
        cfg = yaml.load(fh, Loader=_loader()) or {}  # noqa: S506 - SafeLoader subclass
    includes = cfg.pop("include", None)
    if not includes:
        return cfg
    merged: dict[str, Any] = {}
    for inc in includes if isinstance(includes, list) else [includes]:
        merged.update(load_config((path.parent / inc).resolve()))
    merged.update(cfg)
    return merged


def config_chain(path: Path) -> list[Path]:
    """The YAML file and everything it includes, plus the Python helpers beside them (for the task hash)."""
    seen: list[Path] = []

    def walk(p: Path) -> None:
        p = p.resolve()
        if p in seen:
            return
        seen.append(p)
        with open(p, encoding="utf-8") as fh:
            cfg = yaml.load(fh, Loader=_loader()) or {}  # noqa: S506
        includes = cfg.get("include") or []
        for inc in includes if isinstance(includes, list) else [includes]:
            walk(p.parent / inc)

    walk(path)
    helpers = sorted({py for p in seen for py in p.parent.glob("*.py")})
    return seen + helpers


def _overlay(leaf_yaml: Path, task: str, files: dict[str, Path]) -> dict[str, Any]:
    base = load_config(leaf_yaml)
    overlay: dict[str, Any] = {
        "include": str(leaf_yaml.resolve()),
        "task": task,
        "dataset_path": "json",
        "dataset_name": None,
        "dataset_kwargs": {"data_files": {split: str(path) for split, path in sorted(files.items())}},
    }
    if "custom_dataset" in base:
        overlay["custom_dataset"] = None
    for key in SPLIT_KEYS:
        if base.get(key) is not None and base[key] not in files:
            overlay[key] = None
    fewshot = base.get("fewshot_config") or {}
    if fewshot.get("split") and fewshot["split"] not in files:
        raise MirrorError(f"{task}: the mirror has no {fewshot['split']!r} split for its few-shot examples")
    return overlay


@dataclass(frozen=True)
class TaskSource:
    """Where lm-eval finds the tasks of a run, and what data they read."""

    include_path: Path
    mirror: Path | None  # None: the shipped configs read the Hugging Face datasets
    data_hashes: dict[str, str]  # leaf task -> content hash of its converted mirror data
    rows: dict[str, dict[str, int]]  # leaf task -> split -> rows (mirror only)


def prepare(specs: Iterable[TaskSpec], data_dir: Path | None, cache_root: Path) -> TaskSource:
    """The include path for a run over ``specs``: the shipped configs, or mirror overlays when a mirror is set."""
    specs = list(specs)
    if data_dir is None:
        return TaskSource(TASKS_DIR, None, {}, {})
    root = Path(data_dir).expanduser().resolve()
    if not root.is_dir():
        raise MirrorError(f"benchmark data directory {root} does not exist")
    prepared = {key: prepare_dataset(root, key, cache_root)
                for key in dict.fromkeys(leaf.dataset for spec in specs for leaf in spec.leaves)}
    documents: dict[str, str] = {}
    hashes: dict[str, str] = {}
    rows: dict[str, dict[str, int]] = {}
    for spec in specs:
        for leaf in spec.leaves:
            data = prepared[leaf.dataset]
            if leaf.config not in data.files:
                raise MirrorError(f"{leaf.task}: the {leaf.dataset} mirror has no {leaf.config!r} subset")
            overlay = _overlay(TASKS_DIR / leaf.config_file, leaf.task, data.files[leaf.config])
            documents[f"{leaf.task}.yaml"] = yaml.safe_dump(overlay, sort_keys=False, allow_unicode=True)
            hashes[leaf.task] = data.content_hash
            rows[leaf.task] = data.rows[leaf.config]
        if spec.group_file:
            documents[Path(spec.group_file).name] = (TASKS_DIR / spec.group_file).read_text(encoding="utf-8")
    digest = hashlib.sha256(json.dumps(documents, sort_keys=True).encode()).hexdigest()[:16]
    include = cache_root / "tasks" / digest

    def fill(tmp: Path) -> None:
        for name, text in documents.items():
            (tmp / name).write_text(text, encoding="utf-8")

    atomic_dir(include, fill)
    return TaskSource(include, root, hashes, rows)


def clear_cache(cache_root: Path) -> None:
    """Remove every converted dataset and overlay (they are rebuilt on the next run)."""
    for sub in ("data", "tasks", "hashes"):
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(cache_root / sub)


def read_jsonl(path: Path) -> Rows:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
