"""A run's compact curve: its training loss averaged over log-spaced step buckets (the curve-history x axis).

Runs on one base model train for very different numbers of steps (50 to 100,000), so their curves are compared at
the same **absolute step**, on a log axis: bucket ``b`` holds the steps ``s`` with ``floor(4·log2(s)) == b`` (four
buckets per doubling, each ~19 % wider than the last; step 0 joins step 1 in bucket 0). The edges are global and
never move, so a run's bucket values change only where new points land, and any two runs' buckets line up. A run
stores one value per bucket it reached: the mean of its finite training losses there (eval-only points and
NaN/∞ losses are left out). A 500-step run has 31 buckets (some buckets below step 16 hold no integer step),
a 100,000-step run 62.

The one definition; migration 0014 keeps a frozen copy for its backfill (tests compare the two).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

PER_DOUBLING = 4


@dataclass(frozen=True)
class BucketPoint:
    bucket: int
    loss: float  # the mean training loss of the run's points in the bucket
    points: int  # how many points were averaged
    last_step: int  # the run's last step in the bucket


def bucket_of(step: int) -> int:
    """The bucket of a step (≥ 0)."""
    if step <= 1:
        return 0
    b = int(math.floor(PER_DOUBLING * math.log2(step)))
    # guard the float rounding at the edges: the bucket is the largest b with 2^(b/4) <= step
    while bucket_start(b + 1) <= step:
        b += 1
    while b > 0 and bucket_start(b) > step:
        b -= 1
    return b


def bucket_start(bucket: int) -> int:
    """The first step of a bucket (bucket 0 starts at step 0)."""
    if bucket <= 0:
        return 0
    return math.ceil(2 ** (bucket / PER_DOUBLING) - 1e-9)


def bucket_end(bucket: int) -> int:
    """The last step of a bucket (inclusive)."""
    return bucket_start(bucket + 1) - 1


def bucket_step(bucket: int) -> float:
    """Where a bucket is drawn on the step axis: the geometric middle of its edges."""
    return max(1.0, 2 ** ((bucket + 0.5) / PER_DOUBLING)) if bucket > 0 else 1.0


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def curve_buckets(curve: list[dict[str, Any]] | None) -> list[BucketPoint]:
    """The run's compact curve, by bucket (ascending)."""
    sums: dict[int, list[float]] = {}
    last: dict[int, int] = {}
    for point in curve or []:
        if not isinstance(point, dict):
            continue
        step, loss = point.get("step"), _finite(point.get("loss"))
        if loss is None or isinstance(step, bool) or not isinstance(step, int | float) or step < 0:
            continue
        b = bucket_of(int(step))
        acc = sums.setdefault(b, [0.0, 0.0])
        acc[0] += loss
        acc[1] += 1
        last[b] = max(last.get(b, 0), int(step))
    return [BucketPoint(bucket=b, loss=acc[0] / acc[1], points=int(acc[1]), last_step=last[b])
            for b, acc in sorted(sums.items())]
