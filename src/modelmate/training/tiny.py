"""The toy ``tiny`` base model, built offline, and the one safe way to load any base model.

``build_tiny`` trains a byte-level BPE tokenizer with ``tokenizers`` on text that is already on this machine
(docstrings and source of standard-library modules — nothing is downloaded), wraps it as a
``PreTrainedTokenizerFast`` with bos/eos/pad tokens and a ChatML-style chat template, creates a small
``LlamaForCausalLM`` (tied embeddings, seeded random init), optionally pre-trains it for a few steps on the same
text, and saves everything as safetensors with a README that says TOY MODEL and a ``modelmate_toy.json`` marker.

``load_base_model`` loads safetensors only (``use_safetensors=True``, ``trust_remote_code=False``), refuses local
directories that contain pickle files, and always sets ``model.config.use_cache = False`` (packed sequences are only
kept apart without a cache — see ``packing``).
"""

from __future__ import annotations

import contextlib
import inspect
import json
import math
import os
import random
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypedDict

from modelmate.storage.private import private_dir, tighten_tree
from modelmate.training.model_specs import CHATML_CHAT_TEMPLATE

TOY_MARKER = "modelmate_toy.json"
BOS_TOKEN = "<|startoftext|>"
EOS_TOKEN = "<|endoftext|>"
PAD_TOKEN = "<|pad|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
SPECIAL_TOKENS = (PAD_TOKEN, BOS_TOKEN, EOS_TOKEN, IM_START, IM_END)
# ChatML with a {% generation %} block (label masking): the same template the registry gives the toy's spec.
TINY_CHAT_TEMPLATE = CHATML_CHAT_TEMPLATE
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
# Standard-library modules whose documentation and source make the tokenizer/pre-training corpus. A fixed list:
# importing arbitrary stdlib modules can have side effects (``antigravity`` opens a browser).
CORPUS_MODULES = (
    "abc", "argparse", "ast", "base64", "bisect", "calendar", "collections", "contextlib", "copy", "csv",
    "dataclasses", "datetime", "decimal", "difflib", "enum", "fnmatch", "fractions", "functools", "glob", "gzip",
    "hashlib", "heapq", "html", "http.client", "inspect", "io", "ipaddress", "itertools", "json", "logging",
    "math", "numbers", "operator", "os", "pathlib", "pprint", "queue", "random", "re", "shlex", "shutil",
    "statistics", "string", "struct", "tempfile", "textwrap", "threading", "timeit", "tokenize", "traceback",
    "types", "typing", "unittest", "urllib.parse", "uuid", "warnings", "weakref", "zipfile",
)

Progress = Callable[[dict], None]


class UnsafeModelError(ValueError):
    """A model directory or id that we refuse to load (pickle weights, remote code, no safetensors)."""


# --------------------------------------------------------------------------------------------------- corpus


def default_corpus(max_chars: int = 1_500_000) -> list[str]:
    """Documents (docstrings, then source files) of standard-library modules, deterministic for a Python version."""
    import importlib

    docs: list[str] = []
    sources: list[str] = []
    for name in CORPUS_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:  # pragma: no cover - every name is in the standard library
            continue
        module_doc = inspect.getdoc(module)
        if module_doc:
            docs.append(module_doc)
        for attr in sorted(vars(module)):
            if attr.startswith("_"):
                continue
            with warnings.catch_warnings():  # typing.io / typing.re warn when touched
                warnings.simplefilter("ignore")
                obj = getattr(module, attr)
            if getattr(obj, "__module__", None) != module.__name__:
                continue
            doc = inspect.getdoc(obj)
            if doc:
                docs.append(f"{attr}\n{doc}")
        with contextlib.suppress(OSError, TypeError):
            sources.append(inspect.getsource(module))
    corpus: list[str] = []
    total = 0
    for text in docs + sources:  # prose first so a small budget still covers English
        if total >= max_chars:
            break
        corpus.append(text[: max_chars - total])
        total += len(corpus[-1])
    return corpus


# --------------------------------------------------------------------------------------------------- tokenizer


