"""The model demo through the API on both backends, with the real toy model and a real adapter trained by the real
trainer: tokens streamed as server-sent events (parsed here) equal what transformers' own greedy ``generate`` gives
for the same model + adapter + chat template; visibility (404), weights not here (409 ``model_unavailable``), one
generation at a time (429 + Retry-After), limits (422), a broken adapter (an ``error`` event)."""

from __future__ import annotations

import pytest
import torch
from fastapi.testclient import TestClient

from modelmate.finetune import base_catalog as bases
from modelmate.hub.playground import demo
from sse import generate, parse_sse

API = "/api/v1"
CHAT = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "alpha beta gamma"}]


def expected_greedy(base_dir, adapter_dir, *, messages=None, prompt=None, max_new_tokens: int) -> str:
    """The reference: transformers' generate(do_sample=False) on independently loaded weights."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(base_dir, use_safetensors=True)
    tokenizer = AutoTokenizer.from_pretrained(adapter_dir or base_dir)
    if adapter_dir is not None:
        model = PeftModel.from_pretrained(model, adapter_dir)
    model.eval()
    if messages is not None:
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    else:
        ids = tokenizer(prompt)["input_ids"]
    stop = [tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|im_end|>")]
    with torch.no_grad():
        out = model.generate(torch.tensor([ids]), max_new_tokens=max_new_tokens, do_sample=False,
                             eos_token_id=stop, pad_token_id=tokenizer.pad_token_id)
    return tokenizer.decode(out[0, len(ids):], skip_special_tokens=True)


def _tiny_id(client) -> int:
    return next(m["id"] for m in client.get(f"{API}/base-models").json() if m["key"] == "tiny")


def test_fine_tune_chat_streams_the_adapters_tokens(hub, me, register, settings):
    model_id = register(me, name="Chatty")
    adapter = settings.artifacts_dir / "runs"
    adapter = next(p for p in adapter.iterdir() if (p / "adapter").is_dir()) / "adapter"

    r, text = generate(hub, model_id, messages=CHAT, max_new_tokens=12, temperature=0)
    assert r.status_code == 200, text
    assert r.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(text)
    kinds = [k for k, _ in events]
    assert kinds[-1] == "done" and set(kinds[:-1]) <= {"token"} and "error" not in kinds
    streamed = "".join(d["text"] for k, d in events if k == "token")
    done = events[-1][1]
    assert 1 <= done["tokens"] <= 12 and done["finish_reason"] in ("length", "stop") and done["seconds"] >= 0
    assert streamed == expected_greedy(bases.tiny_dir(settings), adapter, messages=CHAT, max_new_tokens=12)

    # the adapter is applied: on some of these prompts the fine-tune and the base alone continue differently (which
    # ones depends on the toy's numerics, e.g. on the torch thread pool a process ended up with)
    differs = []
    for prompt in ("alpha beta gamma delta", "Example 3: gamma", "zeta eta theta", "Example 11:"):
        r, text = generate(hub, model_id, prompt=prompt, max_new_tokens=8, temperature=0)
        streamed = "".join(d["text"] for k, d in parse_sse(text) if k == "token")
        assert streamed == expected_greedy(bases.tiny_dir(settings), adapter, prompt=prompt, max_new_tokens=8)
        differs.append(streamed != expected_greedy(bases.tiny_dir(settings), None, prompt=prompt, max_new_tokens=8))
    assert any(differs)

    # the same seed gives the same sampled text; the loaded model is cached (one entry for this adapter)
    sampled = [generate(hub, model_id, prompt="Example 3: gamma", max_new_tokens=10, temperature=1.0, top_p=0.9,
                        seed=11)[1] for _ in range(2)]
    one, two = ([d.get("text") for k, d in parse_sse(s) if k == "token"] for s in sampled)
    assert one == two
    assert any(key[0] == model_id for key in demo().cache)


def test_base_model_prompt_and_limits(hub, settings):
    tiny = _tiny_id(hub)
    r, text = generate(hub, tiny, prompt="Example 1: alpha beta", max_new_tokens=6, temperature=0)
    assert r.status_code == 200, text
    events = parse_sse(text)
    streamed = "".join(d["text"] for k, d in events if k == "token")
    assert streamed == expected_greedy(bases.tiny_dir(settings), None, prompt="Example 1: alpha beta",
                                       max_new_tokens=6)
    assert events[-1][0] == "done" and events[-1][1]["tokens"] <= 6

    for body in ({"prompt": "x", "messages": CHAT}, {}, {"prompt": "x", "max_new_tokens": 257},
                 {"prompt": "x", "temperature": 2.5}, {"prompt": "x" * 4001},
                 {"messages": [{"role": "user", "content": "y" * 2001}, {"role": "user", "content": "y" * 2000}]},
                 {"messages": [{"role": "robot", "content": "hi"}]}):
        r = hub.post(f"{API}/models/{tiny}/generate", json=body)
        assert r.status_code == 422, (body, r.text)


def test_visibility_and_unavailable_models(app, hub, me, register, account_client, settings):
    alice = account_client("alice")
    bob = account_client("bob")
    anon = TestClient(app, base_url="http://127.0.0.1:8000")
    private = register(alice.user["id"], name="Alice private")
    for who in (bob, anon):
        r = who.post(f"{API}/models/{private}/generate", json={"prompt": "hi"})
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert anon.post(f"{API}/models/99999999/generate", json={"prompt": "hi"}).status_code == 404
    # published: anyone may try it, anonymous included
    assert alice.patch(f"{API}/hub/models/{private}", json={"visibility": "public"}).status_code == 200
    r, text = generate(anon, private, prompt="hello", max_new_tokens=3, temperature=0)
    assert r.status_code == 200 and parse_sse(text)[-1][0] == "done"

    # weights not on this machine → 409 model_unavailable with a plain reason, before any stream
    no_adapter = register(alice.user["id"], name="Gone", adapter=False)
    r = alice.post(f"{API}/models/{no_adapter}/generate", json={"prompt": "hi"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "model_unavailable"
    assert "adapter files are not on this machine" in r.json()["error"]["message"]
    hf_base = next(m for m in alice.get(f"{API}/base-models").json() if m["key"] != "tiny" and m["hf_repo_id"])
    r = alice.post(f"{API}/models/{hf_base['id']}/generate", json={"prompt": "hi"})
    assert r.status_code == 409 and "never been downloaded" in r.json()["error"]["message"]
    external = alice.post(f"{API}/models", json={"name": "Some API model", "developer": "Elsewhere Inc"})
    assert external.status_code in (200, 201), external.text
    r = alice.post(f"{API}/models/{external.json()['id']}/generate", json={"prompt": "hi"})
    assert r.status_code == 409 and "hosted elsewhere" in r.json()["error"]["message"]


def test_one_generation_at_a_time(hub):
    tiny = _tiny_id(hub)
    token = demo().acquire()  # a generation in progress
    try:
        r = hub.post(f"{API}/models/{tiny}/generate", json={"prompt": "hi"})
        assert r.status_code == 429 and r.json()["error"]["code"] == "demo_busy"
        assert int(r.headers["Retry-After"]) > 0
    finally:
        demo().release(token)
    r, text = generate(hub, tiny, prompt="hi", max_new_tokens=2)
    assert r.status_code == 200 and parse_sse(text)[-1][0] == "done"
    assert not demo().busy  # the slot is free again once the stream ended


def test_broken_adapter_is_an_error_event(hub, me, register, settings):
    model_id = register(me, name="Broken")
    run_dir = next(p for p in (settings.artifacts_dir / "runs").iterdir() if (p / "adapter").is_dir())
    (run_dir / "adapter" / "adapter_model.safetensors").write_bytes(b"not safetensors at all")
    r, text = generate(hub, model_id, prompt="hi", max_new_tokens=2)
    assert r.status_code == 200
    events = parse_sse(text)
    assert [k for k, _ in events] == ["error"] and "could not be loaded" in events[0][1]["message"]
    assert not demo().busy


@pytest.fixture(autouse=True)
def _fresh_demo_cache():
    demo().cache.clear()
    yield
    demo().cache.clear()
