"""End to end on the real trainer and the real evaluator (toy tiny Llama, two documents per task): a fine-tune and
its base are evaluated by the worker; the evaluate job's hook stores the model's capability changes vs its base;
the changes are paired tests on the per-document outcomes both evaluations stored; the owner's thumbs down puts
the run in the museum; the research export carries the run with its scores."""

from __future__ import annotations

import io
import json

import pyarrow.parquet as pq
import pytest

from modelmate.jobs.worker import Worker
from modelmate.models import CapabilityChange, DocumentOutcome, Evaluation

API = "/api/v1"
CONFIG = {"max_steps": 2, "batch_size": 4, "max_seq_length": 64, "eval_split": 0.2, "logging_steps": 1,
          "warmup_ratio": 0.0}


@pytest.mark.slow
@pytest.mark.e2e
def test_real_run_and_evaluations_feed_changes_museum_and_export(hub, benchmark_dir, database, settings):
    rows = [{"text": f"Example {i}: alpha beta gamma delta epsilon zeta"} for i in range(20)]
    body = "".join(json.dumps(r) + "\n" for r in rows)
    ds = hub.post(f"{API}/datasets", files={"file": ("d.jsonl", body.encode(), "application/json")},
                  data={"name": "research e2e", "base_model": "tiny"})
    assert ds.status_code in (200, 201), ds.text
    run = hub.post(f"{API}/runs", json={"base_model": "tiny", "dataset_id": ds.json()["id"], "mode": "expert",
                                        "preset": "quick", "config": CONFIG, "name": "e2e research run"})
    assert run.status_code == 202, run.text
    on = settings.model_copy(update={"auto_evaluate": True, "auto_evaluate_domains": ["reading"]})
    assert Worker(database, on, kinds=["train"], lease_s=30, poll_s=0.2).run_once() is True
    done = hub.get(f"{API}/runs/{run.json()['id']}").json()
    assert done["status"] == "succeeded" and done["training_outcome"] == "success", done
    assert done["failure_category"] is None  # the curve's diagnosis: 2 steps are too short to call
    model_id = done["output_model_id"]

    # the worker runs both evaluations (the model's and the base's); each stored one runs the hook
    assert Worker(database, on, kinds=["evaluate"], lease_s=30, poll_s=0.2).run_until_idle() == 2
    with database.session() as s:
        evaluations = s.query(Evaluation).order_by(Evaluation.id).all()
        assert [e.status for e in evaluations] == ["final", "final"]
        hashes = [{(o.task, o.doc_hash) for o in s.query(DocumentOutcome).filter(
            DocumentOutcome.evaluation_id == e.id)} for e in evaluations]
        stored = s.query(CapabilityChange).filter(CapabilityChange.model_id == model_id).all()
        base_id = stored[0].reference_model_id if stored else None
    keys = {(c.domain, c.task) for c in stored}
    assert ("reading", "boolq") in keys and ("reading", None) in keys, keys
    assert all(c.reference_kind == "base" and c.evaluation_id is not None for c in stored)
    assert hashes[0] == hashes[1] and len(hashes[0]) == 2  # both scored the same two boolq documents
    boolq = next(c for c in stored if c.task == "boolq")
    assert boolq.delta == boolq.value - boolq.reference_value
    assert boolq.test == "mcnemar" and boolq.n == 2 and boolq.p_value is not None  # paired, not the z-test
    assert boolq.sentence.startswith("boolq acc")
    if not boolq.flagged:  # two documents can never be significant: no colour, no percentage, no p = 1.00
        assert boolq.sentence == "boolq acc: no detectable change vs base (n = 2)"
    reading = next(c for c in stored if c.task is None)
    assert reading.test == "mcnemar" and reading.n == 2 and not reading.flagged

    feed = hub.get(f"{API}/capability-changes", params={"model_id": model_id}).json()
    assert feed["total"] == len(stored) and feed["items"][0]["reference"]["id"] == base_id
    assert {(i["test"], i["n"]) for i in feed["items"]} == {("mcnemar", 2)}

    # a successful run is not in the museum until its owner gives it a thumbs down
    assert hub.get(f"{API}/museum").json()["total"] == 0
    fb = hub.put(f"{API}/runs/{done['id']}/feedback", json={"value": -1, "comment": "learned nothing useful"})
    assert fb.status_code == 200, fb.text
    museum = hub.get(f"{API}/museum").json()
    assert [i["run_id"] for i in museum["items"]] == [done["id"]]
    item = museum["items"][0]
    assert item["curve"] and item["curve"][-1]["step"] == 2 and item["config"]["max_steps"] == 2
    assert item["model"]["id"] == model_id and item["feedback_comment"] == "learned nothing useful"

    exported = hub.get(f"{API}/research/export", params={"format": "parquet"})
    table = pq.read_table(io.BytesIO(exported.content)).to_pylist()
    assert [r["run_id"] for r in table] == [done["id"]]
    row = table[0]
    scores = hub.get(f"{API}/models/{model_id}/scores").json()["domains"][0]
    assert row["score.reading"] == scores["score"] and row["delta_base.reading"] == scores["delta_vs_base"]
    assert row["config.max_steps"] == 2 and row["outcome"] == "success" and row["feedback_value"] == -1
    assert row["dataset_rows"] == 20 and row["steps"] == 2 and row["final_loss"] is not None