def train_tokenizer(corpus: list[str], vocab_size: int, context_length: int):
    """A byte-level BPE ``PreTrainedTokenizerFast`` with bos/eos/pad, ChatML specials and the chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=list(SPECIAL_TOKENS),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(corpus, trainer=trainer, length=len(corpus))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS_TOKEN, eos_token=EOS_TOKEN,
                                   pad_token=PAD_TOKEN, extra_special_tokens=[IM_START, IM_END],
                                   model_max_length=context_length, padding_side="right")
    fast.chat_template = TINY_CHAT_TEMPLATE
    return fast


# --------------------------------------------------------------------------------------------------- model


def tiny_config(tokenizer, *, hidden_size: int, num_layers: int, num_heads: int, context_length: int):
    from transformers import LlamaConfig

    if hidden_size % num_heads:
        raise ValueError(f"hidden_size {hidden_size} must be divisible by num_heads {num_heads}")
    intermediate = int(math.ceil(hidden_size * 8 / 3 / 32) * 32)  # the Llama ratio, rounded up to 32
    return LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden_size, intermediate_size=intermediate,
        num_hidden_layers=num_layers, num_attention_heads=num_heads, num_key_value_heads=num_heads,
        max_position_embeddings=context_length, tie_word_embeddings=True, use_cache=False,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def _pretrain(model, tokenizer, corpus: list[str], steps: int, *, seed: int, context_length: int,
              on_progress: Progress | None) -> list[float]:
    """Plain causal-LM training of every weight on contiguous blocks of the corpus token stream."""
    import torch

    block = min(128, context_length)
    stream: list[int] = []
    for encoding in tokenizer.backend_tokenizer.encode_batch(corpus, add_special_tokens=False):
        stream.extend(encoding.ids)
        stream.append(tokenizer.eos_token_id)
    n_blocks = len(stream) // block
    if n_blocks < 1:
        raise ValueError("the pre-training corpus is shorter than one block")
    data = torch.tensor(stream[: n_blocks * block], dtype=torch.long).view(n_blocks, block)
    gen = torch.Generator().manual_seed(seed)
    batch = min(8, n_blocks)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    warmup = max(1, steps // 20)

    def lr_at(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)
    model.train()
    losses: list[float] = []
    every = max(1, steps // 100)
    for step in range(steps):
        idx = torch.randint(0, n_blocks, (batch,), generator=gen)
        ids = data[idx]
        loss = model(input_ids=ids, labels=ids, use_cache=False).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        if (step + 1) % every == 0 or step + 1 == steps:
            losses.append(round(float(loss.item()), 4))
            if on_progress:
                on_progress({"type": "pretrain", "step": step + 1, "total_steps": steps, "loss": losses[-1]})
    model.eval()
    return losses


def _readme(info: dict) -> str:
    return f"""---
license: apache-2.0
library_name: transformers
pipeline_tag: text-generation
tags:
- modelmate
- toy
---

# TOY MODEL — `tiny` (ModelMate)

**This is a toy model for demos and tests. It is not a useful language model.**

It was built offline by `modelmate models build-tiny`: a byte-level BPE tokenizer ({info["vocab_size"]} tokens)
trained on documentation and source code of the Python standard library on the building machine, and a
{info["num_layers"]}-layer Llama (hidden size {info["hidden_size"]}, {info["parameters"]:,} parameters, tied
embeddings) initialised randomly with seed {info["seed"]}
{"and pre-trained for " + str(info["pretrain_steps"]) + " steps on the same text" if info["pretrain_steps"]
 else "and never trained (its outputs are random)"}.

