"""lm-eval LMs that know the answers (oracle → 100 %) or always avoid them (wrong → 0 %).

The gold answer of each request is read from the request's document with the benchmark's own fields (not through
the task config), so a config or converter that scores the wrong choice makes the oracle test fail.
"""

from __future__ import annotations

from lm_eval.api.instance import Instance
from lm_eval.api.model import LM

WRONG_LL = -100.0


def _choice_golds(task: str, doc: dict) -> set[str]:
    if task.startswith("mmlu_"):
        return {"ABCD"[doc["answer"]]}
    if task in ("arc_easy", "arc_challenge"):
        return {doc["choices"]["text"][doc["choices"]["label"].index(doc["answerKey"])]}
    if task == "piqa":
        return {(doc["sol1"], doc["sol2"])[doc["label"]]}
    if task == "boolq":
        return {("no", "yes")[doc["label"]]}
    if task == "truthfulqa_mc1":
        return {c for c, lab in zip(doc["mc1_targets"]["choices"], doc["mc1_targets"]["labels"], strict=True) if lab}
    if task == "truthfulqa_mc2":
        return {c for c, lab in zip(doc["mc2_targets"]["choices"], doc["mc2_targets"]["labels"], strict=True) if lab}
    raise KeyError(f"no multiple-choice gold for {task}")


def _generation_gold(task: str, doc: dict) -> str:
    if task == "gsm8k":
        return doc["answer"]  # the worked solution, ending in "#### <number>"
    if task == "humaneval":
        return doc["canonical_solution"]
    if task == "mbpp":
        return doc["code"]
    if task.startswith("ntrex_"):
        return doc["target"]
    raise KeyError(f"no generation gold for {task}")


def _wrong_generation(task: str) -> str:
    if task == "gsm8k":
        return "I do not know. #### -987654321"
    if task == "humaneval":
        return "    raise NotImplementedError\n"
    return ""


class OracleLM(LM):
    """Scores 100 %: the gold continuation gets log-likelihood 0, every other one -100; generates the gold."""

    wrong = False

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[Instance] = []

    def loglikelihood(self, requests: list[Instance]) -> list[tuple[float, bool]]:
        out = []
        for req in requests:
            self.requests.append(req)
            continuation = req.args[1].strip()
            is_gold = continuation in {g.strip() for g in _choice_golds(req.task_name, req.doc)}
            good = is_gold != self.wrong
            out.append((0.0, True) if good else (WRONG_LL, False))
        return out

    def generate_until(self, requests: list[Instance]) -> list[str]:
        self.requests.extend(requests)
        if self.wrong:
            return [_wrong_generation(req.task_name) for req in requests]
        return [_generation_gold(req.task_name, req.doc) for req in requests]

    def loglikelihood_rolling(self, requests: list[Instance]) -> list[float]:
        raise NotImplementedError("no benchmark here scores rolling log-likelihoods")


class WrongLM(OracleLM):
    """Scores 0 %: every gold continuation gets -100, every other one 0; generates wrong answers."""

    wrong = True
