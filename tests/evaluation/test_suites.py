"""The suite registry and the shipped lm-eval task configs."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from modelmate.evaluation import suites
from modelmate.evaluation.mirror import DATASETS, load_config

REPO = Path(__file__).resolve().parents[2]


def test_every_domain_has_a_suite_and_every_suite_one_primary_metric() -> None:
    grouped = suites.by_domain()
    assert set(grouped) == set(suites.DOMAINS)
    assert all(grouped[d] for d in suites.DOMAINS)
    for spec in suites.SUITES:
        assert sum(m.primary for m in spec.metrics) == 1, spec.name
        assert spec.quick_size > 0 and spec.n_shot >= 0
        assert spec.leaves
        for leaf in spec.leaves:
            assert leaf.dataset in DATASETS
            assert (suites.TASKS_DIR / leaf.config_file).is_file(), leaf.config_file


def test_the_issue_benchmarks_are_all_there() -> None:
    names = {s.name for s in suites.SUITES}
    assert {"gsm8k", "humaneval", "mbpp", "mmlu", "arc_easy", "arc_challenge", "piqa", "boolq", "truthfulqa_mc1",
            "truthfulqa_mc2", "ntrex"} <= names
    assert len(suites.get_spec("mmlu").leaves) == 10
    ntrex = suites.get_spec("ntrex")
    assert {m.name for m in ntrex.metrics} == {"chrf", "bleu"} and all(m.scale == 100.0 for m in ntrex.metrics)
    gsm8k = suites.get_spec("gsm8k")
    assert {(m.name, m.filter) for m in gsm8k.metrics} == {("exact_match", "strict-match"),
                                                           ("exact_match", "flexible-extract")}
    assert {s.name for s in suites.SUITES if s.requires_code_execution} == {"humaneval", "mbpp"}


def test_select_by_domain_and_task() -> None:
    assert [s.name for s in suites.select(domains=["reasoning"])] == ["arc_easy", "arc_challenge", "piqa"]
    assert [s.name for s in suites.select(tasks=["boolq", "gsm8k"])] == ["gsm8k", "boolq"]
    assert suites.get_spec("mmlu_nutrition").name == "mmlu"
    alone = suites.select(tasks=["mmlu_nutrition", "boolq"])
    assert [s.name for s in alone] == ["mmlu_nutrition", "boolq"]
    assert alone[0].domain == "knowledge" and not alone[0].is_group and len(alone[0].leaves) == 1
    assert [s.name for s in suites.select(tasks=["mmlu", "mmlu_nutrition"])] == ["mmlu"]
    assert len(suites.select()) == len(suites.SUITES)
    with pytest.raises(suites.UnknownTask):
        suites.select(domains=["astrology"])
    with pytest.raises(suites.UnknownTask):
        suites.get_spec("hellaswag")


def test_configs_match_the_registry() -> None:
    for spec in suites.SUITES:
        for leaf in spec.leaves:
            cfg = load_config(suites.TASKS_DIR / leaf.config_file)
            assert cfg["task"] == leaf.task
            assert cfg["output_type"] == spec.output_type, leaf.task
            assert cfg.get("num_fewshot", 0) == spec.n_shot, leaf.task
            metrics = {m["metric"] for m in cfg["metric_list"]}
            assert {m.name for m in spec.metrics} <= metrics, leaf.task
            assert ("unsafe_code" in cfg) == spec.requires_code_execution


def test_lm_eval_indexes_the_shipped_configs() -> None:
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_path=str(suites.TASKS_DIR), include_defaults=False)
    leaves = {leaf.task for spec in suites.SUITES for leaf in spec.leaves}
    assert leaves <= set(manager.all_subtasks)
    assert {"mmlu", "ntrex"} <= set(manager.all_groups)


def test_the_wheel_ships_the_task_configs() -> None:
    data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["modelmate"]
    assert "evaluation/tasks/**/*.yaml" in data and "evaluation/tasks/**/*.py" in data
    assert all(p.suffix in (".yaml", ".py", ".md") for p in suites.TASKS_DIR.rglob("*") if p.is_file()
               and "__pycache__" not in p.parts)
