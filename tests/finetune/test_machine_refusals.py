"""Choices the workers' machine cannot run are refused at launch — by POST /runs, POST /training/estimate and
``modelmate train`` — with a 422 ``unsupported_config`` naming the alternative, and nothing is queued. The machine is
simulated through the ``worker_capabilities`` setting (no torch internals mocked); GET /training/options shows what
the machine can run."""

from __future__ import annotations

import json

import pytest
from hubdata import text_rows
from typer.testing import CliRunner

from modelmate.cli import app as cli
from modelmate.models import Job, TrainingRun

CPU_NO_BNB = {"device": "cpu", "bf16": True, "bitsandbytes": None, "bitsandbytes_works": False}
CPU_BNB = {"device": "cpu", "bf16": True, "bitsandbytes": "0.50.2", "bitsandbytes_works": True}
T4 = {"device": "cuda", "gpu_name": "Tesla T4", "compute_capability": [7, 5], "bf16": False,
      "bitsandbytes": "0.50.2", "bitsandbytes_works": True, "flash_attn": "2.8.3"}
A100_NO_FLASH = {"device": "cuda", "gpu_name": "NVIDIA A100", "compute_capability": [8, 0], "bf16": True,
                 "bitsandbytes": "0.50.2", "bitsandbytes_works": True}
H100 = {**A100_NO_FLASH, "gpu_name": "NVIDIA H100", "compute_capability": [9, 0], "flash_attn": "2.8.3"}
QUICK = {"max_steps": 4, "batch_size": 4, "max_seq_length": 64}

# (machine, config, refusal code, field, words the message must contain)
CASES = [
    (CPU_NO_BNB, {"quantization": "4bit"}, "quantization_unavailable", "quantization",
     ["4-bit (QLoRA)", "bitsandbytes is not installed", "quantization none"]),
    (CPU_NO_BNB, {"quantization": "8bit"}, "quantization_unavailable", "quantization", ["8-bit", "quantization none"]),
    (CPU_NO_BNB, {"optimizer": "paged_adamw_8bit"}, "optimizer_unavailable", "optimizer",
     ["paged_adamw_8bit", "optimizer adamw"]),
    (CPU_BNB, {"attention": "flash_attention_2"}, "flash_attention_needs_gpu", "attention",
     ["NVIDIA GPU", "attention sdpa"]),
    (T4, {"attention": "flash_attention_2", "precision": "fp16"}, "flash_attention_needs_ampere", "attention",
     ["Tesla T4, compute capability 7.5", "attention sdpa"]),
    (A100_NO_FLASH, {"attention": "flash_attention_2"}, "flash_attention_not_installed", "attention",
     ["flash-attn package", "attention sdpa"]),
    (H100, {"attention": "flash_attention_2", "precision": "fp32"}, "flash_attention_needs_half", "attention",
     ["trains in fp32", "precision auto or bf16"]),
    (CPU_BNB, {"precision": "fp16"}, "fp16_needs_gpu", "precision", ["CUDA GPU", "precision auto or fp32"]),
    (T4, {"precision": "bf16"}, "bf16_unsupported", "precision", ["Tesla T4", "precision fp16 or fp32"]),
    (CPU_BNB, {"quantization": "8bit", "use_dora": True}, "dora_with_8bit", "use_dora",
     ["turn DoRA off", "quantization 4bit or none"]),
]


def _counts(database) -> tuple[int, int]:
    with database.session() as s:
        return s.query(Job).filter(Job.kind == "train").count(), s.query(TrainingRun).count()


@pytest.mark.parametrize("route", ["/api/v1/runs", "/api/v1/training/estimate"])
@pytest.mark.parametrize("machine, config, code, field, words", CASES, ids=[c[2] + "-" + "-".join(map(str, c[1]))
                                                                            for c in CASES])
def test_a_choice_the_machine_cannot_run_is_refused_with_its_alternative(hub, upload, settings, database, route,
                                                                         machine, config, code, field, words):
    ds = upload(hub)
    settings.worker_capabilities = machine
    r = hub.post(route, json={"base_model": "tiny", "dataset_id": ds["id"], "preset": "quick",
                              "config": {**QUICK, **config}})
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "unsupported_config"
    refusal = next(x for x in err["details"]["refusals"] if x["code"] == code)
    assert refusal["field"] == field and refusal["alternatives"]
    for word in words:
        assert word in refusal["message"] and word in err["message"]
    assert {"field": field, "message": refusal["message"]} in err["details"]["errors"]
    assert _counts(database) == (0, 0)


