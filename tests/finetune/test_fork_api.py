"""Forks through the API, on both backends: the fork template, the fork rules (locked adapter shape → 422 naming
the field, missing parent adapter → 409), and a fork trained by the real worker + trainer that continues from its
parent's weights, records ``parent_model_id`` on the run and on the output model, and leaves an adapter that loads
on the base model alone."""

from __future__ import annotations

import shutil

import torch
from hubdata import chat_rows

from modelmate.finetune import base_catalog as bases
from modelmate.jobs.worker import Worker

PARENT_CONFIG = {"max_steps": 12, "batch_size": 4, "max_seq_length": 64, "learning_rate": 5e-3,
                 "eval_split": 0.2, "eval_steps": 6, "save_steps": 6, "logging_steps": 1, "warmup_ratio": 0.0,
                 "seed": 7}
FORK_CONFIG = {**PARENT_CONFIG, "max_steps": 4, "learning_rate": 1e-3}


def _work(database, settings) -> None:
    worker = Worker(database, settings.model_copy(update={"train_threads": 1, "train_stop_grace_s": 20}),
                    kinds=["train"], lease_s=30, poll_s=0.2)
    assert worker.run_once() is True


def _launch(client, body: dict):
    return client.post("/api/v1/runs", json={"mode": "expert", **body})


def test_fork_trains_on_top_of_its_parent(hub, upload, database, settings):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    ds = upload(hub, chat_rows(30), name="sums")
    r = _launch(hub, {"base_model": "tiny", "dataset_id": ds["id"], "name": "adder", "config": PARENT_CONFIG})
    assert r.status_code == 202, r.text
    parent_run_id = r.json()["id"]
    _work(database, settings)
    parent_run = hub.get(f"/api/v1/runs/{parent_run_id}").json()
    assert parent_run["status"] == "succeeded", parent_run
    parent_id = parent_run["output_model_id"]

    # the template: everything the builder needs, the adapter shape locked
    tpl = hub.get(f"/api/v1/models/{parent_id}/fork-template")
    assert tpl.status_code == 200, tpl.text
    tpl = tpl.json()
    assert tpl["parent"] == {"id": parent_id, "name": "adder"} and tpl["parent_model_id"] == parent_id
    assert tpl["base_model"] == "tiny" and tpl["dataset_id"] == ds["id"] and tpl["name"] == "adder (fork)"
    assert set(tpl["locked"]) == {"r", "alpha", "target_modules", "use_dora", "use_rslora"}
    assert tpl["config"]["r"] == 8 and tpl["config"]["learning_rate"] == 5e-3 and tpl["config"]["target_modules"]
    assert tpl["adapter_available"] is True and tpl["unavailable_reason"] is None

    # a different adapter shape is refused before anything is queued, naming the field
    bad = _launch(hub, {"base_model": tpl["base_model"], "parent_model_id": parent_id, "dataset_id": ds["id"],
                        "config": {**FORK_CONFIG, "r": 4}})
    assert bad.status_code == 422, bad.text
    error = bad.json()["error"]
    assert error["code"] == "fork_locked" and "r is fixed at 8" in error["message"]
    assert error["details"]["errors"][0]["field"] == "config.r"
    bad = _launch(hub, {"base_model": str(parent_id), "dataset_id": ds["id"],
                        "config": {**FORK_CONFIG, "target_modules": ["o_proj"]}})
    assert bad.status_code == 422 and "target_modules is fixed at" in bad.json()["error"]["message"]
    assert hub.get("/api/v1/runs").json()["total"] == 1
    # the same values as the parent's are fine (and so are values the fork may change)
    same = {**FORK_CONFIG, "r": 8, "alpha": 16.0, "target_modules": list(reversed(tpl["config"]["target_modules"]))}

    fork = _launch(hub, {"name": tpl["name"], "base_model": tpl["base_model"], "parent_model_id": parent_id,
                         "dataset_id": tpl["dataset_id"], "config": same})
    assert fork.status_code == 202, fork.text
    fork = fork.json()
    assert fork["parent_model_id"] == parent_id and fork["config"]["r"] == 8
    _work(database, settings)
    done = hub.get(f"/api/v1/runs/{fork['id']}").json()
    assert done["status"] == "succeeded" and done["training_outcome"] == "success", done
    runs_dir = settings.artifacts_dir / "runs"
    parent_adapter = runs_dir / str(parent_run_id) / "adapter"
    copy = runs_dir / str(fork["id"]) / "parent_adapter"  # the fork trained from its own copy of the parent's files
    assert (copy / "adapter_model.safetensors").read_bytes() == (
        parent_adapter / "adapter_model.safetensors").read_bytes()
    # it starts where the parent ended: its first loss is near the parent's last, far below the parent's first
    first, parent_curve = done["loss_curve"][0]["loss"], parent_run["loss_curve"]
    assert abs(first - parent_curve[-1]["loss"]) < abs(first - parent_curve[0]["loss"]), (first, parent_curve)

    child = hub.get(f"/api/v1/models/{done['output_model_id']}").json()
    assert child["parent_model_id"] == parent_id and child["kind"] == "finetuned"
    assert child["base_model_id"] == tpl["base_model_id"]

    # the fork's adapter is standalone: it loads on the plain base (the parent's files are not needed)
    shutil.move(parent_adapter, runs_dir / "parent-away")
    base = AutoModelForCausalLM.from_pretrained(bases.tiny_dir(settings), use_safetensors=True).eval()
    ids = torch.tensor([[5, 17, 42, 99, 7]])
    with torch.no_grad():
        plain = base(input_ids=ids).logits
        tuned = PeftModel.from_pretrained(base, runs_dir / str(fork["id"]) / "adapter").eval()(input_ids=ids).logits
    assert torch.isfinite(tuned).all() and not torch.allclose(plain, tuned, atol=1e-4)

    # the parent's adapter is gone now: a new fork is refused with 409 and a clear message; the template says so
    gone = _launch(hub, {"base_model": "tiny", "parent_model_id": parent_id, "dataset_id": ds["id"],
                         "config": FORK_CONFIG})
    assert gone.status_code == 409, gone.text
    assert gone.json()["error"]["code"] == "parent_adapter_missing" and "adder" in gone.json()["error"]["message"]
    tpl = hub.get(f"/api/v1/models/{parent_id}/fork-template").json()
    assert tpl["adapter_available"] is False and "missing" in tpl["unavailable_reason"]
    shutil.move(runs_dir / "parent-away", parent_adapter)


