"""The cost estimate: token accounting, the memory formula's structure, the activations it counts vs what autograd
really keeps, a real toy run's peak memory, and the fit check with its memory savers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from modelmate.training.config import TrainingConfig, plan_steps, resolve_config
from modelmate.training.estimate import (
    GIB,
    check_fit,
    estimate,
    layer_activation_values,
    lora_parameters,
    memory_parts,
    weight_bytes,
)
from modelmate.training.model_specs import find_spec, local_spec, tiny_spec

SMOL = find_spec("smollm2-135m-instruct")
LLAMA8B = find_spec("llama-3.1-8b")


def parts(spec, device="cpu", tokens=2048, row=512, **values):
    return memory_parts(TrainingConfig(**values), spec, micro_tokens=tokens, row_length=row, device=device)


# --- token accounting (unchanged by the memory formula) ---------------------------------------------------------

def test_lora_parameter_count_matches_the_formula():
    spec = find_spec("llama-3.2-1b")
    cfg = TrainingConfig(r=8)
    # q: 2048->2048, k,v: 2048->512, o: 2048->2048 ; r*(in+out) per module, 16 layers
    per_layer = 8 * ((2048 + 2048) * 2 + (2048 + 512) * 2)
    assert lora_parameters(cfg, spec) == 16 * per_layer
    dora = lora_parameters(cfg.model_copy(update={"use_dora": True}), spec)
    assert dora == 16 * (per_layer + 2048 + 512 + 512 + 2048)
    assert lora_parameters(cfg.model_copy(update={"target_modules": ["nope"]}), spec) == 0


def test_estimate_grows_with_model_and_data_and_explains_itself():
    cfg = resolve_config("quick")
    tiny = tiny_spec()
    small = estimate(cfg, tiny, train_rows=900, train_tokens=90_000)
    assert small.steps == plan_steps(cfg, 900, 90_000) == 30
    assert small.device == "cpu" and small.trainable_parameters == lora_parameters(cfg, tiny)
    assert 0 < small.seconds < 600 and small.peak_memory_bytes > tiny.parameters * 4
    assert any("TOY" in n for n in small.notes)
    big = estimate(cfg, LLAMA8B, train_rows=900, train_tokens=90_000)
    assert big.peak_memory_bytes > 8_030_261_248 * 4 and big.seconds > small.seconds * 1000
    assert any("GPU" in n for n in big.notes)
    gpu = estimate(cfg, LLAMA8B, train_rows=900, train_tokens=90_000, device="cuda")
    assert gpu.seconds < big.seconds and gpu.peak_memory_bytes < big.peak_memory_bytes  # bf16 weights
    longer = estimate(cfg.model_copy(update={"max_steps": None, "epochs": 3}), tiny, train_rows=900,
                      train_tokens=90_000)
    assert longer.epochs == 3 and longer.seconds > 0
    assert set(small.as_dict()) == {"steps", "epochs", "train_tokens", "epoch_tokens", "tokens_per_step",
                                    "trainable_parameters", "peak_memory_bytes", "seconds", "device", "memory",
                                    "notes"}


def test_estimate_counts_every_pass_the_steps_make():
    """The tester's case: a small dataset (2,068 tokens, one micro-batch per pass) trained for 60 steps trains on
    60 × 2,068 = 124,080 tokens — the estimate said 2,068 ("tokens to train on") before."""
    cfg = resolve_config("quick").model_copy(update={"max_steps": 60, "packing": True, "batch_size": 4,
                                                     "max_seq_length": 1024, "gradient_accumulation_steps": 1})
    e = estimate(cfg, tiny_spec(), train_rows=20, train_tokens=2_068)
    assert e.steps == 60 and e.epoch_tokens == 2_068
    assert e.train_tokens == 124_080 and e.tokens_per_step == 2_068 and e.epochs == 60
    # without packing: 20 rows in slices of 4 = 5 micro-batches per pass; 2 per step -> 24 steps = 9.6 passes
    padded = cfg.model_copy(update={"packing": False, "max_steps": 24, "gradient_accumulation_steps": 2})
    e = estimate(padded, tiny_spec(), train_rows=20, train_tokens=2_000)
    assert e.epochs == 9.6 and e.train_tokens == 19_200 and e.tokens_per_step == 800


# --- the memory formula's structure -----------------------------------------------------------------------------

def test_the_parts_add_up_to_the_peak():
    cfg = TrainingConfig(batch_size=4, max_seq_length=512, quantization="4bit", gradient_checkpointing=True)
    e = estimate(cfg, SMOL, train_rows=100, train_tokens=50_000)
    assert set(e.memory) == {"runtime", "weights", "adapter", "activations", "logits", "transients"}
    assert sum(e.memory.values()) == e.peak_memory_bytes and all(v >= 0 for v in e.memory.values())


def test_quantized_weights_are_smaller_and_only_the_linear_layers_shrink():
    fp32, bf16 = parts(LLAMA8B)["weights"], parts(LLAMA8B, precision="bf16")["weights"]
    int8, nf4 = parts(LLAMA8B, quantization="8bit")["weights"], parts(LLAMA8B, quantization="4bit")["weights"]
    assert nf4 < int8 < bf16 < fp32
    assert fp32 == LLAMA8B.parameters * 4 and bf16 == LLAMA8B.parameters * 2
    # embeddings + untied head stay (in fp32 after prepare_model_for_kbit_training): 2 × 128,256 × 4,096 × 4 bytes
    head = 2 * LLAMA8B.vocab_size * LLAMA8B.hidden_size * 4
    assert head < nf4 < head + 0.55 * LLAMA8B.parameters
    assert weight_bytes(TrainingConfig(quantization="4bit"), LLAMA8B, "cuda") == nf4


def test_checkpointing_lowers_activations_and_more_tokens_raise_them():
    for spec in (SMOL, LLAMA8B, tiny_spec()):
        plain, ckpt = parts(spec), parts(spec, gradient_checkpointing=True)
        assert ckpt["activations"] < plain["activations"] / 4
        assert sum(ckpt.values()) < sum(plain.values())
    short, long = parts(SMOL, tokens=1024, row=256), parts(SMOL, tokens=4096, row=1024)
    assert long["activations"] > 4 * short["activations"] and long["logits"] == 4 * short["logits"]
    cfg = TrainingConfig(batch_size=4, max_seq_length=256)
    one = estimate(cfg, SMOL, train_rows=100, train_tokens=50_000).peak_memory_bytes
    two = estimate(cfg.model_copy(update={"max_seq_length": 1024}), SMOL, train_rows=100,
                   train_tokens=50_000).peak_memory_bytes
    assert two > one


def test_the_8bit_optimizer_lowers_the_optimizer_state():
    adamw = parts(SMOL, r=64)["adapter"]
    assert parts(SMOL, r=64, optimizer="adamw_8bit")["adapter"] == parts(SMOL, r=64,
                                                                        optimizer="paged_adamw_8bit")["adapter"]
    trained = lora_parameters(TrainingConfig(r=64), SMOL)
    assert adamw - parts(SMOL, r=64, optimizer="adamw_8bit")["adapter"] == trained * 6  # 8 -> 2 bytes per parameter


def test_logits_dominate_a_small_model_with_a_big_vocabulary():
    p = parts(SMOL, tokens=2048, row=512)
    assert p["logits"] == 2048 * 49_152 * 16  # four fp32 copies
    assert p["logits"] > p["weights"] and p["logits"] > p["adapter"]
    assert parts(SMOL, device="cuda", precision="bf16")["logits"] == 2048 * 49_152 * 14  # 3 fp32 + the bf16 logits


def test_unpacked_batches_use_the_longest_example():
    cfg = TrainingConfig(batch_size=4, max_seq_length=512, packing=False)
    short = estimate(cfg, SMOL, train_rows=100, train_tokens=5_000, longest=60)
    unknown = estimate(cfg, SMOL, train_rows=100, train_tokens=5_000)
    longest = estimate(cfg, SMOL, train_rows=100, train_tokens=5_000, longest=512)
    assert short.peak_memory_bytes < unknown.peak_memory_bytes < longest.peak_memory_bytes


# --- what autograd really keeps ---------------------------------------------------------------------------------

@pytest.mark.parametrize("targets, dropout", [(None, 0.05), (["q_proj", "v_proj", "gate_proj", "down_proj"], 0.0)])
def test_activation_count_matches_what_autograd_saves(tiny_dir, targets, dropout):
    """The per-layer values of the formula against the bytes ``saved_tensors_hooks`` sees in the trainer's own
    forward pass (``causal_lm_loss_sum`` on a packed batch), parameters excluded."""
    import torch
    from peft import LoraConfig, get_peft_model

    from modelmate.training.packing import add_label_index, causal_lm_loss_sum, collate_packed
    from modelmate.training.tiny import load_base_model

    spec = local_spec("toy", json.loads((Path(tiny_dir) / "config.json").read_text()))
    cfg = TrainingConfig(r=8, dropout=dropout, target_modules=targets)
    model, _ = load_base_model(str(tiny_dir), dtype=torch.float32)
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, lora_dropout=dropout, task_type="CAUSAL_LM",
                                             target_modules=targets or list(spec.default_target_modules)))
    model.train()
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    rows, width = 2, 128
    examples = [(list(range(5, 5 + width // 2)), list(range(5, 5 + width // 2)))] * (2 * rows)
    batch = add_label_index(collate_packed(examples, row_tokens=width, pad_id=0))
    saved: dict[int, int] = {}

    def pack(t):
        storage = t.untyped_storage()
        if storage.data_ptr() not in params:
            saved[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        causal_lm_loss_sum(model, batch)
    tokens = batch["input_ids"].numel()
    logits = batch["targets"].numel() * spec.vocab_size * 4  # the saved log-softmax output
    measured = (sum(saved.values()) - logits) / tokens / 4
    counted = spec.num_layers * layer_activation_values(cfg, spec, width) + spec.hidden_size
    assert counted == pytest.approx(measured, rel=0.1)


@pytest.mark.process
def test_a_real_toy_run_peaks_within_25_percent_of_the_estimate(tiny_dir, tmp_path):
    """Two steps of the real trainer in a fresh process; its peak resident memory (VmHWM) against the estimate."""
    config = {"batch_size": 4, "max_seq_length": 256, "max_steps": 2, "eval_split": 0.0, "warmup_ratio": 0.0}
    code = """
