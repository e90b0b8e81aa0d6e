"""Packing keeps examples apart: the packed loss equals the padded (unpacked) loss on the same examples."""

from __future__ import annotations

import random

import pytest
import torch

from modelmate.training.packing import (
    IGNORE_INDEX,
    balanced_bins,
    best_fit_decreasing,
    causal_lm_loss_sum,
    collate_packed,
    collate_padded,
    count_label_tokens,
    pack_examples,
    pack_rows,
)
from modelmate.training.tiny import load_base_model


def _examples(n: int, vocab: int, seed: int = 0, *, mask_prompts: bool = True) -> list[tuple[list[int], list[int]]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        length = rng.choice([1, 2, 3, 5, 9, 17, 30, 47, 64])
        ids = [rng.randrange(5, vocab) for _ in range(length)]
        labels = list(ids)
        if mask_prompts and length > 4:  # a "prompt" without loss, like a chat example's user turn
            cut = rng.randrange(1, length - 1)
            labels[:cut] = [IGNORE_INDEX] * cut
        out.append((ids, labels))
    return out


@pytest.fixture(scope="module")
def model_and_tokenizer(tiny_dir):
    model, tokenizer = load_base_model(str(tiny_dir))
    model.eval()
    return model, tokenizer


def test_bins_hold_every_example_once_within_budget():
    examples = _examples(200, 100, seed=1)
    bins = pack_examples(examples, 100, seed=3)
    flat = sorted(i for b in bins for i in b)
    assert flat == list(range(200))
    assert all(sum(len(examples[i][0]) for i in b) <= 100 for b in bins)
    total = sum(len(ids) for ids, _ in examples)
    assert len(bins) <= total // 100 + 2  # best-fit decreasing wastes almost nothing on small items
    assert pack_examples(examples, 100, seed=3) == bins  # deterministic
    other = pack_examples(examples, 100, seed=4)
    assert sorted(map(tuple, other)) == sorted(map(tuple, bins)) and other != bins  # same bins, new order


def test_balanced_bins_give_exactly_the_planned_count():
    examples = _examples(101, 100, seed=2)
    tokens = sum(len(ids) for ids, _ in examples)
    n_bins = -(-tokens // 120)
    bins = balanced_bins(examples, n_bins, seed="1:0")
    assert len(bins) == n_bins
    assert sorted(i for b in bins for i in b) == list(range(101))
    longest = max(len(ids) for ids, _ in examples)
    assert max(sum(len(examples[i][0]) for i in b) for b in bins) <= tokens / n_bins + longest
    assert balanced_bins(examples, n_bins, seed="1:0") == bins
    assert balanced_bins(examples, n_bins, seed="1:1") != bins
    assert len(balanced_bins(examples[:3], 10, seed=0)) == 3


def test_rows_of_a_micro_batch_need_almost_no_padding():
    rng = random.Random(4)
    lengths = [rng.choice([16, 20, 33, 64, 90, 128, 200]) for _ in range(40)]
    rows = pack_rows(lengths, 256)
    assert sorted(i for r in rows for i in r) == list(range(40))
    widths = [sum(lengths[i] for i in r) for r in rows]
    assert len(rows) == -(-sum(lengths) // 256) and max(widths) <= 256 * 1.25
    assert sum(lengths) / (len(rows) * max(widths)) > 0.9
    # a few long examples would overshoot a quarter row: fall back to rows of at most row_tokens
    assert pack_rows([170, 170, 170], 256) == [[0], [1], [2]]  # two rows would need 340 tokens
    assert pack_rows([130, 130, 130], 256) in ([[0], [1, 2]], [[0, 1], [2]], [[0, 2], [1]])


def test_oversized_item_gets_its_own_bin():
    bins = best_fit_decreasing([5, 50, 3], 10)
    assert [1] in bins and sorted(i for b in bins for i in b) == [0, 1, 2]
    with pytest.raises(ValueError):
        pack_examples([([1], [1])], 0, seed=0)


def test_collators_shapes_and_labels():
    examples = [([1, 2, 3], [1, 2, 3]), ([4, 5], [IGNORE_INDEX, 5]), ([6], [6])]
    packed = collate_packed(examples)
    assert packed["input_ids"].tolist() == [[1, 2, 3, 4, 5, 6]]
    assert packed["position_ids"].tolist() == [[0, 1, 2, 0, 1, 0]]
    assert packed["labels"].tolist() == [[IGNORE_INDEX, 2, 3, IGNORE_INDEX, 5, IGNORE_INDEX]]
    rows = collate_packed(examples, row_tokens=3, pad_id=0)
    assert rows["input_ids"].shape == (2, 3)
    assert rows["position_ids"].tolist() == [[0, 1, 2], [0, 1, 0]]
    padded = collate_padded(examples, pad_id=0)
    assert padded["input_ids"].tolist() == [[1, 2, 3], [4, 5, 0], [6, 0, 0]]
    assert padded["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0], [1, 0, 0]]
    assert collate_padded(examples, pad_id=0, max_length=8)["input_ids"].shape == (3, 8)
    assert count_label_tokens([IGNORE_INDEX, 5, 6]) == 2 and count_label_tokens([7, IGNORE_INDEX]) == 0


def _padded_reference(model, examples, pad_id):
    """The unpacked loss: every example in its own padded row, attention mask, the model's own loss."""
    batch = collate_padded(examples, pad_id)
    with torch.no_grad():
        return model(**batch, use_cache=False).loss.item()


@pytest.mark.parametrize("row_tokens", [None, 96])
def test_packed_loss_equals_unpacked_padded_loss(model_and_tokenizer, row_tokens):
    model, tokenizer = model_and_tokenizer
    assert model.config.use_cache is False
    examples = _examples(24, len(tokenizer), seed=7)
    expected = _padded_reference(model, examples, tokenizer.pad_token_id)
    packed = collate_packed(examples, row_tokens=row_tokens, pad_id=tokenizer.pad_token_id)
    with torch.no_grad():
        total, count = causal_lm_loss_sum(model, packed)
        # the model's own loss on the packed batch agrees too (it relies on the same position-id masking)
        own = model(**packed).loss.item()
    assert count == sum(count_label_tokens(labels) for _, labels in examples)
    assert total.item() / count == pytest.approx(expected, abs=1e-5)
    assert own == pytest.approx(expected, abs=1e-5)


def test_packing_with_a_kv_cache_leaks_across_examples(model_and_tokenizer):
    """Why use_cache must be False: with a cache transformers drops the block-diagonal mask (TOOLCHAIN trap)."""
    model, tokenizer = model_and_tokenizer
    examples = _examples(12, len(tokenizer), seed=11, mask_prompts=False)
    expected = _padded_reference(model, examples, tokenizer.pad_token_id)
    packed = collate_packed(examples)
    with torch.no_grad():
        leaky = model(**packed, use_cache=True).loss.item()
        model.config.use_cache = True
        try:
            leaky_default = model(**packed).loss.item()
        finally:
            model.config.use_cache = False
        isolated = model(**packed).loss.item()
    assert abs(leaky - expected) > 1e-3
    assert abs(leaky_default - expected) > 1e-3
    assert isolated == pytest.approx(expected, abs=1e-5)


def test_gradients_match_between_packed_and_padded(model_and_tokenizer):
    """Not just the loss: the gradients that training uses are the same."""
    model, tokenizer = model_and_tokenizer
    examples = _examples(10, len(tokenizer), seed=5)
    grads = []
    for batch in (collate_padded(examples, tokenizer.pad_token_id), collate_packed(examples, row_tokens=80)):
        model.zero_grad(set_to_none=True)
        total, count = causal_lm_loss_sum(model, batch)
        (total / count).backward()
        grads.append(model.model.layers[0].self_attn.q_proj.weight.grad.clone())
    model.zero_grad(set_to_none=True)
    assert torch.allclose(grads[0], grads[1], atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("checkpointing", [False, True], ids=["plain", "checkpointing"])
@pytest.mark.parametrize("attention", ["sdpa", "eager"])  # flash_attention_2 needs a CUDA GPU: refused here
def test_packed_equals_padded_for_every_kernel_that_runs_here(tiny_dir, attention, checkpointing):
    """Each attention kernel keeps packed examples apart (per-example position ids), in training mode with and
    without gradient checkpointing: the same loss and the same gradients as the padded batch."""
    model, tokenizer = load_base_model(str(tiny_dir), attention=attention)
    assert model.config._attn_implementation == attention
    if checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    model.train()
    assert model.is_gradient_checkpointing is checkpointing
    examples = _examples(16, len(tokenizer), seed=13)
    losses, grads = [], []
    for batch in (collate_padded(examples, tokenizer.pad_token_id), collate_packed(examples, row_tokens=96)):
        model.zero_grad(set_to_none=True)
        total, count = causal_lm_loss_sum(model, batch)
        loss = total / count
        loss.backward()
        losses.append(loss.item())
        grads.append(model.model.layers[1].self_attn.q_proj.weight.grad.clone())
    assert losses[1] == pytest.approx(losses[0], abs=1e-5)
    assert torch.allclose(grads[0], grads[1], atol=1e-6, rtol=1e-4)
