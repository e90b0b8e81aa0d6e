"""Curve diagnosis on constructed curves: diverged, no learning, overfitting, healthy, too short, kept categories."""

from __future__ import annotations

import math

import pytest

from modelmate.training.diagnose import classify


def curve(losses, evals=None):
    points = [{"step": i + 1, "loss": v} for i, v in enumerate(losses)]
    for step, value in (evals or {}).items():
        points[step - 1]["eval_loss"] = value
    return points


HEALTHY = [3.0 * math.exp(-i / 15) + 0.5 for i in range(60)]


def test_a_healthy_decreasing_curve_has_no_category():
    evals = {10: 2.4, 20: 1.8, 30: 1.4, 40: 1.2, 50: 1.1, 60: 1.05}
    assert classify(curve(HEALTHY, evals), "success", None) is None


@pytest.mark.parametrize("bad", ["nan", "inf", "-Infinity", float("nan"), float("inf")])
def test_nan_or_inf_loss_is_diverged(bad):
    points = curve(HEALTHY[:20])
    points[12]["loss"] = bad
    assert classify(points, "success", None) == "diverged"


def test_null_placeholders_are_not_measurements():
    points = curve(HEALTHY)
    for p in points:
        p.setdefault("eval_loss", None)  # the trainer's curve: eval_loss null where no evaluation ran
    points[5]["loss"] = None
    assert classify(points, "success", None) is None


def test_nan_eval_loss_is_diverged():
    points = curve(HEALTHY[:20], {10: 2.0, 20: float("nan")})
    assert classify(points, "partial", None) == "diverged"


def test_exploding_loss_is_diverged():
    losses = [2.5, 2.4, 2.3, 2.2, 2.5, 3.5, 5.0, 8.0, 12.0, 20.0, 30.0, 45.0]
    assert classify(curve(losses), "success", None) == "diverged"


def test_one_noisy_spike_is_not_divergence():
    losses = list(HEALTHY)
    losses[30] = 9.0  # a single spike, smoothed away by the trend (the smoothing window is 6 steps)
    assert classify(curve(losses), "success", None) is None


def test_a_flat_loss_is_no_learning():
    losses = [2.0 + 0.01 * math.sin(i) for i in range(40)]
    assert classify(curve(losses), "success", None) == "no_learning"


def test_too_short_to_tell_is_nothing():
    assert classify(curve([2.0, 2.0, 2.0]), "success", None) is None
    assert classify([], "success", None) is None
    assert classify(None, "success", None) is None


def test_eval_rising_while_train_falls_is_overfitting():
    losses = [3.0 - 0.045 * i for i in range(60)]  # keeps falling
    evals = {10: 2.5, 20: 2.2, 30: 2.1, 40: 2.3, 50: 2.5, 60: 2.7}
    assert classify(curve(losses, evals), "success", None) == "overfitting"


def test_a_small_eval_wobble_is_not_overfitting():
    losses = [3.0 - 0.045 * i for i in range(60)]
    evals = {10: 2.5, 20: 2.2, 30: 2.1, 40: 2.15, 50: 2.12, 60: 2.18}  # +4% over the minimum
    assert classify(curve(losses, evals), "success", None) is None


@pytest.mark.parametrize("kept", ["out_of_memory", "crashed", "invalid_data", "cancelled", "worker_lost",
                                  "diverged"])
def test_the_trainers_category_is_kept(kept):
    flat = curve([2.0] * 40)
    assert classify(flat, "failure", kept) == kept
