"""The estimate and the run agree, on both backends: what POST /training/estimate says a run will train on is what a
real run of the toy reports having trained (``train_tokens``), with and without packing, over several passes."""

from __future__ import annotations

import pytest
from hubdata import text_rows

from modelmate.jobs.worker import Worker


@pytest.mark.parametrize("packing, steps, accumulation", [(False, 20, 1), (True, 6, 2)])
def test_estimate_equals_the_tokens_a_real_run_trained(hub, upload, database, settings, packing, steps,
                                                       accumulation):
    ds = upload(hub, text_rows(40), name="forty rows")
    # 40 rows in slices of 4: 10 micro-batches per pass, 20 steps = 2 passes; packed: bins of 4 × 64 tokens
    config = {"max_steps": steps, "batch_size": 4, "max_seq_length": 64, "eval_split": 0.0, "packing": packing,
              "gradient_accumulation_steps": accumulation, "logging_steps": 1, "learning_rate": 1e-3,
              "warmup_ratio": 0.0}
    body = {"base_model": "tiny", "dataset_id": ds["id"], "preset": "quick", "config": config}
    est = hub.post("/api/v1/training/estimate", json=body)
    assert est.status_code == 200, est.text
    e = est.json()
    assert e["steps"] == steps and e["epochs"] > 1  # the steps make several passes over the data
    assert e["train_tokens"] == pytest.approx(e["epoch_tokens"] * e["epochs"], rel=1e-3)
    assert e["train_tokens"] > e["epoch_tokens"]
    assert e["tokens_per_step"] * steps == pytest.approx(e["train_tokens"], abs=steps)

    run = hub.post("/api/v1/runs", json={**body, "mode": "expert"}).json()
    assert run["estimate"]["train_tokens"] == e["train_tokens"]
    worker = Worker(database, settings.model_copy(update={"train_threads": 1}), kinds=["train"], lease_s=30,
                    poll_s=0.2)
    assert worker.run_once() is True
    done = hub.get(f"/api/v1/runs/{run['id']}").json()
    assert done["status"] == "succeeded", done
    assert done["total_steps"] == steps and done["current_step"] == steps
    if (steps * accumulation) % round(steps * accumulation / e["epochs"]) == 0:  # whole passes: exact
        assert done["train_tokens"] == e["train_tokens"]
    else:  # a pass cut short: within the tokens of one micro-batch
        assert done["train_tokens"] == pytest.approx(e["train_tokens"], abs=4 * 64)
