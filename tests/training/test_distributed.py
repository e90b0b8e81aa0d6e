"""Multi-worker training with Ray Train, for real: two gloo ranks on a local Ray cluster started by this module,
against one worker with the same global batch (``batch_size * gradient_accumulation_steps`` examples per step).

Tolerances (both runs have dropout 0, so nothing random differs between them):

- **Loss per step: rtol 1e-4.** The step loss is a float32 sum of per-token cross-entropies divided by the step's
  labelled tokens. Two workers add the same terms in another grouping (each rank's shard, then the all-reduce), and
  their matmuls see other batch shapes. A sum of T terms in any order is within (T - 1) * u of the exact value
  (u = 2**-24 ≈ 6e-8), i.e. ≤ 1.5e-5 for the ≤ 250 labelled tokens of a step here (asserted below); the two
  levels of grouping and the matmul blocking at most double that, and the curve rounds losses to 6 decimals
  (≤ 2e-7 relative at a loss of ~6). 1e-4 is twice that worst case, ~500× the measured difference (2e-7), and 10×
  below how much the loss moves from one step to the next here (1e-3), so a step computed on other data, or a loss
  averaged per rank instead of per token, does not pass.
- **Adapter tensors: atol 1e-6.** Both start from the same seeded adapter; AdamW moves an element by at most about
  the learning rate per step, so in 5 steps at lr 1e-3 an element moves ≤ 5e-3. Gradients that agree to float32
  noise (relative ~1e-6) give moves that agree to ~1e-9 per step; 1e-6 is 1/5000 of the possible movement and ~30×
  the measured difference (3.7e-8). The test also checks that the adapter did move (its LoRA B matrices start at
  zero), so the comparison is not trivially true.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from modelmate.training import checkpoints
from modelmate.training.data import canonical_bytes
from modelmate.training.distributed import run_distributed
from modelmate.training.entry import build_job
from modelmate.training.trainer import train

pytestmark = pytest.mark.process

LOSS_RTOL = 1e-4
ADAPTER_ATOL = 1e-6
WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda"]
CURVE_SAME = ("step", "tokens", "lr")  # identical integers / schedule values


@pytest.fixture(scope="module")
def ray_address() -> str:
    """A local two-CPU Ray cluster for this module (own processes, shut down at the end)."""
    import ray

    previous = signal.getsignal(signal.SIGTERM)
    environment = {k: v for k, v in os.environ.items() if k.startswith("RAY_")}
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    signal.signal(signal.SIGTERM, previous)  # ray.init installs its own
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()
        for key in [k for k in os.environ if k.startswith("RAY_") and k not in environment]:
            del os.environ[key]  # ray.init sets RAY_AUTH_MODE and others for this process: later tests get none
        os.environ.update(environment)


def _spec(tmp_path: Path, tiny_dir: Path, name: str, **config) -> Path:
    records = [{"text": " ".join(WORDS[(i + j) % len(WORDS)] for j in range(3 + i % 17))} for i in range(48)]
    data = tmp_path / "data.jsonl"
    data.write_bytes(canonical_bytes(records))
    values = {"max_steps": 5, "batch_size": 4, "gradient_accumulation_steps": 2, "max_seq_length": 32,
              "learning_rate": 1e-3, "dropout": 0.0, "save_steps": 2, "eval_steps": 2, "seed": 1}
    values.update(config)
    spec = {"config": values, "base_model": str(tiny_dir), "dataset_path": str(data), "eval_split": 0.15, "seed": 1,
            "output_dir": str(tmp_path / name / "adapter"), "checkpoint_dir": str(tmp_path / name / "checkpoints"),
            "target_modules": ["q_proj", "v_proj"], "threads": 1,
            "model_card": {"name": name, "base_model": "tiny", "datasets": ["d1"], "license": "mit", "toy": True}}
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(spec))
    return path


def _start(spec: Path, **env: str) -> subprocess.Popen:
    # not RAY_AUTH_MODE: ray.init set it in this process, a real launcher's environment does not have it
    clean = {k: v for k, v in os.environ.items() if k not in ("RAY_AUTH_MODE", "RAY_ADDRESS")}
    return subprocess.Popen([sys.executable, "-m", "modelmate.training.entry", str(spec)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**clean, "PYTHONUNBUFFERED": "1", **env})


def _events(proc: subprocess.Popen) -> list[dict]:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-4000:]
    events = [json.loads(line) for line in out.splitlines()]  # stdout carries nothing but JSON events
    assert events[-1]["type"] == "result" and events[-1]["outcome"] == "success", (events[-1]["message"], err[-4000:])
    return events


def _assert_same_curve(one: list[dict], two: list[dict]) -> None:
    assert [[row[k] for k in CURVE_SAME] for row in two] == [[row[k] for k in CURVE_SAME] for row in one]
    for a, b in zip(one, two, strict=True):
        assert b["loss"] == pytest.approx(a["loss"], rel=LOSS_RTOL), (a, b)
        assert b["grad_norm"] == pytest.approx(a["grad_norm"], rel=1e-3), (a, b)
        assert (a["eval_loss"] is None) == (b["eval_loss"] is None)
        if a["eval_loss"] is not None:
            assert b["eval_loss"] == pytest.approx(a["eval_loss"], rel=LOSS_RTOL), (a, b)


@pytest.mark.slow  # a Ray Train run: ~20-35 s on 2 cores
def test_two_workers_train_like_one_with_the_same_events(tmp_path, tiny_dir, ray_address):
    """The entry with workers=2 on an existing cluster (RAY_ADDRESS) vs workers=1: same steps, losses, adapter."""
    two_proc = _start(_spec(tmp_path, tiny_dir, "two", workers=2), RAY_ADDRESS=ray_address)
    one_proc = _start(_spec(tmp_path, tiny_dir, "one"))
    one, two = _events(one_proc), _events(two_proc)

    # the protocol: the same events in the same order with the same fields; the launcher only adds log lines
    def protocol(events: list[dict]) -> list[tuple]:
        return [(e["type"], e.get("step"), tuple(sorted(e))) for e in events if e["type"] != "log"]

    assert protocol(two) == protocol(one)
    assert any(e["type"] == "log" and "2 Ray Train workers" in e["message"] for e in two)
    started = [next(e for e in events if e["type"] == "started") for events in (one, two)]
    assert {k: v for k, v in started[1].items() if k != "environment"} == {
        k: v for k, v in started[0].items() if k != "environment"}
    assert started[1]["environment"]["workers"] == 2 and "workers" not in started[0]["environment"]

    result_one, result_two = one[-1], two[-1]
    assert (result_one["steps"], result_one["total_steps"]) == (5, 5)
    assert [result_two[k] for k in ("steps", "total_steps", "train_tokens")] == [
        result_one[k] for k in ("steps", "total_steps", "train_tokens")]
    tokens = [0] + [row["tokens"] for row in result_one["curve"]]
    assert max(b - a for a, b in zip(tokens, tokens[1:], strict=False)) <= 250  # what the loss tolerance assumes
    _assert_same_curve(result_one["curve"], result_two["curve"])
    assert result_two["final_eval_loss"] == pytest.approx(result_one["final_eval_loss"], rel=LOSS_RTOL)

    a = load_file(str(tmp_path / "one" / "adapter" / "adapter_model.safetensors"))
    b = load_file(str(tmp_path / "two" / "adapter" / "adapter_model.safetensors"))
    assert a.keys() == b.keys() and len(a) == 8  # q and v, A and B, 2 layers
    for name in a:
        torch.testing.assert_close(b[name], a[name], atol=ADAPTER_ATOL, rtol=0, msg=name)
    moved = max(a[name].abs().max().item() for name in a if "lora_B" in name)
    assert moved > 1000 * ADAPTER_ATOL
    assert sorted(result_two["artifacts"]) == sorted(result_one["artifacts"])
    # ModelMate's checkpoints only (Ray Train's storage is a temporary directory elsewhere)
    assert sorted(p.name for p in (tmp_path / "two" / "checkpoints").iterdir()) == ["step-000004", "step-000005"]


@pytest.mark.slow  # a Ray Train run: ~20-35 s on 2 cores
def test_a_stopped_two_worker_run_resumes_with_one_worker(tmp_path, tiny_dir, ray_address, monkeypatch):
    """run_distributed in this process (already connected to the cluster): a stop after step 2 ends both ranks at the
    same step with a checkpoint and the adapter; one worker then finishes the run as if it had never stopped
    (padded batches of 3, so the two ranks' shards differ in size)."""
    config = {"max_steps": 40, "batch_size": 3, "gradient_accumulation_steps": 1, "packing": False,
              "save_steps": 100, "eval_steps": 100, "logging_steps": 1}
    stopped = build_job(json.loads(_spec(tmp_path, tiny_dir, "stopped", workers=2, **config).read_text()))
    reference = build_job(json.loads(_spec(tmp_path, tiny_dir, "reference", **config).read_text()))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where Ray Train's storage goes
    events: list[dict] = []

    def stop_after_step_2() -> bool:
        return any(e["type"] == "step" and e["step"] >= 2 for e in events)

    partial = run_distributed(stopped, workers=2, on_event=events.append, should_stop=stop_after_step_2,
                              resume=False, threads=1)
    assert (partial.outcome, partial.failure_category) == ("partial", "cancelled"), partial.message
    assert 2 <= partial.steps < 40 and partial.environment["workers"] == 2
    last = [e for e in events if e["type"] != "log"][-1]
    assert (last["type"], last["step"]) == ("checkpoint", partial.steps)
    assert checkpoints.latest_checkpoint(stopped.checkpoint_dir).step == partial.steps
    assert (stopped.output_dir / "adapter_model.safetensors").is_file()
    assert list(scratch.iterdir()) == []  # Ray Train's storage was removed

    resumed = train(stopped, on_event=lambda e: None, resume=True)  # the worker count is not part of the identity
    assert resumed.outcome == "success" and resumed.resumed_from_step == partial.steps, resumed.message
    expected = train(reference, on_event=lambda e: None, resume=False)
    _assert_same_curve(expected.curve, resumed.curve)


def test_without_ray_a_multi_worker_run_is_a_clear_failure(tmp_path, tiny_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # what an install without the `cluster` extra looks like
    job = build_job(json.loads(_spec(tmp_path, tiny_dir, "noray", workers=2).read_text()))
    events: list[dict] = []
    result = run_distributed(job, workers=2, on_event=events.append)
    assert (result.outcome, result.failure_category) == ("failure", "crashed")
    assert "Ray is not installed" in result.message and "modelmate[cluster]" in result.message
    assert "set workers to 1" in result.message and result.error["type"] == "ModuleNotFoundError"
    assert events == [] and not (tmp_path / "noray").exists()


def test_the_ray_address_in_a_spec_must_be_text(tmp_path, tiny_dir):
    spec = json.loads(_spec(tmp_path, tiny_dir, "bad").read_text())
    with pytest.raises(ValueError, match="ray_address"):
        build_job({**spec, "ray_address": 6379})
    assert build_job({**spec, "ray_address": "127.0.0.1:6379"}).config.workers == 1


def test_the_run_reports_worker_0_else_the_failing_worker_else_ray_error(tmp_path, tiny_dir):
    """Which result the caller gets when the workers end differently (two real ranks agreeing are tested above)."""
    from modelmate.training.distributed import WorkerFailed, _final_result

    job = build_job(json.loads(_spec(tmp_path, tiny_dir, "results", workers=2).read_text()))
    base = {"error": None, "steps": 3, "total_steps": 5, "final_loss": 6.2, "final_eval_loss": None,
            "train_tokens": 700, "tokens_per_second": 1e3, "seconds": 1.0, "peak_memory_bytes": None,
            "environment": {"workers": 2}}
    ok = {**base, "outcome": "success", "failure_category": None, "message": "Trained 5 steps."}
    oom = {**base, "outcome": "failure", "failure_category": "out_of_memory", "message": "Ran out of memory."}
    assert _final_result(job, 0.0, 2, {0: ok, 1: oom}, None).message == "Trained 5 steps."
    failed = _final_result(job, 0.0, 2, {1: oom}, WorkerFailed("worker 1: out_of_memory"))
    assert (failed.outcome, failed.failure_category, failed.steps) == ("failure", "out_of_memory", 3)
    assert failed.message == "Worker 1 of 2: Ran out of memory."
    lost = _final_result(job, 0.0, 2, {}, RuntimeError("the actor died unexpectedly"))
    assert (lost.outcome, lost.failure_category) == ("failure", "crashed")
    assert "the actor died unexpectedly" in lost.message and lost.error["type"] == "RuntimeError"
