"""Pure capability-change detector: is a model's score on a task (or a domain) different from its reference's?

Inputs are score rows ``{"task", "domain", "metric", "value", "stderr", "scale"?, "group"?}`` (values in the
metric's own unit; ``scale`` divides them onto 0-1, e.g. 100 for chrF/BLEU). For every (task, metric) both sides
measured, and for every domain aggregate (the mean of the domain's tasks both measured), the detector computes:

* ``delta = value - reference_value`` (0-1 scale) and ``relative_delta = delta / reference_value`` (reference > 0);
* ``z = delta / sqrt(se_m² + se_r²)`` from the stored standard errors (a domain aggregate's se is
  ``sqrt(sum se²) / n``, the standard error of a mean of independent task scores);
* a two-sided normal p-value ``p = erfc(|z| / sqrt(2))``;
* ``p_adjusted``: Holm's step-down correction over every comparison of this model/reference pair that has a
  p-value (family-wise error ≤ alpha however many tasks and domains are compared). A domain with a single task
  is the same test as that task: it gets the task's adjusted p-value and does not count twice;
* ``flagged = p_adjusted < alpha and |delta| >= min_effect`` — statistically significant AND large enough to
  matter. A comparison without a standard error on either side (or with a zero combined one, e.g. two samples that
  all agree) is reported with ``z = p = None`` and is never flagged.

Nothing here touches the database.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

CORRECTIONS = ("holm", "bh", "none")


@dataclass
class Comparison:
    domain: str
    task: str | None  # None: the domain aggregate
    metric: str | None
    value: float
    reference_value: float
    delta: float
    relative_delta: float | None
    stderr: float | None
    reference_stderr: float | None
    z_score: float | None
    p_value: float | None
    p_adjusted: float | None = None
    flagged: bool = False
    direction: str | None = None  # up | down (None when delta == 0)
    sentence: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def two_sided_p(z: float) -> float:
    """P(|Z| >= |z|) for a standard normal Z."""
    return math.erfc(abs(z) / math.sqrt(2.0))


def holm(p_values: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (monotone, capped at 1), in the input order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def benjamini_hochberg(p_values: list[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (false discovery rate), in the input order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i], reverse=True)
    adjusted = [0.0] * m
    running = 1.0
    for k, i in enumerate(order):
        rank = m - k
        running = min(running, p_values[i] * m / rank)
        adjusted[i] = min(1.0, running)
    return adjusted


def _normalised(rows: Iterable[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """(task, metric) → row with value/stderr on the 0-1 scale; rows without a finite value are dropped."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        value = _finite(row.get("value"))
        if value is None or not row.get("task"):
            continue
        scale = _finite(row.get("scale")) or 1.0
        stderr = _finite(row.get("stderr"))
        out[(str(row["task"]), str(row.get("metric") or ""))] = {
            "task": str(row["task"]), "metric": str(row.get("metric") or ""), "domain": str(row.get("domain") or
                                                                                          "unknown"),
            "group": row.get("group"), "value": value / scale,
            "stderr": stderr / scale if stderr is not None else None}
    return out


def _z_p(delta: float, se_m: float | None, se_r: float | None) -> tuple[float | None, float | None]:
    if se_m is None or se_r is None:
        return None, None
    se = math.sqrt(se_m * se_m + se_r * se_r)
    if se <= 0.0:
        return None, None
    z = delta / se
    return z, two_sided_p(z)


def metric_label(metric: str | None) -> str:
    """``"chrf,none"`` → ``"chrF"``; ``"acc_norm,none"`` → ``"acc_norm"``."""
    name = (metric or "").split(",", 1)[0]
    return {"chrf": "chrF", "bleu": "BLEU", "ter": "TER", "exact_match": "exact match"}.get(name, name)


def format_p(p: float | None) -> str:
    if p is None:
        return "no standard error"
    for bound in (0.001, 0.01):
        if p < bound:
            return f"p < {bound:g}"
    return f"p = {p:.2f}"


