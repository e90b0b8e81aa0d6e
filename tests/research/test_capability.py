"""The capability detector on constructed score sets where the truth is known."""

from __future__ import annotations

import math
import random

import pytest

from modelmate.research.capability import benjamini_hochberg, compare, format_p, holm, two_sided_p


def row(task, value, stderr, domain="reasoning", metric="acc,none", **extra):
    return {"task": task, "domain": domain, "metric": metric, "value": value, "stderr": stderr, **extra}


def by_key(comparisons):
    return {(c.domain, c.task): c for c in comparisons}


def test_no_change_is_never_flagged():
    ref = [row("arc_easy", 0.50, 0.02), row("piqa", 0.60, 0.02)]
    same = [row("arc_easy", 0.50, 0.02), row("piqa", 0.60, 0.02)]
    out = by_key(compare(same, ref))
    assert set(out) == {("reasoning", "arc_easy"), ("reasoning", "piqa"), ("reasoning", None)}
    for c in out.values():
        assert c.delta == 0 and c.z_score == 0 and c.p_value == pytest.approx(1.0)
        assert not c.flagged and c.direction is None and c.test == "z"
        assert "no detectable change vs base" in c.sentence and "p =" not in c.sentence and "%" not in c.sentence


def test_a_real_change_is_flagged_with_direction_and_sentence():
    ref = [row("ntrex", 30.0, 1.0, domain="translation", metric="chrf,none", scale=100)]
    mine = [row("ntrex", 34.5, 1.0, domain="translation", metric="chrf,none", scale=100)]
    out = by_key(compare(mine, ref, reference_kind="parent"))
    task = out[("translation", "ntrex")]
    assert task.value == pytest.approx(0.345) and task.reference_value == pytest.approx(0.30)
    assert task.delta == pytest.approx(0.045) and task.relative_delta == pytest.approx(0.15)
    expected_z = 0.045 / math.sqrt(0.01 ** 2 + 0.01 ** 2)
    assert task.z_score == pytest.approx(expected_z)
    assert task.p_value == pytest.approx(math.erfc(expected_z / math.sqrt(2)))
    assert task.flagged and task.direction == "up" and task.test == "z" and task.n is None
    assert task.sentence == "ntrex chrF +4.5 points (+15% relative) vs parent (unpaired z-test), p < 0.01"
    domain = out[("translation", None)]
    assert domain.flagged
    assert domain.sentence.startswith("translation +4.5 points (+15% relative) vs parent (unpaired z-test)")


def test_a_drop_is_flagged_down():
    out = by_key(compare([row("boolq", 0.40, 0.01, domain="reading")], [row("boolq", 0.70, 0.01, domain="reading")]))
    assert out[("reading", "boolq")].flagged and out[("reading", "boolq")].direction == "down"
    assert "-30.0 points (-43% relative)" in out[("reading", "boolq")].sentence


def test_a_change_hidden_in_noise_is_not_flagged():
    # the same +0.045 as above, but the samples are tiny: standard errors of 0.15
    out = by_key(compare([row("gsm8k", 0.345, 0.15, domain="math")], [row("gsm8k", 0.30, 0.15, domain="math")]))
    c = out[("math", "gsm8k")]
    assert c.delta == pytest.approx(0.045) and c.p_value > 0.5 and not c.flagged


def test_significant_but_tiny_effects_are_not_flagged():
    # huge samples: 0.005 is "significant" but below the minimum effect of 0.02
    out = by_key(compare([row("mmlu", 0.505, 0.0005, domain="knowledge")],
                         [row("mmlu", 0.500, 0.0005, domain="knowledge")]))
    c = out[("knowledge", "mmlu")]
    assert c.p_value < 1e-6 and not c.flagged


def test_missing_or_zero_stderr_is_reported_but_never_flagged():
    out = by_key(compare([row("a", 0.9, None), row("b", 1.0, 0.0)], [row("a", 0.1, 0.01), row("b", 0.0, 0.0)]))
    for key in (("reasoning", "a"), ("reasoning", "b"), ("reasoning", None)):
        c = out[key]
        assert c.z_score is None and c.p_value is None and c.p_adjusted is None and not c.flagged
        assert c.test is None and "not tested (no per-document outcomes or standard errors" in c.sentence
    assert out[("reasoning", "b")].relative_delta is None  # reference 0: absolute points
    assert "+100.0 points" in out[("reasoning", "b")].sentence


