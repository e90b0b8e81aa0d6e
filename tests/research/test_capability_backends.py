"""Capability changes between scores of different evaluation engines (hf, vllm): compared like any others (same
documents, same prompts), but the comparison and its sentence say that the engines differ; the stored score rows
carry their engine into the detector."""

from __future__ import annotations

from modelmate.benchmarking import repository as bench_repo
from modelmate.benchmarking import service
from modelmate.models import Model
from modelmate.research import repository as repo
from modelmate.research.capability import compare


def docs(values, prefix="doc"):
    return [{"doc_id": i, "doc_hash": f"{prefix}{i}", "values": {"acc,none": v}} for i, v in enumerate(values)]


def row(task, value, backend=None, domain="reading"):
    return {"task": task, "domain": domain, "metric": "acc,none", "value": value, "stderr": 0.05, "n_samples": 50,
            **({"backend": backend} if backend else {})}


REFERENCE = [1.0] * 25 + [0.0] * 25
MODEL = [1.0] * 33 + [0.0] * 17


def by_key(comparisons):
    return {(c.domain, c.task): c for c in comparisons}


def test_mixed_engines_are_compared_and_said_so():
    out = by_key(compare([row("boolq", 0.66, "vllm"), row("piqa", 0.5, "hf", domain="reasoning")],
                         [row("boolq", 0.50, "hf"), row("piqa", 0.5, "hf", domain="reasoning")],
                         model_outcomes={"boolq": docs(MODEL)}, reference_outcomes={"boolq": docs(REFERENCE)}))
    boolq = out[("reading", "boolq")]
    assert boolq.test == "mcnemar" and boolq.n == 50 and boolq.flagged  # still the paired test, still a change
    assert boolq.backends == "vllm vs hf"
    assert boolq.sentence == ("boolq acc +16.0 points (+32% relative) vs base (paired, n = 50), p = 0.02 "
                              "(engines differ: vllm vs hf)")
    assert out[("reading", None)].backends == "vllm vs hf"  # the domain aggregate of a mixed task
    piqa = out[("reasoning", "piqa")]
    assert piqa.backends is None and "engines differ" not in piqa.sentence
    assert out[("reasoning", None)].backends is None


def test_same_or_unknown_engines_are_not_flagged_as_mixed():
    for mine, theirs in (("vllm", "vllm"), ("hf", "hf"), (None, "hf"), ("vllm", None), (None, None)):
        (task, _domain) = compare([row("boolq", 0.6, mine)], [row("boolq", 0.5, theirs)])
        assert task.backends is None and "engines differ" not in task.sentence


def test_stored_score_rows_carry_their_engine(hub, database, settings):
    with database.session() as s:
        model = Model(name="m", name_key="m", developer_key="", kind="external", benchmark_scores={})
        s.add(model)
        s.flush()
        values, settings_hash = service.evaluation_settings(settings, "quick", ["reading"])
        evaluation = bench_repo.add_evaluation(s, {
            "owner_id": None, "model_id": model.id, "mode": "quick", "status": "running", "tasks": ["boolq"],
            "settings": values, "settings_hash": settings_hash, "harness_version": values["harness_version"]})
        result_row = {"task": "boolq", "domain": "reading", "metric": "acc", "filter": "none", "value": 0.5,
                      "stderr": 0.1, "n_samples": 2, "status": "final", "primary": True, "backend": "vllm"}
        service.store_result(s, evaluation, {"status": "final", "rows": [result_row], "raw": {}, "backend": "vllm"})
        (stored,) = repo.score_rows(s, model.id, "quick")
        assert stored["backend"] == "vllm" and stored["task"] == "boolq"
