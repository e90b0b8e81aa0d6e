"""MBPP scoring through ModelMate's sandbox."""

from modelmate.evaluation.sandbox import run_tests


def build_program(doc: dict, completion: str) -> tuple[str, str]:
    """The candidate program and its tests (setup code + the three asserts)."""
    tests = "\n".join([doc.get("test_setup_code") or "", *doc["test_list"]])
    return completion, tests


def process_results(doc: dict, results: list[str]) -> dict[str, float]:
    program, tests = build_program(doc, results[0])
    return {"pass@1": 1.0 if run_tests(program, tests).passed else 0.0}


def fewshot_docs(dataset):
    """The few-shot examples of the original MBPP prompt: task ids 2, 3 and 4 of the prompt split."""
    return dataset.filter(lambda doc: doc["task_id"] in (2, 3, 4))
