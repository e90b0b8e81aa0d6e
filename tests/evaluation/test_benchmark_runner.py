"""The runner on a real (tiny, random) Llama with real benchmark rows, and its failure semantics: a crash leaves
the finished tasks partial (RELIABILITY.md #35), disabled code execution skips code tasks (never scores 0)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import SimpleNamespace

import pytest
from lm_oracle import OracleLM

from bench_data import rows_in
from modelmate.evaluation import suites
from modelmate.evaluation.runner import (
    UnsafeModelError,
    _data_fingerprint,
    default_mode,
    fit_generation_budget,
    load_model,
    quick_indices,
    run_benchmarks,
)

DOCS = 2
SHORT = {"max_gen_toks": 16}


def _values(results: dict) -> dict[tuple[str, str], float]:
    return {(task, key): value for section in ("results", "groups")
            for task, metrics in results.get(section, {}).items()
            for key, value in metrics.items() if "," in key and isinstance(value, float)}


def test_a_quick_run_of_every_suite_on_the_tiny_model(tiny_lm, benchmark_dir: Path, eval_cache: Path) -> None:
    events: list[dict] = []
    run = run_benchmarks(tiny_lm, mode="quick", quick_size=DOCS, data_dir=benchmark_dir, cache_dir=eval_cache,
                         gen_kwargs=SHORT, on_progress=events.append)
    assert run.status == "final", run.errors
    assert run.data_source == f"mirror:{benchmark_dir.resolve()}"
    assert {r.task for r in run.rows} >= {s.name for s in suites.SUITES if not s.is_group or s.group_score}
    for row in run.rows:
        assert row.status == "final" and row.value is not None
        assert 0.0 <= row.value <= row.scale, row
        assert row.limit == DOCS and row.n_samples in (DOCS, DOCS * 10)
    code = [r for r in run.rows if r.domain == "code"]
    assert code and all(r.value in (0.0, 1.0) for r in code)  # scored by running the programs in the sandbox
    types = [e["type"] for e in events]
    assert types[0] == "started" and types[-1] == "finished"
    assert types.count("task_started") == types.count("task_finished") == len(suites.SUITES)
    # rows reported while the run is going are never final: a crash later must not leave "final" rows behind
    assert all(row["status"] == "partial" for e in events if e["type"] == "task_finished" for row in e["rows"])


def test_the_runner_scores_exactly_like_plain_simple_evaluate(tiny_lm, benchmark_dir: Path,
                                                              eval_cache: Path) -> None:
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    names = ["gsm8k", "arc_easy", "truthfulqa_mc2"]
    run = run_benchmarks(tiny_lm, tasks=names, quick_size=DOCS, data_dir=benchmark_dir, cache_dir=eval_cache,
                         gen_kwargs=SHORT)
    from modelmate.evaluation.mirror import prepare

    manager = TaskManager(include_path=str(prepare(suites.select(tasks=names), benchmark_dir,
                                                   eval_cache).include_path), include_defaults=False)
    plain = simple_evaluate(model=tiny_lm, tasks=names, task_manager=manager, samples=run.samples,
                            gen_kwargs=SHORT, log_samples=False)
    ours: dict = {}
    for raw in run.raw.values():
        ours.update(_values(raw))
    assert ours == _values(plain)
    assert len(ours) >= 6


def test_a_crash_halfway_leaves_the_finished_tasks_partial(benchmark_dir: Path, eval_cache: Path) -> None:
    class CrashingLM(OracleLM):
        def loglikelihood(self, requests):
            if requests and requests[0].task_name == "arc_easy":
                raise RuntimeError("CUDA error: device-side assert triggered")
            return super().loglikelihood(requests)

    events: list[dict] = []
    run = run_benchmarks(CrashingLM(), tasks=["gsm8k", "arc_easy", "boolq"], quick_size=DOCS,
                         data_dir=benchmark_dir, cache_dir=eval_cache, on_progress=events.append)
    assert run.status == "partial"
    assert set(run.errors) == {"arc_easy"} and "device-side assert" in run.errors["arc_easy"]
    by_task = {}
    for row in run.rows:
        by_task.setdefault(row.task, set()).add(row.status)
    assert by_task == {"gsm8k": {"partial"}, "arc_easy": {"failed"}, "boolq": {"partial"}}
    assert all(r.value is None for r in run.rows if r.task == "arc_easy")
    assert all(r.value == 1.0 for r in run.rows if r.task != "arc_easy")  # finished tasks keep their scores
    failed = next(e for e in events if e["type"] == "task_failed")
    assert failed["task"] == "arc_easy" and "Traceback" in failed["error"]["traceback"]
    assert "final" not in {r.status for r in run.rows}


def test_a_run_where_everything_crashes_is_failed(benchmark_dir: Path, eval_cache: Path) -> None:
    class BrokenLM(OracleLM):
        def loglikelihood(self, requests):
            raise MemoryError("out of memory")

    run = run_benchmarks(BrokenLM(), tasks=["boolq", "piqa"], quick_size=DOCS, data_dir=benchmark_dir,
                         cache_dir=eval_cache)
    assert run.status == "failed" and set(run.errors) == {"boolq", "piqa"}
    assert {r.status for r in run.rows} == {"failed"}


def test_disabled_code_execution_skips_code_tasks(benchmark_dir: Path, eval_cache: Path) -> None:
    lm = OracleLM()
    events: list[dict] = []
    run = run_benchmarks(lm, domains=["code", "reading"], quick_size=DOCS, data_dir=benchmark_dir,
                         cache_dir=eval_cache, code_execution_enabled=False, on_progress=events.append)
    assert run.status == "final"
    code = [r for r in run.rows if r.domain == "code"]
    assert {r.task for r in code} == {"humaneval", "mbpp"}
    for row in code:
        assert row.status == "skipped" and row.value is None and "disabled" in row.error  # never a silent 0
    assert [r.status for r in run.rows if r.task == "boolq"] == ["final"]
    assert {req.task_name for req in lm.requests} == {"boolq"}
    assert [e["task"] for e in events if e["type"] == "task_skipped"] == ["humaneval", "mbpp"]
    assert set(run.raw) == {"boolq"}


def test_humaneval_fits_a_model_whose_context_is_shorter_than_its_generation_budget(
        tiny_lm, benchmark_dir: Path, eval_cache: Path) -> None:
    """HumanEval asks for 1024 new tokens; the toy holds 512 in all. Without a lowered budget lm-eval refuses the
    task ("requested max tokens to generate ... must be less than model's maximum sequence length") and every
    automatic evaluation of a toy fine-tune would end partial."""
    assert tiny_lm.max_length == 512
    run = run_benchmarks(tiny_lm, tasks=["humaneval"], quick_size=1, data_dir=benchmark_dir, cache_dir=eval_cache)
    assert run.status == "final", run.errors
    assert [r.status for r in run.rows] == ["final"] and run.rows[0].value in (0.0, 1.0)
    assert run.raw["humaneval"]["config"]["gen_kwargs"] == {"max_gen_toks": 256}
    assert run.raw["humaneval"]["configs"]["humaneval"]["generation_kwargs"]["max_gen_toks"] == 256
    # the lowered budget is part of the task hash: such a score is never compared with a full-budget one
    big = run_benchmarks(OracleLM(), tasks=["humaneval"], quick_size=1, data_dir=benchmark_dir, cache_dir=eval_cache)
    assert big.status == "final" and big.raw["humaneval"]["config"]["gen_kwargs"] is None
    assert big.rows[0].task_hash != run.rows[0].task_hash


def test_the_generation_budget_is_lowered_only_when_it_does_not_fit() -> None:
    def task(output_type: str, max_gen_toks: int | None = None) -> SimpleNamespace:
        config = {"output_type": output_type,
                  "generation_kwargs": {} if max_gen_toks is None else {"max_gen_toks": max_gen_toks}}
        return SimpleNamespace(get_config=config.get)

    lm = SimpleNamespace(max_length=512, max_gen_toks=256)
    assert fit_generation_budget(lm, [task("generate_until", 1024)], None) == 256
    assert fit_generation_budget(lm, [task("generate_until", 512)], None) == 256
    assert fit_generation_budget(lm, [task("generate_until", 511)], None) is None
    assert fit_generation_budget(lm, [task("generate_until")], None) is None  # lm-eval's default of 256 fits
    assert fit_generation_budget(lm, [task("generate_until", 1024)], {"max_gen_toks": 16}) is None  # caller's wins
    assert fit_generation_budget(lm, [task("multiple_choice", 4096)], None) is None
    assert fit_generation_budget(SimpleNamespace(max_length=131072), [task("generate_until", 1024)], None) is None
    assert fit_generation_budget(object(), [task("generate_until", 1024)], None) is None  # no context to fit


def test_the_quick_sample_is_fixed_by_the_seed() -> None:
    assert default_mode("cpu") == "quick" and default_mode("cuda") == "full"
    assert quick_indices("gsm8k", 1319, 25) == quick_indices("gsm8k", 1319, 25)
    assert quick_indices("gsm8k", 1319, 25) != quick_indices("gsm8k", 1319, 25, seed=7)
    assert quick_indices("gsm8k", 1319, 25) != quick_indices("mbpp", 1319, 25)
    assert quick_indices("tiny", 3, 25) == [0, 1, 2]


def test_full_mode_has_no_limit(benchmark_dir: Path, eval_cache: Path) -> None:
    run = run_benchmarks(OracleLM(), tasks=["mmlu_global_facts"], mode="full", data_dir=benchmark_dir,
                         cache_dir=eval_cache)
    rows = [r for r in run.rows if r.task == "mmlu_global_facts"]
    n = rows_in(benchmark_dir / "mmlu/test/global_facts_test.csv")
    assert rows and all(r.limit is None and r.n_samples == n and r.value == 1.0 for r in rows)
    assert run.samples == {}


def test_chat_template_hash_is_recorded_when_applied(tiny_lm, benchmark_dir: Path, eval_cache: Path) -> None:
    run = run_benchmarks(tiny_lm, tasks=["boolq"], quick_size=DOCS, data_dir=benchmark_dir, cache_dir=eval_cache,
                         apply_chat_template=True)
    expected = hashlib.sha256(tiny_lm.tokenizer.chat_template.encode()).hexdigest()
    assert run.status == "final" and {r.chat_template_hash for r in run.rows} == {expected}


def test_task_hash_changes_with_the_sample_and_the_data(benchmark_dir: Path, eval_cache: Path) -> None:
    def hashes(**kwargs) -> str:
        run = run_benchmarks(OracleLM(), tasks=["boolq"], data_dir=benchmark_dir, cache_dir=eval_cache, **kwargs)
        return run.rows[0].task_hash

    assert hashes(quick_size=2) == hashes(quick_size=2)
    assert hashes(quick_size=2) != hashes(quick_size=3)
    assert hashes(quick_size=2) != hashes(quick_size=2, seed=99)


def test_models_load_from_safetensors_only(tiny_model: Path, tmp_path: Path, benchmark_dir: Path,
                                           eval_cache: Path) -> None:
    import shutil

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    pickled = tmp_path / "pickled"
    shutil.copytree(tiny_model, pickled)
    (pickled / "pytorch_model.bin").write_bytes(b"not really")
    with pytest.raises(UnsafeModelError, match="pickle"):
        load_model(pickled)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty/config.json").write_text("{}")
    with pytest.raises(UnsafeModelError, match="no .safetensors"):
        load_model(tmp_path / "empty")

    base = AutoModelForCausalLM.from_pretrained(tiny_model, use_safetensors=True)
    peft_model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.5)  # a trained-looking adapter (fresh LoRA B is zero: a no-op)
    adapter = tmp_path / "adapter"
    peft_model.save_pretrained(adapter)
    assert (adapter / "adapter_model.safetensors").is_file()
    lm = load_model(tiny_model, adapter)
    ids = torch.tensor([[5, 17, 42, 7]])
    with torch.no_grad():  # the adapter is merged into the weights: the same function as base + adapter
        assert torch.allclose(lm.model(ids).logits, peft_model(input_ids=ids).logits, atol=1e-4)
        assert not torch.allclose(lm.model(ids).logits, AutoModelForCausalLM.from_pretrained(
            tiny_model, use_safetensors=True)(ids).logits, atol=1e-3)
    run = run_benchmarks(lm, tasks=["piqa"], quick_size=DOCS, data_dir=benchmark_dir, cache_dir=eval_cache)
    assert run.status == "final" and len(run.rows) == 2
    (adapter / "adapter_model.bin").write_bytes(b"x")
    with pytest.raises(UnsafeModelError):
        load_model(tiny_model, adapter)


def test_in_memory_datasets_get_a_content_fingerprint() -> None:
    """Without a mirror, NTREX is built in memory (random datasets fingerprint): its task hash uses the content."""
    from datasets import Dataset, DatasetDict

    def task(rows: list[str]) -> SimpleNamespace:
        return SimpleNamespace(dataset=DatasetDict({"test": Dataset.from_dict({"source": rows})}))

    assert _data_fingerprint(task(["a", "b"])) == _data_fingerprint(task(["a", "b"]))
    assert _data_fingerprint(task(["a", "b"])) != _data_fingerprint(task(["a", "c"]))