def test_fork_whose_parent_adapter_vanishes_before_training_fails_clearly(hub, upload, database, settings):
    ds = upload(hub, chat_rows(20))
    r = _launch(hub, {"base_model": "tiny", "dataset_id": ds["id"], "name": "p", "config": {**PARENT_CONFIG,
                                                                                            "max_steps": 2}})
    _work(database, settings)
    parent = hub.get(f"/api/v1/runs/{r.json()['id']}").json()
    fork = _launch(hub, {"base_model": str(parent["output_model_id"]), "dataset_id": ds["id"],
                         "config": FORK_CONFIG})
    assert fork.status_code == 202, fork.text
    assert fork.json()["parent_model_id"] == parent["output_model_id"]
    shutil.rmtree(settings.artifacts_dir / "runs" / str(parent["id"]) / "adapter")
    _work(database, settings)
    failed = hub.get(f"/api/v1/runs/{fork.json()['id']}").json()
    assert failed["status"] == "failed" and failed["failure_category"] == "crashed"
    assert "adapter of the parent model 'p' is missing" in failed["failure_message"]


def test_fork_template_rules(hub, upload, database, settings):
    tiny_id = next(m["id"] for m in hub.get("/api/v1/base-models").json() if m["key"] == "tiny")
    r = hub.get(f"/api/v1/models/{tiny_id}/fork-template")
    assert r.status_code == 422 and r.json()["error"]["code"] == "not_finetuned"
    assert hub.get("/api/v1/models/987654/fork-template").status_code == 404