def sentence(comparison: Comparison, reference_kind: str) -> str:
    """``"translation chrF +15% vs parent, p < 0.01"`` (relative when the reference is > 0, else points)."""
    subject = comparison.domain if comparison.task is None else f"{comparison.task} {metric_label(comparison.metric)}"
    if comparison.relative_delta is not None:
        change = f"{comparison.relative_delta * 100:+.0f}%"
    else:
        change = f"{comparison.delta * 100:+.1f} points"
    return f"{subject} {change} vs {reference_kind}, {format_p(comparison.p_adjusted)}"


def compare(model_rows: Iterable[dict[str, Any]], reference_rows: Iterable[dict[str, Any]], *,
            alpha: float = 0.05, min_effect: float = 0.02, correction: str = "holm",
            reference_kind: str = "base") -> list[Comparison]:
    """Every task and domain comparison of a model with its reference (see the module docs)."""
    if correction not in CORRECTIONS:
        raise ValueError(f"unknown correction {correction!r}; use one of {', '.join(CORRECTIONS)}")
    mine, ref = _normalised(model_rows), _normalised(reference_rows)
    shared = sorted(set(mine) & set(ref))
    out: list[Comparison] = []
    per_domain: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    tasks_with_own_row = {task for task, _ in shared}
    for key in shared:
        m, r = mine[key], ref[key]
        delta = m["value"] - r["value"]
        z, p = _z_p(delta, m["stderr"], r["stderr"])
        out.append(Comparison(domain=m["domain"], task=m["task"], metric=m["metric"], value=m["value"],
                              reference_value=r["value"], delta=delta,
                              relative_delta=delta / r["value"] if r["value"] > 0 else None, stderr=m["stderr"],
                              reference_stderr=r["stderr"], z_score=z, p_value=p))
        if m.get("group") and m["group"] in tasks_with_own_row:
            continue  # a group's own row already stands for its leaves
        per_domain.setdefault(m["domain"], []).append((m, r))
    single: dict[int, Comparison] = {}
    for domain, pairs in sorted(per_domain.items()):
        n = len(pairs)
        value = sum(m["value"] for m, _ in pairs) / n
        reference = sum(r["value"] for _, r in pairs) / n
        se_m = (math.sqrt(sum(m["stderr"] ** 2 for m, _ in pairs)) / n
                if all(m["stderr"] is not None for m, _ in pairs) else None)
        se_r = (math.sqrt(sum(r["stderr"] ** 2 for _, r in pairs)) / n
                if all(r["stderr"] is not None for _, r in pairs) else None)
        delta = value - reference
        z, p = _z_p(delta, se_m, se_r)
        aggregate = Comparison(domain=domain, task=None, metric=None, value=value, reference_value=reference,
                               delta=delta, relative_delta=delta / reference if reference > 0 else None,
                               stderr=se_m, reference_stderr=se_r, z_score=z, p_value=p)
        if n == 1:  # the same test as its only task: not a comparison of its own (no extra correction)
            single[id(aggregate)] = next(c for c in out if c.task == pairs[0][0]["task"]
                                         and c.metric == pairs[0][0]["metric"])
        out.append(aggregate)
    tested = [c for c in out if c.p_value is not None and id(c) not in single]
    raw = [c.p_value for c in tested]
    adjusted = holm(raw) if correction == "holm" else benjamini_hochberg(raw) if correction == "bh" else raw
    for c, p_adj in zip(tested, adjusted, strict=True):
        c.p_adjusted = p_adj
    for c in out:
        twin = single.get(id(c))
        if twin is not None:
            c.p_adjusted = twin.p_adjusted
        c.flagged = c.p_adjusted is not None and c.p_adjusted < alpha and abs(c.delta) >= min_effect
    for c in out:
        c.direction = "up" if c.delta > 0 else "down" if c.delta < 0 else None
        c.sentence = sentence(c, reference_kind)
    return out
