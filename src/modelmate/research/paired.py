"""Pure paired significance tests for two models scored on the SAME documents.

Both sides of a capability comparison are evaluated on the same documents (the runner's seeded quick sample, or the
whole test set), so the per-document outcomes are paired and the tests below use that pairing:

* :func:`mcnemar_exact` — 0/1 outcomes (acc, acc_norm, exact_match, pass@1): the exact two-sided McNemar test, a
  binomial test of the discordant pairs ``b`` (model right, reference wrong) against ``c`` (the reverse):
  ``p = min(1, 2 · P(X ≤ min(b, c)))`` with ``X ~ Binomial(b + c, ½)``; ``p = 1`` when there is no discordant pair.
* :func:`sign_flip_p` — continuous per-document values (TruthfulQA MC2) and weighted strata (domain aggregates): the
  paired sign-flip permutation test of ``|Σ dᵢ|``. Exact enumeration of all ``2^k`` sign vectors when the number
  ``k`` of non-zero differences is at most :data:`EXACT_MAX`; else a seeded Monte Carlo estimate with
  :data:`DRAWS` draws, reported as ``(1 + #{|T*| ≥ |T|}) / (DRAWS + 1)`` (never 0).
* :func:`randomization_p` — corpus metrics (chrF, BLEU, TER) and any mix of strata: paired approximate
  randomization. Each draw swaps the two systems' outputs on a random half of the documents (independently per
  document), recomputes every stratum's score (a corpus chrF/BLEU/TER from summed sacrebleu sentence statistics,
  exactly what ``sacrebleu.corpus_*`` computes; a mean for per-document metrics), and compares the mean over strata
  of the difference with the observed one; same ``+1`` correction.

Every function is deterministic (fixed seeds). Nothing here touches the database.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

EXACT_MAX = 16  # sign-flip: enumerate all 2^k sign vectors up to this many non-zero differences
DRAWS = 10_000  # Monte Carlo draws (sign-flip and approximate randomization)
SEED = 20_261_204
_CHUNK = 1_000
CORPUS_METRICS = ("chrf", "chrf++", "bleu", "ter")


def mcnemar_exact(b: int, c: int) -> float:
    """Exact two-sided McNemar p-value for ``b`` and ``c`` discordant pairs (exact rational arithmetic)."""
    if b < 0 or c < 0:
        raise ValueError("discordant counts must be >= 0")
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1))
    return min(1.0, 2 * tail / 2 ** n)


def _coin_flips(rng: np.random.Generator, draws: int, n: int) -> np.ndarray:
    """A (draws, n) matrix of fair 0/1 coin flips (as floats), from random bytes: 8 flips per random number."""
    packed = rng.integers(0, 256, size=(draws, (n + 7) // 8), dtype=np.uint8)
    return np.unpackbits(packed, axis=1, count=n).astype(float)


def _tolerance(t: float) -> float:
    return 1e-9 * max(1.0, abs(t))


def sign_flip_p(diffs: list[float] | np.ndarray, *, draws: int = DRAWS, seed: int = SEED,
                exact_max: int = EXACT_MAX) -> tuple[float, bool]:
    """Two-sided paired sign-flip permutation p-value of ``|Σ dᵢ|`` (the differences may carry weights).

    Returns ``(p, exact)``. Zero differences do not change the statistic under any flip and are left out."""
    d = np.asarray(diffs, dtype=float)
    d = d[d != 0.0]
    k = d.size
    if k == 0:
        return 1.0, True
    observed = abs(float(d.sum()))
    tol = _tolerance(observed)
    if k <= exact_max:
        codes = np.arange(2 ** k, dtype=np.int64)[:, None]
        signs = 1.0 - 2.0 * ((codes >> np.arange(k)) & 1)
        hits = int(np.count_nonzero(np.abs(signs @ d) >= observed - tol))
        return hits / 2 ** k, True
    rng = np.random.default_rng(seed)
    hits = 0
    for start in range(0, draws, _CHUNK):
        size = min(_CHUNK, draws - start)
        signs = 1.0 - 2.0 * _coin_flips(rng, size, k)
        hits += int(np.count_nonzero(np.abs(signs @ d) >= observed - tol))
    return (hits + 1) / (draws + 1), False


# --- strata for approximate randomization -------------------------------------------------------------------------

@dataclass
class Stratum:
    """One task's paired documents: per-document statistics of each side, summed into the task's score by
    ``score``. A per-document metric has one statistic (its value; the score is the mean); a corpus metric has
    sacrebleu's sentence statistics (the score is computed from their sum)."""

    mine: np.ndarray  # (n, k)
    theirs: np.ndarray  # (n, k)
    metric: str | None = None  # None: a mean; else a corpus metric name (chrf, bleu, ...)
    scale: float = 1.0
    _scorer: Any = field(default=None, repr=False)

    @property
    def n(self) -> int:
        return int(self.mine.shape[0])

    def score(self, summed: np.ndarray) -> float:
        """The stratum's score (0-1 scale) from the column sums of its statistics."""
        return float(self.scores(np.asarray(summed, dtype=float)[None, :])[0])

    def scores(self, summed: np.ndarray) -> np.ndarray:
        """Scores of many draws: ``summed`` is (draws, k)."""
        if self.metric is None:
            return summed[:, 0] / self.n / self.scale
        if self.metric in ("chrf", "chrf++") and not self._scorer.eps_smoothing:
            return _chrf(summed, self._scorer.beta) / self.scale
        return np.array([self._scorer._compute_score_from_stats([float(x) for x in row]).score
                         for row in summed]) / self.scale


