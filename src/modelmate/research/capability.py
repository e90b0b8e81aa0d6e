"""Pure capability-change detector: is a model's score on a task (or a domain) different from its reference's?

Inputs are score rows ``{"task", "domain", "metric", "value", "stderr", "scale"?, "group"?, "n_samples"?}`` (values
in the metric's own unit; ``scale`` divides them onto 0-1, e.g. 100 for chrF/BLEU) and, where the evaluations kept
them, each side's per-document outcomes ``{task: [{"doc_id", "doc_hash", "values": {metric: value}}]}`` (a value is
a number, or ``{"ref", "pred"}`` for a corpus metric; ``{"same_as": other_metric}`` points at an identical one).

Both models are scored on the same documents, so a comparison is a **paired** test on the documents both sides have
(same task, same ``doc_hash``; ``n`` is their count) — see :mod:`modelmate.research.paired`:

* 0/1 metrics (acc, acc_norm, exact_match, pass@1): the exact McNemar test (``test = "mcnemar"``);
* continuous per-document metrics (TruthfulQA MC2): the sign-flip permutation test (``sign_flip_exact`` or, with
  many non-zero differences, ``sign_flip_mc``);
* corpus metrics (chrF, BLEU, TER): approximate randomization, the corpus score recomputed per draw
  (``randomization``);
* a domain aggregate (the mean of its tasks' scores): a stratified paired permutation over all its documents
  (``stratified_permutation``; ``stratified_randomization`` when a corpus metric is among its tasks).

A group's own row (MMLU) is tested on its leaves' documents pooled. Where either side lacks per-document outcomes
(older or imported evaluations) the detector falls back to the unpaired z-test on lm-eval's standard errors
(``test = "z"``, ``z = delta / sqrt(se_m² + se_r²)``, two-sided normal p; a domain's se is ``sqrt(sum se²) / n``).

``p_adjusted``: Holm's step-down correction over every comparison of this model/reference pair that has a p-value.
A domain with a single task is the same test as that task: it gets the task's test and adjusted p-value and does
not count twice. ``flagged = p_adjusted < alpha and |delta| >= min_effect``. A comparison with no test (no outcomes
and no standard error on a side, or a zero combined one) has ``p = None`` and is never flagged.

Engines: a row may name the engine that scored it (``"backend": "hf" | "vllm"``). Both engines score the same
documents with the same prompts, so rows of different engines are compared like any others, but the comparison says
so: ``backends = "vllm vs hf"`` (model's vs reference's; a domain aggregate when any of its tasks differ) and its
sentence ends with "(engines differ: vllm vs hf)" — a small change may then be numerical noise between engines.

Nothing here touches the database.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from modelmate.research import paired

CORRECTIONS = ("holm", "bh", "none")
Outcomes = dict[str, list[dict[str, Any]]]


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
    test: str | None = None  # mcnemar | sign_flip_exact | sign_flip_mc | randomization | stratified_* | z
    n: int | None = None  # paired documents (unpaired z: the smaller sample)
    backends: str | None = None  # "<model's> vs <reference's>" engine when they differ (hf, vllm), else None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def is_paired(self) -> bool:
        return self.test is not None and self.test != "z"


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
        n = row.get("n_samples")
        out[(str(row["task"]), str(row.get("metric") or ""))] = {
            "task": str(row["task"]), "metric": str(row.get("metric") or ""),
            "domain": str(row.get("domain") or "unknown"), "group": row.get("group"), "value": value / scale,
            "scale": scale, "stderr": stderr / scale if stderr is not None else None,
            "n_samples": n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else None,
            "backend": row.get("backend") if isinstance(row.get("backend"), str) else None}
    return out


def _z_p(delta: float, se_m: float | None, se_r: float | None) -> tuple[float | None, float | None]:
    if se_m is None or se_r is None:
        return None, None
    se = math.sqrt(se_m * se_m + se_r * se_r)
    if se <= 0.0:
        return None, None
    z = delta / se
    return z, two_sided_p(z)


# --- pairing the documents ------------------------------------------------------------------------------------------

def _value(values: dict[str, Any], metric: str) -> Any:
    value = values.get(metric)
    if isinstance(value, dict) and "same_as" in value:
        value = values.get(str(value["same_as"]))
    return value


def _by_hash(docs: list[dict[str, Any]]) -> dict[tuple[str, int], dict[str, Any]]:
    """``(doc_hash, k)`` → values, ``k`` counting documents with the same content (in ``doc_id`` order)."""
    seen: dict[str, int] = {}
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for doc in sorted(docs, key=lambda d: (d.get("doc_id") is None, d.get("doc_id") or 0)):
        key = str(doc.get("doc_hash") or f"#{doc.get('doc_id')}")
        k = seen.get(key, 0)
        seen[key] = k + 1
        out[(key, k)] = doc.get("values") or {}
    return out


def _pairs(tasks: list[str], metric: str, mine: Outcomes, theirs: Outcomes) -> list[tuple[Any, Any]] | None:
    """The (mine, theirs) values of the documents both sides measured for ``metric`` in ``tasks`` (pooled); None
    when a side has no per-document outcomes for one of the tasks."""
    out: list[tuple[Any, Any]] = []
    for task in tasks:
        if not mine.get(task) or not theirs.get(task):
            return None
        a, b = _by_hash(mine[task]), _by_hash(theirs[task])
        for key in sorted(set(a) & set(b)):
            va, vb = _value(a[key], metric), _value(b[key], metric)
            if va is not None and vb is not None:
                out.append((va, vb))
    return out


def _number(value: Any) -> float | None:
    return _finite(value) if not isinstance(value, bool) else float(value)


def _refs(value: Any) -> list[str]:
    ref = value.get("ref")
    return [str(r) for r in ref] if isinstance(ref, list) and ref else [str(ref if ref is not None else "")]


def _stratum(pairs: list[tuple[Any, Any]], metric: str, scale: float) -> paired.Stratum | None:
    """The task's paired stratum; None when the values are neither all numbers nor all corpus texts."""
    if not pairs:
        return None
    numbers = [(_number(a), _number(b)) for a, b in pairs]
    left = [a for a, _ in numbers if a is not None]
    right = [b for _, b in numbers if b is not None]
    if len(left) == len(right) == len(numbers):
        return paired.mean_stratum(left, right, scale)
    name = metric.split(",", 1)[0]
    if name in paired.CORPUS_METRICS and all(isinstance(a, dict) and isinstance(b, dict) for a, b in pairs):
        return paired.corpus_stratum(name, [_refs(a) for a, _ in pairs], [str(a.get("pred") or "") for a, _ in pairs],
                                     [str(b.get("pred") or "") for _, b in pairs], scale)
    return None


