"""The evaluation engine (``MODELMATE_EVAL_BACKEND``): resolution (auto → hf on this CPU machine without vLLM, vllm
refused with the fix before anything loads, hf explicit), the arguments we give lm-eval's vLLM model (a pure
function: vLLM itself is not installed here), the engine named in the progress events, the rows and the evaluation
process's log, and ``quick_evaluate`` (what benchmarks/gpu_check.py calls)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import lm_eval
import pytest

from modelmate.enums import EvalBackend
from modelmate.evaluation import backends
from modelmate.evaluation.backends import BackendUnavailable, resolve_backend, vllm_model_args
from modelmate.evaluation.runner import backend_of, load_model, quick_evaluate, run_benchmarks

SRC = Path(__file__).resolve().parents[2] / "src"
VLLM_SOURCE = Path(lm_eval.__file__).parent / "models" / "vllm_causallms.py"


def test_auto_is_hf_on_this_machine_and_hf_is_always_hf():
    assert find_spec("vllm") is None  # the premise of this machine (no GPU, vllm not installable)
    assert resolve_backend("auto") == resolve_backend(None) == EvalBackend.HF
    assert resolve_backend("hf") == EvalBackend.HF
    assert resolve_backend("hf", installed=True, cuda=True) == EvalBackend.HF  # explicit hf even where vllm runs
    assert resolve_backend("auto", installed=True, cuda=True) == EvalBackend.VLLM
    assert resolve_backend("vllm", installed=True, cuda=True) == EvalBackend.VLLM
    assert resolve_backend("auto", installed=True, cuda=False) == EvalBackend.HF  # package but no GPU
    assert resolve_backend("auto", installed=False, cuda=True) == EvalBackend.HF  # GPU but no package


@pytest.mark.parametrize(("installed", "cuda", "reason"), [
    (None, None, "the vllm package is not installed"),  # this machine as it is
    (True, False, "no CUDA GPU is visible"),
    (False, True, "the vllm package is not installed"),
])
def test_vllm_where_it_cannot_run_is_refused_with_the_fix(installed, cuda, reason):
    with pytest.raises(BackendUnavailable) as info:
        resolve_backend("vllm", installed=installed, cuda=cuda)
    message = str(info.value)
    assert reason in message and "MODELMATE_EVAL_BACKEND=hf" in message
    with pytest.raises(BackendUnavailable, match="unknown evaluation backend 'tensorrt'"):
        resolve_backend("tensorrt")


def test_vllm_arguments_for_a_base_model(tmp_path):
    args = vllm_model_args(tmp_path / "base", dtype="bfloat16", seed=7, gpu_memory_utilization=0.5,
                           max_model_len=2048)
    assert args == {"pretrained": str(tmp_path / "base"), "tokenizer": str(tmp_path / "base"),
                    "trust_remote_code": False, "dtype": "bfloat16", "seed": 7, "gpu_memory_utilization": 0.5,
                    "max_model_len": 2048, "batch_size": "auto", "max_gen_toks": 256, "tensor_parallel_size": 1,
                    "data_parallel_size": 1}
    with pytest.raises(ValueError, match="dtype"):
        vllm_model_args(tmp_path, dtype="float64")
    with pytest.raises(ValueError, match="gpu_memory_utilization"):
        vllm_model_args(tmp_path, gpu_memory_utilization=1.5)
    with pytest.raises(ValueError, match="max_model_len"):
        vllm_model_args(tmp_path, max_model_len=1)


def _adapter(path: Path, **config) -> Path:
    """A real PEFT adapter config, as our trainer saves it (peft's own writer)."""
    from peft import LoraConfig

    LoraConfig(target_modules=["q_proj", "v_proj"], **config).save_pretrained(str(path))
    return path


@pytest.mark.parametrize(("config", "max_rank"), [
    ({"r": 8}, 8), ({"r": 16}, 16), ({"r": 24}, 32), ({"r": 64}, 64), ({"r": 300}, 320),
    ({"r": 8, "rank_pattern": {"q_proj": 100}}, 128),  # the largest rank of any module counts
])
def test_the_adapter_is_served_as_a_lora_with_a_rank_that_holds_it(tmp_path, config, max_rank):
    adapter = _adapter(tmp_path / "adapter", **config)
    args = vllm_model_args(tmp_path / "base", adapter)
    assert args["lora_local_path"] == str(adapter) and args["max_lora_rank"] == max_rank
    assert args["max_lora_rank"] in backends.VLLM_LORA_RANKS and args["max_lora_rank"] >= max(
        [config["r"], *config.get("rank_pattern", {}).values()])
    assert args["pretrained"] == str(tmp_path / "base")  # the adapter is not merged: the base weights load


def test_adapters_vllm_cannot_serve_are_refused_with_the_fix(tmp_path):
    with pytest.raises(BackendUnavailable, match="DoRA.*MODELMATE_EVAL_BACKEND=hf"):
        vllm_model_args(tmp_path, _adapter(tmp_path / "dora", r=8, use_dora=True))
    with pytest.raises(BackendUnavailable, match="rank 1024 is above vLLM's largest.*MODELMATE_EVAL_BACKEND=hf"):
        vllm_model_args(tmp_path, _adapter(tmp_path / "huge", r=1024))
    (tmp_path / "empty").mkdir()
    with pytest.raises(BackendUnavailable, match="no readable adapter_config.json"):
        vllm_model_args(tmp_path, tmp_path / "empty")


def test_every_argument_is_one_lm_evals_vllm_model_takes(tmp_path):
    """Read from the installed lm-eval's source (it imports vllm at the top, so it cannot be imported here): every
    key we pass is a named parameter of ``VLLM.__init__``, or goes through its ``**kwargs`` to ``vllm.LLM``."""
    tree = ast.parse(VLLM_SOURCE.read_text(encoding="utf-8"))
    (cls,) = [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == "VLLM"]
    (init,) = [n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"]
    named = {a.arg for a in init.args.args + init.args.kwonlyargs}
    assert init.args.kwarg is not None  # **kwargs → vllm.LLM(**model_args)
    to_llm = {"gpu_memory_utilization"}  # a vllm.LLM engine argument
    args = vllm_model_args(tmp_path / "base", _adapter(tmp_path / "adapter", r=8))
    assert set(args) - to_llm <= named, set(args) - to_llm - named
    assert {"lora_local_path", "max_lora_rank", "max_model_len", "seed", "dtype"} <= named


def test_loading_vllm_here_fails_before_anything_loads(tiny_model):
    with pytest.raises(BackendUnavailable, match="MODELMATE_EVAL_BACKEND=hf"):
        load_model(tiny_model, backend="vllm")
    with pytest.raises(ValueError, match="resolved backend"):
        load_model(tiny_model, backend="auto")


def test_the_engine_is_in_the_progress_events_the_rows_and_the_run(tiny_lm, benchmark_dir, eval_cache):
    assert backend_of(tiny_lm) == EvalBackend.HF
    events: list[dict] = []
    run = run_benchmarks(tiny_lm, tasks=["boolq"], quick_size=2, data_dir=benchmark_dir, cache_dir=eval_cache,
                         on_progress=events.append)
    assert events[0]["type"] == "started" and events[0]["backend"] == "hf"
    assert run.backend == "hf" and run.rows and {r.backend for r in run.rows} == {"hf"}
    assert run.to_dict()["backend"] == "hf" and run.to_dict()["rows"][0]["backend"] == "hf"


def _entry(tmp_path: Path, spec: dict) -> list[dict]:
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec))
    env = {**os.environ, "PYTHONPATH": str(SRC), "MODELMATE_PARENT_PID": str(os.getpid())}
    done = subprocess.run([sys.executable, "-m", "modelmate.evaluation.entry", str(spec_path)], env=env,
                          capture_output=True, text=True, timeout=600, check=True)
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def test_the_evaluation_process_refuses_vllm_before_any_work(tmp_path):
    """The model directory does not even exist: the engine is refused first, as a failed result (no crash)."""
    events = _entry(tmp_path, {"model": str(tmp_path / "no-model"), "cache_dir": str(tmp_path / "cache"),
                               "backend": "vllm", "domains": ["reading"]})
    result = events[-1]
    assert result["type"] == "result" and result["status"] == "failed"
    assert result["error"]["type"] == "BackendUnavailable"
    assert "MODELMATE_EVAL_BACKEND=hf" in result["error"]["message"]
    assert not [e for e in events if e["type"] == "log" and "loading" in e.get("message", "")]


