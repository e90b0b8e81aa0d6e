"""What a run will cost before it is launched: steps, tokens, peak memory, time, and whether it fits the device.

Memory: the peak of the training process (CPU: its resident memory; CUDA: the GPU memory it holds), the sum of

- **runtime**: what the process costs before it loads anything. CPU: python + torch + transformers + peft + the
  trainer's modules, measured as the peak RSS of a bare training process (``benchmarks/memory_estimate.py``, row
  "bare": 440 MiB) plus the tokenizer and data (~20 MiB). CUDA: the CUDA context (kernels and cuBLAS/cuDNN
  workspaces, ~0.6 GiB on recent GPUs; not visible to ``torch.cuda.memory_allocated``).
- **weights**: the frozen base model. Unquantized: parameters × 4 bytes (fp32) or 2 (bf16/fp16). Quantized, only the
  decoder blocks' Linear weights are quantized: 4-bit NF4 with double quantization costs 0.5 byte per weight plus
  ~0.127 bits of constants (one fp8 absmax per 64 weights, one fp32 constant per 256 of those), 8-bit LLM.int8
  1 byte per weight plus one fp32 scale per output row; everything else (embeddings, an untied output head, norms)
  is upcast to fp32 by PEFT's ``prepare_model_for_kbit_training`` (4 bytes).
- **adapter**: trained parameters × (4 bytes fp32 weight + 4 gradient + the optimizer's state: 8 for AdamW's two
  fp32 moments, 2 for the 8-bit ones; ``optim.OPTIMIZER_STATE_BYTES``).
- **activations**: what autograd keeps from the forward pass for the backward pass, per decoder layer and token
  (values at the compute precision; counted with ``torch.autograd.graph.saved_tensors_hooks`` on SmolLM2 and the
  toy, see docs/finetune.md):

  - the two RMSNorms: their input and one reciprocal RMS each → ``2·h + 2``;
  - each LoRA-adapted Linear with input width ``f``: the input of ``lora_A`` (``f``), the dropout mask (``f``, only
    when dropout > 0) and the ``r`` outputs of ``lora_A``; a frozen, unadapted Linear keeps nothing;
  - attention (sdpa): the rotated queries, the keys and values repeated to every query head (grouped-query
    attention is expanded before the kernel), the output → ``4·heads·head_dim``, the log-sum-exp (``heads``) and the
    float attention mask, ``row_length`` per token (the mask is ``rows × row_length²``); flash_attention_2 keeps
    keys and values unrepeated and no mask; eager also keeps the ``heads × row_length`` attention probabilities
    (twice: softmax output and dropout);
  - the MLP (SwiGLU): gate output, its SiLU and the up projection → ``3·intermediate``;
  - with 4-bit/8-bit weights on a CPU, a measured extra (``quantized_kept_values``: the dequantization's working
    memory, which gradient checkpointing does not free) → ``2·h + heads·head_dim + intermediate``.

  With gradient checkpointing only each layer's input (``h``) is kept; the backward pass rebuilds one layer at a
  time (its activations and their gradients, ~2 layers' worth) after the logits' memory is freed, so that part
  only counts where it is larger than the logits: ``layers·h + max(0, 2·one layer − logits)`` (+ the CPU
  quantization extra of every layer).
- **logits**: the output head's logits for the micro-batch's tokens × vocabulary, in fp32 for the loss
  (``packing.causal_lm_loss_sum`` upcasts them): at the start of the backward pass the log-softmax output, the loss
  gradient, softmax's ``exp`` temporary (CPU only; CUDA's kernel is fused) and the logits' gradient are alive
  together, 4 (CPU) or 3 (CUDA) × 4 bytes per token and vocabulary entry, +2 for the 16-bit logits when the model
  computes in bf16/fp16. With SmolLM2's 49k vocabulary this is the largest part for short sequences.
- **transients**: the working memory of the backward pass that no formula above counts (gradients flowing between
  layers, matmul outputs, freed blocks the C allocator keeps): a share of activations + logits, measured on this
  CPU (``TRANSIENT_SHARE``), plus on a CPU one copy of the output head's weight (vocabulary × hidden), which its
  matmuls make. On CUDA, the caching allocator's fragmentation is counted the same way.

Time = tokens processed × FLOP per token / the device's effective FLOP/s, where FLOP per token is 4 × parameters
(forward + backward through frozen weights) + 6 × trainable parameters + attention (6 × layers × length × hidden),
plus the evaluations (2 × parameters per held-back token), plus a fixed cost per step. Gradient checkpointing runs
the forward pass twice (+2 × parameters per token); 4-bit/8-bit weights are dequantized for every matmul.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from modelmate.training.config import TrainingConfig, micro_batches_per_epoch, plan_steps
from modelmate.training.model_specs import BaseModelSpec
from modelmate.training.optim import OPTIMIZER_STATE_BYTES

GIB = 2**30
MIB = 2**20

# Effective FLOP/s of LoRA training. CPU: measured with SmolLM2-135M on a 2-core AVX-512 machine (about 170 trained
# tokens/s in fp32 = 1e11 FLOP/s); a fixed cost per optimiser step (Python, the optimiser, scheduling) dominates for
# the toy. The GPU figure assumes ~35 % of an H100-class bf16 peak and is a rough guide only.
DEVICE_FLOPS = {"cpu": 1.0e11, "mps": 4.0e12, "cuda": 1.0e14}
STEP_OVERHEAD_S = {"cpu": 0.3, "mps": 0.1, "cuda": 0.05}
# CPU: peak RSS of a bare training process (python, torch, transformers, peft, the trainer imported; measured 440
# MiB) + tokenizer and data. CUDA: the CUDA context and library workspaces. MPS: unmeasured, like CUDA.
RUNTIME_OVERHEAD_BYTES = {"cpu": 460 * MIB, "mps": 600 * MIB, "cuda": 600 * MIB}
# Backward-pass working memory and allocator slack, as a share of activations + logits (see the module docstring).
TRANSIENT_SHARE = {"cpu": 0.3, "mps": 0.3, "cuda": 0.15}
QUANT_SLOWDOWN = {"none": 1.0, "4bit": 1.3, "8bit": 1.3}  # dequantizing every matmul's weight
NF4_BYTES = 0.5 + 0.127 / 8  # 4 bits + double-quantized constants (QLoRA paper, section 2)
# fp32 copies of the logits alive at once at the start of the backward pass: CPU four (log-softmax output, the loss
# gradient, softmax's exp temporary, the logits' gradient; measured), CUDA three (its log-softmax backward is fused)
LOGIT_BYTES = {"cpu": 16, "mps": 16, "cuda": 12}


@dataclass
class Estimate:
    steps: int
    epochs: float
    train_tokens: int  # tokens the whole run trains on (what the finished run reports as train_tokens)
    epoch_tokens: int  # tokens in one pass over the training split, each example cut to max_seq_length
    tokens_per_step: int
    trainable_parameters: int
    peak_memory_bytes: int
    seconds: float
    device: str
    memory: dict[str, int] = field(default_factory=dict)  # the parts of peak_memory_bytes, by name
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def lora_parameters(config: TrainingConfig, spec: BaseModelSpec) -> int:
    """Trainable adapter parameters: r * (in + out) per adapted layer (+ one magnitude per output with DoRA)."""
    shapes = spec.module_shapes()
    per_layer = 0
    for name in _targets(config, spec):
        fan_in, fan_out = shapes[name]
        per_layer += config.r * (fan_in + fan_out) + (fan_out if config.use_dora else 0)
    return per_layer * spec.num_layers


def _targets(config: TrainingConfig, spec: BaseModelSpec) -> list[str]:
    shapes = spec.module_shapes()
    return [name for name in (config.target_modules or list(spec.default_target_modules)) if name in shapes]


def compute_bytes(config: TrainingConfig, device: str) -> int:
    """Bytes per value the model computes in: 2 for bf16/fp16 (``auto`` on CUDA), else 4 (fp32)."""
    if config.precision in ("bf16", "fp16") and not (config.precision == "fp16" and device != "cuda"):
        return 2
    if config.precision == "auto" and device == "cuda":
        return 2
    return 4


def weight_bytes(config: TrainingConfig, spec: BaseModelSpec, device: str) -> int:
    """The frozen base model's weights in memory (see the module docstring for quantization)."""
    linear = spec.num_layers * sum(i * o for i, o in spec.module_shapes().values())
    rest = max(0, spec.parameters - linear)  # embeddings, untied head, norms (and biases)
    if config.quantization == "none":
        return spec.parameters * compute_bytes(config, device)
    if config.quantization == "4bit":
        return int(linear * NF4_BYTES + rest * 4)
    rows = spec.num_layers * sum(o for _, o in spec.module_shapes().values())
    return int(linear + rows * 4 + rest * 4)


