"""The detector with per-document outcomes: paired tests where both sides have them, the unpaired z-test where
either side does not, and the sentences a reader sees."""

from __future__ import annotations

import math

import pytest
import sacrebleu

from modelmate.research.capability import compare
from modelmate.research.paired import mcnemar_exact


def docs(values, metric="acc,none", prefix="doc", start=0):
    return [{"doc_id": start + i, "doc_hash": f"{prefix}{start + i}", "values": {metric: v}}
            for i, v in enumerate(values)]


def row(task, values, domain="reading", metric="acc,none", scale=1.0, **extra):
    """A headline score row as lm-eval reports it: the mean, and the sample standard error of the mean."""
    n = len(values)
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return {"task": task, "domain": domain, "metric": metric, "value": mean * scale,
            "stderr": math.sqrt(var / n) * scale, "n_samples": n, "scale": scale, **extra}


def by_key(comparisons):
    return {(c.domain, c.task): c for c in comparisons}


# 50 documents; the reference gets 25 right; the fine-tune gets 8 more right and none wrong that the reference got
REFERENCE = [1.0] * 25 + [0.0] * 25
MODEL = [1.0] * 25 + [1.0] * 8 + [0.0] * 17


def test_eight_discordant_pairs_one_way_are_significant_paired_but_not_unpaired():
    paired_out = by_key(compare([row("boolq", MODEL)], [row("boolq", REFERENCE)],
                                model_outcomes={"boolq": docs(MODEL)}, reference_outcomes={"boolq": docs(REFERENCE)}))
    c = paired_out[("reading", "boolq")]
    assert c.test == "mcnemar" and c.n == 50
    assert c.p_value == pytest.approx(2 / 256) and c.p_adjusted == pytest.approx(2 / 256)  # a one-task family
    assert c.delta == pytest.approx(0.16) and c.flagged and c.direction == "up"
    assert c.sentence == "boolq acc +16.0 points (+32% relative) vs base (paired, n = 50), p < 0.01"
    domain = paired_out[("reading", None)]  # the domain's only task: the same test
    assert domain.test == "mcnemar" and domain.n == 50 and domain.flagged
    assert domain.sentence == "reading +16.0 points (+32% relative) vs base (paired, n = 50), p < 0.01"

    unpaired = by_key(compare([row("boolq", MODEL)], [row("boolq", REFERENCE)]))  # no outcomes: the old z-test
    z = unpaired[("reading", "boolq")]
    assert z.test == "z" and z.n == 50 and 0.05 < z.p_value < 0.2 and not z.flagged
    assert z.sentence == "boolq acc: no detectable change vs base (n = 50)"


def test_all_agree_gives_p_1_and_a_plain_sentence():
    same = [1.0, 0.0] * 25
    out = by_key(compare([row("boolq", same)], [row("boolq", same)], model_outcomes={"boolq": docs(same)},
                         reference_outcomes={"boolq": docs(same)}))
    for c in out.values():
        assert c.test == "mcnemar" and c.p_value == 1.0 and c.p_adjusted == 1.0 and not c.flagged and c.n == 50
        assert c.direction is None and "%" not in c.sentence and "p =" not in c.sentence
    assert out[("reading", None)].sentence == "reading: no detectable change vs base (n = 50)"
    assert out[("reading", "boolq")].sentence == "boolq acc: no detectable change vs base (n = 50)"


def test_opposite_flips_cancel_in_the_paired_test():
    """Same accuracy, but 6 documents flipped each way: McNemar b = c = 6, p = 1."""
    ref = [1.0] * 6 + [0.0] * 6 + [1.0] * 10
    mine = [0.0] * 6 + [1.0] * 6 + [1.0] * 10
    c = by_key(compare([row("piqa", mine, "reasoning")], [row("piqa", ref, "reasoning")],
                       model_outcomes={"piqa": docs(mine)}, reference_outcomes={"piqa": docs(ref)}))[("reasoning",
                                                                                                     "piqa")]
    assert c.test == "mcnemar" and c.p_value == mcnemar_exact(6, 6) == 1.0 and c.delta == 0.0


