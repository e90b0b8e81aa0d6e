"""The real pretrained model end to end through the product: SmolLM2-135M-Instruct (converted once per session from
its GGUF wheel) registered as the built-in base model, a LoRA run on GSM8K train rows launched through the API and
trained by the real worker, the fine-tune published, and its chat demo asked a factual question."""

from __future__ import annotations

import pytest

from bench_data import BENCHMARKS
from modelmate.demo import hub_data
from modelmate.jobs.worker import Worker
from sse import generate, parse_sse

API = "/api/v1"


@pytest.fixture(autouse=True)
def _torch_two_threads() -> None:
    import torch

    torch.set_num_threads(2)


def _answer(client, model_id: int, question: str) -> str:
    response, text = generate(client, model_id, messages=[{"role": "user", "content": question}], temperature=0,
                              max_new_tokens=24)
    assert response.status_code == 200, text
    events = parse_sse(text)
    assert events[-1][0] == "done", events[-3:]
    return "".join(data["text"] for kind, data in events if kind == "token")


@pytest.mark.slow
@pytest.mark.e2e
def test_a_smollm2_fine_tune_trains_publishes_and_still_knows_paris(hub, database, settings, smollm2_installed):
    if not database.is_sqlite:
        pytest.skip("a real model's training is the point here; one backend is enough (the API runs on both elsewhere)")
    smol = next(b for b in hub.get(f"{API}/base-models").json() if b["key"] == "smollm2-135m-instruct")
    assert smol["available"] and not smol["toy"] and smol["parameters"] == 134_515_008
    assert smol["source"]["quantization"] == "Q4_1" and smol["source"]["stored_dtype"] == "bfloat16"
    assert "paris" in _answer(hub, smol["id"], "What is the capital of France?").lower()

    worked, _ = hub_data.math_datasets(BENCHMARKS)
    rows = worked.body.decode().splitlines()[:24]
    r = hub.post(f"{API}/datasets", files={"file": ("gsm8k.jsonl", "\n".join(rows).encode(), "application/json")},
                 data={"name": "GSM8K train sample", "base_model": "smollm2-135m-instruct"})
    assert r.status_code == 201, r.text
    config = {"max_steps": 3, "batch_size": 2, "max_seq_length": 256, "eval_split": 0.25, "eval_steps": 3,
              "learning_rate": 3e-4, "save_steps": 3}
    run = hub.post(f"{API}/runs", json={"base_model": "smollm2-135m-instruct", "dataset_id": r.json()["id"],
                                        "mode": "expert", "preset": "quick", "config": config, "name": "real"}).json()
    assert Worker(database, settings, kinds=["train"], lease_s=120, poll_s=0.2).run_until_idle() == 1
    done = hub.get(f"{API}/runs/{run['id']}").json()
    assert done["status"] == "succeeded" and done["training_outcome"] == "success", done.get("failure_message")
    curve = done["loss_curve"]
    assert [p["step"] for p in curve] == [1, 2, 3]
    assert 0.3 < curve[-1]["eval_loss"] < 3.0  # a real model on real text: nothing like the toy's ~8
    assert done["environment"].get("precision") == "fp32"

    model_id = done["output_model_id"]
    r = hub.patch(f"{API}/hub/models/{model_id}", json={"visibility": "public"})
    assert r.status_code == 200, r.text
    page = hub.get(f"{API}/hub/models/by-id/{model_id}").json()["model"]
    assert page["base"]["name"] == "SmolLM2 135M Instruct" and not page["toy"]
    assert "paris" in _answer(hub, model_id, "What is the capital of France?").lower()
