"""Download: the zip of a real trained adapter loads with ``PeftModel.from_pretrained`` on the toy base, and its
model card's YAML carries ``model-index`` results for the stored benchmark rows (read back with huggingface_hub)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from modelmate.benchmarking import service as bench
from modelmate.models import Evaluation

API = "/api/v1"
ROWS = [
    {"task": "arc_easy", "domain": "reasoning", "metric": "acc_norm", "filter": "none", "value": 0.31, "stderr": 0.04,
     "status": "final", "primary": True},
    {"task": "arc_easy", "domain": "reasoning", "metric": "acc", "filter": "none", "value": 0.29, "stderr": 0.04,
     "status": "final", "primary": False},
    {"task": "truthfulqa_mc2", "domain": "truthfulness", "metric": "acc", "filter": "none", "value": 0.47,
     "stderr": None, "status": "final", "primary": True},
    {"task": "gsm8k", "domain": "math", "metric": "exact_match", "filter": "strict-match", "value": None,
     "stderr": None, "status": "failed", "primary": True},  # no value: not a result
]


def store_scores(database, model_id: int, rows: list[dict], status: str = "final") -> None:
    """A finished evaluation stored by the benchmarking service's own ``store_result``."""
    with database.session() as s:
        evaluation = Evaluation(model_id=model_id, mode="quick", status="running", tasks=[r["task"] for r in rows],
                                settings={}, settings_hash="h")
        s.add(evaluation)
        s.flush()
        bench.store_result(s, evaluation, {"status": status, "rows": rows, "raw": {}})
        s.commit()


def unzip(content: bytes, dest: Path) -> Path:
    with zipfile.ZipFile(io.BytesIO(content)) as zf:
        assert zf.testzip() is None
        zf.extractall(dest)
    return dest


def assert_adapter_loads_and_changes_logits(base_dir: Path, adapter_dir: Path) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(adapter_dir)  # the tokenizer files travel with the adapter
    ids = tokenizer("Example 3: alpha beta gamma", return_tensors="pt").input_ids
    base = AutoModelForCausalLM.from_pretrained(base_dir)
    base.eval()
    with torch.no_grad():
        before = base(ids).logits.clone()
    model = PeftModel.from_pretrained(base, adapter_dir)
    model.eval()
    with torch.no_grad():
        after = model(ids).logits
    assert after.shape == before.shape
    assert not torch.allclose(before, after, atol=1e-6), "the adapter did not change the logits"


def test_download_zip_loads_with_peft_and_has_a_model_index(hub, me, register, database, tiny_source, tmp_path):
    model_id = register(me, name="Zip me")
    store_scores(database, model_id, ROWS)
    r = hub.get(f"{API}/hub/models/{model_id}/download")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    assert r.headers["content-disposition"] == 'attachment; filename="local-zip-me.zip"'
    out = unzip(r.content, tmp_path / "zip")
    names = sorted(p.name for p in out.iterdir())
    assert {"adapter_model.safetensors", "adapter_config.json", "README.md", "tokenizer.json",
            "tokenizer_config.json"} <= set(names)
    assert_adapter_loads_and_changes_logits(tiny_source, out)

    from huggingface_hub import ModelCard

    card = ModelCard.load(out / "README.md")
    assert card.data.library_name == "peft" and card.data.base_model == "tiny"
    results = {(e.dataset_name, e.metric_type): e for e in card.data.eval_results}
    assert set(results) == {("arc_easy", "acc_norm"), ("arc_easy", "acc"), ("truthfulqa_mc2", "acc")}
    assert results[("arc_easy", "acc_norm")].metric_value == pytest.approx(0.31)
    assert results[("arc_easy", "acc_norm")].task_type == "text-generation"
    assert results[("arc_easy", "acc_norm")].dataset_type == "arc_easy"
    assert card.data.model_name == "local/zip-me"
    from huggingface_hub import metadata_load

    raw = metadata_load(out / "README.md")["model-index"][0]["results"]  # the YAML as written
    arc = next(x for x in raw if x["dataset"]["name"] == "arc_easy" and x["metrics"][0]["type"] == "acc_norm")
    assert arc["metrics"][0]["stderr"] == pytest.approx(0.04)
    assert "# Zip me" in card.text and "TOY MODEL" in card.text


def test_newer_scores_replace_older_ones_in_the_card(hub, me, register, database, tmp_path):
    model_id = register(me, name="Rescored")
    store_scores(database, model_id, ROWS[:1])
    store_scores(database, model_id, [{**ROWS[0], "value": 0.5}])
    store_scores(database, model_id, [{**ROWS[0], "value": 0.9}], status="partial")  # partial: never in the card
    out = unzip(hub.get(f"{API}/hub/models/{model_id}/download").content, tmp_path / "z")
    from huggingface_hub import ModelCard

    results = ModelCard.load(out / "README.md").data.eval_results
    assert [(e.dataset_name, e.metric_value) for e in results] == [("arc_easy", 0.5)]


def test_download_follows_visibility(app, hub, register, account_client):
    alice = account_client("alice")
    bob = account_client("bob")
    anon = TestClient(app, base_url="http://127.0.0.1:8000")
    model_id = register(alice.user["id"], name="Private zip")
    url = f"{API}/hub/models/{model_id}/download"
    assert alice.get(url).status_code == 200
    assert bob.get(url).status_code == 404 and anon.get(url).status_code == 404
    alice.patch(f"{API}/hub/models/{model_id}", json={"visibility": "public"})
    r = anon.get(url)
    assert r.status_code == 200 and r.headers["content-disposition"].endswith('filename="alice-private-zip.zip"')
    base = next(m for m in alice.get(f"{API}/base-models").json() if m["key"] == "tiny")
    unavailable = anon.get(f"{API}/hub/models/{base['id']}/download")
    assert unavailable.status_code == 409 and unavailable.json()["error"]["code"] == "model_unavailable"
