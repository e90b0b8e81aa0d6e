"""The data-parallel helpers: how a micro-batch is split between ranks, and the gradient sum (on a real gloo
group of one process; tests/training/test_distributed.py runs two real ranks under Ray Train)."""

from __future__ import annotations

import random

import pytest
import torch
import torch.distributed as dist

from modelmate.training import collective


def test_shards_are_disjoint_complete_balanced_and_deterministic():
    rng = random.Random(0)
    for _ in range(200):
        n = rng.randint(0, 40)
        lengths = [rng.randint(1, 300) for _ in range(n + 10)]
        indices = rng.sample(range(n + 10), n)
        for world in (1, 2, 3, 8):
            shares = [collective.shard(indices, lengths, r, world) for r in range(world)]
            assert sorted(i for s in shares for i in s) == sorted(indices)
            if world == 1:  # one rank: the micro-batch exactly as planned
                assert shares == [indices]
                continue
            assert all(s == sorted(s) for s in shares)
            assert shares == [collective.shard(list(reversed(indices)), lengths, r, world) for r in range(world)]
            loads = [sum(lengths[i] for i in s) for s in shares]
            if indices:  # longest-first into the lightest rank: loads differ by at most the longest example
                assert max(loads) - min(loads) <= max(lengths[i] for i in indices)


def test_fewer_examples_than_ranks_leave_some_ranks_empty():
    assert [collective.shard([5], [0] * 6 + [9], r, 3) for r in range(3)] == [[5], [], []]
    assert collective.shard([3, 1, 2], [4, 4, 4, 4], 0, 1) == [3, 1, 2]  # one rank: the batch as planned


def test_step_seeds_differ_by_rank_and_step():
    seeds = {collective.step_seed(42, rank, step) for rank in range(4) for step in range(50)}
    assert len(seeds) == 200 and all(0 <= s < 2**63 for s in seeds)
    assert collective.step_seed(42, 1, 7) == collective.step_seed(42, 1, 7)


@pytest.fixture
def one_rank_group():
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        yield
    finally:
        dist.destroy_process_group()


def test_without_a_group_the_run_is_rank_0_of_1():
    assert collective.process_group() == (0, 1)


def test_sum_gradients_fills_missing_gradients_and_returns_the_extras(one_rank_group):
    assert collective.process_group() == (0, 1)
    a = torch.nn.Parameter(torch.ones(2, 3))
    b = torch.nn.Parameter(torch.ones(4, dtype=torch.bfloat16))
    a.grad = torch.arange(6, dtype=torch.float32).view(2, 3)
    (loss,) = collective.sum_gradients([a, b], [torch.tensor(2.5)])
    assert loss == 2.5
    assert torch.equal(a.grad, torch.arange(6, dtype=torch.float32).view(2, 3))
    assert b.grad is not None and b.grad.dtype == torch.bfloat16 and not b.grad.any()  # no share: zeros
    assert collective.sum_values([1.5, 7]) == [1.5, 7.0]
    assert collective.broadcast_int(5) == 5
