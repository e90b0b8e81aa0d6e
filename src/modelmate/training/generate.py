"""Text generation for the model demo: load a base model (+ a LoRA adapter) on the CPU, apply the chat template,
stream the new text token by token, within limits. Pure ML: no database, no web.

Decoding is a plain loop over the model with its KV cache (greedy at temperature 0, else temperature + top-p
sampling from a seeded generator), so every step can check the wall-clock deadline and a stop request. Text is
streamed as the difference between successive decodes of everything generated so far (a token may be a piece of
a character or need the next one to decide a space), holding back an incomplete UTF-8 character.

Limits: ``max_new_tokens`` 1..256 (default 64), prompt ≤ 4000 characters, temperature 0..2, top_p (0, 1]. Stops at
the end-of-sequence token or ``<|im_end|>`` (finish_reason ``stop``), the token limit (``length``), the deadline
(``timeout``) or a stop request (``cancelled``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_NEW_TOKENS = 256
DEFAULT_NEW_TOKENS = 64
MAX_PROMPT_CHARS = 4000
STOP_TOKENS = ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>")
UNSAFE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")


class GenerationError(ValueError):
    """The model cannot be loaded or the request is outside the limits (a plain-language message)."""


@dataclass(frozen=True)
class GenerationParams:
    max_new_tokens: int = DEFAULT_NEW_TOKENS
    temperature: float = 0.7
    top_p: float = 1.0
    seed: int | None = None

    def check(self) -> None:
        if not 1 <= self.max_new_tokens <= MAX_NEW_TOKENS:
            raise GenerationError(f"max_new_tokens must be between 1 and {MAX_NEW_TOKENS}")
        if not 0 <= self.temperature <= 2:
            raise GenerationError("temperature must be between 0 and 2")
        if not 0 < self.top_p <= 1:
            raise GenerationError("top_p must be above 0 and at most 1")


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    stop_ids: frozenset[int]
    context_length: int


def _check_dir(path: Path, what: str) -> None:
    if not path.is_dir():
        raise GenerationError(f"the {what} directory {path} does not exist")
    unsafe = sorted(p.name for p in path.iterdir() if p.suffix.lower() in UNSAFE_SUFFIXES)
    if unsafe:
        raise GenerationError(f"the {what} directory holds pickle-based files ({', '.join(unsafe[:3])}); only "
                              "safetensors weights are loaded")
    if not any(path.glob("*.safetensors")):
        raise GenerationError(f"the {what} directory {path} has no .safetensors weights")


def load(base: str, adapter: Path | None = None, *, device: str = "cpu") -> LoadedModel:
    """The base model (a local directory, or a Hugging Face id already in the local cache: nothing is downloaded)
    with the adapter applied, in eval mode. The tokenizer (and its chat template) comes from the adapter directory
    when it has one, else from the base."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    local = Path(base).is_dir()
    if local:
        _check_dir(Path(base), "model")
    kwargs: dict[str, Any] = {"use_safetensors": True, "trust_remote_code": False, "local_files_only": True,
                              "dtype": torch.float32}
    model: Any  # a transformers causal LM, or a PeftModel around one: both generate()
    try:
        model = AutoModelForCausalLM.from_pretrained(base, **kwargs)
    except OSError as exc:
        raise GenerationError(f"the weights of {base} are not on this machine ({exc})") from exc
    if getattr(model.config, "auto_map", None):
        raise GenerationError(f"refusing {base}: its configuration asks for custom remote code")
    tokenizer_source = base
    if adapter is not None:
        from peft import PeftModel

        adapter = Path(adapter)
        _check_dir(adapter, "adapter")
        model = PeftModel.from_pretrained(model, str(adapter), is_trainable=False)
        if all((adapter / name).is_file() for name in TOKENIZER_FILES):
            tokenizer_source = str(adapter)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_source, trust_remote_code=False, local_files_only=True)
    model.config.use_cache = True
    model.eval().to(device)
    stop = {i for i in _as_list(tokenizer.eos_token_id)}
    stop |= set(_as_list(getattr(getattr(model, "generation_config", None), "eos_token_id", None)))
    vocab = tokenizer.get_vocab()
    stop |= {vocab[t] for t in STOP_TOKENS if t in vocab}
    context = int(getattr(model.config, "max_position_embeddings", 0) or 2048)
    return LoadedModel(model=model, tokenizer=tokenizer, stop_ids=frozenset(stop), context_length=context)


def _as_list(value: Any) -> list[int]:
    if value is None:
        return []
    return [int(v) for v in value] if isinstance(value, list | tuple) else [int(value)]


