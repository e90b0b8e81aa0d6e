"""ACCEPTANCE, on CPU and both backends: API → job → worker → real LoRA training of a tiny random Llama in a child
process group → artifacts that reload with ``PeftModel.from_pretrained`` → a run row with the full curve and the
outcome → a fine-tuned catalog model with its base recorded. Plus the runtime failures a run must survive."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from hubdata import chat_rows, text_rows

from modelmate.finetune import base_catalog as bases
from modelmate.jobs.worker import Worker
from modelmate.models import Job

E2E_CONFIG = {"max_steps": 8, "batch_size": 4, "max_seq_length": 64, "learning_rate": 1e-3, "eval_split": 0.2,
              "eval_steps": 4, "save_steps": 4, "logging_steps": 1, "warmup_ratio": 0.0}


def worker_for(database, settings, **kw) -> Worker:
    return Worker(database, settings.model_copy(update={"train_threads": 1, "train_stop_grace_s": 20}),
                  kinds=["train"], lease_s=kw.pop("lease_s", 30), poll_s=0.2, **kw)


def launch(client, dataset_id: int, config: dict | None = None, **fields) -> dict:
    body = {"base_model": "tiny", "dataset_id": dataset_id, "mode": "expert", "preset": "quick",
            "config": config or dict(E2E_CONFIG), **fields}
    r = client.post("/api/v1/runs", json=body)
    assert r.status_code == 202, r.text
    return r.json()


def wait_for(predicate, timeout: float = 120, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("timed out waiting")


def test_acceptance_api_to_trained_adapter_in_the_catalog(hub, upload, database, settings):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    ds = upload(hub, chat_rows(30), name="additions")
    run = launch(hub, ds["id"], name="adder v1")
    assert Worker is not None and worker_for(database, settings).run_once() is True

    body = hub.get(f"/api/v1/runs/{run['id']}").json()
    assert body["status"] == "succeeded", body
    assert body["training_outcome"] == "success" and body["failure_category"] is None
    curve = body["loss_curve"]
    assert [p["step"] for p in curve] == list(range(1, 9))  # the full curve, every step once
    assert all(p["loss"] is not None and p["lr"] is not None and p["tokens"] > 0 for p in curve)
    assert [p["step"] for p in curve if p["eval_loss"] is not None] == [4, 8]
    assert [p["tokens"] for p in curve] == sorted(p["tokens"] for p in curve)
    assert body["total_steps"] == 8 and body["current_step"] == 8 and body["final_loss"] == curve[-1]["loss"]
    assert body["final_eval_loss"] is not None and body["tokens_per_second"] > 0 and body["train_tokens"] > 0
    assert body["peak_memory_bytes"] > 0 and body["train_seconds"] > 0
    assert body["environment"]["versions"]["peft"] and body["environment"]["device"] == "cpu"
    assert {"adapter_config.json", "adapter_model.safetensors", "README.md"} <= set(body["artifacts"])
    assert body["job"]["status"] == "succeeded" and body["job"]["attempts"] == 1 and body["job"]["progress"] == 1.0

    # the adapter reloads on the base model and runs
    adapter_dir = settings.artifacts_dir / "runs" / str(run["id"]) / "adapter"
    base = AutoModelForCausalLM.from_pretrained(bases.tiny_dir(settings), use_safetensors=True)
    model = PeftModel.from_pretrained(base, adapter_dir)
    import torch

    with torch.no_grad():
        out = model(input_ids=torch.tensor([[1, 2, 3, 4]]))
    assert out.logits.shape[:2] == (1, 4) and torch.isfinite(out.logits).all()
    import yaml

    card = yaml.safe_load((adapter_dir / "README.md").read_text().split("---")[1])
    assert card["base_model_relation"] == "adapter" and card["library_name"] == "peft" and "toy" in card["tags"]

    # the result is a private fine-tuned model in the catalog, with its base recorded
    tiny_id = next(m["id"] for m in hub.get("/api/v1/base-models").json() if m["key"] == "tiny")
    model_row = hub.get(f"/api/v1/models/{body['output_model_id']}").json()
    assert model_row["kind"] == "finetuned" and model_row["name"] == "adder v1"
    assert model_row["base_model_id"] == tiny_id and model_row["parent_model_id"] is None
    with database.session() as s:
        from modelmate.models import Model

        row = s.get(Model, body["output_model_id"])
        assert row.visibility == "private" and row.hub_info["adapter"] is True and row.hub_info["toy"] is True
        assert row.hub_info["run_id"] == run["id"] and row.hub_info["artifact_uri"] == f"runs/{run['id']}/adapter"
        assert s.get(Job, run["job"]["id"]).result["output_model_id"] == row.id
    log = hub.get(f"/api/v1/runs/{run['id']}/log").json()["text"]
    assert "attempt 1" in log

    # a finished run: cancel changes nothing; a fork of the result records its parent
    assert hub.post(f"/api/v1/runs/{run['id']}/cancel").json()["status"] == "succeeded"
    fork = launch(hub, ds["id"], base_model=str(body["output_model_id"]), name="adder v1")
    assert fork["parent_model_id"] == body["output_model_id"] and fork["base_model"]["id"] == tiny_id
    assert worker_for(database, settings).run_once() is True
    forked = hub.get(f"/api/v1/runs/{fork['id']}").json()
    assert forked["status"] == "succeeded"
    fork_model = hub.get(f"/api/v1/models/{forked['output_model_id']}").json()
    assert fork_model["name"] == "adder v1 (2)" and fork_model["parent_model_id"] == body["output_model_id"]


def _poison_weights(path: Path) -> None:
    """Make the base model's weights produce NaN (a broken checkpoint someone registered)."""
    from safetensors.torch import load_file, save_file

    file = path / "model.safetensors"
    tensors = load_file(file)
    name = next(k for k in tensors if k.endswith("norm.weight") and "layers" not in k)
    tensors[name] = tensors[name] * float("nan")
    save_file(tensors, file, metadata={"format": "pt"})


