"""The toy tiny model is built offline from local text, labelled a toy, and loaded only from safetensors."""

from __future__ import annotations

import json
import pickle
import shutil

import pytest
from safetensors.torch import load_file

from modelmate.training.tiny import (
    IM_END,
    TOY_MARKER,
    UnsafeModelError,
    build_tiny,
    default_corpus,
    is_toy,
    load_base_model,
)


def test_built_toy_model_files_and_labels(tiny_dir):
    names = {p.name for p in tiny_dir.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "README.md",
            TOY_MARKER} <= names
    assert not [n for n in names if n.endswith((".bin", ".pt", ".pth", ".pkl"))]
    assert "TOY MODEL" in (tiny_dir / "README.md").read_text()
    marker = json.loads((tiny_dir / TOY_MARKER).read_text())
    assert marker["toy"] is True and marker["key"] == "tiny" and marker["vocab_size"] <= 512
    assert is_toy(tiny_dir)
    config = json.loads((tiny_dir / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"] and config["tie_word_embeddings"] is True
    assert config["hidden_size"] == 64 and config["num_hidden_layers"] == 2


def test_loaded_model_and_tokenizer(tiny_dir):
    model, tokenizer = load_base_model(str(tiny_dir))
    assert model.config.use_cache is False  # packing needs it (see test_packing)
    assert len(tokenizer) <= 512 and model.config.vocab_size == len(tokenizer)
    assert None not in (tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id)
    assert len({tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id}) == 3
    text = "def add(a, b):\n    return a + b"
    assert tokenizer.decode(tokenizer(text, add_special_tokens=False)["input_ids"]) == text  # byte-level: lossless
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    rendered = tokenizer.apply_chat_template(messages, tokenize=False)
    assert rendered == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\nhello<|im_end|>\n"
    prompt = tokenizer.apply_chat_template(messages[:1], tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("<|im_start|>assistant\n")
    assert tokenizer.convert_tokens_to_ids(IM_END) != tokenizer.unk_token_id
    assert sum(p.numel() for p in model.parameters()) < 200_000


def test_build_is_seeded_and_pretraining_reports_progress(tmp_path):
    corpus = default_corpus(max_chars=40_000)
    assert corpus and sum(map(len, corpus)) <= 40_000
    events: list[dict] = []
    kwargs = {"hidden_size": 32, "num_layers": 1, "num_heads": 2, "vocab_size": 300, "context_length": 64,
              "seed": 5, "corpus": corpus}
    a = build_tiny(tmp_path / "a", pretrain_steps=6, on_progress=events.append, **kwargs)
    b = build_tiny(tmp_path / "b", pretrain_steps=6, **kwargs)
    wa, wb = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
    assert wa.keys() == wb.keys() and all((wa[k] == wb[k]).all() for k in wa)
    assert (a / "tokenizer.json").read_text() == (b / "tokenizer.json").read_text()
    steps = [e for e in events if e["type"] == "pretrain"]
    assert [e["step"] for e in steps] == list(range(1, 7)) and steps[-1]["total_steps"] == 6
    assert steps[-1]["loss"] < steps[0]["loss"]
    marker = json.loads((a / TOY_MARKER).read_text())
    assert marker["pretrain_steps"] == 6 and len(marker["pretrain_losses"]) == 6
    assert "pre-trained for 6 steps" in (a / "README.md").read_text()
    # rebuilding over a toy build is fine; over something else it is refused
    build_tiny(a, **kwargs)
    other = tmp_path / "someone-elses-model"
    other.mkdir()
    (other / "weights.safetensors").write_bytes(b"x")
    with pytest.raises(FileExistsError):
        build_tiny(other, **kwargs)
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


class _Canary:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_pickle_weights_are_refused_and_never_run(tiny_dir, tmp_path):
    bad = tmp_path / "pickled"
    shutil.copytree(tiny_dir, bad)
    canary = tmp_path / "canary-was-run"
    (bad / "pytorch_model.bin").write_bytes(pickle.dumps(_Canary(str(canary))))
    with pytest.raises(UnsafeModelError, match="pickle"):
        load_base_model(str(bad))
    assert not canary.exists()

    nested = tmp_path / "nested"
    shutil.copytree(tiny_dir, nested)
    (nested / "sub").mkdir()
    (nested / "sub" / "extra.pkl").write_bytes(b"\x80\x04.")
    with pytest.raises(UnsafeModelError):
        load_base_model(str(nested))


def test_no_safetensors_or_remote_code_is_refused(tiny_dir, tmp_path):
    empty = tmp_path / "no-weights"
    shutil.copytree(tiny_dir, empty)
    (empty / "model.safetensors").unlink()
    with pytest.raises(UnsafeModelError, match="safetensors"):
        load_base_model(str(empty))
    remote = tmp_path / "remote-code"
    shutil.copytree(tiny_dir, remote)
    config = json.loads((remote / "config.json").read_text())
    config["auto_map"] = {"AutoModelForCausalLM": "evil.EvilModel"}
    (remote / "config.json").write_text(json.dumps(config))
    with pytest.raises(UnsafeModelError, match="remote code"):
        load_base_model(str(remote))