def test_multiple_comparison_correction_matters():
    """One task with p ≈ 0.03 alone is flagged; among 20 null tasks, Holm no longer flags it."""
    z = 2.17  # two-sided p ≈ 0.030
    se = 0.02
    delta = z * math.sqrt(2) * se
    alone = compare([row("t0", 0.5 + delta, se)], [row("t0", 0.5, se)], min_effect=0.0)
    assert by_key(alone)[("reasoning", "t0")].p_value == pytest.approx(two_sided_p(z))
    assert by_key(alone)[("reasoning", "t0")].flagged
    rng = random.Random(3)
    mine, ref = [row("t0", 0.5 + delta, se, domain="d0")], [row("t0", 0.5, se, domain="d0")]
    for i in range(1, 20):
        mine.append(row(f"t{i}", 0.5 + rng.uniform(-0.001, 0.001), se, domain=f"d{i}"))
        ref.append(row(f"t{i}", 0.5, se, domain=f"d{i}"))
    many = by_key(compare(mine, ref, min_effect=0.0))
    t0 = many[("d0", "t0")]
    assert t0.p_value == pytest.approx(two_sided_p(z)) and t0.p_adjusted > 0.05 and not t0.flagged
    assert not any(c.flagged for c in many.values())
    no_correction = by_key(compare(mine, ref, min_effect=0.0, correction="none"))
    assert no_correction[("d0", "t0")].flagged  # what would be a false discovery without correction


def test_domain_aggregate_is_the_mean_with_combined_stderr():
    mine = [row("a", 0.6, 0.03), row("b", 0.8, 0.04)]
    ref = [row("a", 0.5, 0.03), row("b", 0.5, 0.04)]
    agg = by_key(compare(mine, ref))[("reasoning", None)]
    assert agg.value == pytest.approx(0.7) and agg.reference_value == pytest.approx(0.5)
    assert agg.stderr == pytest.approx(math.sqrt(0.03 ** 2 + 0.04 ** 2) / 2)
    assert agg.z_score == pytest.approx(0.2 / math.sqrt(2 * agg.stderr ** 2))


def test_only_tasks_both_measured_are_compared_and_groups_are_not_double_counted():
    mine = [row("mmlu", 0.5, 0.01, domain="knowledge"), row("mmlu_a", 0.9, 0.01, domain="knowledge", group="mmlu"),
            row("extra", 0.1, 0.01)]
    ref = [row("mmlu", 0.5, 0.01, domain="knowledge"), row("mmlu_a", 0.1, 0.01, domain="knowledge", group="mmlu")]
    out = by_key(compare(mine, ref))
    assert ("reasoning", "extra") not in out and ("reasoning", None) not in out
    assert out[("knowledge", None)].delta == pytest.approx(0.0)  # the group row stands for its leaves
    assert out[("knowledge", "mmlu_a")].flagged


def test_corrections_and_p_formatting():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert benjamini_hochberg([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.04, 0.04])
    assert format_p(0.0004) == "p < 0.001" and format_p(0.004) == "p < 0.01" and format_p(0.2) == "p = 0.20"
    assert format_p(None) == "no test"
    with pytest.raises(ValueError):
        compare([], [], correction="magic")


def test_bh_is_less_conservative_than_holm():
    ps = [0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216]
    assert sum(p < 0.05 for p in holm(ps)) < sum(p < 0.05 for p in benjamini_hochberg(ps))


def test_the_api_domain_filter_is_the_suites_domains():
    from typing import get_args, get_type_hints

    from modelmate.enums import Domain
    from modelmate.evaluation.suites import DOMAINS
    from modelmate.research.endpoints import list_changes

    assert get_args(get_type_hints(list_changes)["domain"]) == (Domain, type(None))
    assert tuple(Domain) == DOMAINS