def _test_task(stratum: paired.Stratum) -> tuple[str, float]:
    if stratum.metric is not None:
        return "randomization", paired.randomization_p([stratum])
    m, t = stratum.mine[:, 0], stratum.theirs[:, 0]
    if np.isin(m, (0.0, 1.0)).all() and np.isin(t, (0.0, 1.0)).all():
        return "mcnemar", paired.mcnemar_exact(int(((m == 1) & (t == 0)).sum()), int(((m == 0) & (t == 1)).sum()))
    p, exact = paired.sign_flip_p(m - t)
    return ("sign_flip_exact" if exact else "sign_flip_mc"), p


def _test_domain(strata: list[paired.Stratum]) -> tuple[str, float]:
    if any(s.metric is not None for s in strata):
        return "stratified_randomization", paired.randomization_p(strata)
    weighted = np.concatenate([(s.mine[:, 0] - s.theirs[:, 0]) / (s.n * s.scale) for s in strata])
    p, _exact = paired.sign_flip_p(weighted)
    return "stratified_permutation", p


# --- sentences ------------------------------------------------------------------------------------------------------

def metric_label(metric: str | None) -> str:
    """``"chrf,none"`` → ``"chrF"``; ``"acc_norm,none"`` → ``"acc_norm"``."""
    name = (metric or "").split(",", 1)[0]
    return {"chrf": "chrF", "bleu": "BLEU", "ter": "TER", "exact_match": "exact match"}.get(name, name)


