"""TrainingConfig, presets, field metadata and step plan; base-model specs (the estimate: test_estimate.py)."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from modelmate.training.config import (
    PRESETS,
    TrainingConfig,
    config_fields,
    plan_steps,
    resolve_config,
)
from modelmate.training.model_specs import (
    BASE_MODELS,
    CHATML_CHAT_TEMPLATE,
    count_parameters,
    find_spec,
    tiny_spec,
)

# --- base models ----------------------------------------------------------------------------------------------


def test_the_nine_real_base_models_and_their_architecture_numbers_add_up():
    keys = [s.key for s in BASE_MODELS]
    assert keys == ["smollm2-135m-instruct",
                    "llama-3.2-1b", "llama-3.2-3b", "llama-3.1-8b", "mistral-7b-v0.3", "phi-3-mini",
                    "qwen2.5-0.5b", "qwen2.5-1.5b", "qwen2.5-7b"]
    for spec in BASE_MODELS:
        # the published parameter count equals what the config numbers imply (Qwen2 has q/k/v biases)
        assert count_parameters(spec, attention_bias=spec.architecture == "Qwen2ForCausalLM") == spec.parameters
        assert spec.hidden_size % spec.num_heads == 0 and spec.num_heads % spec.num_kv_heads == 0
        assert spec.hf_repo_id and not spec.toy and spec.chat_template and spec.description
        assert set(spec.default_target_modules) <= set(spec.module_shapes())
    assert find_spec("phi-3-mini").default_target_modules == ("qkv_proj", "o_proj")
    assert {s.key for s in BASE_MODELS if s.gated} == {"llama-3.2-1b", "llama-3.2-3b", "llama-3.1-8b",
                                                       "mistral-7b-v0.3"}


def test_find_spec_by_key_or_hf_id_case_insensitive_and_tiny_is_a_toy():
    assert find_spec("Qwen/Qwen2.5-0.5B").key == "qwen2.5-0.5b"
    assert find_spec("LLAMA-3.2-1B").hf_repo_id == "meta-llama/Llama-3.2-1B"
    assert find_spec("gpt2") is None and find_spec("") is None
    tiny = find_spec("tiny")
    assert tiny.toy and tiny.hf_repo_id is None and "TOY" in tiny.name
    assert tiny.chat_template == CHATML_CHAT_TEMPLATE
    assert tiny.parameters == count_parameters(tiny) and 800_000 < tiny.parameters < 1_000_000
    bigger = tiny_spec(hidden_size=64, num_layers=2, num_heads=2, vocab_size=512)
    assert bigger.intermediate_size == 192 and bigger.parameters == count_parameters(bigger)


# --- config ---------------------------------------------------------------------------------------------------


def test_every_field_has_a_one_line_plain_description():
    for name, info in TrainingConfig.model_fields.items():
        assert info.description, name
        assert "\n" not in info.description and info.description.endswith("."), name
        assert len(info.description) < 160, name


@pytest.mark.parametrize("bad", [{"learning_rate": -1}, {"r": 0}, {"epochs": 1e9}, {"r": 257},
                                 {"dropout": 0.9}, {"batch_size": 0}, {"max_seq_length": 8}, {"alpha": 0},
                                 {"precision": "int4"}, {"target_modules": ["q_proj", "os.system('x')"]},
                                 {"unknown": 1}, {"eval_split": 0, "early_stopping_patience": 2}])
def test_out_of_range_values_are_rejected_naming_the_field(bad):
    with pytest.raises(ValidationError) as info:
        TrainingConfig.model_validate(bad)
    text = str(info.value)
    assert list(bad)[-1] in text or "early stopping" in text


def test_presets_resolve_and_overrides_win():
    assert list(PRESETS) == ["quick", "balanced", "thorough"]
    for preset in PRESETS.values():
        assert preset.title and preset.summary and preset.explanation.count(".") >= 2
        cfg = resolve_config(preset.key)
        for key, value in preset.values.items():
            assert getattr(cfg, key) == value
    assert resolve_config("quick", {"r": 4, "max_steps": 10}).r == 4
    assert resolve_config().model_dump() == TrainingConfig().model_dump()
    with pytest.raises(ValueError, match="unknown preset"):
        resolve_config("fastest")
    with pytest.raises(ValidationError):
        resolve_config("quick", {"learning_rate": 5})
    # a spec caps the length at the model's context
    assert resolve_config("thorough", spec=tiny_spec()).max_seq_length == 512


def test_config_fields_describe_every_field_for_forms():
    fields = {f["name"]: f for f in config_fields()}
    assert set(fields) == set(TrainingConfig.model_fields)
    assert fields["r"] == {"name": "r", "type": "int", "default": 8, "help": TrainingConfig.model_fields["r"]
                           .description, "group": "basic", "minimum": 1, "maximum": 256,
                           "exclusive_minimum": False, "choices": None, "nullable": False}
    assert fields["learning_rate"]["exclusive_minimum"] and fields["learning_rate"]["maximum"] == 0.01
    assert fields["lr_scheduler"]["type"] == "choice" and "cosine" in fields["lr_scheduler"]["choices"]
    assert fields["max_steps"]["nullable"] and fields["max_steps"]["type"] == "int"
    assert fields["target_modules"]["type"] == "list" and fields["packing"]["type"] == "bool"
    assert {f["group"] for f in fields.values()} == {"basic", "advanced"}


# --- step plan -----------------------------------------------------------------------------------------------


def test_plan_steps_packing_rows_accumulation_epochs_and_max_steps():
    cfg = TrainingConfig(batch_size=4, max_seq_length=128, epochs=2)
    # packing: ceil(10_000 / 512) = 20 micro-batches per epoch
    assert plan_steps(cfg, train_rows=300, train_tokens=10_000) == 40
    assert plan_steps(cfg.model_copy(update={"packing": False}), 300, 10_000) == 2 * math.ceil(300 / 4)
    assert plan_steps(cfg.model_copy(update={"gradient_accumulation_steps": 3}), 300, 10_000) == 2 * 7
    assert plan_steps(cfg.model_copy(update={"epochs": 0.5}), 300, 10_000) == 10
    assert plan_steps(cfg.model_copy(update={"max_steps": 7}), 300, 10_000) == 7
    assert plan_steps(cfg, train_rows=1, train_tokens=3) == 2


def test_cut_tokens_follows_the_trainers_max_seq_length():
    from modelmate.training.config import cut_tokens

    assert cut_tokens(1_000, 10, 512, longest=200) == 1_000  # everything fits: exact
    histogram = [{"lo": 0, "hi": 100, "count": 5}, {"lo": 900, "hi": 1100, "count": 5}]  # 250 + 5000 tokens
    assert cut_tokens(5_250, 10, 512, longest=1_100, histogram=histogram) == round(5_250 * (250 + 2_560) / 5_250)
    assert cut_tokens(5_250, 10, 100) == 1_000  # nothing known but the rows: at most rows × length
