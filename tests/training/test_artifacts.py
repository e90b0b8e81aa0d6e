"""Adapter artifacts and the model card (YAML front matter read back with a real YAML parser)."""

from __future__ import annotations

import json

import torch
import yaml
from peft import LoraConfig, PeftModel, get_peft_model

from modelmate.training.artifacts import render_model_card, save_adapter, write_model_card
from modelmate.training.tiny import load_base_model


def _front_matter(text: str) -> dict:
    assert text.startswith("---\n")
    return yaml.safe_load(text[4:text.index("\n---\n", 4)])


CARD = {"name": "My code helper", "base_model": "meta-llama/Llama-3.2-1B", "datasets": ["sha256:0123abcd"],
        "license": "llama3.2", "tags": ["code"], "description": "Answers Python questions.", "toy": False,
        "config": {"r": 16, "alpha": 32, "learning_rate": 0.0002, "target_modules": ["q_proj", "v_proj"]},
        "outcome": "success", "steps": 120, "total_steps": 120, "final_loss": 1.23456, "final_eval_loss": 1.5,
        "train_tokens": 123456, "tokens_per_second": 9876.5}


def test_card_yaml_fields(tmp_path):
    write_model_card(tmp_path, CARD)
    text = (tmp_path / "README.md").read_text()
    meta = _front_matter(text)
    assert meta["base_model"] == "meta-llama/Llama-3.2-1B"
    assert meta["base_model_relation"] == "adapter"
    assert meta["library_name"] == "peft"
    assert meta["datasets"] == ["sha256:0123abcd"]
    assert meta["license"] == "llama3.2"
    assert meta["tags"] == ["modelmate", "lora", "code"]
    body = text.split("\n---\n", 1)[1]
    assert "# My code helper" in body and "| Outcome | success |" in body
    assert "| Final training loss | 1.2346 |" in body and "| Final held-out loss | 1.5000 |" in body
    assert "| `r` | 16 |" in body and "| `target_modules` | [\"q_proj\", \"v_proj\"] |" in body
    assert "TOY" not in body


def test_toy_card_and_hostile_values_stay_data(tmp_path):
    card = {"name": "x\n---\nlicense: stolen", "base_model": "tiny", "datasets": ["a: b", "- c", "'\"q"],
            "license": "mit\nlibrary_name: evil", "toy": True, "tags": ["toy", "x: y"], "outcome": "partial",
            "failure_category": "cancelled"}
    text = render_model_card(card)
    meta = _front_matter(text)
    assert meta["tags"] == ["modelmate", "lora", "toy", "x: y"]
    assert meta["datasets"] == ["a: b", "- c", "'\"q"]
    assert meta["license"] == "mit\nlibrary_name: evil" and meta["library_name"] == "peft"
    assert "TOY MODEL" in text and "partial (cancelled)" in text
    assert _front_matter(render_model_card({}))["base_model"] == "unknown"


def test_save_adapter_is_atomic_and_reloads(tiny_dir, tmp_path):
    base, tokenizer = load_base_model(str(tiny_dir))
    torch.manual_seed(0)
    model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                            task_type="CAUSAL_LM", init_lora_weights=False))
    out = tmp_path / "adapter"
    out.mkdir()
    (out / "stale.txt").write_text("from an earlier attempt")
    files = save_adapter(model, tokenizer, out, {**CARD, "base_model": "tiny", "toy": True})
    assert {"adapter_config.json", "adapter_model.safetensors", "README.md", "tokenizer.json",
            "chat_template.jinja"} <= set(files)
    assert "stale.txt" not in files and not (out / "stale.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["adapter"]  # no temp or old dirs left behind
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "tiny" and config["r"] == 4
    assert "toy" in _front_matter((out / "README.md").read_text())["tags"]

    fresh, _ = load_base_model(str(tiny_dir))
    reloaded = PeftModel.from_pretrained(fresh, str(out)).eval()
    ids = torch.tensor([[5, 6, 7, 8, 9]])
    with torch.no_grad():
        assert torch.allclose(reloaded(input_ids=ids).logits, model.eval()(input_ids=ids).logits, atol=1e-6)
