"""/api/v1/runs/external through the real app with real API tokens: a run trained elsewhere is recorded (config
mapped, curve idempotent on step, the native diagnosis for its outcome), its safetensors adapter sealed in the store
and registered as its model with the automatic evaluation queued; another user's run is 404, pickle files are
refused."""

from __future__ import annotations

import io
import json
import struct

import pytest

from modelmate.finetune import service
from modelmate.models import OutboxEvent

API = "/api/v1"
PEFT = {"peft_type": "LORA", "r": 4, "lora_alpha": 8, "lora_dropout": 0.0, "target_modules": ["v_proj", "q_proj"],
        "base_model_name_or_path": "/somewhere/tiny", "bias": "none", "task_type": "CAUSAL_LM"}
ARGS = {"learning_rate": 1e-3, "num_train_epochs": 2.0, "max_steps": -1, "per_device_train_batch_size": 4,
        "lr_scheduler_type": "linear", "optim": "adamw_torch", "bf16": False, "fp16": False, "seed": 7,
        "output_dir": "/tmp/out", "label_smoothing_factor": 0.1}


def safetensors_bytes(tensors: dict[str, list[float]]) -> bytes:
    """A real safetensors file (F32 vectors), written by hand: no torch needed."""
    header, data, offset = {}, b"", 0
    for name, values in tensors.items():
        raw = struct.pack(f"<{len(values)}f", *values)
        header[name] = {"dtype": "F32", "shape": [len(values)], "data_offsets": [offset, offset + len(raw)]}
        data += raw
        offset += len(raw)
    head = json.dumps(header).encode()
    return struct.pack("<Q", len(head)) + head + data


def adapter_files() -> dict[str, bytes]:
    # 3 MB of weights: over the API's 2 MB default body limit, so the adapter route's own limit is exercised
    return {"adapter_config.json": json.dumps(PEFT).encode(),
            "adapter_model.safetensors": safetensors_bytes({"base_model.lora_A.weight": [0.5, -1.0] * 400_000})}


@pytest.fixture
def users(hub, account_client):
    """Two accounts, each with a read/write API token; returns {name: (cookie client, token headers)}."""
    out = {}
    for name in ("alice", "bob"):
        c = account_client(name)
        token = c.post(f"{API}/auth/tokens", json={"name": "sdk", "scopes": ["read", "write"]}).json()["token"]
        out[name] = (c, {"Authorization": f"Bearer {token}"})
    return out


def start(hub, headers, **extra):
    body = {"base_model": "tiny", "peft_config": PEFT, "training_args": ARGS, "name": "laptop run",
            "dataset": {"name": "my rows", "rows": 40, "tokens": 1234, "hash": "ab" * 32},
            "environment": {"torch": "2.x", "device": "cpu"}, **extra}
    resp = hub.post(f"{API}/runs/external", json=body, headers=headers)
    assert resp.status_code == 201, resp.text
    return resp.json()