def prompt_text(tokenizer, *, messages: list[dict] | None = None, prompt: str | None = None) -> str:
    """The text the model continues: the chat template applied to ``messages`` (with the generation prompt), or
    the raw ``prompt``. Without a chat template, messages become ``role: content`` lines."""
    if (messages is None) == (prompt is None):
        raise GenerationError("give either messages or a prompt")
    if prompt is not None:
        text = prompt
        if len(text) > MAX_PROMPT_CHARS:
            raise GenerationError(f"the prompt is longer than {MAX_PROMPT_CHARS} characters")
        if not text.strip():
            raise GenerationError("the prompt is empty")
        return text
    if not messages:
        raise GenerationError("give at least one message")
    chars = sum(len(str(m.get("content") or "")) for m in messages)
    if chars > MAX_PROMPT_CHARS:
        raise GenerationError(f"the conversation is longer than {MAX_PROMPT_CHARS} characters")
    clean = [{"role": str(m["role"]), "content": str(m.get("content") or "")} for m in messages]
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(clean, tokenize=False, add_generation_prompt=True)
    return "".join(f"{m['role']}: {m['content']}\n" for m in clean) + "assistant:"


def encode(loaded: LoadedModel, text: str, max_new_tokens: int) -> list[int]:
    """Token ids of ``text`` (the chat template already holds the special tokens it needs), keeping the end when
    it would not leave room for ``max_new_tokens`` in the model's context."""
    tokenizer = loaded.tokenizer
    ids = tokenizer(text, add_special_tokens=not getattr(tokenizer, "chat_template", None))["input_ids"]
    room = max(1, loaded.context_length - max_new_tokens)
    ids = list(ids)[-room:]
    if not ids:
        bos = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        ids = [int(bos or 0)]
    return ids


def _pick(logits, params: GenerationParams, generator) -> int:
    import torch

    if params.temperature == 0:
        return int(torch.argmax(logits).item())
    probs = torch.softmax(logits.float() / params.temperature, dim=-1)
    if params.top_p < 1:
        sorted_probs, order = torch.sort(probs, descending=True)
        keep = torch.cumsum(sorted_probs, dim=-1) - sorted_probs < params.top_p  # always keeps the top token
        sorted_probs = sorted_probs * keep
        choice = torch.multinomial(sorted_probs / sorted_probs.sum(), 1, generator=generator)
        return int(order[choice].item())
    return int(torch.multinomial(probs, 1, generator=generator).item())


def stream(loaded: LoadedModel, ids: list[int], params: GenerationParams, *, deadline: float | None = None,
           should_stop: Callable[[], bool] = lambda: False) -> Iterator[dict]:
    """Yields ``{"type": "token", "text"}`` for every piece of new text, then ``{"type": "done", "tokens",
    "seconds", "finish_reason"}``. ``deadline`` is a ``time.monotonic()`` value."""
    import torch

    params.check()
    started = time.monotonic()
    generator = torch.Generator(device="cpu")
    generator.manual_seed(params.seed if params.seed is not None else int(time.time_ns() % 2**31))
    tokenizer, model = loaded.tokenizer, loaded.model
    device = next(model.parameters()).device
    new: list[int] = []
    sent = ""
    finish = "length"
    past = None
    inputs = torch.tensor([ids], device=device)
    with torch.no_grad():
        for _ in range(params.max_new_tokens):
            if should_stop():
                finish = "cancelled"
                break
            if deadline is not None and time.monotonic() >= deadline:
                finish = "timeout"
                break
            out = model(input_ids=inputs, past_key_values=past, use_cache=True)
            past = out.past_key_values
            token = _pick(out.logits[0, -1], params, generator)
            if token in loaded.stop_ids:
                finish = "stop"
                break
            new.append(token)
            text = tokenizer.decode(new, skip_special_tokens=True)
            if text.endswith("\ufffd"):  # half a character: wait for the rest
                inputs = torch.tensor([[token]], device=device)
                continue
            if len(text) > len(sent) and text.startswith(sent):
                yield {"type": "token", "text": text[len(sent):]}
                sent = text
            elif text != sent:  # the decoder revised earlier text (rare): send only what is new from here
                sent = text
            inputs = torch.tensor([[token]], device=device)
    text = tokenizer.decode(new, skip_special_tokens=True)
    if len(text) > len(sent) and text.startswith(sent):
        yield {"type": "token", "text": text[len(sent):]}
    yield {"type": "done", "tokens": len(new), "seconds": round(time.monotonic() - started, 3),
           "finish_reason": finish}

