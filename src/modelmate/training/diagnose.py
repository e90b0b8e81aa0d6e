"""Pure diagnosis of a finished run's loss curve: diverged, no learning, overfitting (or nothing).

``classify(curve, outcome, existing_category)`` returns the run's failure category:

* a category the trainer/worker already set (out_of_memory, crashed, invalid_data, cancelled, worker_lost,
  diverged, …) is kept — they know better than the curve;
* ``diverged``: a training or held-out loss that is NaN/infinite (the trainer stores them as the strings
  "nan"/"inf"; null is only a placeholder),
  or a smoothed training loss that rose above ``EXPLODE_FACTOR`` × its early value (exploding);
* ``no_learning``: over at least ``MIN_STEPS_FLAT`` logged steps, the smoothed final loss is not at least
  ``FLAT_TOLERANCE`` (2%) below the smoothed initial loss;
* ``overfitting``: the held-out loss ended ``OVERFIT_RISE`` (10%) or more above its minimum (with at least
  ``MIN_EVAL_POINTS`` evaluations) while the training loss kept falling past that point;
* otherwise ``None`` (a healthy curve — or too short to tell).
"""

from __future__ import annotations

import math
from typing import Any

from modelmate.enums import FailureCategory

EXPLODE_FACTOR = 3.0
MIN_STEPS_FLAT = 10
FLAT_TOLERANCE = 0.02
OVERFIT_RISE = 0.10
MIN_EVAL_POINTS = 3
NONFINITE_STRINGS = {"nan", "-nan", "inf", "-inf", "infinity", "-infinity"}


def _value(point: dict[str, Any], key: str) -> tuple[bool, float | None]:
    """(present, finite value or None). A present key whose value is not a finite number is non-finite."""
    if key not in point:
        return False, None
    value = point[key]
    if isinstance(value, bool):
        return False, None
    if isinstance(value, int | float):
        return True, float(value) if math.isfinite(value) else None
    if isinstance(value, str) and value.strip().lower() in NONFINITE_STRINGS:
        return True, None
    return False, None  # None: a placeholder (no eval at this step), not a measurement


def _series(curve: list[dict[str, Any]], key: str) -> tuple[list[tuple[int, float]], bool]:
    """((step, value) for finite values in step order, whether any present value was non-finite)."""
    out: list[tuple[int, float]] = []
    nonfinite = False
    for point in sorted((p for p in curve if isinstance(p, dict) and isinstance(p.get("step"), int)),
                        key=lambda p: p["step"]):
        present, value = _value(point, key)
        if not present:
            continue
        if value is None:
            nonfinite = True
        else:
            out.append((point["step"], value))
    return out, nonfinite


def _smooth(values: list[float], window: int) -> list[float]:
    """Trailing moving average."""
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def diverged(train: list[tuple[int, float]], nonfinite: bool) -> bool:
    if nonfinite:
        return True
    values = [v for _, v in train]
    if len(values) < 4:
        return False
    early = sorted(values[:3])[1]  # median of the first three: one noisy first step is not the baseline
    if early <= 0:
        return False
    window = max(1, len(values) // 10)
    return max(_smooth(values, window)[3:]) > EXPLODE_FACTOR * early


def no_learning(train: list[tuple[int, float]]) -> bool:
    values = [v for _, v in train]
    if len(values) < MIN_STEPS_FLAT:
        return False
    k = max(2, len(values) // 5)
    initial = sum(values[:k]) / k
    final = sum(values[-k:]) / k
    return initial > 0 and final > initial * (1.0 - FLAT_TOLERANCE)


def overfitting(train: list[tuple[int, float]], evals: list[tuple[int, float]]) -> bool:
    if len(evals) < MIN_EVAL_POINTS or len(train) < 2:
        return False
    best_index = min(range(len(evals)), key=lambda i: evals[i][1])
    best_step, best = evals[best_index]
    last_step, last = evals[-1]
    if best_index == len(evals) - 1 or best <= 0 or last < best * (1.0 + OVERFIT_RISE):
        return False
    before = [v for s, v in train if s <= best_step]
    after = [v for s, v in train if best_step < s <= last_step] or [v for s, v in train if s > best_step]
    if not before or not after:
        return False
    k = max(1, min(len(before), len(after), 3))
    return sum(after[-k:]) / k < sum(before[-k:]) / k  # training loss still falling


def classify(curve: list[dict[str, Any]] | None, outcome: str | None,
             existing_category: str | None) -> str | None:
    """The run's failure category (see the module docs); ``existing_category`` wins when set."""
    if existing_category:
        return existing_category
    curve = curve or []
    train, train_nonfinite = _series(curve, "loss")
    evals, eval_nonfinite = _series(curve, "eval_loss")
    if diverged(train, train_nonfinite or eval_nonfinite):
        return FailureCategory.DIVERGED
    if no_learning(train):
        return FailureCategory.NO_LEARNING
    if overfitting(train, evals):
        return FailureCategory.OVERFITTING
    return None