def test_nan_loss_fails_the_run_as_diverged_without_retry(hub, upload, database, settings):
    ds = upload(hub)
    run = launch(hub, ds["id"])
    _poison_weights(bases.tiny_dir(settings))
    assert worker_for(database, settings).run_once() is True
    body = hub.get(f"/api/v1/runs/{run['id']}").json()
    assert body["status"] == "failed" and body["training_outcome"] == "failure"
    assert body["failure_category"] == "diverged", body
    assert "learning rate" in body["failure_message"].lower() or "nan" in body["failure_message"].lower()
    assert body["job"]["status"] == "failed" and body["job"]["attempts"] == 1  # not retried
    assert body["error"]["message"]


def test_dataset_deleted_while_the_run_trains_does_not_matter(hub, upload, database, settings):
    ds = upload(hub, text_rows(60))
    run = launch(hub, ds["id"], config={**E2E_CONFIG, "max_steps": 40, "save_steps": 20, "eval_steps": 20})
    worker = worker_for(database, settings)
    thread = threading.Thread(target=worker.run_once)
    thread.start()
    try:
        wait_for(lambda: hub.get(f"/api/v1/runs/{run['id']}").json()["status"] == "running")
        assert hub.delete(f"/api/v1/datasets/{ds['id']}").status_code == 204
        assert hub.get(f"/api/v1/datasets/{ds['id']}").status_code == 404
    finally:
        thread.join(timeout=300)
    body = hub.get(f"/api/v1/runs/{run['id']}").json()
    assert body["status"] == "succeeded" and len(body["loss_curve"]) == 40
    assert body["dataset"]["deleted"] is True and body["dataset"]["content_hash"] == ds["content_hash"]


def test_unwritable_artifacts_directory_fails_the_run_clearly(hub, upload, database, settings):
    ds = upload(hub)
    run = launch(hub, ds["id"])
    runs_dir = settings.artifacts_dir / "runs"
    if runs_dir.exists():
        pytest.skip("runs directory already exists")
    runs_dir.write_text("not a directory")  # as root, permissions would not stop us: a file is in the way
    assert worker_for(database, settings).run_once() is True
    body = hub.get(f"/api/v1/runs/{run['id']}").json()
    assert body["status"] == "failed" and body["job"]["status"] == "failed" and body["job"]["attempts"] == 1
    assert "Cannot write the run's files" in body["failure_message"] and "disk space" in body["failure_message"]