def test_the_same_choices_run_where_the_machine_can(hub, upload, settings):
    ds = upload(hub)
    settings.worker_capabilities = H100
    for config in ({"quantization": "4bit", "optimizer": "paged_adamw_8bit", "gradient_checkpointing": True},
                   {"attention": "flash_attention_2"}, {"precision": "bf16"},
                   {"quantization": "8bit", "use_dora": True}):
        r = hub.post("/api/v1/training/estimate", json={"base_model": "tiny", "dataset_id": ds["id"],
                                                        "config": {**QUICK, **config}})
        assert r.status_code == 200, (config, r.text)
        assert r.json()["device"] == "cuda"  # the estimate plans for the workers' device
    launched = hub.post("/api/v1/runs", json={"base_model": "tiny", "dataset_id": ds["id"],
                                              "config": {**QUICK, "quantization": "4bit"}})
    assert launched.status_code == 202, launched.text


def test_options_say_what_the_machine_can_run(client, settings):
    settings.worker_capabilities = CPU_NO_BNB
    body = client.get("/api/v1/training/options").json()
    assert body["machine"]["device"] == "cpu" and body["machine"]["bitsandbytes_works"] is False
    refused = {(u["field"], u["value"]): u for u in body["unavailable"]}
    assert set(refused) == {("quantization", "4bit"), ("quantization", "8bit"), ("optimizer", "adamw_8bit"),
                            ("optimizer", "paged_adamw_8bit"), ("attention", "flash_attention_2"),
                            ("precision", "fp16")}
    assert "optimizer adamw" in refused[("optimizer", "adamw_8bit")]["message"]
    modes = {m["key"]: m for m in body["memory_modes"]}
    assert modes["standard"]["available"] and modes["standard"]["reason"] is None
    assert modes["save"]["values"] == {"quantization": "4bit", "gradient_checkpointing": True,
                                       "optimizer": "paged_adamw_8bit"}
    assert not modes["save"]["available"] and "bitsandbytes is not installed" in modes["save"]["reason"]
    fields = {f["name"]: f for f in body["fields"]}
    for name in ("quantization", "gradient_checkpointing", "attention", "optimizer"):
        assert fields[name]["group"] == "advanced" and len(fields[name]["help"]) > 40

    settings.worker_capabilities = H100
    body = client.get("/api/v1/training/options").json()
    assert body["unavailable"] == [] and all(m["available"] for m in body["memory_modes"])
    assert body["machine"]["compute_capability"] == [9, 0] and body["machine"]["gpu_name"] == "NVIDIA H100"


def test_this_machine_is_probed_when_no_capabilities_are_configured(client, settings):
    """The real probe (a child process): this CPU runs bitsandbytes but has no GPU for flash-attention 2."""
    assert settings.worker_capabilities is None
    body = client.get("/api/v1/training/options").json()
    machine = body["machine"]
    assert machine["device"] == "cpu" and machine["bitsandbytes_works"] is True and machine["bitsandbytes"]
    assert {(u["field"], u["value"]) for u in body["unavailable"]} == {("attention", "flash_attention_2"),
                                                                       ("precision", "fp16")}
    assert next(m for m in body["memory_modes"] if m["key"] == "save")["available"] is True


def test_cli_train_refuses_with_the_same_message(hub, settings, database, tmp_path):
    if not database.is_sqlite:
        pytest.skip("one backend is enough for the CLI's own work (the API tests cover both)")
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in text_rows(20)))
    env = {"MODELMATE_DATABASE_URL": settings.resolved_database_url, "MODELMATE_DATA_DIR": str(settings.data_dir),
           "MODELMATE_ENVIRONMENT": "test", "MODELMATE_SEMANTIC_ENABLED": "false", "COLUMNS": "300",
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "HOME": str(tmp_path / "home"),
           "MODELMATE_WORKER_CAPABILITIES": json.dumps(CPU_NO_BNB)}
    result = CliRunner().invoke(cli, ["train", "--base", "tiny", "--dataset", str(data), "--set", "quantization=4bit"],
                                env=env)
    assert result.exit_code == 1, result.output
    out = " ".join(result.output.split())
    assert "4-bit (QLoRA) quantization needs bitsandbytes" in out and "Choose quantization none" in out
    assert "quantization:" in out  # the field, on its own line
    assert _counts(database) == (0, 0)
