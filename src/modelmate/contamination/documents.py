"""The test documents of every leaf task of the suites, as the text a model would memorise.

The rows come from :mod:`modelmate.evaluation.mirror`'s converters (the same rows lm-eval scores), from the split
each leaf scores: its YAML's ``test_split``, else its ``validation_split``. Per task the document text is:

==============  ===============================================================================================
GSM8K           question + reference solution (calculator annotations are dropped by the normalisation)
MMLU            question + the four choices
ARC             question + the choices
PIQA            goal + both solutions
BoolQ           passage + question
TruthfulQA      question + the answer choices of the task (MC1: best + incorrect; MC2: all)
HumanEval       prompt (signature + docstring) + canonical solution
MBPP            task text + reference code
NTREX           the English source sentence + the reference translation of the task's language
==============  ===============================================================================================

The other splits of the same datasets (GSM8K train, MMLU dev, ARC dev, MBPP's prompt/validation/train splits) are
the benchmarks' own training and few-shot material: :func:`benchmark_documents` returns their texts too, and the
index leaves out every n-gram that also occurs in them (training on GSM8K train is what GSM8K intends, so an n-gram
a test item shares with the train split is not evidence that the test item leaked).

``question`` is what the exact match compares a dataset segment with: the question / goal / prompt / task text /
English source.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelmate.evaluation import mirror
from modelmate.evaluation.suites import SUITES, TASKS_DIR, Leaf, TaskSpec

DOCUMENTS_VERSION = "1"  # bump when a document's text changes (part of the index version)


@dataclass(frozen=True)
class BenchDocument:
    task: str  # leaf task
    id: str  # "<split>:<row number>"
    text: str
    question: str


@dataclass(frozen=True)
class TaskInfo:
    task: str
    suite_task: str
    domain: str
    title: str
    split: str


def scored_split(leaf: Leaf) -> str:
    cfg = mirror.load_config(TASKS_DIR / leaf.config_file)
    split = cfg.get("test_split") or cfg.get("validation_split")
    if not split:
        raise mirror.MirrorError(f"{leaf.task}: its task config names no test or validation split")
    return str(split)


def _lines(*parts: Any) -> str:
    return "\n".join(str(p) for p in parts if p is not None and str(p).strip())


def _gsm8k(r: dict, _leaf: Leaf) -> tuple[str, str]:
    return _lines(r["question"], r["answer"]), r["question"]


def _mmlu(r: dict, _leaf: Leaf) -> tuple[str, str]:
    return _lines(r["question"], *r["choices"]), r["question"]


def _arc(r: dict, _leaf: Leaf) -> tuple[str, str]:
    return _lines(r["question"], *r["choices"]["text"]), r["question"]


def _piqa(r: dict, _leaf: Leaf) -> tuple[str, str]:
    return _lines(r["goal"], r["sol1"], r["sol2"]), r["goal"]


def _boolq(r: dict, _leaf: Leaf) -> tuple[str, str]:
    return _lines(r["passage"], r["question"]), r["question"]


def _truthfulqa(r: dict, leaf: Leaf) -> tuple[str, str]:
    key = "mc1_targets" if leaf.task.endswith("mc1") else "mc2_targets"
    return _lines(r["question"], *r[key]["choices"]), r["question"]


def _humaneval(r: dict, _leaf: Leaf) -> tuple[str, str]:
    return r["prompt"] + r["canonical_solution"], r["prompt"]


def _mbpp(r: dict, _leaf: Leaf) -> tuple[str, str]:
    return _lines(r["text"], r["code"]), r["text"]


def _ntrex(r: dict, _leaf: Leaf) -> tuple[str, str]:
    return _lines(r["source"], r["target"]), r["source"]


_TEXT: dict[str, Callable[[dict, Leaf], tuple[str, str]]] = {
    "gsm8k": _gsm8k, "mmlu": _mmlu, "arc": _arc, "piqa": _piqa, "boolq": _boolq, "truthfulqa": _truthfulqa,
    "humaneval": _humaneval, "mbpp": _mbpp, "ntrex": _ntrex,
}


def leaves(specs: tuple[TaskSpec, ...] = SUITES) -> Iterator[tuple[TaskSpec, Leaf]]:
    for spec in specs:
        for leaf in spec.leaves:
            yield spec, leaf


def task_infos() -> list[TaskInfo]:
    return [TaskInfo(leaf.task, spec.name, spec.domain, spec.title, scored_split(leaf)) for spec, leaf in leaves()]


def benchmark_documents(root: Path, progress: Callable[[float, str], None] | None = None
                        ) -> Iterator[tuple[TaskInfo, list[BenchDocument], list[str]]]:
    """Per leaf task (in suite order), its test documents and the texts of its dataset's other splits (train, dev),
    read from the mirror at ``root``."""
    converted: dict[str, mirror.Converted] = {}
    pairs = list(leaves())
    for i, (spec, leaf) in enumerate(pairs):
        if leaf.dataset not in converted:
            if progress:
                progress(i / len(pairs), f"reading {leaf.dataset} from the benchmark mirror")
            converted[leaf.dataset] = mirror.DATASETS[leaf.dataset].convert(root)
        split = scored_split(leaf)
        rows = converted[leaf.dataset].get(leaf.config, {}).get(split)
        if rows is None:
            raise mirror.MirrorError(f"{leaf.task}: the {leaf.dataset} mirror has no {leaf.config}/{split} split")
        make = _TEXT[leaf.dataset]
        other = [make(row, leaf)[0] for name, split_rows in converted[leaf.dataset][leaf.config].items()
                 if name != split for row in split_rows]
        docs = []
        for number, row in enumerate(rows):
            text, question = make(row, leaf)
            docs.append(BenchDocument(leaf.task, f"{split}:{number}", text, question))
        yield TaskInfo(leaf.task, spec.name, spec.domain, spec.title, split), docs, other
