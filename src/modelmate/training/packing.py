"""Packing tokenised examples into token-budget bins, and the batch collators.

An example is ``(input_ids, labels)`` with ``labels[i] == -100`` where no loss is taken (transformers convention:
labels are aligned with the inputs and the model predicts ``labels[i]`` from position ``i - 1``).

Packed batches put several examples in one row with ``position_ids`` restarting at 0 for every example and no
attention mask. transformers then builds a block-diagonal causal mask from the position ids, so each example only
attends to itself — but ONLY when no KV cache is created: the model must run with ``use_cache=False``
(``tiny.load_base_model`` sets ``model.config.use_cache = False``; ``tests/training/test_packing.py`` proves the
packed loss equals the padded loss, and that it differs with a cache). Each example's first label is set to -100
so the previous example's last token never learns to predict it.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Sequence

IGNORE_INDEX = -100
Example = tuple[Sequence[int], Sequence[int]]


def best_fit_decreasing(lengths: Sequence[int], capacity: int) -> list[list[int]]:
    """Indices grouped into bins of total length ≤ ``capacity`` (an item longer than ``capacity`` gets a bin alone).

    Best-fit decreasing: longest first (ties by index, so the result is deterministic), each item into the fullest
    bin it still fits in. O(n log n) lookups over a sorted list of free capacities.
    """
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    bins: list[list[int]] = []
    free: list[tuple[int, int]] = []  # sorted (remaining capacity, bin index)
    for i in order:
        n = lengths[i]
        pos = bisect.bisect_left(free, (n, -1))
        if n <= capacity and pos < len(free):
            remaining, b = free.pop(pos)
            bins[b].append(i)
            bisect.insort(free, (remaining - n, b))
        else:
            bins.append([i])
            if n < capacity:
                bisect.insort(free, (capacity - n, len(bins) - 1))
    return bins


def pack_examples(examples: Sequence[Example], max_tokens: int, *, seed: int | str) -> list[list[int]]:
    """Bins of example indices, each holding at most ``max_tokens`` tokens, in an order shuffled with ``seed``.

    The packing itself is deterministic (best-fit decreasing on lengths); only the bin order depends on the seed,
    so a new seed per epoch gives a new order while every epoch sees the same bins. Examples inside a bin keep
    ascending index order.
    """
    if max_tokens < 1:
        raise ValueError("max_tokens must be positive")
    bins = [sorted(b) for b in best_fit_decreasing([len(ids) for ids, _ in examples], max_tokens)]
    bins.sort(key=lambda b: b[0])  # a canonical order before shuffling: independent of the packing heuristic
    random.Random(seed).shuffle(bins)
    return bins


def balanced_bins(examples: Sequence[Example], n_bins: int, *, seed: int | str) -> list[list[int]]:
    """Exactly ``n_bins`` bins (fewer only if there are fewer examples) with token totals as equal as possible.

    The trainer uses this with ``n_bins = ceil(tokens / budget)`` so an epoch is exactly the number of micro-batches
    ``config.plan_steps`` counts and every example is seen once per epoch. Longest-first greedy into the lightest
    bin (LPT) keeps each bin within ``tokens / n_bins + longest example`` tokens, i.e. at most one row over budget.
    Equal-length ties are broken by the seed, so bin contents vary between epochs; bin order is shuffled too.
    """
    import heapq

    if n_bins < 1:
        raise ValueError("n_bins must be positive")
    rng = random.Random(seed)
    tiebreak = [rng.random() for _ in examples]
    order = sorted(range(len(examples)), key=lambda i: (-len(examples[i][0]), tiebreak[i]))
    n_bins = min(n_bins, len(examples))
    bins: list[list[int]] = [[] for _ in range(n_bins)]
    heap = [(0, b) for b in range(n_bins)]
    for i in order:
        total, b = heapq.heappop(heap)
        bins[b].append(i)
        heapq.heappush(heap, (total + len(examples[i][0]), b))
    bins = [sorted(b) for b in bins if b]
    rng.shuffle(bins)
    return bins


def count_label_tokens(labels: Sequence[int]) -> int:
    """Tokens that carry a loss (the first position never does: nothing precedes it)."""
    return sum(1 for x in list(labels)[1:] if x != IGNORE_INDEX)


def pack_rows(lengths: Sequence[int], row_tokens: int) -> list[list[int]]:
    """Indices grouped into ``ceil(total / row_tokens)`` rows of nearly equal length (longest first into the
    shortest row), so the rows of a micro-batch need almost no padding; rows may run a little past ``row_tokens``.
    If that overshoot would exceed a quarter row (few, long examples), best-fit decreasing into rows of at most
    ``row_tokens`` is used instead."""
    import heapq

    total = sum(lengths)
    n_rows = max(1, min(len(lengths), math.ceil(total / row_tokens)))
    rows: list[list[int]] = [[] for _ in range(n_rows)]
    heap = [(0, r) for r in range(n_rows)]
    for i in sorted(range(len(lengths)), key=lambda i: (-lengths[i], i)):
        size, r = heapq.heappop(heap)
        rows[r].append(i)
        heapq.heappush(heap, (size + lengths[i], r))
    if max(size for size, _ in heap) > row_tokens * 1.25 and max(lengths) <= row_tokens:
        rows = best_fit_decreasing(lengths, row_tokens)
    rows = [sorted(r) for r in rows if r]
    rows.sort(key=lambda r: r[0])
    return rows


def collate_packed(examples: Sequence[Example], *, row_tokens: int | None = None, pad_id: int = 0) -> dict:
    """Packed tensors ``input_ids``, ``labels``, ``position_ids``.

    Without ``row_tokens`` every example goes into one row: shape ``[1, T]``. With ``row_tokens`` the examples are
    first spread over about ``T / row_tokens`` rows of nearly equal length (``pack_rows``) and the rows are
    right-padded to the longest one: shape ``[R, L]``. This keeps attention cost near ``row_tokens`` per token
    instead of the whole budget. The padding tail of a row is its own pseudo-sequence (positions restart at 0,
    labels -100), so it never touches a real example.
    """
    import torch

    if not examples:
        raise ValueError("cannot collate an empty batch")
    if row_tokens is None:
        rows = [list(range(len(examples)))]
    else:
        rows = pack_rows([len(ids) for ids, _ in examples], row_tokens)
    width = max(sum(len(examples[i][0]) for i in row) for row in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
    position_ids = torch.zeros((len(rows), width), dtype=torch.long)
    for r, row in enumerate(rows):
        start = 0
        for i in row:
            ids, labs = examples[i]
            n = len(ids)
            if n == 0:
                continue
            input_ids[r, start:start + n] = torch.as_tensor(list(ids), dtype=torch.long)
            lab = torch.as_tensor(list(labs), dtype=torch.long)
            lab[0] = IGNORE_INDEX
            labels[r, start:start + n] = lab
            position_ids[r, start:start + n] = torch.arange(n)
            start += n
        if start < width:
            position_ids[r, start:] = torch.arange(width - start)
    return {"input_ids": input_ids, "labels": labels, "position_ids": position_ids}


def collate_padded(examples: Sequence[Example], pad_id: int, *, max_length: int | None = None) -> dict:
    """Right-padded tensors ``input_ids``, ``attention_mask``, ``labels`` of shape ``[B, L]``.

    ``L`` is the longest example (dynamic padding) unless ``max_length`` pads every row to a fixed length.
    """
    import torch

    if not examples:
        raise ValueError("cannot collate an empty batch")
    width = max(len(ids) for ids, _ in examples)
    if max_length is not None:
        width = max(width, max_length)
    input_ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(examples), width), dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE_INDEX, dtype=torch.long)
    for r, (ids, labs) in enumerate(examples):
        n = len(ids)
        if n == 0:
            continue
        input_ids[r, :n] = torch.as_tensor(list(ids), dtype=torch.long)
        attention_mask[r, :n] = 1
        labels[r, :n] = torch.as_tensor(list(labs), dtype=torch.long)
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def add_label_index(batch: dict) -> dict:
    """Add ``label_index`` (flat positions whose next token carries a label) and ``targets`` (those labels),
    computed on the host, so the loss needs no device-to-host synchronisation (boolean indexing would)."""
    targets = batch["labels"][:, 1:]
    flat = targets.reshape(-1)
    index = (flat != IGNORE_INDEX).nonzero().squeeze(1)
    return {**batch, "label_index": index, "targets": flat[index]}


def causal_lm_loss_sum(model, batch: dict):
    """``(sum of token losses, number of tokens)`` for a packed or padded batch, computing logits only where a
    label exists.

    ``model`` is a ``*ForCausalLM`` (or a PEFT model wrapping one). The decoder runs once; only hidden states whose
    next token carries a label go through the output head, which saves the vocabulary projection on padding and on
    masked prompt tokens. Architectures that post-process logits (soft-capping, scaling) take the plain path.
    ``label_index``/``targets`` from :func:`add_label_index` are used when present.
    """
    import torch.nn.functional as F

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    if "label_index" not in batch:
        batch = add_label_index(batch)
    index, targets = batch["label_index"], batch["targets"]
    inputs = {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask", "position_ids")}
    cfg = base.config
    plain = any(getattr(cfg, name, None) for name in ("final_logit_softcapping", "logit_scale", "logits_scaling"))
    if plain or not hasattr(base, "get_decoder"):
        logits = model(**inputs, use_cache=False).logits[:, :-1]
        logits = logits.reshape(-1, logits.shape[-1]).index_select(0, index)
    else:
        hidden = base.get_decoder()(**inputs, use_cache=False).last_hidden_state[:, :-1]
        hidden = hidden.reshape(-1, hidden.shape[-1]).index_select(0, index)
        logits = base.get_output_embeddings()(hidden)
    loss_sum = F.cross_entropy(logits.float(), targets, reduction="sum")
    return loss_sum, targets.numel()
