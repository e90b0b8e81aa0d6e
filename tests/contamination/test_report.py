from modelmate.contamination.report import ContaminationReport, OverlapExample, TaskOverlap


def _report(documents: int) -> ContaminationReport:
    example = OverlapExample(row=3, row_text="Natalia sold clips", document_id="test:0",
                             document_text="Natalia sold clips to 48 of her friends", kind="ngram", shared_ngrams=9)
    tasks = (
        TaskOverlap(task="gsm8k", suite_task="gsm8k", domain="math", title="GSM8K", rows=2, documents=documents,
                    total_documents=1319, exact=1, examples=(example,)),
        TaskOverlap(task="mmlu_nutrition", suite_task="mmlu", domain="knowledge", title="MMLU", rows=1, documents=1,
                    total_documents=306, exact=0),
        TaskOverlap(task="mmlu_global_facts", suite_task="mmlu", domain="knowledge", title="MMLU", rows=1,
                    documents=3, total_documents=100, exact=3),
    )
    return ContaminationReport(index_version="v1-abc", n=13, rows_checked=100, tokens_checked=5000, seconds=0.5,
                               tasks=tasks)


def test_round_trips_through_json() -> None:
    report = _report(37)
    assert ContaminationReport.from_json(report.to_json()) == report
    assert report.to_json()["version"] == 1


def test_summary_and_domains_add_up_per_benchmark() -> None:
    report = _report(37)
    assert report.contaminated
    assert report.domains == {"math": 37, "knowledge": 4}
    assert report.summary() == "overlaps GSM8K test: 37 documents; MMLU test: 4 documents"
    assert report.tasks[0].fraction == 37 / 1319


def test_a_clean_report_says_so() -> None:
    clean = ContaminationReport(index_version="v1", n=13, rows_checked=10, tokens_checked=100, seconds=0.1)
    assert not clean.contaminated and clean.domains == {}
    assert clean.summary() == "no overlap with any benchmark test set"
