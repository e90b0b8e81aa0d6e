"""Converting the local benchmark-data mirror (real rows: ../shared/benchmarks, or its subset in
tests/fixtures/benchmarks) into lm-eval-ready JSONL."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
import yaml

from bench_data import FULL_MIRROR
from modelmate.evaluation import mirror, suites
from modelmate.evaluation.mirror import MirrorError, prepare, prepare_dataset, read_jsonl

# What the converter must read from the data: the full mirror's counts (its SOURCES.md), or the test subset's
# (tests/fixtures/benchmarks/SOURCES.md: 40 rows per test file, 10 per MMLU subject, MBPP task ids 1-40, 511-520,
# 601-610)
FULL = {
    "rows": {
        "gsm8k": {"default": {"test": 1319, "train": 7473}},
        "humaneval": {"default": {"test": 164}},
        "mbpp": {"default": {"prompt": 10, "test": 500, "validation": 90, "train": 374}},
        "arc": {"ARC-Easy": {"test": 2376, "validation": 570}, "ARC-Challenge": {"test": 1172, "validation": 299}},
        "piqa": {"default": {"validation": 1838}},
        "boolq": {"default": {"validation": 3270}},
        "truthfulqa": {"default": {"validation": 817}},
    },
    "mmlu_nutrition": 306, "mmlu_machine_learning": 112, "mmlu_test": 3055, "ntrex": 1997, "boolq_true": 2033,
    "mbpp_test_ids": list(range(11, 511)),
}
SUBSET = {
    "rows": {
        "gsm8k": {"default": {"test": 60, "train": 700}},
        "humaneval": {"default": {"test": 20}},
        "mbpp": {"default": {"prompt": 10, "test": 30, "validation": 10, "train": 10}},
        "arc": {"ARC-Easy": {"test": 40, "validation": 10}, "ARC-Challenge": {"test": 40, "validation": 10}},
        "piqa": {"default": {"validation": 40}},
        "boolq": {"default": {"validation": 40}},
        "truthfulqa": {"default": {"validation": 40}},
    },
    "mmlu_nutrition": 10, "mmlu_machine_learning": 10, "mmlu_test": 100, "ntrex": 40, "boolq_true": 31,
    "mbpp_test_ids": list(range(11, 41)),
}
EXPECTED = FULL if FULL_MIRROR else SUBSET


@pytest.fixture(scope="module")
def prepared(benchmark_dir: Path, eval_cache: Path) -> dict[str, mirror.PreparedDataset]:
    return {key: prepare_dataset(benchmark_dir, key, eval_cache) for key in mirror.DATASETS}


def test_row_counts_match_the_sources(prepared: dict[str, mirror.PreparedDataset]) -> None:
    for key, expected in EXPECTED["rows"].items():
        assert prepared[key].rows == expected, key
    mmlu = prepared["mmlu"].rows
    assert set(mmlu) == set(suites.MMLU_SUBJECTS)
    assert mmlu["nutrition"] == {"test": EXPECTED["mmlu_nutrition"], "dev": 5}
    assert mmlu["machine_learning"] == {"test": EXPECTED["mmlu_machine_learning"], "dev": 5}
    assert sum(r["test"] for r in mmlu.values()) == EXPECTED["mmlu_test"]
    assert prepared["ntrex"].rows == {code: {"test": EXPECTED["ntrex"]} for code in suites.NTREX_LANGUAGES}


def test_rows_have_the_hugging_face_fields(prepared, benchmark_dir: Path) -> None:
    first = {key: read_jsonl(next(iter(next(iter(p.files.values())).values())))[0] for key, p in prepared.items()}
    mmlu = read_jsonl(prepared["mmlu"].files["nutrition"]["test"])
    with open(benchmark_dir / "mmlu/test/nutrition_test.csv", encoding="utf-8", newline="") as fh:
        raw = next(csv.reader(fh))
    assert mmlu[0] == {"question": raw[0], "subject": "nutrition", "choices": raw[1:5], "answer": "ABCD".index(raw[5])}
    arc = read_jsonl(prepared["arc"].files["ARC-Easy"]["test"])
    assert all(row["answerKey"] in row["choices"]["label"] for row in arc)
    assert set(first["arc"]) == {"id", "question", "choices", "answerKey"}
    piqa = read_jsonl(prepared["piqa"].files["default"]["validation"])
    labels = (benchmark_dir / "piqa/valid-labels.lst").read_text().split()
    assert [row["label"] for row in piqa] == [int(x) for x in labels]
    boolq = read_jsonl(prepared["boolq"].files["default"]["validation"])
    raw_boolq = [json.loads(line) for line in (benchmark_dir / "boolq/val.jsonl").read_text().splitlines()]
    assert [row["label"] for row in boolq] == [int(r["label"] == "true") for r in raw_boolq]
    assert sum(row["label"] for row in boolq) == EXPECTED["boolq_true"]
    mbpp = read_jsonl(prepared["mbpp"].files["default"]["test"])
    assert [row["task_id"] for row in mbpp] == EXPECTED["mbpp_test_ids"]
    assert set(first["gsm8k"]) == {"question", "answer"} and "####" in first["gsm8k"]["answer"]
    assert set(first["humaneval"]) == {"task_id", "prompt", "canonical_solution", "test", "entry_point"}


def test_truthfulqa_targets_are_built_from_the_csv(prepared, benchmark_dir: Path) -> None:
    rows = read_jsonl(prepared["truthfulqa"].files["default"]["validation"])
    with open(benchmark_dir / "truthfulqa/TruthfulQA.csv", encoding="utf-8", newline="") as fh:
        raw = list(csv.DictReader(fh))
    for row, rec in zip(rows, raw, strict=True):
        mc1, mc2 = row["mc1_targets"], row["mc2_targets"]
        assert mc1["choices"][0] == rec["Best Answer"].strip() and mc1["labels"] == [1] + [0] * (len(mc1["labels"]) - 1)
        incorrect = [a.strip() for a in rec["Incorrect Answers"].split(";") if a.strip()]
        assert mc1["choices"][1:] == incorrect
        assert mc2["choices"][0] == rec["Best Answer"].strip()
        assert [c for c, lab in zip(mc2["choices"], mc2["labels"], strict=True) if not lab] == incorrect
        assert sum(mc2["labels"]) >= 1


def test_ntrex_lines_stay_aligned(prepared, benchmark_dir: Path) -> None:
    deu = read_jsonl(prepared["ntrex"].files["deu"]["test"])
    src = (benchmark_dir / "ntrex/newstest2019-src.eng.txt").read_text(encoding="utf-8").splitlines()
    ref = (benchmark_dir / "ntrex/newstest2019-ref.deu.txt").read_text(encoding="utf-8").splitlines()
    assert [r["source"] for r in deu] == src and [r["target"] for r in deu] == ref
    assert not any(r["target"].endswith("\r") for r in deu)


def test_the_online_ntrex_loader_reads_the_same_rows(prepared, benchmark_dir: Path) -> None:
    """The loader used without a mirror (GitHub release files) gives exactly the mirror's rows (checked offline by
    pointing it at the mirror's NTREX folder, which has the release's file names)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("ntrex_utils", suites.TASKS_DIR / "ntrex/utils.py")
    utils = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(utils)
    online = utils.load_ntrex(language="zho-CN", base_url=str(benchmark_dir / "ntrex"), version=1.0)
    assert list(online["test"]) == read_jsonl(prepared["ntrex"].files["zho-CN"]["test"])