def test_continuous_metrics_use_the_sign_flip_test():
    ref = [0.30, 0.40, 0.50]
    mine = [0.40, 0.60, 0.80]  # differences 0.1, 0.2, 0.3: exact p = 2 / 8
    out = by_key(compare([row("truthfulqa_mc2", mine, "truthfulness")],
                         [row("truthfulqa_mc2", ref, "truthfulness")],
                         model_outcomes={"truthfulqa_mc2": docs(mine)},
                         reference_outcomes={"truthfulqa_mc2": docs(ref)}))
    c = out[("truthfulness", "truthfulqa_mc2")]
    assert c.test == "sign_flip_exact" and c.n == 3 and c.p_value == pytest.approx(0.25) and not c.flagged
    assert c.delta == pytest.approx(0.2)


SOURCES = ["The cat sits on the mat.", "It is raining in Paris today.", "We will meet at noon tomorrow.",
           "The museum opens at nine.", "She reads a book every night.", "Prices rose sharply last year.",
           "The train was late again.", "He plays the piano very well.", "Our team won the final match.",
           "Please close the window.", "The river flows to the sea.", "Birds sing in the morning."]


def mt_docs(refs, preds, prefix):
    return [{"doc_id": i, "doc_hash": f"{prefix}{i}",
             "values": {"chrf,none": {"ref": r, "pred": p}, "bleu,none": {"same_as": "chrf,none"}}}
            for i, (r, p) in enumerate(zip(refs, preds, strict=True))]


def mt_row(task, refs, preds):
    return {"task": task, "domain": "translation", "metric": "chrf,none", "scale": 100.0, "n_samples": len(refs),
            "value": sacrebleu.corpus_chrf(preds, [refs]).score, "stderr": None, "group": "ntrex"}


def test_corpus_chrf_uses_approximate_randomization_per_language_and_stratified_for_the_domain():
    bad = [" ".join(s.split()[:2]) for s in SOURCES]  # a truncating model: much lower chrF
    mine_rows = [mt_row("ntrex_eng_deu", SOURCES, SOURCES), mt_row("ntrex_eng_fra", SOURCES[::-1], SOURCES[::-1])]
    ref_rows = [mt_row("ntrex_eng_deu", SOURCES, bad), mt_row("ntrex_eng_fra", SOURCES[::-1], bad[::-1])]
    out = by_key(compare(mine_rows, ref_rows, reference_kind="parent",
                         model_outcomes={"ntrex_eng_deu": mt_docs(SOURCES, SOURCES, "de"),
                                         "ntrex_eng_fra": mt_docs(SOURCES[::-1], SOURCES[::-1], "fr")},
                         reference_outcomes={"ntrex_eng_deu": mt_docs(SOURCES, bad, "de"),
                                             "ntrex_eng_fra": mt_docs(SOURCES[::-1], bad[::-1], "fr")}))
    deu = out[("translation", "ntrex_eng_deu")]
    assert deu.test == "randomization" and deu.n == 12 and deu.direction == "up" and deu.p_value < 0.001
    assert deu.value == pytest.approx(1.0) and deu.reference_value == pytest.approx(
        sacrebleu.corpus_chrf(bad, [SOURCES]).score / 100)  # recomputed from the stored texts
    assert deu.stderr is None and deu.flagged  # no standard error needed: the test is on the documents
    domain = out[("translation", None)]
    assert domain.test == "stratified_randomization" and domain.n == 24 and domain.flagged
    assert domain.sentence.startswith("translation +") and "vs parent (paired, n = 24), p < 0.0" in domain.sentence


def test_a_domain_is_a_stratified_permutation_over_its_tasks_documents():
    """Task a: 2 documents, both +1; task b: 4 documents, one +1. The domain mean weighs a document of a by
    1/(2·2) and one of b by 1/(2·4): |±¼ ±¼ ±⅛| reaches ⅝ only with equal signs: exact p = 2 / 8."""
    mine = [row("a", [1.0, 1.0], "reasoning"), row("b", [1.0, 0.0, 0.0, 1.0], "reasoning")]
    ref = [row("a", [0.0, 0.0], "reasoning"), row("b", [0.0, 0.0, 0.0, 1.0], "reasoning")]
    out = by_key(compare(mine, ref, model_outcomes={"a": docs([1.0, 1.0]), "b": docs([1.0, 0.0, 0.0, 1.0])},
                         reference_outcomes={"a": docs([0.0, 0.0]), "b": docs([0.0, 0.0, 0.0, 1.0])}))
    domain = out[("reasoning", None)]
    assert domain.test == "stratified_permutation" and domain.n == 6
    assert domain.p_value == pytest.approx(0.25) and domain.delta == pytest.approx((1.0 + 0.25) / 2)
    assert out[("reasoning", "a")].p_value == pytest.approx(mcnemar_exact(2, 0))


