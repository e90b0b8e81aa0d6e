"""HumanEval scoring through ModelMate's sandbox (lm-eval's built-in task needs the Hub's `code_eval`)."""

from modelmate.evaluation.sandbox import run_tests


def build_program(doc: dict, completion: str) -> tuple[str, str]:
    """The candidate program (prompt + completion) and its test code."""
    return doc["prompt"] + completion, f"{doc['test']}\ncheck({doc['entry_point']})"


def process_results(doc: dict, results: list[str]) -> dict[str, float]:
    program, tests = build_program(doc, results[0])
    return {"pass@1": 1.0 if run_tests(program, tests).passed else 0.0}
