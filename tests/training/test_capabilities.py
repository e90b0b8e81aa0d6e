"""``refusals``: every choice a machine cannot run, with its message and alternatives (pure, simulated machines);
``machine_capabilities``: the real probe of this CPU (bitsandbytes works here, no GPU, no flash-attn)."""

from __future__ import annotations

import pytest

from modelmate.training.capabilities import (
    Capabilities,
    Refusal,
    describe,
    effective_precision,
    machine_capabilities,
    probe_in_subprocess,
    refusals,
)
from modelmate.training.config import MEMORY_MODES, TrainingConfig

CPU = Capabilities(device="cpu", bitsandbytes="0.50.2", bitsandbytes_works=True)
CPU_NO_BNB = Capabilities(device="cpu")
CPU_BROKEN_BNB = Capabilities(device="cpu", bitsandbytes="0.50.2", bitsandbytes_error="RuntimeError: no kernel")
T4 = Capabilities(device="cuda", gpu_name="Tesla T4", compute_capability=(7, 5), bf16=False, bitsandbytes="0.50.2",
                  bitsandbytes_works=True, flash_attn="2.8.3")
A100 = Capabilities(device="cuda", gpu_name="NVIDIA A100", compute_capability=(8, 0), bf16=True,
                    bitsandbytes="0.50.2", bitsandbytes_works=True)
H100 = Capabilities(device="cuda", gpu_name="NVIDIA H100", compute_capability=(9, 0), bf16=True,
                    bitsandbytes="0.50.2", bitsandbytes_works=True, flash_attn="2.8.3")


def _one(config: dict, caps: Capabilities) -> Refusal:
    found = refusals(TrainingConfig(**config), caps)
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("config, caps, code, field, alternatives, message", [
    ({"quantization": "4bit"}, CPU_NO_BNB, "quantization_unavailable", "quantization", ["none"],
     "4-bit (QLoRA) quantization needs bitsandbytes working on the device: bitsandbytes is not installed. Choose "
     "quantization none (gradient checkpointing also saves memory), or install bitsandbytes on the worker."),
    ({"quantization": "8bit"}, CPU_BROKEN_BNB, "quantization_unavailable", "quantization", ["none"],
     "8-bit quantization needs bitsandbytes working on the device: bitsandbytes 0.50.2 has no working backend on "
     "this worker's CPU (RuntimeError: no kernel). Choose quantization none (gradient checkpointing also saves "
     "memory), or install bitsandbytes on the worker."),
    ({"optimizer": "adamw_8bit"}, CPU_NO_BNB, "optimizer_unavailable", "optimizer", ["adamw"],
     "the adamw_8bit optimizer needs bitsandbytes working on the device: bitsandbytes is not installed. Choose "
     "optimizer adamw."),
    ({"optimizer": "paged_adamw_8bit"}, CPU_BROKEN_BNB, "optimizer_unavailable", "optimizer", ["adamw"],
     "the paged_adamw_8bit optimizer needs bitsandbytes working on the device: bitsandbytes 0.50.2 has no working "
     "backend on this worker's CPU (RuntimeError: no kernel). Choose optimizer adamw."),
    ({"attention": "flash_attention_2"}, CPU, "flash_attention_needs_gpu", "attention", ["sdpa", "auto", "eager"],
     "flash_attention_2 needs an NVIDIA GPU and this worker's CPU has none: choose attention sdpa (PyTorch's fused "
     "kernel, what auto uses)."),
    ({"attention": "flash_attention_2", "precision": "fp16"}, T4, "flash_attention_needs_ampere", "attention",
     ["sdpa", "auto", "eager"],
     "flash_attention_2 needs an Ampere or newer GPU (compute capability 8.0+), not this worker's GPU (Tesla T4, "
     "compute capability 7.5): choose attention sdpa."),
    ({"attention": "flash_attention_2"}, A100, "flash_attention_not_installed", "attention", ["sdpa", "auto", "eager"],
     "flash_attention_2 needs the flash-attn package, which is not installed on this worker: choose attention "
     "sdpa, or install flash-attn."),
    ({"attention": "flash_attention_2", "precision": "fp32"}, H100, "flash_attention_needs_half", "attention",
     ["sdpa", "auto", "eager"],
     "flash_attention_2 runs only in bf16 or fp16, and this run trains in fp32: choose precision auto or bf16, or "
     "attention sdpa."),
    ({"precision": "fp16"}, CPU, "fp16_needs_gpu", "precision", ["auto", "fp32", "bf16"],
     "precision fp16 needs a CUDA GPU (mixed precision with a gradient scaler) and this worker's CPU has none: "
     "choose precision auto or fp32 (or bf16, slower on a CPU)."),
    ({"precision": "bf16"}, T4, "bf16_unsupported", "precision", ["fp16", "fp32", "auto"],
     "precision bf16 needs an Ampere or newer GPU and this worker's GPU (Tesla T4, compute capability 7.5) does not "
     "support it: choose precision fp16 or fp32."),
    ({"quantization": "8bit", "use_dora": True}, CPU, "dora_with_8bit", "use_dora", [False],
     "DoRA on an 8-bit base model does not run on this worker's CPU (bitsandbytes' CPU int8 layers): turn DoRA off, "
     "or choose quantization 4bit or none."),
])
def test_each_refusal_names_the_field_and_its_alternative(config, caps, code, field, alternatives, message):
    refusal = _one(config, caps)
    assert (refusal.code, refusal.field, refusal.alternatives, refusal.message) == (code, field, alternatives,
                                                                                    message)
    for value in alternatives:  # every alternative offered is one this machine runs
        assert not [r for r in refusals(TrainingConfig(**{**config, field: value}), caps) if r.field == field]


