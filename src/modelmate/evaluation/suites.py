"""The benchmark suites: which lm-eval tasks measure which domain, and how each is reported.

One :class:`TaskSpec` is one unit of work for the runner (a task, or a group such as ``mmlu`` whose subjects are
its ``leaves``). Each leaf names the benchmark-data mirror dataset it reads (see :mod:`.mirror`). Metric values are
reported exactly as lm-eval computes them: accuracies and pass@1 on a 0-1 scale, BLEU and chrF on 0-100
(``MetricSpec.scale``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from modelmate.enums import Domain

TASKS_DIR = Path(__file__).parent / "tasks"

DOMAINS: tuple[str, ...] = tuple(d.value for d in Domain)  # in report order

MMLU_SUBJECTS = (
    "elementary_mathematics", "high_school_computer_science", "machine_learning",  # STEM
    "philosophy", "moral_scenarios",  # humanities
    "high_school_geography", "high_school_macroeconomics",  # social sciences
    "global_facts", "clinical_knowledge", "nutrition",  # other
)

# NTREX-128 language code (file name) -> (task suffix, English name used in the prompt)
NTREX_LANGUAGES = {
    "deu": ("deu", "German"), "fra": ("fra", "French"), "spa": ("spa", "Spanish"),
    "zho-CN": ("zho", "Chinese"), "jpn": ("jpn", "Japanese"), "rus": ("rus", "Russian"),
    "arb": ("arb", "Arabic"), "hin": ("hin", "Hindi"), "swa": ("swa", "Swahili"),
}


@dataclass(frozen=True)
class MetricSpec:
    name: str  # lm-eval metric name (results key "<name>,<filter>")
    filter: str = "none"
    primary: bool = False
    scale: float = 1.0  # the value's maximum: 1.0 for accuracies/pass@1, 100.0 for BLEU/chrF
    higher_is_better: bool = True


@dataclass(frozen=True)
class Leaf:
    task: str  # lm-eval task name
    dataset: str  # mirror dataset key (see mirror.DATASETS)
    config: str = "default"  # the dataset's sub-set (MMLU subject, NTREX language, ARC variant)
    config_file: str = ""  # YAML file under tasks/, relative


@dataclass(frozen=True)
class TaskSpec:
    name: str  # what the runner passes to lm-eval: a task or a group name
    domain: str
    title: str
    output_type: str  # multiple_choice | generate_until
    n_shot: int
    quick_size: int  # documents per leaf task in quick mode (a fixed, seeded sample)
    metrics: tuple[MetricSpec, ...]
    leaves: tuple[Leaf, ...]
    group_file: str | None = None  # the group's YAML (groups only)
    group_score: bool = False  # the group reports its own (size-weighted) score besides its leaves'
    requires_code_execution: bool = False
    hf_dataset: str = ""  # the Hugging Face dataset read when no mirror is configured
    description: str = ""

    @property
    def is_group(self) -> bool:
        return self.group_file is not None

    @property
    def primary_metric(self) -> MetricSpec:
        return next(m for m in self.metrics if m.primary)

    def config_files(self) -> list[Path]:
        files = [TASKS_DIR / leaf.config_file for leaf in self.leaves]
        if self.group_file:
            files.append(TASKS_DIR / self.group_file)
        return files


_ACC = MetricSpec("acc", primary=True)
_ACC_NORM = (MetricSpec("acc"), MetricSpec("acc_norm", primary=True))
_PASS1 = (MetricSpec("pass@1", primary=True),)
_MT = (MetricSpec("chrf", primary=True, scale=100.0), MetricSpec("bleu", scale=100.0))


SUITES: tuple[TaskSpec, ...] = (
    TaskSpec(
        "gsm8k", "math", "GSM8K", "generate_until", 5, 25,
        (MetricSpec("exact_match", "strict-match", primary=True), MetricSpec("exact_match", "flexible-extract")),
        (Leaf("gsm8k", "gsm8k", config_file="gsm8k/gsm8k.yaml"),),
        hf_dataset="openai/gsm8k (main)",
        description="Grade-school math word problems; exact match of the final number, 5-shot from train.",
    ),
    TaskSpec(
        "humaneval", "code", "HumanEval", "generate_until", 0, 20, _PASS1,
        (Leaf("humaneval", "humaneval", config_file="humaneval/humaneval.yaml"),),
        requires_code_execution=True, hf_dataset="openai/openai_humaneval",
        description="Complete a Python function from its docstring; pass@1 of the unit tests, run in the sandbox.",
    ),
    TaskSpec(
        "mbpp", "code", "MBPP", "generate_until", 3, 20, _PASS1,
        (Leaf("mbpp", "mbpp", config_file="mbpp/mbpp.yaml"),),
        requires_code_execution=True, hf_dataset="google-research-datasets/mbpp (full)",
        description="Write a Python function from a one-line task and its asserts; pass@1, run in the sandbox.",
    ),
    TaskSpec(
        "mmlu", "knowledge", "MMLU (10 subjects)", "multiple_choice", 5, 10, (_ACC,),
        tuple(Leaf(f"mmlu_{s}", "mmlu", s, f"mmlu/mmlu_{s}.yaml") for s in MMLU_SUBJECTS),
        group_file="mmlu/_mmlu.yaml", group_score=True, hf_dataset="cais/mmlu",
        description="Multiple-choice questions on 10 subjects; 5-shot from dev; the group score weights by size.",
    ),
    TaskSpec(
        "arc_easy", "reasoning", "ARC-Easy", "multiple_choice", 0, 50, _ACC_NORM,
        (Leaf("arc_easy", "arc", "ARC-Easy", "arc/arc_easy.yaml"),), hf_dataset="allenai/ai2_arc (ARC-Easy)",
        description="Grade-school science questions (easy set).",
    ),
    TaskSpec(
        "arc_challenge", "reasoning", "ARC-Challenge", "multiple_choice", 0, 50, _ACC_NORM,
        (Leaf("arc_challenge", "arc", "ARC-Challenge", "arc/arc_challenge.yaml"),),
        hf_dataset="allenai/ai2_arc (ARC-Challenge)",
        description="Grade-school science questions that simple retrieval and co-occurrence methods get wrong.",
    ),
    TaskSpec(
        "piqa", "reasoning", "PIQA", "multiple_choice", 0, 50, _ACC_NORM,
        (Leaf("piqa", "piqa", config_file="piqa/piqa.yaml"),), hf_dataset="baber/piqa",
        description="Physical commonsense: pick the better of two solutions to a goal.",
    ),
    TaskSpec(
        "boolq", "reading", "BoolQ", "multiple_choice", 0, 50, (_ACC,),
        (Leaf("boolq", "boolq", config_file="boolq/boolq.yaml"),), hf_dataset="aps/super_glue (boolq)",
        description="Yes/no questions about a Wikipedia passage.",
    ),
    TaskSpec(
        "truthfulqa_mc1", "truthfulness", "TruthfulQA MC1", "multiple_choice", 0, 50, (_ACC,),
        (Leaf("truthfulqa_mc1", "truthfulqa", config_file="truthfulqa/truthfulqa_mc1.yaml"),),
        hf_dataset="truthfulqa/truthful_qa (multiple_choice)",
        description="Pick the single best true answer among answers that mimic human misconceptions.",
    ),
    TaskSpec(
        "truthfulqa_mc2", "truthfulness", "TruthfulQA MC2", "multiple_choice", 0, 50, (_ACC,),
        (Leaf("truthfulqa_mc2", "truthfulqa", config_file="truthfulqa/truthfulqa_mc2.yaml"),),
        hf_dataset="truthfulqa/truthful_qa (multiple_choice)",
        description="Normalised probability mass the model puts on the true answers.",
    ),
    TaskSpec(
        "ntrex", "translation", "NTREX-128 English → 9 languages", "generate_until", 0, 10, _MT,
        tuple(Leaf(f"ntrex_eng_{suffix}", "ntrex", code, f"ntrex/ntrex_eng_{suffix}.yaml")
              for code, (suffix, _name) in NTREX_LANGUAGES.items()),
        group_file="ntrex/_ntrex.yaml", hf_dataset="MicrosoftTranslator/NTREX (GitHub, pinned commit)",
        description="News sentences translated from English; chrF and BLEU (sacrebleu) per language.",
    ),
)

_BY_NAME = {spec.name: spec for spec in SUITES}
_BY_LEAF = {leaf.task: spec for spec in SUITES for leaf in spec.leaves}


class UnknownTask(ValueError):
    pass


def get_spec(name: str) -> TaskSpec:
    """The spec of a task or group name; a leaf name (``mmlu_nutrition``) returns its group's spec."""
    spec = _BY_NAME.get(name) or _BY_LEAF.get(name)
    if spec is None:
        raise UnknownTask(f"unknown benchmark task {name!r}; known: {', '.join(sorted(_BY_NAME))}")
    return spec


