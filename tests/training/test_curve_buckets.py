"""The compact curve's buckets: global log-spaced edges (four per doubling) that hold every step exactly once, and
the per-bucket mean of finite training losses."""

from __future__ import annotations

import math

import pytest

from modelmate.training.curve_buckets import bucket_end, bucket_of, bucket_start, bucket_step, curve_buckets


def test_every_step_is_in_its_bucket_range() -> None:
    for step in range(0, 70_000):
        b = bucket_of(step)
        assert bucket_start(b) <= step <= bucket_end(b)
    assert bucket_of(16) == 16 and bucket_of(32) == 20 and bucket_of(1024) == 40  # 2^(b/4)
    assert bucket_of(500) == 35 and bucket_of(100_000) == 66
    assert bucket_step(40) == pytest.approx(2 ** 10.125)


def test_mean_of_finite_training_losses() -> None:
    curve = [{"step": 0, "loss": 4.0}, {"step": 1, "loss": 2.0}, {"step": 16, "loss": 1.0, "eval_loss": 9.0},
             {"step": 17, "loss": 3.0}, {"step": 18, "eval_loss": 1.0}, {"step": 19, "loss": math.nan},
             {"step": 19, "loss": "nan"}, {"step": -1, "loss": 1.0}, {"step": 20, "loss": True}, "junk"]
    out = curve_buckets(curve)
    assert [(p.bucket, p.loss, p.points, p.last_step) for p in out] == [(0, 3.0, 2, 1), (16, 2.0, 2, 17)]
    assert curve_buckets(None) == [] and curve_buckets([]) == []