def test_a_capable_machine_refuses_nothing():
    for config in ({"quantization": "4bit", "optimizer": "paged_adamw_8bit", "gradient_checkpointing": True},
                   {"attention": "flash_attention_2"}, {"attention": "flash_attention_2", "precision": "fp16"},
                   {"precision": "bf16"}, {"quantization": "8bit", "use_dora": True}, {"attention": "eager"}):
        assert refusals(TrainingConfig(**config), H100) == []
    assert refusals(TrainingConfig(), CPU_NO_BNB) == []  # the defaults run anywhere
    assert refusals(TrainingConfig(precision="bf16", quantization="4bit", use_dora=True), CPU) == []


def test_several_refusals_are_all_reported():
    found = refusals(TrainingConfig(quantization="4bit", optimizer="adamw_8bit", attention="flash_attention_2",
                                    precision="fp16"), CPU_NO_BNB)
    assert [r.field for r in found] == ["precision", "quantization", "optimizer", "attention"]
    text = describe(found)
    assert text.startswith("Precision fp16 needs") and "Choose optimizer adamw." in text and text.count(". ") >= 3


def test_memory_modes_are_valid_configs_refused_only_without_bitsandbytes():
    save = TrainingConfig(**MEMORY_MODES["save"].values)
    assert (save.quantization, save.gradient_checkpointing, save.optimizer) == ("4bit", True, "paged_adamw_8bit")
    assert refusals(save, CPU) == [] and refusals(save, H100) == []
    assert {r.field for r in refusals(save, CPU_NO_BNB)} == {"quantization", "optimizer"}
    assert refusals(TrainingConfig(**MEMORY_MODES["standard"].values), CPU_NO_BNB) == []


def test_effective_precision():
    assert effective_precision("auto", CPU) == "fp32"
    assert effective_precision("auto", H100) == "bf16"
    assert effective_precision("auto", T4) == "fp32"
    assert effective_precision("bf16", CPU) == "bf16"


def test_capabilities_round_trip_through_json_shape():
    assert Capabilities.from_dict(T4.as_dict()) == T4
    assert T4.as_dict()["compute_capability"] == [7, 5]
    assert Capabilities.from_dict({"device": "cuda", "unknown": 1}) == Capabilities(device="cuda")


def test_this_machine_is_probed_for_real():
    caps = machine_capabilities()
    assert caps.device == "cpu" and caps.compute_capability is None and caps.gpu_name is None
    assert caps.bitsandbytes and caps.bitsandbytes_works and caps.bitsandbytes_error is None
    assert caps.flash_attn is None
    assert probe_in_subprocess() == caps
