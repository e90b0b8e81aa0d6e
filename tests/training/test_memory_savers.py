"""The memory savers on this CPU (bitsandbytes 0.50 runs here): 4-bit QLoRA and 8-bit bases learn, resuming with the
8-bit optimizers repeats the uninterrupted run exactly, a short QLoRA run on the real SmolLM2 learns, and a choice
the worker's machine cannot run fails the run at once (``unsupported``) before the model is loaded."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from modelmate.training import checkpoints
from modelmate.training.config import resolve_config
from modelmate.training.trainer import TrainJob, train

WORDS = ["the", "model", "learns", "a", "small", "adapter", "while", "the", "base", "weights", "stay", "frozen",
         "and", "the", "loss", "goes", "down", "over", "steps", "of", "data"]


class Killed(BaseException):
    """Stands in for SIGKILL: not an Exception, so train() does not turn it into a result."""


def _records(n: int) -> list[dict]:
    rng = random.Random(1)
    return [{"text": " ".join(rng.choices(WORDS, k=rng.randint(4, 24)))} for _ in range(n)]


def _job(base: Path, tmp_path: Path, name: str, **overrides) -> TrainJob:
    values = {"max_steps": 8, "batch_size": 2, "max_seq_length": 48, "learning_rate": 5e-3, "warmup_ratio": 0.1,
              "eval_steps": 2, "save_steps": 2, "seed": 3}
    values.update(overrides)
    records = _records(40)
    return TrainJob(config=resolve_config(None, values), base_model=str(base), train_records=records[:34],
                    eval_records=records[34:], output_dir=tmp_path / name / "adapter",
                    checkpoint_dir=tmp_path / name / "checkpoints", target_modules=["q_proj", "v_proj"],
                    model_card={"name": name, "base_model": "tiny", "datasets": [], "license": "apache-2.0",
                                "toy": True})


def _run(job: TrainJob, **kwargs):
    events: list[dict] = []
    return train(job, on_event=events.append, **kwargs), events


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


@pytest.mark.parametrize("quantization", ["4bit", "8bit"])
def test_a_quantized_base_learns_about_as_much_as_the_full_precision_one(tiny_dir, tmp_path, quantization):
    def drop(name: str, **change) -> tuple[float, list[dict]]:
        job = _job(tiny_dir, tmp_path, name, max_steps=36, learning_rate=1e-2, eval_steps=12, save_steps=36,
                   gradient_checkpointing=True, **change)
        job.target_modules = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
        result, _ = _run(job, resume=False)
        assert result.outcome == "success", result.message
        losses = [p["loss"] for p in result.curve]
        assert len(losses) == 36
        return _mean(losses[:6]) - _mean(losses[-6:]), result.curve

    full, _ = drop("full")
    quantized, curve = drop(quantization, quantization=quantization)
    # every step learns, after the evaluations too (bitsandbytes' CPU inference repacking once zeroed them)
    assert all(p["grad_norm"] > 0 for p in curve), [p["grad_norm"] for p in curve]
    assert quantized > 0.1 and quantized > 0.7 * full, (quantized, full)
    print(f"loss drop over 36 steps: {quantization} {quantized:.3f}, full precision {full:.3f}")
    assert (tmp_path / quantization / "adapter" / "adapter_model.safetensors").is_file()


@pytest.mark.parametrize("optimizer, quantization", [("adamw_8bit", "none"), ("paged_adamw_8bit", "4bit")])
def test_resume_with_an_8bit_optimizer_repeats_the_run_exactly(tiny_dir, tmp_path, optimizer, quantization):
    # rank 64: each adapter matrix has 4,096 values, where bitsandbytes starts keeping 8-bit state (below, 32-bit)
    settings = {"optimizer": optimizer, "quantization": quantization, "r": 64, "alpha": 128}
    reference, _ = _run(_job(tiny_dir, tmp_path, "reference", **settings), resume=False)
    assert reference.outcome == "success", reference.message
    job = _job(tiny_dir, tmp_path, "interrupted", **settings)

    def kill_during_step_6(event: dict) -> None:
        if event["type"] == "step" and event["step"] == 6:
            raise Killed

    with pytest.raises(Killed):
        train(job, on_event=kill_during_step_6, resume=False)
    saved = checkpoints.list_checkpoints(job.checkpoint_dir)
    assert [c.step for c in saved] == [2, 4]
    with safe_open(str(saved[-1].path / "optimizer.safetensors"), "pt") as f:
        names = list(f.keys())
        assert any(n.endswith(".state1") and f.get_tensor(n).dtype == torch.uint8 for n in names)  # really 8-bit
        assert sum(n.endswith("qmap1") for n in names) > 1  # the shared quantization map, one copy per parameter
    resumed, events = _run(job, resume=True)
    assert resumed.outcome == "success" and resumed.resumed_from_step == 4
    assert [e["step"] for e in events if e["type"] == "step"] == [5, 6, 7, 8]
    same = ("step", "loss", "eval_loss", "lr", "grad_norm", "tokens")
    assert [[row[k] for k in same] for row in resumed.curve] == [[row[k] for k in same] for row in reference.curve]
    assert resumed.final_eval_loss == reference.final_eval_loss


@pytest.mark.slow
def test_a_short_qlora_run_on_smollm2_learns(smollm2_dir, tmp_path):
    result, _ = _run(_job(smollm2_dir, tmp_path, "smol", quantization="4bit", gradient_checkpointing=True,
                          optimizer="paged_adamw_8bit", max_steps=10, batch_size=2, max_seq_length=64,
                          learning_rate=2e-3, eval_steps=5, save_steps=5), resume=False)
    assert result.outcome == "success", result.message  # checkpoints with the real 8-bit state saved mid-run
    losses = [p["loss"] for p in result.curve]
    assert all(p["grad_norm"] > 0 for p in result.curve)
    assert _mean(losses[-3:]) < _mean(losses[:3]), losses
    print(f"QLoRA on SmolLM2: loss {losses[0]:.3f} -> {losses[-1]:.3f}, held-out {result.final_eval_loss:.3f}")


@pytest.mark.parametrize("change, words", [
    ({"precision": "fp16"}, "choose precision auto or fp32"),
    ({"attention": "flash_attention_2"}, "choose attention sdpa"),
])
def test_the_worker_refuses_what_its_machine_cannot_run_before_loading(tiny_dir, tmp_path, change, words):
    result, events = _run(_job(tiny_dir, tmp_path, "refused", **change), resume=False)
    assert result.outcome == "failure" and result.failure_category == "unsupported"
    assert words in result.message and result.steps == 0 and result.curve == []
    messages = [e.get("message", "") for e in events if e["type"] == "log"]
    assert not any("loading base model" in m for m in messages)
    assert not (tmp_path / "refused" / "adapter" / "adapter_model.safetensors").exists()