def domain_of(task: str) -> str:
    return get_spec(task).domain


def leaf_spec(name: str) -> TaskSpec:
    """A single subtask of a group (``mmlu_nutrition``) as a spec of its own."""
    spec = get_spec(name)
    leaf = next(leaf for leaf in spec.leaves if leaf.task == name)
    return replace(spec, name=name, leaves=(leaf,), group_file=None, group_score=False)


def select(domains: list[str] | None = None, tasks: list[str] | None = None) -> list[TaskSpec]:
    """The specs for the given domains and/or task names (all suites when both are empty), in registry order.

    A subtask name (``mmlu_nutrition``) selects that subtask alone, unless its whole group is selected too."""
    if domains:
        unknown = sorted(set(domains) - set(DOMAINS))
        if unknown:
            raise UnknownTask(f"unknown domain(s) {', '.join(unknown)}; known: {', '.join(DOMAINS)}")
    names = set(tasks or [])
    for name in names:
        get_spec(name)  # unknown names fail here
    chosen: list[TaskSpec] = []
    for spec in SUITES:
        if (not domains and not tasks) or spec.domain in (domains or []) or spec.name in names:
            chosen.append(spec)
        elif spec.is_group:
            chosen += [leaf_spec(leaf.task) for leaf in spec.leaves if leaf.task in names]
    return chosen


def by_domain() -> dict[str, list[TaskSpec]]:
    return {d: [s for s in SUITES if s.domain == d] for d in DOMAINS}
