"""Forks in the pure trainer: a run with ``init_adapter`` starts from its parent's trained LoRA weights (not a fresh
adapter), resumes only on the same starting weights, and leaves a standalone adapter that loads on the base alone.
Real tiny Llama (hidden 64, 2 layers, vocab 512), real PEFT, no mocks."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest
import torch
from peft import PeftModel
from safetensors.torch import load_file

from modelmate.training import checkpoints
from modelmate.training.config import resolve_config
from modelmate.training.loop import Run
from modelmate.training.tiny import load_base_model
from modelmate.training.trainer import TrainJob, train

WORDS = ["red", "green", "blue", "fox", "jumps", "over", "lazy", "dog", "and", "cat", "runs", "home"]


class Killed(BaseException):
    """Stands in for SIGKILL: not an Exception, so train() does not turn it into a result."""


def _records(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    return [{"text": " ".join(rng.choices(WORDS, k=rng.randint(6, 20)))} for _ in range(n)]


def _job(tiny_dir: Path, tmp_path: Path, name: str, *, init_adapter: Path | None = None, **overrides) -> TrainJob:
    values = {"max_steps": 10, "batch_size": 2, "max_seq_length": 48, "learning_rate": 5e-3, "logging_steps": 1,
              "warmup_ratio": 0.0, "eval_steps": 5, "save_steps": 2, "seed": 3, "dropout": 0.0}
    values.update(overrides)
    records = _records(36)
    return TrainJob(config=resolve_config(None, values), base_model=str(tiny_dir), train_records=records[:30],
                    eval_records=records[30:], output_dir=tmp_path / name / "adapter",
                    checkpoint_dir=tmp_path / name / "checkpoints", target_modules=["q_proj", "v_proj"],
                    model_card={"name": name, "base_model": "tiny", "toy": True}, init_adapter=init_adapter)


def _train(job: TrainJob, **kwargs):
    events: list[dict] = []
    return train(job, on_event=events.append, **kwargs), events


@pytest.fixture(scope="module")
def parent(tiny_dir, tmp_path_factory):
    """A trained parent adapter (the fork's starting point) and its result."""
    tmp = tmp_path_factory.mktemp("parent")
    job = _job(tiny_dir, tmp, "parent")
    result, _ = _train(job, resume=False)
    assert result.outcome == "success", result.message
    return job, result


def _adapter_tensors(run: Run) -> dict[str, torch.Tensor]:
    """The run's trainable tensors under the names PEFT saves them with (adapter name dropped)."""
    return {name.replace(".default.", "."): t for name, t in checkpoints.trainable_state(run.model).items()}


def test_fork_starts_from_the_parents_weights(tiny_dir, tmp_path, parent):
    parent_job, parent_result = parent
    saved = load_file(str(parent_job.output_dir / "adapter_model.safetensors"))

    fork = Run(_job(tiny_dir, tmp_path, "fork", init_adapter=parent_job.output_dir), on_event=lambda e: None,
               should_stop=lambda: False)
    fork.setup(resume=False)
    at_start = _adapter_tensors(fork)
    assert set(at_start) == set(saved) and saved
    for name, tensor in saved.items():  # step 0 of the fork IS the parent's adapter, trainable
        assert torch.equal(at_start[name], tensor), name
    assert all(p.requires_grad for p in fork.params) and fork.trainable_parameters == sum(
        t.numel() for t in saved.values())
    # same held-out records: the fork's loss before any step is the parent's final held-out loss
    assert fork.evaluate() == pytest.approx(parent_result.final_eval_loss, abs=1e-4)

    fresh = Run(_job(tiny_dir, tmp_path, "fresh"), on_event=lambda e: None, should_stop=lambda: False)
    fresh.setup(resume=False)
    lora_b = [t for n, t in _adapter_tensors(fresh).items() if "lora_B" in n]
    assert lora_b and all(torch.count_nonzero(t) == 0 for t in lora_b)  # a fresh adapter starts as a no-op
    assert fresh.evaluate() > parent_result.final_eval_loss + 0.05


def test_fork_trains_on_and_saves_a_standalone_adapter(tiny_dir, tmp_path, parent):
    parent_job, parent_result = parent
    fresh, _ = _train(_job(tiny_dir, tmp_path, "fresh", max_steps=4), resume=False)
    job = _job(tiny_dir, tmp_path, "fork", init_adapter=parent_job.output_dir, max_steps=4, learning_rate=2e-3)
    result, events = _train(job, resume=False)
    assert result.outcome == "success", result.message
    assert any("continuing from the parent adapter" in e.get("message", "") for e in events if e["type"] == "log")
    # the first step of the fork is already near where the parent ended, far below a fresh adapter's first step
    assert result.curve[0]["loss"] < fresh.curve[0]["loss"] - 0.05
    assert result.curve[0]["loss"] < parent_result.curve[0]["loss"] - 0.05

    out = job.output_dir
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["r"] == 8 and config["base_model_name_or_path"] == "tiny" and config["lora_dropout"] == 0.0
    trained = load_file(str(out / "adapter_model.safetensors"))
    before = load_file(str(parent_job.output_dir / "adapter_model.safetensors"))
    assert set(trained) == set(before) and any(not torch.equal(trained[k], before[k]) for k in before)

    # standalone: the fork's adapter alone on the plain base reproduces the fork's held-out loss (the parent's
    # directory is not needed: it is removed first)
    moved = tmp_path / "parent-gone"
    shutil.move(str(parent_job.output_dir), moved)
    try:
        base, tokenizer = load_base_model(str(tiny_dir))
        model = PeftModel.from_pretrained(base, str(out)).eval()
        check = Run(_job(tiny_dir, tmp_path, "check"), on_event=lambda e: None, should_stop=lambda: False)
        check.setup(resume=False)
        check.model = model
        assert check.evaluate() == pytest.approx(result.final_eval_loss, abs=1e-4)
    finally:
        shutil.move(str(moved), parent_job.output_dir)


def test_fork_resumes_exactly_and_only_on_the_same_parent(tiny_dir, tmp_path, parent):
    parent_job, _ = parent
    reference, _ = _train(_job(tiny_dir, tmp_path, "reference", init_adapter=parent_job.output_dir, max_steps=6),
                          resume=False)
    job = _job(tiny_dir, tmp_path, "interrupted", init_adapter=parent_job.output_dir, max_steps=6)

    def kill_at_step_5(event: dict) -> None:
        if event["type"] == "step" and event["step"] == 5:
            raise Killed

    with pytest.raises(Killed):
        train(job, on_event=kill_at_step_5, resume=False)
    assert [c.step for c in checkpoints.list_checkpoints(job.checkpoint_dir)] == [2, 4]
    resumed, _ = _train(job, resume=True)
    assert resumed.outcome == "success" and resumed.resumed_from_step == 4
    same = ("step", "loss", "eval_loss", "lr", "grad_norm", "tokens")
    assert [[r[k] for k in same] for r in resumed.curve] == [[r[k] for k in same] for r in reference.curve]

    # the same checkpoints with a different starting adapter are not resumed (the adapter is in the fingerprint)
    with pytest.raises(Killed):
        train(job, on_event=kill_at_step_5, resume=False)
    other = tmp_path / "other-parent"
    shutil.copytree(parent_job.output_dir, other)
    tensors = load_file(str(other / "adapter_model.safetensors"))
    from safetensors.torch import save_file

    save_file({k: v * 0.5 for k, v in tensors.items()}, str(other / "adapter_model.safetensors"))
    job.init_adapter = other
    restarted, events = _train(job, resume=True)
    assert restarted.outcome == "success" and restarted.resumed_from_step is None
    assert any("different configuration" in e.get("message", "") for e in events if e["type"] == "log")


def test_fork_with_another_adapter_shape_fails_clearly(tiny_dir, tmp_path, parent):
    parent_job, _ = parent
    result, _ = _train(_job(tiny_dir, tmp_path, "bad", init_adapter=parent_job.output_dir, r=4), resume=False)
    assert result.outcome == "failure" and result.failure_category == "crashed"
    assert "r is 8 in the parent adapter but 4" in result.message

    missing, _ = _train(_job(tiny_dir, tmp_path, "gone", init_adapter=tmp_path / "nowhere"), resume=False)
    assert missing.outcome == "failure" and "parent adapter" in missing.message and "missing" in missing.message