def layer_activation_values(config: TrainingConfig, spec: BaseModelSpec, row_length: int,
                            device: str = "cpu") -> float:
    """Values autograd keeps per token for one decoder layer (the derivation is in the module docstring)."""
    h, heads, hd = spec.hidden_size, spec.num_heads, spec.head_dim
    shapes = spec.module_shapes()
    norms = 2 * h + 2
    lora = sum((2 if config.dropout > 0 else 1) * shapes[name][0] + config.r for name in _targets(config, spec))
    if config.use_dora:  # DoRA also keeps the base layer's output and the weight-norm scaled copy of it
        lora += sum(2 * shapes[name][1] for name in _targets(config, spec))
    q = heads * hd
    if config.attention == "flash_attention_2":
        attention = 2 * q + 2 * spec.num_kv_heads * hd + heads
    elif config.attention == "eager":
        attention = 4 * q + 2 * heads * row_length
    else:  # sdpa (auto): K and V repeated to every head, the float mask of the packed row
        attention = 4 * q + heads + row_length
    mlp = 3 * spec.intermediate_size
    return norms + lora + attention + mlp + quantized_kept_values(config, spec, device)


def quantized_kept_values(config: TrainingConfig, spec: BaseModelSpec, device: str = "cpu") -> int:
    """Extra values per layer and token that training with 4-bit/8-bit bitsandbytes weights holds on a CPU, with or
    without gradient checkpointing. Measured, not derived: SmolLM2 at 2,048 tokens needs ~0.5 GiB (without) and
    ~0.8 GiB (with checkpointing) more than in fp32 beyond the weights it saves; bitsandbytes' ``MatMul4Bit`` keeps
    only the packed weight, so it is the dequantization's working memory. Modelled as the size of the attention and
    MLP inputs plus o_proj's and down_proj's (``2·h + heads·head_dim + intermediate``), which fits both
    measurements; not applied on CUDA, where nothing measured it."""
    if config.quantization == "none" or device == "cuda":
        return 0
    return 2 * spec.hidden_size + spec.num_heads * spec.head_dim + spec.intermediate_size


