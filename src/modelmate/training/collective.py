"""Data-parallel training across the ranks of a ``torch.distributed`` process group (Ray Train sets one up).

The trainer (``training.loop.Run``) joins a process group when one is initialised in its process: every rank
builds the same model, adapter and data plan (the same seed, so the same order), takes its **shard** of every
micro-batch, and the LoRA gradients are summed across ranks before the optimizer step. Nothing here starts
processes or imports Ray; ``training.distributed`` launches the ranks.

Why the step equals the single-process step: the single-process loss of an optimizer step is
``sum over its micro-batches of (loss summed over their labelled tokens) / (labelled tokens in the whole step)``.
Every rank knows the whole plan, so it divides its shard's loss sum by the same global token count; the sum of the
ranks' gradients (``all_reduce`` SUM, not DDP's mean) is then exactly the single-process gradient, and the sum of
their losses exactly the single-process loss — up to the order in which float32 additions happen. Clipping and the
optimizer step then run on identical gradients on every rank, so the adapters stay identical without broadcasting
weights.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def process_group() -> tuple[int, int]:
    """``(rank, world size)`` of this process's ``torch.distributed`` group, or ``(0, 1)`` when there is none."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def shard(indices: Sequence[int], lengths: Sequence[int], rank: int, world_size: int) -> list[int]:
    """Rank ``rank``'s share of a micro-batch (example ``indices``; ``lengths[i]`` tokens each), in ascending order.

    Longest example first into the rank with the fewest tokens so far (ties: the lower rank), so every rank does
    about the same work; deterministic, so every rank computes the same split without talking to the others. The
    shares are disjoint and together hold every index once; a rank gets none when the micro-batch has fewer
    examples than there are ranks.
    """
    if world_size <= 1:
        return list(indices)
    loads = [0] * world_size
    mine: list[int] = []
    for i in sorted(indices, key=lambda i: (-lengths[i], i)):
        target = min(range(world_size), key=lambda r: (loads[r], r))
        loads[target] += lengths[i]
        if target == rank:
            mine.append(i)
    return sorted(mine)


def sum_gradients(params: Sequence, extra: Sequence) -> list[float]:
    """All-reduce (SUM) the gradients of ``params`` and the scalar tensors ``extra`` in one collective.

    A parameter without a gradient (this rank had no examples in the step) counts as zeros and receives the sum.
    Gradients are reduced in float32 and copied back in their own dtype; returns the summed ``extra`` values.
    """
    import torch
    import torch.distributed as dist

    device = params[0].device if params else extra[0].device
    parts = [(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1).float() for p in params]
    parts += [torch.as_tensor(x, device=device).reshape(1).float() for x in extra]
    flat = torch.cat(parts)
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    offset = 0
    for p in params:
        n = p.numel()
        summed = flat[offset:offset + n].view_as(p).to(p.dtype)
        if p.grad is None:
            p.grad = summed.clone()
        else:
            p.grad.copy_(summed)
        offset += n
    return flat[offset:].tolist()


def sum_values(values: Sequence[float], device: str = "cpu") -> list[float]:
    """All-reduce (SUM) a few numbers (float64) across the ranks."""
    import torch
    import torch.distributed as dist

    tensor = torch.tensor(list(values), dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.tolist()


def broadcast_int(value: int, device: str = "cpu") -> int:
    """Rank 0's ``value`` on every rank."""
    import torch
    import torch.distributed as dist

    tensor = torch.tensor([value], dtype=torch.int64, device=device)
    dist.broadcast(tensor, src=0)
    return int(tensor.item())


def step_seed(seed: int, rank: int, step: int) -> int:
    """The torch seed of ``rank`` at optimizer step ``step`` (multi-worker runs only): dropout masks then depend on
    (seed, rank, step) alone, so a resumed multi-worker run repeats the uninterrupted one without per-rank random
    states in the checkpoint, and ranks never draw the same masks."""
    digest = hashlib.sha256(f"{seed}:{rank}:{step}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)