def test_record_a_run_with_its_adapter(hub, users, database):
    _, h = users["alice"]
    run = start(hub, h, external_id="run-a")
    assert run["source"] == "external" and run["status"] == "running" and run["job"] is None
    config = run["config"]
    assert (config["r"], config["alpha"], config["dropout"]) == (4, 8.0, 0.0)
    assert config["target_modules"] == ["q_proj", "v_proj"] and config["optimizer"] == "adamw"
    assert (config["learning_rate"], config["epochs"], config["batch_size"], config["seed"]) == (1e-3, 2.0, 4, 7)
    assert config["lr_scheduler"] == "linear" and config["precision"] == "fp32" and "max_steps" not in config
    assert config["external"]["training_args"] == {"max_steps": -1, "output_dir": "/tmp/out",
                                                   "label_smoothing_factor": 0.1, "bf16": False, "fp16": False}
    assert config["external"]["peft"]["bias"] == "none" and config["external"]["dataset"]["rows"] == 40
    assert start(hub, h, external_id="run-a")["id"] == run["id"]  # the same external id: the same run
    assert service.reconcile_runs(database) == 0  # no job, yet not a lost one: a worker's reconciliation leaves it
    assert hub.get(f"{API}/runs/{run['id']}", headers=h).json()["status"] == "running"

    points = [{"step": 1, "loss": 3.0, "lr": 1e-3}, {"step": 2, "loss": 2.5}, {"step": 2, "eval_loss": 2.7}]
    r = hub.post(f"{API}/runs/external/{run['id']}/points", json={"points": points}, headers=h)
    assert r.status_code == 200 and r.json() == {"run_id": run["id"], "points": 2, "added": 2}, r.text
    again = hub.post(f"{API}/runs/external/{run['id']}/points", json={"points": points}, headers=h)
    assert again.json() == {"run_id": run["id"], "points": 2, "added": 0}

    for name, data in adapter_files().items():
        up = hub.put(f"{API}/runs/external/{run['id']}/adapter/{name}", headers=h,
                     files={"file": (name, io.BytesIO(data), "application/octet-stream")})
        assert up.status_code == 204, up.text
    done = hub.post(f"{API}/runs/external/{run['id']}/finish", json={"outcome": "success", "train_seconds": 12.5},
                    headers=h)
    assert done.status_code == 200, done.text
    out = done.json()
    assert out["status"] == "succeeded" and out["training_outcome"] == "success" and out["failure_category"] is None
    assert [p["step"] for p in out["loss_curve"]] == [1, 2] and out["loss_curve"][1]["eval_loss"] == 2.7
    assert out["final_loss"] == 2.5 and out["final_eval_loss"] == 2.7 and out["artifacts"] == [
        "adapter_config.json", "adapter_model.safetensors"]
    model = hub.get(f"{API}/models/{out['output_model_id']}", headers=h).json()
    assert model["kind"] == "finetuned" and model["base_model_id"] == out["base_model"]["id"]
    with database.session() as s:  # the automatic evaluation, queued through the outbox like a native run's
        events = s.query(OutboxEvent).filter(OutboxEvent.event == "model_trained").all()
        assert [e.payload["run_id"] for e in events] == [out["id"]]
    late = hub.post(f"{API}/runs/external/{run['id']}/points", json={"points": points}, headers=h)
    assert late.status_code == 409 and "finished" in late.json()["error"]["message"]
    export = hub.get(f"{API}/research/export", params={"format": "jsonl"}, headers=h)
    row = json.loads(export.text.splitlines()[0])
    assert row["source"] == "external" and row["dataset_rows"] == 40 and row["config.r"] == 4
    assert row["config.max_steps"] is None  # not a default pretending to be what the run used


def test_another_users_run_is_404(hub, users):
    _, alice = users["alice"]
    _, bob = users["bob"]
    run = start(hub, alice)
    for method, path, kwargs in (("post", f"/runs/external/{run['id']}/points", {"json": {"points": []}}),
                                 ("post", f"/runs/external/{run['id']}/finish", {"json": {"outcome": "success"}}),
                                 ("get", f"/runs/{run['id']}", {})):
        resp = getattr(hub, method)(API + path, headers=bob, **kwargs)
        assert resp.status_code == 404, (path, resp.text)
    up = hub.put(f"{API}/runs/external/{run['id']}/adapter/adapter_config.json", headers=bob,
                 files={"file": ("adapter_config.json", b"{}", "application/json")})
    assert up.status_code == 404
    assert hub.post(f"{API}/runs/external", json={"base_model": "tiny"}).status_code == 401  # no token


