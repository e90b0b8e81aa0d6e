"""Planted contamination (verbatim, reformatted, paraphrased GSM8K and MMLU test items among clean rows) and the
clean GSM8K-train demo datasets. The recall floors are what docs/contamination.md reports as measured."""

from pathlib import Path

import contamination_plants as plants
import pytest

from modelmate.contamination.check import check_file, check_texts, check_texts_detailed, record_texts
from modelmate.demo import hub_data
from modelmate.training.data import DataErrors

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def measured(bench_index, bench_root):
    return plants.measure(bench_index, bench_root, REPO, clean=600)


def test_every_verbatim_and_reformatted_plant_is_found(measured) -> None:
    for variant in plants.VERBATIM + plants.REFORMATTED:
        found, planted = measured.recall[variant]
        assert found == planted, f"{variant}: {found}/{planted}"


def test_paraphrase_recall_and_precision_hold_at_the_measured_level(measured) -> None:
    found, planted = measured.found(plants.PARAPHRASED)
    assert planted == 80
    assert found / planted >= 0.6  # measured 64% (51/80): docs/contamination.md explains what is missed
    assert measured.recall["sentences_reordered"][0] >= 23  # reordered sentences keep their 13-grams
    assert measured.flagged_clean_rows == 0 and measured.wrong_document == 0  # precision 100%


def test_report_counts_rows_documents_exact_matches_and_examples(measured) -> None:
    report = measured.report
    by_task = {t.task: t for t in report.tasks}
    gsm8k = by_task["gsm8k"]
    assert gsm8k.documents == plants.GSM8K_ITEMS  # every planted item, nothing else
    variants_per_item = len(plants.VERBATIM + plants.REFORMATTED) + 3  # + paraphrases found of most items
    assert gsm8k.rows >= plants.GSM8K_ITEMS * (variants_per_item - 3)
    assert gsm8k.exact == plants.GSM8K_ITEMS  # the question on a line of its own is an exact match
    assert gsm8k.suite_task == "gsm8k" and gsm8k.domain == "math" and gsm8k.title == "GSM8K"
    assert 1 <= len(gsm8k.examples) <= 5 and len({e.document_id for e in gsm8k.examples}) == len(gsm8k.examples)
    assert gsm8k.examples[0].kind == "exact" and gsm8k.examples[0].row_text
    assert {t.suite_task for t in report.tasks} == {"gsm8k", "mmlu"}
    assert report.domains["math"] == plants.GSM8K_ITEMS
    assert report.summary().startswith("overlaps GSM8K test: 12 documents; MMLU (10 subjects) test:")
    assert report.rows_checked == 600 + sum(p for _f, p in measured.recall.values())
    assert report.tokens_checked > 50_000


def test_a_short_mmlu_question_is_found_only_as_an_exact_question(bench_index) -> None:
    question = "What is the value of p in 24 = 2p?"  # elementary_mathematics test:0, under 13 words with choices
    found = check_texts_detailed([f"Homework\n{question}\nA. p = 4\nB. p = 8", f"We know {question} and more."],
                                 bench_index)[1]
    assert [(o.row, o.task, o.document_id, o.kind) for o in found] == [
        (0, "mmlu_elementary_mathematics", "test:0", "exact")]  # inside a sentence it is not matched


def test_the_gsm8k_train_demo_datasets_pass_clean(bench_index, bench_root, tmp_path) -> None:
    for dataset in hub_data.math_datasets(bench_root):
        path = tmp_path / "demo.jsonl"
        path.write_bytes(dataset.body)
        progress: list[float] = []
        report = check_file(path, bench_index, progress=lambda f, _m, seen=progress: seen.append(f))
        assert not report.contaminated, report.summary()
        assert report.summary() == "no overlap with any benchmark test set"
        assert report.rows_checked == len(dataset.body.splitlines()) and progress[-1] == 1.0


def test_the_whole_gsm8k_train_split_passes_clean(bench_index, bench_root) -> None:
    rows = [line for line in (bench_root / "gsm8k/train.jsonl").read_text().splitlines() if line.strip()]
    report = check_texts(rows, bench_index)
    assert not report.contaminated, report.summary()


def test_an_unreadable_dataset_file_is_refused_as_an_upload_would_be(bench_index, tmp_path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"foo": "bar"}\n')
    with pytest.raises(DataErrors, match="could not recognise the format"):
        check_file(path, bench_index)


def test_record_texts_reads_every_format() -> None:
    assert record_texts({"prompt": "Q?", "completion": "A."}) == "Q?\n\nA."
    assert record_texts({"instruction": "Do", "input": "this", "output": "done"}) == "Do\n\nthis\n\ndone"
    chat = {"messages": [{"role": "user", "content": "hi"},
                         {"role": "assistant", "content": [{"type": "text", "text": "yo"}]}]}
    assert record_texts(chat) == "hi\n\nyo"
    assert record_texts({"conversations": [{"from": "human", "value": "x y"}], "id": "7"}) == "x y"
    assert record_texts({"text": "   "}) == ""