def format_p(p: float | None) -> str:
    if p is None:
        return "no test"
    for bound in (0.001, 0.01):
        if p < bound:
            return f"p < {bound:g}"
    return f"p = {p:.2f}"


def sentence(comparison: Comparison, reference_kind: str, alpha: float = 0.05) -> str:
    """A flagged change: ``"ntrex chrF +4.1 points (+15% relative) vs parent (paired, n = 50), p < 0.01"`` (the
    relative change only when the reference is > 0). Anything else says why it is not a change, never "+0% … p = 1.00":
    ``"reading: no detectable change vs base (n = 50)"``."""
    c = comparison
    subject = c.domain if c.task is None else f"{c.task} {metric_label(c.metric)}"
    n = f"n = {c.n}" if c.n else ""
    points = f"{c.delta * 100:+.1f} points"
    if c.flagged:  # points first, as on every chart; the relative change is a hint next to it
        change = points + (f" ({c.relative_delta * 100:+.0f}% relative)" if c.relative_delta is not None else "")
        how = ", ".join(x for x in ("paired" if c.is_paired else "unpaired z-test", n) if x)
        return f"{subject} {change} vs {reference_kind} ({how}), {format_p(c.p_adjusted)}"
    if c.p_adjusted is None:
        why = "no per-document outcomes or standard errors"
        return f"{subject}: {points} vs {reference_kind}, not tested ({why}{', ' + n if n else ''})"
    if c.p_adjusted < alpha:  # significant, but smaller than the minimum effect that matters
        return f"{subject}: no meaningful change vs {reference_kind} ({points}{', ' + n if n else ''})"
    return f"{subject}: no detectable change vs {reference_kind}" + (f" ({n})" if n else "")


def mixed_backends(model_row: dict[str, Any], reference_row: dict[str, Any]) -> str | None:
    """``"vllm vs hf"`` when both rows name their engine and the engines differ, else None."""
    mine, theirs = model_row.get("backend"), reference_row.get("backend")
    return f"{mine} vs {theirs}" if mine and theirs and mine != theirs else None


# --- the comparison -------------------------------------------------------------------------------------------------

def _comparison(domain: str, task: str | None, metric: str | None, value: float, reference: float,
                **extra: Any) -> Comparison:
    delta = value - reference
    return Comparison(domain=domain, task=task, metric=metric, value=value, reference_value=reference, delta=delta,
                      relative_delta=delta / reference if reference > 0 else None,
                      **{"stderr": None, "reference_stderr": None, "z_score": None, "p_value": None, **extra})


def _min_n(*rows: dict[str, Any]) -> int | None:
    ns = [r.get("n_samples") for r in rows]
    return min(ns) if all(isinstance(n, int) for n in ns) else None  # type: ignore[type-var]


