"""The values a training run takes and gives: ``TrainJob`` in, ``TrainResult`` out (re-exported by ``trainer``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from modelmate.training.config import TrainingConfig

EventSink = Callable[[dict], None]


@dataclass
class TrainJob:
    config: TrainingConfig
    base_model: str                      # a local model directory or a Hugging Face id
    train_records: list[dict]            # canonical records ({"text"} or {"messages"})
    eval_records: list[dict]
    output_dir: Path                     # where the adapter, tokenizer and model card go
    checkpoint_dir: Path
    target_modules: list[str]
    model_card: dict = field(default_factory=dict)  # name, base_model, datasets, license, tags, description, toy
    chat_template: str | None = None     # used when the base tokenizer has none
    device: str | None = None            # None: cuda when available, else cpu
    init_adapter: Path | None = None     # fork: start from this (parent's) LoRA adapter instead of a fresh one


@dataclass
class TrainResult:
    outcome: str                         # "success" | "failure" | "partial"
    failure_category: str | None         # None | diverged | out_of_memory | invalid_data | crashed | cancelled
    message: str
    error: dict | None                   # {type, message, traceback}
    steps: int
    total_steps: int
    final_loss: float | None
    final_eval_loss: float | None
    train_tokens: int                    # real (non-padding) tokens trained on, over the whole run
    tokens_per_second: float | None      # real tokens per second of training compute (evaluation excluded)
    seconds: float                       # wall time of the whole run (all resumed segments)
    peak_memory_bytes: int | None        # peak resident memory of this process while training (GPU peak on CUDA)
    environment: dict
    stopped_early: bool = False
    artifacts: list[str] = field(default_factory=list)
    curve: list[dict] = field(default_factory=list)    # the full loss curve: step, loss, eval_loss, lr, ...
    early_stopping: dict | None = None   # {step, reason, best_eval_loss} when early stopping ended the run
    resumed_from_step: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class TrainingFailure(Exception):
    """A failure with a known category and a plain-language message."""

    def __init__(self, category: str, message: str) -> None:
        super().__init__(message)
        self.category = category
        self.message = message