Use it to try the fine-tuning pipeline end to end in seconds on a CPU. Do not evaluate it as a real model.
"""


class TinyDims(TypedDict, total=False):
    """The size keywords of :func:`build_tiny`, for callers that pass them through."""

    hidden_size: int
    num_layers: int
    num_heads: int
    vocab_size: int
    context_length: int
    seed: int


def build_tiny(out_dir: Path, *, hidden_size: int = 128, num_layers: int = 2, num_heads: int = 4,
               vocab_size: int = 4096, context_length: int = 512, pretrain_steps: int = 0, seed: int = 0,
               corpus: list[str] | None = None, on_progress: Progress | None = None) -> Path:
    """Build the toy model into ``out_dir`` (written to a temp dir, then renamed into place) and return the path.

    ``on_progress`` receives dicts: ``{"type": "log", "message"}`` per stage and
    ``{"type": "pretrain", "step", "total_steps", "loss"}`` during pre-training.
    An existing ``out_dir`` is replaced only if it is empty or an earlier toy build (has the marker).
    """
    import torch
    from transformers import GenerationConfig, LlamaForCausalLM

    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / TOY_MARKER).is_file():
        raise FileExistsError(f"{out_dir} exists and is not a toy model built by ModelMate; refusing to replace it")

    def say(message: str) -> None:
        if on_progress:
            on_progress({"type": "log", "message": message})

    started = time.monotonic()
    random.seed(seed)
    say("collecting local text for the tokenizer")
    texts = list(corpus) if corpus is not None else default_corpus()
    if not texts:
        raise ValueError("the corpus is empty")
    say(f"training a byte-level BPE tokenizer ({vocab_size} tokens) on {sum(map(len, texts)):,} characters")
    tokenizer = train_tokenizer(texts, vocab_size, context_length)
    config = tiny_config(tokenizer, hidden_size=hidden_size, num_layers=num_layers, num_heads=num_heads,
                         context_length=context_length)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id, pad_token_id=tokenizer.pad_token_id,
        eos_token_id=[tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids(IM_END)])
    parameters = sum(p.numel() for p in model.parameters())
    losses: list[float] = []
    if pretrain_steps > 0:
        say(f"pre-training for {pretrain_steps} steps")
        losses = _pretrain(model, tokenizer, texts, pretrain_steps, seed=seed, context_length=context_length,
                           on_progress=on_progress)
    info = {
        "toy": True, "key": "tiny", "created_by": "modelmate build-tiny", "hidden_size": hidden_size,
        "num_layers": num_layers, "num_heads": num_heads, "vocab_size": len(tokenizer),
        "context_length": context_length, "parameters": parameters, "seed": seed, "pretrain_steps": pretrain_steps,
        "pretrain_losses": losses, "corpus_chars": sum(map(len, texts)), "corpus_documents": len(texts),
        "build_seconds": None,
    }
    private_dir(out_dir.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))  # 0700
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        info["build_seconds"] = round(time.monotonic() - started, 2)
        (tmp / "README.md").write_text(_readme(info), encoding="utf-8")
        (tmp / TOY_MARKER).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        tighten_tree(tmp)  # private files (0600) whatever the umask
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.rename(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    say(f"saved the toy model to {out_dir} ({parameters:,} parameters)")
    return out_dir


def is_toy(path: str | Path) -> bool:
    return (Path(path) / TOY_MARKER).is_file()


# --------------------------------------------------------------------------------------------------- loading


def check_model_dir(path: Path) -> None:
    """Refuse a local model directory that holds pickle files, lacks safetensors weights, or asks for remote code."""
    pickles = sorted(str(p.relative_to(path)) for p in path.rglob("*")
                     if p.is_file() and p.suffix.lower() in PICKLE_SUFFIXES)
    if pickles:
        raise UnsafeModelError(f"refusing to load {path}: it contains pickle files ({', '.join(pickles[:5])}); "
                               "only safetensors weights are accepted")
    if not any(path.glob("*.safetensors")):
        raise UnsafeModelError(f"refusing to load {path}: no .safetensors weights found")
    config = path / "config.json"
    if config.is_file():
        try:
            data = json.loads(config.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UnsafeModelError(f"{path}/config.json is not valid JSON: {exc}") from exc
        if isinstance(data, dict) and (data.get("auto_map") or data.get("trust_remote_code")):
            raise UnsafeModelError(f"refusing to load {path}: its config asks for custom remote code (auto_map)")


def load_base_model(path_or_id: str, *, dtype: Any = None, quantization: str = "none", attention: str = "auto",
                    device: str = "cpu"):
    """``(model, tokenizer)`` from a local directory or a Hugging Face id; safetensors only, no remote code.

    ``quantization`` "4bit" loads the weights as NF4 with double quantization (QLoRA), "8bit" as LLM.int8, both with
    bitsandbytes and placed on ``device`` (a quantized model cannot be moved afterwards); ``dtype`` is then the
    compute dtype. ``attention`` other than "auto" picks transformers' attention kernel."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(path_or_id)
    local = path.is_dir()
    if local:
        check_model_dir(path)
    source = str(path) if local else path_or_id
    kwargs: dict[str, Any] = {"use_safetensors": True, "trust_remote_code": False}
    if dtype is not None:
        kwargs["dtype"] = dtype
    if attention != "auto":
        kwargs["attn_implementation"] = attention
    if quantization != "none":
        import torch
        from transformers import BitsAndBytesConfig

        compute = dtype or torch.float32
        kwargs["quantization_config"] = (
            BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                               bnb_4bit_compute_dtype=compute, bnb_4bit_quant_storage=torch.uint8)
            if quantization == "4bit" else BitsAndBytesConfig(load_in_8bit=True))
        kwargs["device_map"] = {"": device}
    model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    if getattr(model.config, "auto_map", None):
        raise UnsafeModelError(f"refusing {path_or_id}: its config asks for custom remote code (auto_map)")
    tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=False)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    # Packed sequences are kept apart by position_ids only when no KV cache is created (TOOLCHAIN: packing trap).
    model.config.use_cache = False
    return model, tokenizer
