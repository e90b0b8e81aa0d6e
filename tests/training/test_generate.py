"""``training.generate`` on the real tiny Llama (hidden 64, 2 layers, vocab 512): chat template, streamed text,
stop tokens, limits, deadline and stop requests, safe loading. No mocks."""

from __future__ import annotations

import dataclasses
import time

import pytest
import torch

from modelmate.training import generate as g

CHAT = [{"role": "user", "content": "alpha beta gamma"}]


@pytest.fixture(scope="module")
def loaded(tiny_dir):
    return g.load(str(tiny_dir))


def _run(loaded, ids, **params):
    events = list(g.stream(loaded, ids, g.GenerationParams(**params)))
    return events, "".join(e["text"] for e in events if e["type"] == "token"), events[-1]


def test_chat_template_and_greedy_matches_transformers(loaded):
    text = g.prompt_text(loaded.tokenizer, messages=CHAT)
    assert text == loaded.tokenizer.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True)
    assert text.endswith("<|im_start|>assistant\n")
    ids = g.encode(loaded, text, 10)
    events, streamed, done = _run(loaded, ids, max_new_tokens=10, temperature=0)
    assert done == {"type": "done", "tokens": 10, "seconds": done["seconds"], "finish_reason": "length"}
    with torch.no_grad():
        out = loaded.model.generate(torch.tensor([ids]), max_new_tokens=10, do_sample=False,
                                    eos_token_id=sorted(loaded.stop_ids), pad_token_id=0)
    assert streamed == loaded.tokenizer.decode(out[0, len(ids):], skip_special_tokens=True)
    assert all(e["text"] for e in events if e["type"] == "token")  # no empty pieces


def test_sampling_is_seeded(loaded):
    ids = g.encode(loaded, "Example 3: gamma", 16)
    one = _run(loaded, ids, max_new_tokens=16, temperature=1.2, top_p=0.9, seed=5)[1]
    assert one == _run(loaded, ids, max_new_tokens=16, temperature=1.2, top_p=0.9, seed=5)[1]
    others = {_run(loaded, ids, max_new_tokens=16, temperature=1.2, top_p=0.9, seed=s)[1] for s in range(6, 10)}
    assert others - {one}  # another seed, another text


def test_stops_at_a_stop_token_deadline_and_request(loaded):
    ids = g.encode(loaded, "alpha beta gamma delta", 5)
    with torch.no_grad():
        first = int(torch.argmax(loaded.model(input_ids=torch.tensor([ids])).logits[0, -1]))
    stopping = dataclasses.replace(loaded, stop_ids=frozenset({first}))  # the next token ends the turn
    events, streamed, done = _run(stopping, ids, max_new_tokens=5, temperature=0)
    assert done["finish_reason"] == "stop" and done["tokens"] == 0 and streamed == ""

    events = list(g.stream(loaded, ids, g.GenerationParams(max_new_tokens=5), deadline=time.monotonic()))
    assert events[-1]["finish_reason"] == "timeout" and events[-1]["tokens"] == 0
    calls = []
    events = list(g.stream(loaded, ids, g.GenerationParams(max_new_tokens=5, temperature=0),
                           should_stop=lambda: calls.append(1) or len(calls) > 2))
    assert events[-1]["finish_reason"] == "cancelled" and events[-1]["tokens"] == 2


def test_limits(loaded):
    with pytest.raises(g.GenerationError, match="either messages or a prompt"):
        g.prompt_text(loaded.tokenizer, messages=CHAT, prompt="x")
    with pytest.raises(g.GenerationError, match="longer than 4000"):
        g.prompt_text(loaded.tokenizer, prompt="x" * 4001)
    with pytest.raises(g.GenerationError, match="longer than 4000"):
        g.prompt_text(loaded.tokenizer, messages=[{"role": "user", "content": "y" * 4001}])
    for bad in ({"max_new_tokens": 0}, {"max_new_tokens": 257}, {"temperature": -0.1}, {"top_p": 0}):
        with pytest.raises(g.GenerationError):
            g.GenerationParams(**bad).check()
    # a long prompt keeps its end and leaves room for the new tokens in the 256-token context
    ids = g.encode(loaded, "alpha beta " * 400, 64)
    assert len(ids) == 256 - 64
    assert ids == loaded.tokenizer("alpha beta " * 400)["input_ids"][-192:]


@pytest.mark.slow
def test_loading_is_safe_and_offline(tmp_path, tiny_dir):
    with pytest.raises(g.GenerationError, match="not on this machine"):
        g.load("nobody-here/no-such-model-xyz")
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "pytorch_model.bin").write_bytes(b"\x80\x04")
    with pytest.raises(g.GenerationError, match="pickle"):
        g.load(str(pickled))
    with pytest.raises(g.GenerationError, match="adapter directory"):
        g.load(str(tiny_dir), tmp_path / "no-adapter")
