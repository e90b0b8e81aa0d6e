"""Scoring is proven with an oracle LM (answers with the gold → 100 % on every task) and a wrong LM (→ 0 %), over
every suite, on real rows of ../shared/benchmarks converted by the mirror."""

from __future__ import annotations

from pathlib import Path

import pytest
from lm_oracle import OracleLM, WrongLM

from bench_data import rows_in
from modelmate.evaluation import suites
from modelmate.evaluation.mirror import prepare_dataset, read_jsonl
from modelmate.evaluation.runner import BenchmarkRun, quick_indices, run_benchmarks

DOCS = 2  # per leaf task


@pytest.fixture(scope="module")
def oracle_run(benchmark_dir: Path, eval_cache: Path) -> tuple[BenchmarkRun, OracleLM]:
    lm = OracleLM()
    return run_benchmarks(lm, mode="quick", quick_size=DOCS, data_dir=benchmark_dir, cache_dir=eval_cache), lm


@pytest.fixture(scope="module")
def wrong_run(benchmark_dir: Path, eval_cache: Path) -> BenchmarkRun:
    return run_benchmarks(WrongLM(), mode="quick", quick_size=DOCS, data_dir=benchmark_dir, cache_dir=eval_cache)


def _expected_rows() -> set[tuple[str, str, str]]:
    rows = set()
    for spec in suites.SUITES:
        names = ([spec.name] if spec.group_score else []) + [leaf.task for leaf in spec.leaves]
        rows |= {(name, m.name, m.filter) for name in names for m in spec.metrics}
    return rows


def test_the_oracle_scores_100_percent_on_every_task(oracle_run) -> None:
    run, _lm = oracle_run
    assert run.status == "final", run.errors
    assert {(r.task, r.metric, r.filter) for r in run.rows} == _expected_rows()
    for row in run.rows:
        assert row.status == "final"
        assert row.value == pytest.approx(row.scale), (row.task, row.metric, row.filter, row.value)


def test_the_wrong_model_scores_0_on_every_task(wrong_run: BenchmarkRun) -> None:
    assert wrong_run.status == "final", wrong_run.errors
    assert {(r.task, r.metric, r.filter) for r in wrong_run.rows} == _expected_rows()
    for row in wrong_run.rows:
        assert row.value == pytest.approx(0.0, abs=1e-9), (row.task, row.metric, row.filter, row.value)


def test_rows_describe_the_measurement(oracle_run) -> None:
    run, _lm = oracle_run
    for row in run.rows:
        spec = suites.get_spec(row.task)
        leaves = len(spec.leaves) if row.task == spec.name and spec.is_group else 1
        assert row.n_samples == DOCS * leaves and row.limit == DOCS, row
        assert row.n_shot == spec.n_shot, row
        assert row.harness_version == "0.4.13"
        assert row.task_hash and len(row.task_hash) == 64
        assert row.chat_template_hash is None  # no chat template applied
        assert row.domain == spec.domain
    primaries = [r.task for r in run.rows if r.primary]
    assert sorted(primaries) == sorted({r.task for r in run.rows})  # one headline metric per task row
    assert next(r for r in run.rows if r.task == "mmlu_nutrition").group == "mmlu"
    gsm8k_keys = {r.key for r in run.rows if r.task == "gsm8k"}
    assert gsm8k_keys == {"exact_match,strict-match", "exact_match,flexible-extract"}


def test_the_raw_lm_eval_json_is_kept_as_is(oracle_run, benchmark_dir: Path) -> None:
    run, _lm = oracle_run
    assert set(run.raw) == {s.name for s in suites.SUITES}
    raw = run.raw["gsm8k"]
    assert raw["results"]["gsm8k"]["exact_match,strict-match"] == 1.0
    assert raw["n-samples"]["gsm8k"] == {"original": rows_in(benchmark_dir / "gsm8k/test.jsonl"), "effective": DOCS}
    assert raw["configs"]["gsm8k"]["num_fewshot"] == 5
    assert run.raw["mmlu"]["groups"]["mmlu"]["acc,none"] == 1.0
    assert "lm_eval_version" in raw and "pretty_env_info" in raw and "config" in raw
    assert '"gsm8k"' in run.raw_json()


def test_only_the_seeded_sample_is_evaluated(oracle_run, benchmark_dir: Path, eval_cache: Path) -> None:
    run, lm = oracle_run
    seen: dict[str, list[dict]] = {}
    for req in lm.requests:
        docs = seen.setdefault(req.task_name, [])
        if req.doc not in docs:
            docs.append(req.doc)
    assert seen.keys() == run.samples.keys()
    assert all(len(docs) == DOCS for docs in seen.values())
    for task, dataset, config, split in (("gsm8k", "gsm8k", "default", "test"), ("boolq", "boolq", "default",
                                         "validation"), ("mmlu_nutrition", "mmlu", "nutrition", "test")):
        rows = read_jsonl(prepare_dataset(benchmark_dir, dataset, eval_cache).files[config][split])
        assert [rows[i] for i in run.samples[task]] == seen[task], task
    assert run.samples["gsm8k"] == quick_indices("gsm8k", rows_in(benchmark_dir / "gsm8k/test.jsonl"), DOCS)