def micro_batch_shape(config: TrainingConfig, spec: BaseModelSpec, *, train_rows: int, train_tokens: int,
                      longest: int | None = None) -> tuple[int, int]:
    """(tokens in the largest micro-batch, length of one row): packed, ``batch_size`` rows of ``max_seq_length``;
    unpacked, ``batch_size`` examples padded to the longest one (the longest example when known, else the
    maximum length)."""
    seq_len = min(config.max_seq_length, spec.context_length)
    if config.packing:
        return config.batch_size * seq_len, seq_len
    row = min(seq_len, longest) if longest else seq_len
    if train_rows and train_tokens and not longest:
        row = min(seq_len, max(1, math.ceil(2 * train_tokens / train_rows)))  # twice the mean: a long batch
    return config.batch_size * row, row


def memory_parts(config: TrainingConfig, spec: BaseModelSpec, *, micro_tokens: int, row_length: int,
                 device: str = "cpu") -> dict[str, int]:
    """The parts of the peak memory, in bytes: runtime, weights, adapter, activations, logits, transients."""
    device = device if device in RUNTIME_OVERHEAD_BYTES else "cpu"
    cb = compute_bytes(config, device)
    trainable = lora_parameters(config, spec)
    adapter = trainable * (4 + 4 + OPTIMIZER_STATE_BYTES[config.optimizer])
    per_layer = layer_activation_values(config, spec, row_length, device)
    logits = micro_tokens * spec.vocab_size * (LOGIT_BYTES[device] + (2 if cb == 2 else 0))
    if config.gradient_checkpointing:
        # each layer's input stays; the backward pass rebuilds one layer at a time (its activations and gradients),
        # after the logits are gone: only what it needs beyond the logits' memory raises the peak
        rebuilt = int(micro_tokens * 2 * per_layer * cb)
        kept = spec.num_layers * (spec.hidden_size + quantized_kept_values(config, spec, device)) + spec.hidden_size
        activations = micro_tokens * kept * cb + max(0, rebuilt - logits)
    else:
        activations = int(micro_tokens * (spec.num_layers * per_layer + spec.hidden_size) * cb)  # + final norm
    transients = int(TRANSIENT_SHARE[device] * (activations + logits))
    if device != "cuda":  # the CPU matmuls of the output head work on a copy of its weight (vocabulary × hidden)
        transients += spec.vocab_size * spec.hidden_size * cb
    return {"runtime": RUNTIME_OVERHEAD_BYTES[device], "weights": weight_bytes(config, spec, device),
            "adapter": adapter, "activations": activations, "logits": logits, "transients": transients}