def test_the_cache_is_reused_and_keyed_by_content(tmp_path: Path, benchmark_dir: Path) -> None:
    local = tmp_path / "mirror"
    shutil.copytree(benchmark_dir / "piqa", local / "piqa")
    cache = tmp_path / "cache"
    first = prepare_dataset(local, "piqa", cache)
    stamp = (first.directory / "manifest.json").stat().st_mtime_ns
    again = prepare_dataset(local, "piqa", cache)
    assert again.directory == first.directory
    assert (again.directory / "manifest.json").stat().st_mtime_ns == stamp
    labels = local / "piqa/valid-labels.lst"
    flipped = ["1" if x == "0" else "0" for x in labels.read_text().split()]
    labels.write_text("\n".join(flipped) + "\n")
    changed = prepare_dataset(local, "piqa", cache)
    assert changed.content_hash != first.content_hash and changed.directory != first.directory
    assert read_jsonl(changed.files["default"]["validation"])[0]["label"] == int(flipped[0])


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "gsm8k").mkdir()
    (tmp_path / "gsm8k/test.jsonl").write_text("")
    with pytest.raises(MirrorError, match="lacks gsm8k/train.jsonl"):
        prepare(suites.select(tasks=["gsm8k"]), tmp_path, tmp_path / "cache")
    with pytest.raises(MirrorError, match="does not exist"):
        prepare(suites.select(tasks=["gsm8k"]), tmp_path / "nowhere", tmp_path / "cache")


def test_overlays_point_lm_eval_at_the_converted_files(benchmark_dir: Path, eval_cache: Path) -> None:
    source = prepare(suites.select(tasks=["arc_easy", "ntrex", "mmlu"]), benchmark_dir, eval_cache)
    arc = yaml.safe_load((source.include_path / "arc_easy.yaml").read_text())
    assert arc["dataset_path"] == "json" and arc["training_split"] is None
    assert set(arc["dataset_kwargs"]["data_files"]) == {"test", "validation"}
    assert Path(arc["include"]) == suites.TASKS_DIR / "arc/arc_easy.yaml"
    ntrex = yaml.safe_load((source.include_path / "ntrex_eng_zho.yaml").read_text())
    assert ntrex["custom_dataset"] is None and "zho-CN" in ntrex["dataset_kwargs"]["data_files"]["test"]
    assert (source.include_path / "_mmlu.yaml").is_file()
    assert source.rows["mmlu_nutrition"] == {"test": EXPECTED["mmlu_nutrition"], "dev": 5}
    assert prepare(suites.select(tasks=["arc_easy", "ntrex", "mmlu"]), benchmark_dir, eval_cache) == source
    assert prepare(suites.select(tasks=["arc_easy"]), None, eval_cache).include_path == suites.TASKS_DIR