def _chrf(summed: np.ndarray, beta: float) -> np.ndarray:
    """sacrebleu's chrF (``CHRF._compute_f_score`` without eps smoothing, its default) of many rows of summed
    ``[hyp, ref, match] * order`` statistics at once."""
    hyp, ref, match = summed[:, 0::3], summed[:, 1::3], summed[:, 2::3]
    valid = (hyp > 0) & (ref > 0)
    prec = np.divide(match, hyp, out=np.zeros_like(match), where=hyp > 0)
    rec = np.divide(match, ref, out=np.zeros_like(match), where=ref > 0)
    effective = valid.sum(axis=1)
    avg_prec = np.divide((prec * valid).sum(axis=1), effective, out=np.zeros(len(summed)), where=effective > 0)
    avg_rec = np.divide((rec * valid).sum(axis=1), effective, out=np.zeros(len(summed)), where=effective > 0)
    factor = beta ** 2
    denom = factor * avg_prec + avg_rec
    return np.divide(100 * (1 + factor) * avg_prec * avg_rec, denom, out=np.zeros(len(summed)), where=denom > 0)


def mean_stratum(mine: list[float], theirs: list[float], scale: float = 1.0) -> Stratum:
    return Stratum(np.asarray(mine, dtype=float)[:, None], np.asarray(theirs, dtype=float)[:, None], None, scale)


def corpus_scorer(metric: str, references: list[list[str]] | None = None):
    """sacrebleu's metric object for a corpus metric name, configured as lm-eval's aggregations use it
    (``references``: reference streams to cache)."""
    from sacrebleu.metrics import BLEU, CHRF, TER

    name = metric.split(",", 1)[0]
    if name == "chrf":
        return CHRF(references=references)
    if name == "chrf++":
        return CHRF(word_order=2, references=references)
    if name == "bleu":
        return BLEU(references=references)
    if name == "ter":
        return TER(references=references)
    raise ValueError(f"{metric!r} is not a corpus metric")


def corpus_stratum(metric: str, refs: list[list[str]], mine: list[str], theirs: list[str],
                   scale: float = 100.0) -> Stratum:
    """A corpus-metric stratum: ``refs[i]`` are document i's references, ``mine[i]``/``theirs[i]`` the outputs.
    Documents with a different number of references are padded with their first one (sacrebleu needs streams)."""
    width = max(len(r) for r in refs) if refs else 1
    streams = [[(r[j] if j < len(r) else r[0]) for r in refs] for j in range(width)]
    scorer = corpus_scorer(metric, streams)  # the references' n-grams are extracted once, for both systems
    stats_m = np.asarray(scorer._extract_corpus_statistics(mine, None), dtype=float)
    stats_t = np.asarray(scorer._extract_corpus_statistics(theirs, None), dtype=float)
    return Stratum(stats_m, stats_t, metric.split(",", 1)[0], scale, scorer)


def observed_delta(strata: list[Stratum]) -> tuple[float, float]:
    """``(mean score of mine, mean score of theirs)`` over the strata (0-1 scale)."""
    mine = sum(s.score(s.mine.sum(axis=0)) for s in strata) / len(strata)
    theirs = sum(s.score(s.theirs.sum(axis=0)) for s in strata) / len(strata)
    return mine, theirs


def randomization_p(strata: list[Stratum], *, draws: int = DRAWS, seed: int = SEED) -> float:
    """Two-sided paired approximate randomization over the strata (see the module docs)."""
    if not strata or all(s.n == 0 for s in strata):
        return 1.0
    strata = [s for s in strata if s.n]
    mine, theirs = observed_delta(strata)
    observed = abs(mine - theirs)
    tol = _tolerance(observed)
    rng = np.random.default_rng(seed)
    hits = 0
    for start in range(0, draws, _CHUNK):
        size = min(_CHUNK, draws - start)
        delta = np.zeros(size)
        for s in strata:
            swap = _coin_flips(rng, size, s.n)
            moved = swap @ (s.theirs - s.mine)  # what swapping those documents moves from one side to the other
            delta += s.scores(s.mine.sum(axis=0) + moved) - s.scores(s.theirs.sum(axis=0) - moved)
        delta /= len(strata)
        hits += int(np.count_nonzero(np.abs(delta) >= observed - tol))
    return (hits + 1) / (draws + 1)
