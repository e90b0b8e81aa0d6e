"""The curve diagnosis is applied when a real run finishes: a run that cannot learn (a learning rate of 1e-7) ends
as a success with the ``no_learning`` category, and is in the museum."""

from __future__ import annotations

import json

from modelmate.jobs.worker import Worker

API = "/api/v1"


def test_a_real_flat_run_is_diagnosed_no_learning(hub, database, settings):
    rows = [{"text": f"Example {i}: alpha beta gamma delta epsilon zeta"} for i in range(20)]
    ds = hub.post(f"{API}/datasets", files={"file": ("d.jsonl", "".join(json.dumps(r) + "\n" for r in rows).encode(),
                                                     "application/json")},
                  data={"name": "flat", "base_model": "tiny"})
    assert ds.status_code in (200, 201), ds.text
    config = {"max_steps": 12, "batch_size": 4, "max_seq_length": 64, "eval_split": 0.2, "logging_steps": 1,
              "warmup_ratio": 0.0, "learning_rate": 1e-7}
    run = hub.post(f"{API}/runs", json={"base_model": "tiny", "dataset_id": ds.json()["id"], "mode": "expert",
                                        "config": config, "name": "too timid"})
    assert run.status_code == 202, run.text
    assert Worker(database, settings, kinds=["train"], lease_s=30, poll_s=0.2).run_once() is True
    done = hub.get(f"{API}/runs/{run.json()['id']}").json()
    assert done["status"] == "succeeded" and done["training_outcome"] == "success", done
    assert len([p for p in done["loss_curve"] if p.get("loss") is not None]) == 12
    assert done["failure_category"] == "no_learning", done["loss_curve"]
    museum = hub.get(f"{API}/museum", params={"category": "no_learning"}).json()
    assert [i["run_id"] for i in museum["items"]] == [done["id"]]
