"""Training configuration: one validated model, three presets and the step plan (the cost estimate is in
``training.estimate``).

Every field carries a one-sentence plain-language ``description``; the UI, the CLI and the docs show it as help
text (``config_fields()``). Out-of-range values raise pydantic's ``ValidationError`` naming the field, so the API
answers 422 before anything is queued.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Literal, get_args, get_origin

import annotated_types
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from modelmate.training.model_specs import BaseModelSpec

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

BASIC_FIELDS = ("r", "alpha", "learning_rate", "epochs", "max_steps", "batch_size", "max_seq_length",
                "eval_split", "early_stopping_patience")


class TrainingConfig(BaseModel):
    """Everything that decides how a LoRA fine-tuning run trains."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["lora"] = Field(
        "lora", description="Fine-tuning method: LoRA trains small add-on matrices and leaves the base model "
                            "untouched.")
    use_dora: bool = Field(
        False, description="Use DoRA, a LoRA variant that also learns each weight's size; slightly better "
                           "results, slower steps.")
    use_rslora: bool = Field(
        False, description="Scale the adapter by alpha/sqrt(r) instead of alpha/r, which keeps high ranks "
                           "stable.")
    r: int = Field(
        8, ge=1, le=256, description="Adapter rank: how much the adapter can learn; higher learns more but is "
                                     "bigger and slower.")
    alpha: float = Field(
        16, gt=0, le=1024, description="Adapter strength: how strongly the adapter's changes are applied "
                                       "(usually twice the rank).")
    dropout: float = Field(
        0.05, ge=0, le=0.5, description="Share of adapter inputs randomly dropped during training, to reduce "
                                        "overfitting.")
    target_modules: list[str] | None = Field(
        None, description="Which layers get an adapter; empty means the base model's recommended attention "
                          "layers.")
    learning_rate: float = Field(
        2e-4, gt=0, le=0.01, description="How big each learning step is; too high makes training unstable, "
                                         "too low makes it slow.")
    lr_scheduler: Literal["linear", "cosine", "constant", "constant_with_warmup"] = Field(
        "cosine", description="How the learning rate changes over the run (cosine: slowly lowered to zero).")
    warmup_ratio: float = Field(
        0.03, ge=0, le=0.5, description="Share of the run at the start during which the learning rate ramps "
                                        "up from zero.")
    epochs: float = Field(
        1, gt=0, le=50, description="How many times training goes through the whole dataset.")
    max_steps: int | None = Field(
        None, ge=1, le=100_000, description="Stop after exactly this many learning steps; when set it replaces "
                                            "the number of epochs.")
    batch_size: int = Field(
        8, ge=1, le=128, description="Examples per step (with packing: a budget of batch size times maximum "
                                     "length tokens).")
    gradient_accumulation_steps: int = Field(
        1, ge=1, le=64, description="Add up this many batches before each learning step, to act like a bigger "
                                    "batch using less memory.")
    workers: int = Field(
        1, ge=1, le=64, description="Training processes (Ray Train workers) that split each batch; needs a Ray "
                                    "cluster when above 1.")
    max_seq_length: int = Field(
        512, ge=16, le=8192, description="Longest example in tokens; longer examples are cut, and memory grows "
                                         "with this.")
    packing: bool = Field(
        True, description="Put several short examples into one sequence (kept separate from each other) so "
                          "less compute is wasted on padding.")
    seed: int = Field(
        42, ge=0, le=2**31 - 1, description="Random seed; the same seed, data and settings give the same run.")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto", description="Number format for the model's weights: auto uses bf16 on a GPU that supports it, "
                            "otherwise fp32.")
    quantization: Literal["none", "4bit", "8bit"] = Field(
        "none", description="Keep the frozen base model in 4 bits (QLoRA) or 8 bits so a bigger model fits in "
                            "less memory; the adapter still trains at full precision.")
    gradient_checkpointing: bool = Field(
        False, description="Recompute intermediate values during the backward pass instead of keeping them: much "
                           "less memory, about a third more time per step.")
    attention: Literal["auto", "sdpa", "flash_attention_2", "eager"] = Field(
        "auto", description="Attention kernel: auto uses PyTorch's fused one (sdpa); flash_attention_2 needs an "
                            "NVIDIA GPU and flash-attn; eager is the slow reference.")
    optimizer: Literal["adamw", "adamw_8bit", "paged_adamw_8bit"] = Field(
        "adamw", description="adamw keeps two 32-bit values per trained weight; the 8-bit ones keep them in 8 bits "
                             "(paged: moved off the GPU when it runs short).")
    eval_split: float = Field(
        0.1, ge=0, le=0.5, description="Share of the dataset held back to measure progress on examples the "
                                       "model never trains on.")
    eval_steps: int | None = Field(
        None, ge=1, le=100_000, description="Measure the held-back loss every this many steps; empty means "
                                            "about ten times per run.")
    early_stopping_patience: int = Field(
        0, ge=0, le=100, description="Stop when the held-back loss has not improved for this many "
                                     "measurements; 0 turns early stopping off.")
    early_stopping_threshold: float = Field(
        0.0, ge=0, le=1, description="Smallest drop in held-back loss that counts as an improvement for early "
                                     "stopping.")
    logging_steps: int = Field(
        1, ge=1, le=10_000, description="Record the training loss every this many steps.")
    save_steps: int | None = Field(
        None, ge=1, le=100_000, description="Save a checkpoint every this many steps, so a stopped run can "
                                            "resume; empty means about five times per run.")
    max_grad_norm: float = Field(
        1.0, gt=0, le=100, description="Cap on the size of each update, which protects against sudden loss "
                                       "spikes.")
    weight_decay: float = Field(
        0.0, ge=0, le=1, description="Gently pulls adapter weights towards zero each step, a mild protection "
                                     "against overfitting.")

    @field_validator("target_modules")
    @classmethod
    def _check_targets(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if not value:
            return None
        if len(value) > 32:
            raise ValueError("at most 32 target modules")
        bad = [name for name in value if not _IDENTIFIER.match(name)]
        if bad:
            raise ValueError(f"not a module name: {bad[0]!r} (letters, digits and '_' only)")
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _check_combinations(self) -> TrainingConfig:
        if self.early_stopping_patience and self.eval_split == 0:
            raise ValueError("early stopping needs held-back data: set eval_split above 0 or patience to 0")
        return self


@dataclass(frozen=True)
class Preset:
    key: str
    title: str
    summary: str
    explanation: str
    values: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "title": self.title, "summary": self.summary,
                "explanation": self.explanation, "values": dict(self.values)}