def test_pickle_and_malformed_adapter_files_are_refused(hub, users, tmp_path):
    _, h = users["alice"]
    run = start(hub, h)
    pickle_bytes = b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x01a\x94K\x01s."
    bin_up = hub.put(f"{API}/runs/external/{run['id']}/adapter/adapter_model.bin", headers=h,
                     files={"file": ("adapter_model.bin", pickle_bytes, "application/octet-stream")})
    assert bin_up.status_code == 422, bin_up.text
    disguised = hub.put(f"{API}/runs/external/{run['id']}/adapter/adapter_model.safetensors", headers=h,
                        files={"file": ("adapter_model.safetensors", pickle_bytes, "application/octet-stream")})
    assert disguised.status_code == 422 and "not a valid safetensors" in disguised.json()["error"]["message"]
    bad_json = hub.put(f"{API}/runs/external/{run['id']}/adapter/adapter_config.json", headers=h,
                       files={"file": ("adapter_config.json", b"[1, 2", "application/json")})
    assert bad_json.status_code == 422
    done = hub.post(f"{API}/runs/external/{run['id']}/finish", json={"outcome": "success"}, headers=h).json()
    assert done["artifacts"] == [] and done["output_model_id"] is None  # nothing accepted, nothing registered


@pytest.mark.parametrize(("curve", "finish", "status", "category"), [
    ([{"step": 1, "loss": 2.0}, {"step": 2, "loss": "nan"}], {"outcome": "failure"}, "failed", "diverged"),
    ([{"step": 1, "loss": 2.0}], {"outcome": "failure", "message": "CUDA error"}, "failed", "crashed"),
    ([{"step": 1, "loss": 2.0}], {"outcome": "failure", "failure_category": "out_of_memory"}, "failed",
     "out_of_memory"),
    ([{"step": 1, "loss": 2.0}], {"outcome": "partial", "failure_category": "cancelled"}, "cancelled", "cancelled"),
])
def test_outcomes_get_the_native_diagnosis(hub, users, curve, finish, status, category):
    _, h = users["alice"]
    run = start(hub, h)
    assert hub.post(f"{API}/runs/external/{run['id']}/points", json={"points": curve}, headers=h).status_code == 200
    out = hub.post(f"{API}/runs/external/{run['id']}/finish", json=finish, headers=h).json()
    assert (out["status"], out["failure_category"]) == (status, category), out
    assert out["training_outcome"] == finish["outcome"]
    again = hub.post(f"{API}/runs/external/{run['id']}/finish", json=finish, headers=h)
    assert again.status_code == 409


def test_base_models_unknown_or_described(hub, users):
    _, h = users["alice"]
    unknown = hub.post(f"{API}/runs/external", json={"base_model": "nobody/no-such-model"}, headers=h)
    assert unknown.status_code == 404 and "base_model_config" in unknown.json()["error"]["message"]
    llama = {"architectures": ["LlamaForCausalLM"], "hidden_size": 64, "num_hidden_layers": 2,
             "num_attention_heads": 4, "num_key_value_heads": 4, "intermediate_size": 128, "vocab_size": 512,
             "max_position_embeddings": 256, "model_type": "llama"}
    _, bob = users["bob"]  # not an administrator (the first account is): may not add a public catalog row
    refused = hub.post(f"{API}/runs/external", json={"base_model": "someorg/tiny-llama-x",
                                                     "base_model_config": llama}, headers=bob)
    assert refused.status_code == 403 and "only administrators" in refused.json()["error"]["message"]
    made = start(hub, h, base_model="someorg/tiny-llama-x", base_model_config=llama)  # alice administers
    base = hub.get(f"{API}/models/{made['base_model']['id']}", headers=h).json()
    assert base["kind"] == "base" and base["hf_repo_id"] == "someorg/tiny-llama-x"
    again = start(hub, h, base_model="someorg/tiny-llama-x")  # found now, no config needed
    assert again["base_model"]["id"] == made["base_model"]["id"]
    odd = hub.post(f"{API}/runs/external", json={"base_model": "x/y", "base_model_config": {"architectures": ["Foo"]}},
                   headers=h)
    assert odd.status_code == 422 and "unsupported architecture" in odd.json()["error"]["message"]
