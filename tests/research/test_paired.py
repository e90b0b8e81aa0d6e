"""The paired tests on fabricated outcome vectors whose exact p-values are known by hand."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
import sacrebleu

from modelmate.research import paired


def test_mcnemar_exact_known_values():
    # b = 10, c = 2: p = 2 * P(X <= 2 | n = 12, 1/2) = 2 * (1 + 12 + 66) / 4096 = 158 / 4096
    assert paired.mcnemar_exact(10, 2) == pytest.approx(158 / 4096, rel=1e-12)
    assert paired.mcnemar_exact(2, 10) == paired.mcnemar_exact(10, 2)  # two-sided
    assert paired.mcnemar_exact(8, 0) == pytest.approx(2 / 256)  # 8 discordant pairs, all one way
    assert paired.mcnemar_exact(0, 0) == 1.0  # nothing discordant: no evidence at all
    assert paired.mcnemar_exact(5, 5) == 1.0 and paired.mcnemar_exact(6, 5) == 1.0  # capped at 1
    exact = 2 * Fraction(sum(math.comb(30, i) for i in range(8)), 2 ** 30)  # b = 23, c = 7
    assert paired.mcnemar_exact(23, 7) == pytest.approx(float(exact), rel=1e-12)
    with pytest.raises(ValueError):
        paired.mcnemar_exact(-1, 3)


def test_sign_flip_exact_by_hand():
    # |±1 ±2 ±3| >= 6 only for (+,+,+) and (-,-,-): 2 of 8
    assert paired.sign_flip_p([1.0, 2.0, 3.0]) == (pytest.approx(0.25), True)
    assert paired.sign_flip_p([1.0, 0.0, 2.0, 3.0, 0.0])[0] == pytest.approx(0.25)  # zeros do not count
    # ±3 ±1 ±1: sums 5, 3, 3, 1 and their negatives; |sum| >= |3 - 1 + 1| = 3 for 6 of 8
    assert paired.sign_flip_p([3.0, -1.0, 1.0]) == (pytest.approx(0.75), True)
    assert paired.sign_flip_p([0.0, 0.0]) == (1.0, True)
    assert paired.sign_flip_p([0.3, -0.3])[0] == pytest.approx(1.0)


def test_sign_flip_monte_carlo_reports_the_plus_one_correction():
    p, exact = paired.sign_flip_p([0.1] * 40)  # exact p = 2 / 2**40: no random draw reaches it
    assert not exact and p == pytest.approx(1 / (paired.DRAWS + 1))
    # a symmetric null-like vector: the estimate is close to the exact enumeration
    diffs = [0.5, -0.4, 0.3, -0.2, 0.1, 0.25, -0.15, 0.05, -0.35, 0.45, 0.2, -0.1, 0.3, -0.3, 0.12, 0.07, -0.02]
    exact_p, was_exact = paired.sign_flip_p(diffs, exact_max=20)
    mc_p, was_mc = paired.sign_flip_p(diffs, exact_max=4)
    assert was_exact and not was_mc and mc_p == pytest.approx(exact_p, abs=0.02)
    assert paired.sign_flip_p(diffs, exact_max=4) == (mc_p, False)  # seeded: the same answer every time


REFS = ["The cat sits on the mat.", "It is raining in Paris today.", "We will meet at noon tomorrow.",
        "The museum opens at nine.", "She reads a book every night.", "Prices rose sharply last year.",
        "The train was late again.", "He plays the piano very well.", "Our team won the final match.",
        "Please close the window.", "The river flows to the sea.", "Birds sing in the morning."]


def test_corpus_stratum_recomputes_sacrebleu_exactly():
    garbage = [r[::-1] for r in REFS]
    stratum = paired.corpus_stratum("chrf", [[r] for r in REFS], list(REFS), garbage)
    mine, theirs = paired.observed_delta([stratum])
    assert mine == pytest.approx(sacrebleu.corpus_chrf(REFS, [REFS]).score / 100)
    assert theirs == pytest.approx(sacrebleu.corpus_chrf(garbage, [REFS]).score / 100)
    bleu = paired.corpus_stratum("bleu,none", [[r] for r in REFS], garbage, list(REFS))
    assert paired.observed_delta([bleu])[1] == pytest.approx(sacrebleu.corpus_bleu(REFS, [REFS]).score / 100)
    near = [" ".join(r.split()[:-1]) for r in REFS]  # each sentence without its last word
    for metric, score in (("bleu", sacrebleu.corpus_bleu), ("ter", sacrebleu.corpus_ter),
                          ("chrf++", lambda h, r: sacrebleu.corpus_chrf(h, r, word_order=2))):
        stratum = paired.corpus_stratum(metric, [[r] for r in REFS], near, garbage)
        assert paired.observed_delta([stratum])[0] == pytest.approx(score(near, [REFS]).score / 100), metric


def test_chrf_randomization_finds_the_obvious_direction():
    """Perfect translations vs reversed strings on 12 sentences: every swap shrinks the gap, so only the identity
    (and its mirror image) reach the observed one: p is at the Monte Carlo floor."""
    stratum = paired.corpus_stratum("chrf", [[r] for r in REFS], list(REFS), [r[::-1] for r in REFS])
    mine, theirs = paired.observed_delta([stratum])
    assert mine > theirs + 0.5
    p = paired.randomization_p([stratum])
    assert p < 0.001
    # the same system on both sides: nothing to find
    same = paired.corpus_stratum("chrf", [[r] for r in REFS], list(REFS), list(REFS))
    assert paired.randomization_p([same]) == 1.0


def test_randomization_of_mean_strata_agrees_with_the_sign_flip_test():
    mine = [1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0]
    theirs = [0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0]
    sign_p, exact = paired.sign_flip_p([a - b for a, b in zip(mine, theirs, strict=True)])
    assert exact and sign_p == pytest.approx(2 / 16)  # 4 discordant pairs, all one way: 2 of 2^4
    assert paired.randomization_p([paired.mean_stratum(mine, theirs)]) == pytest.approx(sign_p, abs=0.02)