def compare(model_rows: Iterable[dict[str, Any]], reference_rows: Iterable[dict[str, Any]], *,
            model_outcomes: Outcomes | None = None, reference_outcomes: Outcomes | None = None,
            alpha: float = 0.05, min_effect: float = 0.02, correction: str = "holm",
            reference_kind: str = "base") -> list[Comparison]:
    """Every task and domain comparison of a model with its reference (see the module docs)."""
    if correction not in CORRECTIONS:
        raise ValueError(f"unknown correction {correction!r}; use one of {', '.join(CORRECTIONS)}")
    mine, ref = _normalised(model_rows), _normalised(reference_rows)
    outs_m, outs_r = model_outcomes or {}, reference_outcomes or {}
    shared = sorted(set(mine) & set(ref))
    out: list[Comparison] = []
    per_domain: dict[str, list[tuple[dict[str, Any], dict[str, Any], paired.Stratum | None]]] = {}
    tasks_with_own_row = {task for task, _ in shared}
    for key in shared:
        m, r = mine[key], ref[key]
        leaves = [m["task"]] if m["task"] in outs_m or m["task"] in outs_r else sorted(
            {t for t, metric in mine if metric == m["metric"] and mine[(t, metric)].get("group") == m["task"]})
        pairs = _pairs(leaves, m["metric"], outs_m, outs_r) if leaves else None
        stratum = _stratum(pairs, m["metric"], m["scale"]) if pairs else None
        p: float | None
        if stratum is not None and stratum.n:
            value, reference = paired.observed_delta([stratum])
            test, p = _test_task(stratum)
            c = _comparison(m["domain"], m["task"], m["metric"], value, reference, stderr=m["stderr"],
                            reference_stderr=r["stderr"], p_value=p, test=test, n=stratum.n)
        else:
            stratum = None
            z, p = _z_p(m["value"] - r["value"], m["stderr"], r["stderr"])
            c = _comparison(m["domain"], m["task"], m["metric"], m["value"], r["value"], stderr=m["stderr"],
                            reference_stderr=r["stderr"], z_score=z, p_value=p, test="z" if p is not None else None,
                            n=_min_n(m, r))
        c.backends = mixed_backends(m, r)
        out.append(c)
        if m.get("group") and m["group"] in tasks_with_own_row:
            continue  # a group's own row already stands for its leaves
        per_domain.setdefault(m["domain"], []).append((m, r, stratum))
    single: dict[int, Comparison] = {}
    for domain, items in sorted(per_domain.items()):
        n = len(items)
        strata = [s for _, _, s in items if s is not None]
        if len(strata) == n:  # every task has its paired stratum
            value, reference = paired.observed_delta(strata)
            test, p = _test_domain(strata)
            aggregate = _comparison(domain, None, None, value, reference, p_value=p, test=test,
                                    n=sum(s.n for s in strata))
        else:
            value = sum(m["value"] for m, _, _ in items) / n
            reference = sum(r["value"] for _, r, _ in items) / n
            se_m = (math.sqrt(sum(m["stderr"] ** 2 for m, _, _ in items)) / n
                    if all(m["stderr"] is not None for m, _, _ in items) else None)
            se_r = (math.sqrt(sum(r["stderr"] ** 2 for _, r, _ in items)) / n
                    if all(r["stderr"] is not None for _, r, _ in items) else None)
            z, p = _z_p(value - reference, se_m, se_r)
            ns = [_min_n(m, r) for m, r, _ in items]
            aggregate = _comparison(domain, None, None, value, reference, stderr=se_m, reference_stderr=se_r,
                                    z_score=z, p_value=p, test="z" if p is not None else None,
                                    n=sum(ns) if all(isinstance(x, int) for x in ns) else None)
        aggregate.backends = next((b for m, r, _ in items if (b := mixed_backends(m, r))), None)
        if n == 1:  # the same test as its only task: not a comparison of its own (no extra correction)
            twin = next(c for c in out if c.task == items[0][0]["task"] and c.metric == items[0][0]["metric"])
            single[id(aggregate)] = twin
            aggregate.test, aggregate.n, aggregate.p_value = twin.test, twin.n, twin.p_value
        out.append(aggregate)
    tested = [c for c in out if c.p_value is not None and id(c) not in single]
    raw = [c.p_value for c in tested if c.p_value is not None]  # all of them
    adjusted = holm(raw) if correction == "holm" else benjamini_hochberg(raw) if correction == "bh" else raw
    for c, p_adj in zip(tested, adjusted, strict=True):
        c.p_adjusted = p_adj
    for c in out:
        only_task = single.get(id(c))
        if only_task is not None:
            c.p_adjusted = only_task.p_adjusted
        c.flagged = c.p_adjusted is not None and c.p_adjusted < alpha and abs(c.delta) >= min_effect
    for c in out:
        c.direction = "up" if c.delta > 0 else "down" if c.delta < 0 else None
        c.sentence = sentence(c, reference_kind, alpha) + (f" (engines differ: {c.backends})" if c.backends else "")
    return out