import json, sys
from pathlib import Path
from modelmate.training import trainer
from modelmate.training.config import resolve_config
from modelmate.training.results import TrainJob
cfg = resolve_config(None, json.loads(sys.argv[2]))
records = [{"text": "the model learns a rank of the adapter " * 30} for _ in range(32)]
job = TrainJob(config=cfg, base_model=sys.argv[1], train_records=records, eval_records=[],
               output_dir=Path(sys.argv[3]) / "out", checkpoint_dir=Path(sys.argv[3]) / "ckpt",
               target_modules=["q_proj", "k_proj", "v_proj", "o_proj"], device="cpu")
result = trainer.train(job, on_event=lambda e: None, resume=False)
hwm = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"outcome": result.outcome, "peak": hwm, "tokens": result.train_tokens}))
"""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run([sys.executable, "-c", code, str(tiny_dir), json.dumps(config), str(tmp_path)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    run = json.loads(proc.stdout.strip().splitlines()[-1])
    assert run["outcome"] == "success"
    spec = local_spec("toy", json.loads((Path(tiny_dir) / "config.json").read_text()))
    est = estimate(resolve_config(None, config, spec=spec), spec, train_rows=32, train_tokens=run["tokens"] // 2)
    assert est.peak_memory_bytes == pytest.approx(run["peak"], rel=0.25)


# --- will it fit? -----------------------------------------------------------------------------------------------

def test_a_run_that_does_not_fit_is_told_which_savers_make_it_fit():
    cfg = TrainingConfig(batch_size=8, max_seq_length=1024)
    e = estimate(cfg, LLAMA8B, train_rows=1000, train_tokens=500_000, device="cuda")
    fit = check_fit(cfg, LLAMA8B, e.peak_memory_bytes, device_memory_bytes=24 * GIB, train_rows=1000,
                    train_tokens=500_000, device="cuda")
    assert fit.fits is False and fit.device_memory_bytes == 24 * GIB
    assert f"{e.peak_memory_bytes / GIB:.1f} GiB" in fit.note and "24.0 GiB" in fit.note
    assert all(s.peak_memory_bytes < e.peak_memory_bytes for s in fit.savers)
    fitting = [s for s in fit.savers if s.fits]
    assert fitting and fit.savers[:len(fitting)] == fitting  # those that fit come first
    assert all(s.peak_memory_bytes <= 0.9 * 24 * GIB for s in fitting)
    assert fitting[0].label in fit.note
    for saver in fit.savers:  # each saver's peak is the estimate re-run with its change
        changed = TrainingConfig.model_validate({**cfg.model_dump(), **saver.change})
        assert estimate(changed, LLAMA8B, train_rows=1000, train_tokens=500_000,
                        device="cuda").peak_memory_bytes == saver.peak_memory_bytes


def test_fit_when_there_is_room_unknown_when_the_device_is_unknown_and_hopeless_cases_say_so():
    cfg = TrainingConfig(batch_size=2, max_seq_length=256)
    e = estimate(cfg, SMOL, train_rows=100, train_tokens=20_000)
    roomy = check_fit(cfg, SMOL, e.peak_memory_bytes, device_memory_bytes=64 * GIB, train_rows=100,
                      train_tokens=20_000)
    assert roomy.fits is True and roomy.note is None and roomy.savers == []
    unknown = check_fit(cfg, SMOL, e.peak_memory_bytes, device_memory_bytes=None, train_rows=100,
                        train_tokens=20_000)
    assert unknown.fits is None and unknown.device_memory_bytes is None
    hopeless = check_fit(cfg, LLAMA8B, estimate(cfg, LLAMA8B, train_rows=100, train_tokens=20_000,
                                                device="cuda").peak_memory_bytes,
                         device_memory_bytes=2 * GIB, train_rows=100, train_tokens=20_000, device="cuda")
    assert hopeless.fits is False and not any(s.fits for s in hopeless.savers)
    assert "smaller base model" in hopeless.note
    assert hopeless.savers[0].label == "all of these together"  # the lowest peak first
    assert hopeless.savers[0].change == {"gradient_checkpointing": True, "quantization": "4bit",
                                         "optimizer": "adamw_8bit", "batch_size": 1, "gradient_accumulation_steps": 2}