def estimate(config: TrainingConfig, spec: BaseModelSpec, *, train_rows: int, train_tokens: int,
             device: str = "cpu", longest: int | None = None) -> Estimate:
    """Memory and time a run will need, before launching it (the formulas are in the module docstring)."""
    device = device if device in DEVICE_FLOPS else "cpu"
    notes: list[str] = []
    seq_len = config.max_seq_length
    if seq_len > spec.context_length:
        notes.append(f"Examples are cut to the model's context length of {spec.context_length} tokens.")
        seq_len = spec.context_length
    steps = plan_steps(config, train_rows, train_tokens)
    micro_per_epoch = micro_batches_per_epoch(config, train_rows, train_tokens)
    micro_tokens, row_length = micro_batch_shape(config, spec, train_rows=train_rows, train_tokens=train_tokens,
                                                 longest=longest)
    # The trainer cycles the epoch's micro-batches, gradient_accumulation_steps per step, for exactly `steps` steps
    micro_total = steps * config.gradient_accumulation_steps
    epochs = micro_total / micro_per_epoch
    processed = round(train_tokens * epochs) if train_tokens else micro_total * micro_tokens
    tokens_per_step = round(processed / steps) if steps else 0
    trainable = lora_parameters(config, spec)
    if trainable == 0:
        notes.append("None of the chosen target modules exists in this model; nothing would be trained.")

    memory = memory_parts(config, spec, micro_tokens=micro_tokens, row_length=row_length, device=device)
    peak = sum(memory.values())

    flop_per_token = 4 * spec.parameters + 6 * trainable + 6 * spec.num_layers * seq_len * spec.hidden_size
    if config.gradient_checkpointing:
        flop_per_token += 2 * spec.parameters
    if config.use_dora:
        flop_per_token = int(flop_per_token * 1.3)
    flop_per_token = int(flop_per_token * QUANT_SLOWDOWN[config.quantization])
    eval_rows = 0
    n_evals = 0
    if config.eval_split > 0 and train_rows:
        eval_rows = max(1, round(train_rows * config.eval_split / (1 - config.eval_split)))
        n_evals = math.ceil(steps / config.eval_steps) if config.eval_steps else min(steps, 10)
    eval_tokens = n_evals * eval_rows * (train_tokens / train_rows if train_rows else 0)
    seconds = ((processed * flop_per_token + eval_tokens * 2 * spec.parameters) / DEVICE_FLOPS[device]
               + steps * STEP_OVERHEAD_S[device])

    if device == "cpu" and spec.parameters > 1_000_000_000:
        notes.append("A model this size trains very slowly on a CPU; a GPU is strongly recommended.")
    if epochs > 10:
        notes.append(f"{epochs:.0f} passes over the data: the model will likely memorise it (overfit).")
    if train_rows and train_rows < 50:
        notes.append("Very few examples: expect the model to copy them rather than learn a general skill.")
    if spec.toy:
        notes.append("This is the TOY model: the result shows the pipeline working, not a useful model.")
    return Estimate(steps=steps, epochs=round(epochs, 3), train_tokens=int(processed),
                    epoch_tokens=int(train_tokens), tokens_per_step=int(tokens_per_step),
                    trainable_parameters=int(trainable), peak_memory_bytes=int(peak), seconds=round(seconds, 1),
                    device=device, memory=memory, notes=notes)


# ---------------------------------------------------------------------------------------------------------------
# Will it fit?
# ---------------------------------------------------------------------------------------------------------------