PRESETS: dict[str, Preset] = {
    "quick": Preset(
        key="quick", title="Quick try", summary="A short run to check that everything works.",
        explanation="Trains a small adapter for 30 steps of up to 2,048 tokens each (about one pass over a few "
                    "hundred short examples), measuring the held-back loss three times, so you can see the loss go "
                    "down and get a usable result fast. Use it for a first try with a new dataset or base model. "
                    "On the toy model it takes seconds; on SmolLM2-135M about 7 minutes on a 2-core CPU; on a 7B "
                    "model a few minutes on a GPU.",
        values={"r": 8, "alpha": 16, "learning_rate": 3e-4, "epochs": 1, "max_steps": 30, "batch_size": 4,
                "max_seq_length": 512, "eval_split": 0.1, "eval_steps": 10, "early_stopping_patience": 0,
                "warmup_ratio": 0.03}),
    "balanced": Preset(
        key="balanced", title="Balanced", summary="A sensible default for a real fine-tune.",
        explanation="Goes through your dataset twice with a medium-size adapter and stops early if the "
                    "held-back loss stops improving. Use it once a quick try looks right. It takes roughly "
                    "twice as long as one pass over your data.",
        values={"r": 16, "alpha": 32, "learning_rate": 2e-4, "epochs": 2, "max_steps": None, "batch_size": 8,
                "max_seq_length": 1024, "eval_split": 0.1, "early_stopping_patience": 3,
                "warmup_ratio": 0.03}),
    "thorough": Preset(
        key="thorough", title="Thorough", summary="Longer training with a bigger adapter for the best result.",
        explanation="Uses a larger adapter, a gentler learning rate and three passes over longer examples, "
                    "stopping early when the held-back loss stops improving. Use it for a final model when "
                    "you have enough data (a few thousand examples or more). Expect about three times as long "
                    "as one pass over your data.",
        values={"r": 32, "alpha": 64, "learning_rate": 1e-4, "epochs": 3, "max_steps": None, "batch_size": 8,
                "max_seq_length": 2048, "eval_split": 0.1, "early_stopping_patience": 5,
                "warmup_ratio": 0.05}),
}


@dataclass(frozen=True)
class MemoryMode:
    """A plain-language memory choice of guided mode: config values laid over the preset's."""

    key: str
    title: str
    summary: str
    values: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "title": self.title, "summary": self.summary, "values": dict(self.values)}


MEMORY_MODES: dict[str, MemoryMode] = {
    "standard": MemoryMode(
        key="standard", title="Standard",
        summary="The base model at full precision and the usual optimizer: the fastest steps when it fits.",
        values={"quantization": "none", "gradient_checkpointing": False, "optimizer": "adamw"}),
    "save": MemoryMode(
        key="save", title="Save memory (QLoRA)",
        summary="The frozen base model kept in 4 bits, intermediate values recomputed instead of stored, and an "
                "8-bit optimizer: a 7-8B model fits a 24 GB GPU, each step about a third slower.",
        values={"quantization": "4bit", "gradient_checkpointing": True, "optimizer": "paged_adamw_8bit"}),
}