def test_the_evaluation_process_logs_the_engine_and_records_it(tmp_path, tiny_model, benchmark_dir):
    events = _entry(tmp_path, {"model": str(tiny_model), "cache_dir": str(tmp_path / "cache"), "backend": "auto",
                               "tasks": ["boolq"], "quick_size": 2, "data_dir": str(benchmark_dir), "threads": 1})
    logs = [e["message"] for e in events if e["type"] == "log"]
    assert logs[0].startswith("evaluation backend: hf (MODELMATE_EVAL_BACKEND=auto; vllm not used: the vllm "
                              "package is not installed")
    assert [e["backend"] for e in events if e["type"] == "started"] == ["hf"]
    result = events[-1]
    assert result["status"] == "final" and result["backend"] == "hf"
    assert {row["backend"] for row in result["rows"]} == {"hf"}


def test_quick_evaluate_returns_scores_and_seconds(tiny_model, benchmark_dir, eval_cache):
    out = quick_evaluate(tiny_model, backend="auto", tasks=["boolq"], limit=2, data_dir=benchmark_dir,
                         cache_dir=eval_cache)
    assert out["backend"] == "hf" and out["status"] == "final" and out["errors"] == {}
    assert 0.0 <= out["scores"]["boolq"]["acc,none"] <= 1.0 and out["documents"]["boolq"] == 2
    assert out["seconds"] >= out["eval_seconds"] > 0 and out["load_seconds"] > 0
    with pytest.raises(BackendUnavailable, match="MODELMATE_EVAL_BACKEND=hf"):
        quick_evaluate(tiny_model, backend="vllm", tasks=["boolq"], limit=2, data_dir=benchmark_dir,
                       cache_dir=eval_cache)
