import json
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest

from modelmate.contamination.index import IndexUnavailable, index_stats, index_version, load_or_build
from modelmate.evaluation.suites import SUITES


def test_covers_every_leaf_task_and_counts_its_scored_split(bench_index, bench_root) -> None:
    assert bench_index.tasks() == [leaf.task for spec in SUITES for leaf in spec.leaves]
    totals = dict(zip(bench_index.tasks(), bench_index.total_documents().tolist(), strict=True))
    gsm8k_test = sum(1 for line in (bench_root / "gsm8k/test.jsonl").read_text().splitlines() if line.strip())
    assert totals["gsm8k"] == gsm8k_test
    assert totals["piqa"] > 0 and totals["boolq"] > 0  # validation splits where there is no test split
    assert np.all(np.diff(bench_index.grams13.astype(np.float64)) >= 0)  # sorted for searchsorted
    assert len(bench_index.grams13) == len(bench_index.docs13)
    stats = index_stats(bench_index)
    assert stats["documents"] == len(bench_index.documents) and stats["bytes"] > 0
    assert bench_index.version == index_version(bench_root) and bench_index.n == 13


def test_reused_until_a_mirror_file_changes_then_rebuilt(tmp_path: Path, bench_root: Path) -> None:
    mirror = tmp_path / "mirror"
    shutil.copytree(bench_root, mirror)
    cache = tmp_path / "cache"
    calls: list[tuple[float, str]] = []
    first = load_or_build(mirror, cache, progress=lambda f, m: calls.append((f, m)))
    assert first.built
    fractions = [f for f, _m in calls]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(calls) > 3
    second = load_or_build(mirror, cache)
    assert not second.built and second.version == first.version
    assert stat.S_IMODE(first.directory.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in first.directory.iterdir())
    assert not list(cache.glob(".index-*"))  # no temporary directory left behind
    test = mirror / "gsm8k/test.jsonl"
    rows = test.read_text().splitlines()
    edited = json.loads(rows[0])
    edited["question"] = "A brand new question about seventeen purple elephants crossing a long bridge at noon?"
    test.write_text("\n".join([json.dumps(edited), *rows[1:]]) + "\n")
    third = load_or_build(mirror, cache)
    assert third.built and third.version != first.version
    assert [p.name for p in cache.glob("index-*")] == [third.directory.name]  # the old version is removed


def test_a_missing_mirror_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(IndexUnavailable, match="does not exist"):
        load_or_build(tmp_path / "nowhere", tmp_path / "cache")
    (tmp_path / "empty").mkdir()
    with pytest.raises(IndexUnavailable, match="cannot be read.*gsm8k"):
        index_version(tmp_path / "empty")
