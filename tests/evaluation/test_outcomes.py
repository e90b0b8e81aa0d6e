"""Per-document outcomes collected by the runner from lm-eval's logged samples: one entry per scored document with
lm-eval's doc hash, values whose mean (or recomputed corpus score) is the task's reported score."""

from __future__ import annotations

from pathlib import Path

import pytest
import sacrebleu
from lm_oracle import OracleLM, WrongLM

from bench_data import rows_in
from modelmate.evaluation.outcomes import MAX_TEXT, doc_outcomes
from modelmate.evaluation.runner import run_benchmarks

TASKS = ["boolq", "truthfulqa_mc2", "gsm8k", "ntrex_eng_deu", "mmlu_global_facts"]


@pytest.mark.parametrize("lm_class", [OracleLM, WrongLM])
def test_every_scored_document_is_kept_and_matches_the_score(lm_class, benchmark_dir: Path,
                                                             eval_cache: Path) -> None:
    run = run_benchmarks(lm_class(), tasks=TASKS, quick_size=4, data_dir=benchmark_dir, cache_dir=eval_cache)
    assert run.status == "final", run.errors
    assert set(run.outcomes) == set(TASKS) and "samples" not in run.raw["boolq"]  # log_samples stays off for raw
    rows = {(r.task, r.key): r for r in run.rows}
    for task, docs in run.outcomes.items():
        assert [d["doc_id"] for d in docs] == run.samples[task]  # the seeded quick sample, in order
        assert all(len(d["doc_hash"]) == 64 for d in docs) and len({d["doc_hash"] for d in docs}) == len(docs)
        for key in {k for d in docs for k in d["values"]}:
            row = rows[(task, key)]
            values = [d["values"][key] for d in docs]
            if isinstance(values[0], dict):  # a corpus metric: the texts, from which the score is recomputed
                values = [v if "ref" in v else d["values"][v["same_as"]] for v, d in zip(values, docs, strict=True)]
                score = {"chrf": sacrebleu.corpus_chrf, "bleu": sacrebleu.corpus_bleu}[row.metric](
                    [v["pred"] for v in values], [[v["ref"] for v in values]]).score
                assert score == pytest.approx(row.value), (task, key)
            else:
                assert sum(values) / len(values) == pytest.approx(row.value), (task, key)
    binary = [v for t in ("boolq", "gsm8k", "mmlu_global_facts") for d in run.outcomes[t] for v in d["values"].values()]
    assert set(binary) <= {0.0, 1.0}
    gsm8k = run.outcomes["gsm8k"][0]["values"]
    assert set(gsm8k) == {"exact_match,strict-match", "exact_match,flexible-extract"}  # both filters, one entry
    deu = run.outcomes["ntrex_eng_deu"][0]["values"]
    assert deu["bleu,none"] == {"same_as": "chrf,none"} and set(deu["chrf,none"]) == {"ref", "pred"}


def test_full_mode_keeps_every_document(benchmark_dir: Path, eval_cache: Path) -> None:
    run = run_benchmarks(OracleLM(), tasks=["mmlu_global_facts"], mode="full", data_dir=benchmark_dir,
                         cache_dir=eval_cache)
    n = rows_in(benchmark_dir / "mmlu/test/global_facts_test.csv")
    assert [d["doc_id"] for d in run.outcomes["mmlu_global_facts"]] == list(range(n))


def test_doc_outcomes_caps_texts_and_skips_what_is_not_a_metric() -> None:
    long = "x" * (MAX_TEXT + 500)
    samples = {"t": [
        {"doc_id": 3, "doc_hash": "h3", "filter": "none", "metrics": ["chrf", "acc", "other"], "chrf": [long, [long]],
         "acc": True, "other": 1.0},
        {"doc_id": 1, "doc_hash": "h1", "filter": "none", "metrics": ["acc"], "acc": float("nan")},
        {"doc_id": "bad", "doc_hash": "h", "filter": "none", "metrics": ["acc"], "acc": 1.0},
    ]}
    out = doc_outcomes(samples, [("chrf", "none"), ("acc", "none")])
    assert out == {"t": [{"doc_id": 3, "doc_hash": "h3", "values": {
        "chrf,none": {"ref": "x" * MAX_TEXT, "pred": "x" * MAX_TEXT}, "acc,none": 1.0}}]}
    assert doc_outcomes(None, []) == {}


def test_the_stdout_result_event_leaves_the_outcomes_in_the_result_file(tmp_path: Path) -> None:
    from modelmate.evaluation.entry import _write_result, stdout_event

    event = {"type": "result", "status": "final", "rows": [], "outcomes": {"boolq": [{"doc_id": 0}]}}
    written = _write_result(str(tmp_path / "result.json"), event)
    assert written and (tmp_path / "result.json").is_file()
    line = stdout_event(event, written)
    assert "outcomes" not in line and line["outcomes_file"] is True and line["status"] == "final"
    assert stdout_event(event, False) is event  # no file: the event line is all the worker gets
    assert not _write_result(str(tmp_path / "missing" / "result.json"), event)


def test_a_resumed_task_keeps_its_outcomes(benchmark_dir: Path, eval_cache: Path) -> None:
    records: dict[str, dict] = {}
    first = run_benchmarks(OracleLM(), tasks=["boolq", "piqa"], quick_size=3, data_dir=benchmark_dir,
                           cache_dir=eval_cache, on_task_done=records.__setitem__)
    assert records["boolq"]["outcomes"] == {"boolq": first.outcomes["boolq"]}
    resumed = run_benchmarks(OracleLM(), tasks=["boolq", "piqa"], quick_size=3, data_dir=benchmark_dir,
                             cache_dir=eval_cache, resume={"boolq": records["boolq"]})
    assert resumed.outcomes == first.outcomes