def resolve_config(preset: str | None = None, overrides: dict[str, Any] | None = None, *,
                   spec: BaseModelSpec | None = None) -> TrainingConfig:
    """Defaults, then the preset's values, then ``overrides``.

    Unknown preset → ``ValueError``; bad values → pydantic ``ValidationError``. With ``spec`` the maximum length
    is capped at the base model's context length.
    """
    values: dict[str, Any] = {}
    if preset:
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}: choose one of {', '.join(PRESETS)}")
        values.update(PRESETS[preset].values)
    values.update(overrides or {})
    config = TrainingConfig.model_validate(values)
    if spec is not None and config.max_seq_length > spec.context_length:
        config = config.model_copy(update={"max_seq_length": max(16, spec.context_length)})
    return config


def _field_type(annotation: Any) -> tuple[str, list[Any] | None, bool]:
    nullable = False
    args = get_args(annotation)
    if args and type(None) in args:
        nullable = True
        annotation = next(a for a in args if a is not type(None))
    if get_origin(annotation) is Literal:
        return "choice", list(get_args(annotation)), nullable
    if get_origin(annotation) is list:
        return "list", None, nullable
    return {bool: "bool", int: "int", float: "float"}.get(annotation, "str"), None, nullable


def config_fields() -> list[dict[str, Any]]:
    """Every field with its type, default, help text, group and limits (for forms, the CLI and the docs)."""
    out = []
    for name, info in TrainingConfig.model_fields.items():
        kind, choices, nullable = _field_type(info.annotation)
        minimum: object = None
        maximum: object = None
        exclusive_minimum = False
        for meta in info.metadata:
            if isinstance(meta, annotated_types.Ge):
                minimum = meta.ge
            elif isinstance(meta, annotated_types.Gt):
                minimum, exclusive_minimum = meta.gt, True
            elif isinstance(meta, annotated_types.Le):
                maximum = meta.le
        out.append({"name": name, "type": kind, "default": info.default, "help": info.description,
                    "group": "basic" if name in BASIC_FIELDS else "advanced", "minimum": minimum,
                    "maximum": maximum, "exclusive_minimum": exclusive_minimum, "choices": choices,
                    "nullable": nullable})
    return out


# ---------------------------------------------------------------------------------------------------------------
# Step plan
# ---------------------------------------------------------------------------------------------------------------

def plan_steps(config: TrainingConfig, train_rows: int, train_tokens: int) -> int:
    """The number of optimiser steps a run takes; the trainer runs exactly this many (cycling its batches).

    ``train_tokens`` is the number of tokens in one pass over the training split after each example is cut to
    ``max_seq_length``. One micro-batch is ``batch_size`` examples, or with packing a budget of
    ``batch_size * max_seq_length`` tokens; a step is ``gradient_accumulation_steps`` micro-batches;
    ``max_steps`` wins over ``epochs``.
    """
    if config.max_steps:
        return config.max_steps
    if config.packing:
        budget = config.batch_size * config.max_seq_length
        micro_batches = math.ceil(max(train_tokens, 1) / budget)
    else:
        micro_batches = math.ceil(max(train_rows, 1) / config.batch_size)
    steps_per_epoch = max(1, math.ceil(micro_batches / config.gradient_accumulation_steps))
    return max(1, math.ceil(steps_per_epoch * config.epochs))


def micro_batches_per_epoch(config: TrainingConfig, train_rows: int, train_tokens: int) -> int:
    """Micro-batches in one pass over the training split, as the trainer plans them (``balanced_bins`` with packing,
    slices of ``batch_size`` rows without)."""
    if config.packing:
        budget = config.batch_size * config.max_seq_length
        return max(1, min(math.ceil(max(train_tokens, 1) / budget), max(train_rows, 1)))
    return max(1, math.ceil(max(train_rows, 1) / config.batch_size))


def cut_tokens(total: int, rows: int, max_seq_length: int, *, longest: int | None = None,
               histogram: list[dict[str, Any]] | None = None) -> int:
    """Tokens left in ``rows`` examples of ``total`` tokens once each is cut to ``max_seq_length`` (the trainer's
    rule). Exact when the longest example fits; from a token-length histogram (``[{"lo","hi","count"}]``) when one
    is known; else at most ``rows * max_seq_length``."""
    if total <= 0 or rows <= 0:
        return max(0, total)
    if longest is not None and longest <= max_seq_length:
        return total
    if histogram:
        whole = kept = 0.0
        for b in histogram:
            lo, hi, count = b.get("lo"), b.get("hi"), b.get("count")
            if not (isinstance(lo, int | float) and isinstance(hi, int | float) and isinstance(count, int | float)):
                continue
            mid = (lo + hi) / 2
            whole += count * mid
            kept += count * min(mid, max_seq_length)
        if whole > 0:
            return min(total, rows * max_seq_length, round(total * kept / whole))
    return min(total, rows * max_seq_length)
