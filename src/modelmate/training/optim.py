"""The optimizers a run can use: PyTorch's AdamW, or bitsandbytes' 8-bit AdamW (optionally paged).

The 8-bit versions keep Adam's two moments in 8 bits (block-wise quantized) instead of fp32: 2 bytes per trained
parameter instead of 8. The paged one allocates them in CUDA unified memory, so they move to CPU memory when the GPU
runs short instead of failing; on a CPU it behaves as the plain 8-bit one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

OPTIMIZER_STATE_BYTES = {"adamw": 8, "adamw_8bit": 2, "paged_adamw_8bit": 2}  # per trained parameter


def make_optimizer(name: str, params: Sequence[Any], *, lr: float, weight_decay: float):
    """The optimizer ``name`` over ``params`` (bitsandbytes imported only for the 8-bit ones)."""
    import torch

    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    import bitsandbytes as bnb

    if name == "adamw_8bit":
        return bnb.optim.AdamW8bit(params, lr=lr, weight_decay=weight_decay)
    if name == "paged_adamw_8bit":
        return bnb.optim.PagedAdamW8bit(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}: choose adamw, adamw_8bit or paged_adamw_8bit")