USABLE_SHARE = 0.9  # of the device's memory a run may plan to use (the rest: the OS, other processes, estimate error)


@dataclass
class Saver:
    """A change that lowers the peak memory, with the peak the run would then need."""

    label: str
    change: dict[str, Any]
    peak_memory_bytes: int
    fits: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Fit:
    device_memory_bytes: int | None
    fits: bool | None  # None: the device's memory is unknown
    note: str | None
    savers: list[Saver] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _gib(n: int) -> str:
    return f"{n / GIB:.1f} GiB"


def _candidates(config: TrainingConfig) -> list[tuple[str, dict[str, Any]]]:
    """Memory savers not already on, one at a time: checkpointing, 4-bit weights, the 8-bit optimizer, a half and a
    quarter of the batch (the same effective batch through gradient accumulation), half the maximum length."""
    out: list[tuple[str, dict[str, Any]]] = []
    if not config.gradient_checkpointing:
        out.append(("gradient checkpointing", {"gradient_checkpointing": True}))
    if config.quantization != "4bit":
        out.append(("4-bit quantization (QLoRA)", {"quantization": "4bit"}))
    if config.optimizer == "adamw":
        out.append(("the 8-bit optimizer", {"optimizer": "adamw_8bit"}))
    batch, accumulation = config.batch_size, config.gradient_accumulation_steps
    for divisor in (2, 4):
        smaller = max(1, batch // divisor)
        if smaller < batch and not any(c.get("batch_size") == smaller for _, c in out):
            out.append((f"batch size {smaller} (gradient accumulation {accumulation * batch // smaller} keeps the "
                        "same effective batch)",
                        {"batch_size": smaller,
                         "gradient_accumulation_steps": min(64, accumulation * batch // smaller)}))
    if config.max_seq_length >= 64:
        out.append((f"maximum length {config.max_seq_length // 2}", {"max_seq_length": config.max_seq_length // 2}))
    return out


def check_fit(config: TrainingConfig, spec: BaseModelSpec, peak_memory_bytes: int, *,
              device_memory_bytes: int | None, train_rows: int, train_tokens: int, device: str = "cpu",
              longest: int | None = None) -> Fit:
    """Whether a run needing ``peak_memory_bytes`` fits the device, and if not, which savers would make it fit
    (each computed by re-running the estimate with it; when none is enough alone, all of them together)."""
    if not device_memory_bytes:
        return Fit(device_memory_bytes=None, fits=None, note=None)
    usable = int(device_memory_bytes * USABLE_SHARE)
    if peak_memory_bytes <= usable:
        return Fit(device_memory_bytes=device_memory_bytes, fits=True, note=None)

    def peak(change: dict[str, Any]) -> int:
        changed = TrainingConfig.model_validate({**config.model_dump(), **change})
        return estimate(changed, spec, train_rows=train_rows, train_tokens=train_tokens, device=device,
                        longest=longest).peak_memory_bytes

    savers = [Saver(label, change, p, p <= usable) for label, change in _candidates(config)
              for p in [peak(change)] if p < peak_memory_bytes]  # 4-bit can cost more than it saves on a CPU
    if savers and not any(s.fits for s in savers):
        combined: dict[str, Any] = {}
        for _, change in _candidates(config):  # the last batch size is the smallest; a shorter maximum length
            if "max_seq_length" not in change:  # changes what is learnt, so it is only ever offered alone
                combined.update(change)
        together = peak(combined)
        savers.append(Saver("all of these together", combined, together, together <= usable))
    savers.sort(key=lambda s: (not s.fits, s.peak_memory_bytes))
    helpful = [s for s in savers if s.fits]
    what, where = ("memory", "the worker has") if device == "cpu" else ("GPU memory", "the worker's GPU has")
    note = (f"This run needs about {_gib(peak_memory_bytes)} of {what} but {where} {_gib(device_memory_bytes)} "
            f"({_gib(usable)} usable); it would likely run out of memory.")
    if helpful:
        note += " It fits with " + "; or ".join(s.label for s in helpful[:3]) + "."
    else:
        note += (" Even all memory savers together are not enough: choose a smaller base model or a machine with "
                 "more memory.")
    return Fit(device_memory_bytes=device_memory_bytes, fits=False, note=note, savers=savers)
