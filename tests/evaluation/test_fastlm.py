"""FastLM (prefix-cached log-likelihoods, early-exit batched greedy generation) against lm-eval's own HFLM on the
same model object and the same real benchmark documents: the same texts, the same accuracies, log-likelihoods equal
to float precision; progress counts documents. The toy runs the whole comparison; SmolLM2 (a real model, whose
generations stop on their own) runs it once on a few documents of each kind."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from modelmate.evaluation.fastlm import DocProgress, FastLM, common_prefix
from modelmate.evaluation.runner import load_model, run_benchmarks

# log-likelihood tasks (with and without few-shot prefixes shared across documents) and generation tasks
LL_TASKS = ["arc_easy", "mmlu_nutrition", "boolq", "truthfulqa_mc1", "truthfulqa_mc2"]
GEN_TASKS = ["gsm8k", "ntrex_eng_fra", "mbpp"]
CONTINUOUS = {("truthfulqa_mc2", "acc")}  # a probability mass, not a count: equal to float precision


def _hflm(fast: FastLM):
    from lm_eval.models.huggingface import HFLM

    return HFLM(pretrained=fast.model, tokenizer=fast.tokenizer, device="cpu", batch_size=1)


def _run(lm, tasks: list[str], docs: int, benchmark_dir: Path, eval_cache: Path, **kwargs):
    run = run_benchmarks(lm, tasks=tasks, quick_size=docs, data_dir=benchmark_dir, cache_dir=eval_cache,
                         bootstrap_iters=0, log_samples=True, **kwargs)
    assert run.status == "final", run.errors
    values = {(r.task, r.metric, r.filter): r.value for r in run.rows}
    responses = {(task, s["doc_id"]): s["resps"] for raw in run.raw.values()
                 for task, samples in (raw.get("samples") or {}).items() for s in samples}
    return values, responses


def _assert_same(fast: tuple, plain: tuple) -> None:
    (fast_values, fast_resps), (plain_values, plain_resps) = fast, plain
    assert fast_values.keys() == plain_values.keys()
    for key, value in fast_values.items():
        if key[:2] in CONTINUOUS:
            assert value == pytest.approx(plain_values[key], abs=1e-5), key
        else:
            assert value == plain_values[key], key
    assert fast_resps.keys() == plain_resps.keys()
    for key, resps in fast_resps.items():
        theirs = plain_resps[key]
        for ours, other in zip(resps, theirs, strict=True):
            if isinstance(ours[0], str):  # a generated text: identical
                assert ours == other, key
            else:  # (log-likelihood, is_greedy)
                (ll, greedy), (ll2, greedy2) = ours[0], other[0]
                assert math.isclose(ll, ll2, rel_tol=1e-4, abs_tol=1e-4) and greedy == greedy2, key


def test_common_prefix() -> None:
    assert common_prefix([1, 2, 3], [1, 2, 4]) == 2
    assert common_prefix([], [1]) == 0 and common_prefix([5, 6], [5, 6]) == 2


def test_doc_progress_counts_a_document_once_all_its_requests_are_done() -> None:
    from types import SimpleNamespace

    calls: list[tuple[int, int]] = []
    reqs = [SimpleNamespace(task_name="a", doc_id=d) for d in (0, 0, 1, 1, 1)] + [SimpleNamespace(task_name="b",
                                                                                                   doc_id=0)]
    tracker = DocProgress(reqs, lambda done, total: calls.append((done, total)))
    for i in (0, 2, 3, 5, 1, 4):
        tracker.finished(i)
    assert calls[0] == (0, 3) and calls[-1] == (3, 3)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_fastlm_matches_hflm_on_the_toy(tiny_model: Path, benchmark_dir: Path, eval_cache: Path) -> None:
    fast = load_model(tiny_model)
    assert isinstance(fast, FastLM) and fast.fast
    short = {"max_gen_toks": 24}  # the random toy never stops by itself
    ours = _run(fast, LL_TASKS + GEN_TASKS, 5, benchmark_dir, eval_cache, gen_kwargs=short)
    plain = _run(_hflm(fast), LL_TASKS + GEN_TASKS, 5, benchmark_dir, eval_cache, gen_kwargs=short)
    _assert_same(ours, plain)


def test_progress_events_count_documents_inside_a_task(tiny_model: Path, benchmark_dir: Path,
                                                       eval_cache: Path) -> None:
    events: list[dict] = []
    run = run_benchmarks(load_model(tiny_model), tasks=["mmlu", "gsm8k"], quick_size=3, data_dir=benchmark_dir,
                         cache_dir=eval_cache, gen_kwargs={"max_gen_toks": 8}, on_progress=events.append)
    assert run.status == "final", run.errors
    progress = [e for e in events if e["type"] == "task_progress"]
    mmlu = [e for e in progress if e["task"] == "mmlu"]
    assert mmlu[0]["docs_done"] == 0 and mmlu[-1]["docs_done"] == mmlu[-1]["docs_total"] == 30  # 10 subjects x 3
    assert all(e["index"] == 1 and e["total"] == 2 for e in mmlu)  # registry order: gsm8k, then mmlu
    gsm = [e for e in progress if e["task"] == "gsm8k"]
    assert gsm[-1]["docs_done"] == gsm[-1]["docs_total"] == 3 and gsm[-1]["eta_s"] == 0
    assert all(e["eta_s"] is None or e["eta_s"] >= 0 for e in progress)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_fastlm_matches_hflm_on_smollm2(smollm2_dir: Path, benchmark_dir: Path, eval_cache: Path) -> None:
    """The real model: few-shot prefixes, multi-token answers, generations that stop on their own."""
    fast = load_model(smollm2_dir)
    tasks = ["gsm8k", "ntrex_eng_deu", "mmlu_global_facts", "arc_challenge", "truthfulqa_mc2"]
    ours = _run(fast, tasks, 3, benchmark_dir, eval_cache)
    plain = _run(_hflm(fast), tasks, 3, benchmark_dir, eval_cache)
    _assert_same(ours, plain)
    texts = [r[0] for key, resps in ours[1].items() if key[0] == "ntrex_eng_deu" for r in resps]
    assert all(isinstance(t, str) and t.strip() for t in texts)  # it translates: real text, not noise