def test_documents_are_matched_by_content_and_only_shared_ones_count():
    mine = docs([1.0] * 10, prefix="h")
    ref = docs([0.0] * 6, prefix="h") + docs([1.0] * 4, prefix="other", start=6)  # 4 documents differ
    c = by_key(compare([row("boolq", [1.0] * 10)], [row("boolq", [0.0] * 6 + [1.0] * 4)],
                       model_outcomes={"boolq": mine}, reference_outcomes={"boolq": ref}))[("reading", "boolq")]
    assert c.test == "mcnemar" and c.n == 6 and c.p_value == pytest.approx(mcnemar_exact(6, 0))
    assert c.value == 1.0 and c.reference_value == 0.0  # measured on the shared documents
    shuffled = list(reversed(docs([0.0] * 6, prefix="h")))  # positions do not matter, content does
    for i, d in enumerate(shuffled):
        d["doc_id"] = 100 + i
    c2 = by_key(compare([row("boolq", [1.0] * 10)], [row("boolq", [0.0] * 6)], model_outcomes={"boolq": mine},
                        reference_outcomes={"boolq": shuffled}))[("reading", "boolq")]
    assert c2.n == 6 and c2.p_value == c.p_value


def test_a_group_row_is_tested_on_its_leaves_documents_pooled():
    mine = [row("mmlu", [1.0] * 12, "knowledge"), row("mmlu_a", [1.0] * 6, "knowledge", group="mmlu"),
            row("mmlu_b", [1.0] * 6, "knowledge", group="mmlu")]
    ref = [row("mmlu", [0.0] * 10 + [1.0] * 2, "knowledge"),
           row("mmlu_a", [0.0] * 5 + [1.0], "knowledge", group="mmlu"),
           row("mmlu_b", [0.0] * 5 + [1.0], "knowledge", group="mmlu")]
    out = by_key(compare(mine, ref, model_outcomes={"mmlu_a": docs([1.0] * 6, prefix="a"),
                                                    "mmlu_b": docs([1.0] * 6, prefix="b")},
                         reference_outcomes={"mmlu_a": docs([0.0] * 5 + [1.0], prefix="a"),
                                             "mmlu_b": docs([0.0] * 5 + [1.0], prefix="b")}))
    group = out[("knowledge", "mmlu")]
    assert group.test == "mcnemar" and group.n == 12 and group.p_value == pytest.approx(mcnemar_exact(10, 0))
    assert out[("knowledge", None)].test == "mcnemar" and out[("knowledge", None)].n == 12  # the group stands in


def test_fallback_to_the_z_test_where_a_side_has_no_outcomes():
    mine = [row("boolq", MODEL), row("piqa", MODEL, "reasoning"), row("arc_easy", MODEL, "reasoning")]
    ref = [row("boolq", REFERENCE), row("piqa", REFERENCE, "reasoning"), row("arc_easy", REFERENCE, "reasoning")]
    out = by_key(compare(mine, ref, model_outcomes={"boolq": docs(MODEL), "piqa": docs(MODEL)},
                         reference_outcomes={"boolq": docs(REFERENCE)}))  # an older reference evaluation for piqa
    assert out[("reading", "boolq")].test == "mcnemar"
    assert out[("reasoning", "piqa")].test == "z" and out[("reasoning", "arc_easy")].test == "z"
    domain = out[("reasoning", None)]
    assert domain.test == "z" and domain.n == 100 and domain.z_score is not None  # a domain is paired only whole
    # Holm over the family of four tests (boolq, piqa, arc_easy, the reasoning domain)
    assert out[("reading", "boolq")].p_adjusted == pytest.approx(min(1.0, 4 * 2 / 256))


def test_a_significant_but_tiny_change_says_so():
    n = 2000
    ref = [1.0] * 1000 + [0.0] * 1000
    mine = [1.0] * 1000 + [1.0] * 30 + [0.0] * 970  # +1.5 points, 30 discordant pairs all one way
    c = by_key(compare([row("boolq", mine)], [row("boolq", ref)], model_outcomes={"boolq": docs(mine)},
                       reference_outcomes={"boolq": docs(ref)}))[("reading", "boolq")]
    assert c.p_value < 1e-6 and not c.flagged and c.n == n
    assert c.sentence == "boolq acc: no meaningful change vs base (+1.5 points, n = 2000)"
