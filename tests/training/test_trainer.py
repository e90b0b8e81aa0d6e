"""The trainer on a real random-init tiny Llama (hidden 64, 2 layers, vocab 512): real LoRA steps, no mocks."""

from __future__ import annotations

import json
import math
import random
import shutil
from pathlib import Path

import pytest
import torch
from peft import PeftModel

from modelmate.training import checkpoints
from modelmate.training.config import plan_steps, resolve_config
from modelmate.training.data import encode_record
from modelmate.training.packing import causal_lm_loss_sum, collate_padded, count_label_tokens
from modelmate.training.tiny import load_base_model
from modelmate.training.trainer import TrainJob, train

WORDS = [
    "the", "model", "learns", "a", "small", "adapter", "while", "the", "base", "weights", "stay", "frozen", "and",
    "the", "loss", "goes", "down", "over", "steps", "of", "data", "with", "short", "and", "long", "examples"
]
CURVE_KEYS = {"step", "loss", "eval_loss", "lr", "grad_norm", "tokens", "seconds"}


def _records(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    out: list[dict] = []
    for i in range(n):
        if i % 4 == 3:
            out.append({"messages": [{"role": "user", "content": "repeat: " + rng.choice(WORDS)},
                                     {"role": "assistant", "content": " ".join(rng.choices(WORDS, k=6))}]})
        else:
            out.append({"text": " ".join(rng.choices(WORDS, k=rng.randint(2, 30)))})
    return out


class Killed(BaseException):
    """Stands in for SIGKILL: not an Exception, so train() does not turn it into a result."""


def _job(tiny_dir: Path, tmp_path: Path, name: str = "run", **overrides) -> TrainJob:
    values = {"max_steps": 8, "batch_size": 2, "max_seq_length": 48, "learning_rate": 5e-3, "logging_steps": 1,
              "warmup_ratio": 0.1, "eval_steps": 2, "save_steps": 2, "seed": 3}
    values.update(overrides)
    records = _records(40)
    return TrainJob(config=resolve_config(None, values), base_model=str(tiny_dir), train_records=records[:34],
                    eval_records=records[34:], output_dir=tmp_path / name / "adapter",
                    checkpoint_dir=tmp_path / name / "checkpoints", target_modules=["q_proj", "v_proj"],
                    model_card={"name": name, "base_model": "tiny", "datasets": ["sha256:abc"],
                                "license": "apache-2.0", "toy": True})


def _run(job: TrainJob, **kwargs):
    events: list[dict] = []
    result = train(job, on_event=events.append, **kwargs)
    return result, events


def test_success_full_curve_eval_and_reloadable_adapter(tiny_dir, tmp_path):
    job = _job(tiny_dir, tmp_path, max_steps=None, epochs=2)
    result, events = _run(job, resume=False)
    assert result.outcome == "success", result.message
    assert result.failure_category is None and result.error is None

    _, tokenizer = load_base_model(str(tiny_dir))
    encoded = [encode_record(r, tokenizer, 48) for r in job.train_records]
    expected_steps = plan_steps(job.config, len(job.train_records), sum(len(ids) for ids, _ in encoded))
    assert result.total_steps == result.steps == expected_steps
    started = next(e for e in events if e["type"] == "started")
    assert started["total_steps"] == expected_steps and started["resumed_from_step"] is None

    # the FULL curve: one row per step (logging_steps=1), every field, eval loss where evaluated
    assert [row["step"] for row in result.curve] == list(range(1, expected_steps + 1))
    for row in result.curve:
        assert set(row) == CURVE_KEYS
        assert math.isfinite(row["loss"]) and row["lr"] >= 0 and row["grad_norm"] >= 0 and row["seconds"] >= 0
    assert [row["tokens"] for row in result.curve] == sorted(row["tokens"] for row in result.curve)
    assert result.curve[-1]["tokens"] == result.train_tokens == 2 * sum(len(ids) for ids, _ in encoded)
    evals = [row["step"] for row in result.curve if row["eval_loss"] is not None]
    assert evals and evals[-1] == expected_steps
    assert [e["step"] for e in events if e["type"] == "eval"] == evals
    assert result.curve[-1]["loss"] < result.curve[0]["loss"]
    assert result.final_eval_loss == result.curve[-1]["eval_loss"]
    assert result.tokens_per_second and result.tokens_per_second > 0
    assert result.peak_memory_bytes and result.peak_memory_bytes > 10 * 2**20
    assert result.environment["versions"]["peft"] and result.environment["device"] == "cpu"

    out = job.output_dir
    assert {"adapter_config.json", "adapter_model.safetensors", "README.md", "tokenizer.json"} <= set(
        result.artifacts)
    assert not list(out.glob("*.bin")) and (out / "chat_template.jinja").is_file()
    # the artifacts reload with PEFT and reproduce the reported held-out loss
    base, _ = load_base_model(str(tiny_dir))
    model = PeftModel.from_pretrained(base, str(out)).eval()
    reloaded_tokenizer = type(tokenizer).from_pretrained(str(out))
    assert reloaded_tokenizer.chat_template == tokenizer.chat_template
    evaluation = [encode_record(r, tokenizer, 48) for r in job.eval_records]
    with torch.no_grad():
        total, count = causal_lm_loss_sum(model, collate_padded(evaluation, tokenizer.pad_token_id))
    assert total.item() / count == pytest.approx(result.final_eval_loss, abs=1e-4)


def test_without_packing_steps_follow_rows(tiny_dir, tmp_path):
    job = _job(tiny_dir, tmp_path, max_steps=None, epochs=1, packing=False, batch_size=4,
               gradient_accumulation_steps=2)
    result, _ = _run(job, resume=False)
    assert result.outcome == "success", result.message
    assert result.steps == math.ceil(math.ceil(34 / 4) / 2)


def test_huge_learning_rate_diverges(tiny_dir, tmp_path):
    job = _job(tiny_dir, tmp_path)
    # an adapter on the output head too: nothing normalises the logits, so a huge step overflows to NaN (on the
    # attention projections alone, RMSNorm absorbs it and the loss just saturates). The API would reject this lr;
    # model_copy skips validation on purpose.
    job.target_modules = ["q_proj", "v_proj", "lm_head"]
    job.config = job.config.model_copy(update={"learning_rate": 1e10, "warmup_ratio": 0.0})
    result, events = _run(job, resume=False)
    assert result.outcome == "failure" and result.failure_category == "diverged"
    assert "learning rate" in result.message and "not a finite number" in result.message
    assert result.steps < 8 and not (job.output_dir / "adapter_model.safetensors").exists()
    assert result.error["type"] == "TrainingFailure" and "diverged" in events[-1]["message"]


def test_should_stop_gives_partial_with_adapter_and_checkpoint(tiny_dir, tmp_path):
    job = _job(tiny_dir, tmp_path, save_steps=100)
    calls = {"n": 0}

    def should_stop() -> bool:
        calls["n"] += 1
        return calls["n"] >= 4  # checked once before the first step, then once per step

    result, events = _run(job, should_stop=should_stop, resume=False)
    assert (result.outcome, result.failure_category) == ("partial", "cancelled")
    assert result.steps == 3 and "stop was requested" in result.message
    assert (job.output_dir / "adapter_model.safetensors").is_file()
    assert [c.step for c in checkpoints.list_checkpoints(job.checkpoint_dir)] == [3]
    assert events[-2]["type"] == "checkpoint"
    card = (job.output_dir / "README.md").read_text()
    assert "partial (cancelled)" in card


def test_interrupted_run_resumes_exactly(tiny_dir, tmp_path):
    reference, _ = _run(_job(tiny_dir, tmp_path, "reference"), resume=False)
    assert reference.outcome == "success"

    job = _job(tiny_dir, tmp_path, "interrupted")

    def kill_during_step_6(event: dict) -> None:
        if event["type"] == "step" and event["step"] == 6:
            raise Killed

    with pytest.raises(Killed):
        train(job, on_event=kill_during_step_6, resume=False)
    assert [c.step for c in checkpoints.list_checkpoints(job.checkpoint_dir)] == [2, 4]
    assert not (job.output_dir / "adapter_model.safetensors").exists()

    resumed, events = _run(job, resume=True)
    assert resumed.outcome == "success" and resumed.resumed_from_step == 4
    assert next(e for e in events if e["type"] == "started")["resumed_from_step"] == 4
    assert [e["step"] for e in events if e["type"] == "step"] == [5, 6, 7, 8]
    same = ("step", "loss", "eval_loss", "lr", "grad_norm", "tokens")
    assert [[row[k] for k in same] for row in resumed.curve] == [[row[k] for k in same] for row in reference.curve]
    assert resumed.final_eval_loss == reference.final_eval_loss


def test_half_written_and_foreign_checkpoints_are_ignored(tiny_dir, tmp_path):
    job = _job(tiny_dir, tmp_path, max_steps=4)
    with pytest.raises(Killed):
        train(job, on_event=lambda e: (_ for _ in ()).throw(Killed) if e["type"] == "step" and e["step"] == 3
              else None, resume=False)
    ckpt = job.checkpoint_dir
    assert [c.step for c in checkpoints.list_checkpoints(ckpt)] == [2]
    # a writer killed mid-checkpoint leaves a temp dir; a step dir without all its files is not complete either
    shutil.copytree(ckpt / "step-000002", ckpt / ".tmp-step-000003-abcd")
    (ckpt / ".tmp-step-000003-abcd" / "trainer_state.json").write_text("{truncated")
    shutil.copytree(ckpt / "step-000002", ckpt / "step-000003")
    (ckpt / "step-000003" / "optimizer.safetensors").unlink()
    assert checkpoints.latest_checkpoint(ckpt).step == 2

    result, _ = _run(job, resume=True)
    assert result.outcome == "success" and result.resumed_from_step == 2 and result.steps == 4
    assert not any(p.name.startswith(".tmp") for p in ckpt.iterdir())

    # checkpoints of another configuration are never resumed
    other = _job(tiny_dir, tmp_path, max_steps=4, learning_rate=1e-3)
    result, events = _run(other, resume=True)
    assert result.resumed_from_step is None
    assert any("different configuration" in e.get("message", "") for e in events)


def test_early_stopping(tiny_dir, tmp_path):
    job = _job(tiny_dir, tmp_path, max_steps=12, eval_steps=1, early_stopping_patience=2,
               early_stopping_threshold=0.5)
    result, events = _run(job, resume=False)
    assert result.outcome == "success" and result.stopped_early
    assert result.steps == 3 and result.early_stopping["step"] == 3
    assert [e for e in events if e["type"] == "early_stop"][0]["reason"].startswith("the held-out loss")
    assert (job.output_dir / "adapter_model.safetensors").is_file()


def test_nothing_to_learn_is_invalid_data(tiny_dir, tmp_path):
    job = _job(tiny_dir, tmp_path)
    job.train_records = [{"messages": [{"role": "user", "content": "hello"}]}] * 4
    result, _ = _run(job, resume=False)
    assert (result.outcome, result.failure_category) == ("failure", "invalid_data")
    assert "nothing" in result.message.lower() or "no training example" in result.message.lower()


def test_out_of_memory_and_crash_are_categorised(tiny_dir, tmp_path):
    def oom() -> bool:
        raise MemoryError("simulated: the allocator gave up")

    result, _ = _run(_job(tiny_dir, tmp_path, "oom"), should_stop=oom, resume=False)
    assert (result.outcome, result.failure_category) == ("failure", "out_of_memory")
    assert "batch size" in result.message and result.error["type"] == "MemoryError"

    def broken(event: dict) -> None:
        if event["type"] == "step":
            raise ValueError("boom")

    result = train(_job(tiny_dir, tmp_path, "crash"), on_event=broken, resume=False)
    assert (result.outcome, result.failure_category) == ("failure", "crashed")
    assert "ValueError" in result.message and "Traceback" in result.error["traceback"]
    json.dumps(result.as_dict())  # results are JSON-able


def test_pickle_base_model_is_refused(tiny_dir, tmp_path):
    bad = tmp_path / "bad-base"
    shutil.copytree(tiny_dir, bad)
    (bad / "pytorch_model.bin").write_bytes(b"\x80\x04not really a pickle")
    job = _job(tiny_dir, tmp_path)
    job.base_model = str(bad)
    result, _ = _run(job, resume=False)
    assert (result.outcome, result.failure_category) == ("failure", "invalid_data")
    assert "pickle" in result.message
    assert count_label_tokens([1, 2]) == 1
