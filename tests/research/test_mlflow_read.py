"""Reading an MLflow store written by ``mlflow`` itself and mapping its runs (research/mlflow_read.py)."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from modelmate.research import mlflow_read
from modelmate.research.mlflow_read import MappedRun, MlflowStoreError, check_tracking_uri, map_curve, map_params


@pytest.fixture(scope="module")
def store(mlflow_store) -> tuple[str, dict[str, str], Path]:
    return mlflow_store


@pytest.fixture(scope="module")
def runs(store) -> dict[str, MappedRun]:
    uri, ids, _ = store
    by_id = {r.run_id: r for r in mlflow_read.read_store(uri)}
    return {role: by_id[run_id] for role, run_id in ids.items()}


def test_a_finished_trainer_run_maps_params_curve_and_adapter(runs):
    run = runs["finished"]
    assert (run.name, run.experiment, run.mlflow_status, run.outcome) == ("smollm2-lora", "sft", "FINISHED", "success")
    assert run.failure_category is None and run.skip_reason is None
    assert run.base_model == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert run.config == {
        "learning_rate": 2e-4, "r": 16, "alpha": 32.0, "dropout": 0.1, "epochs": 2.0, "batch_size": 4,
        "gradient_accumulation_steps": 2, "warmup_ratio": 0.05, "lr_scheduler": "cosine", "weight_decay": 0.01,
        "max_grad_norm": 0.5, "seed": 7, "max_seq_length": 1024, "target_modules": ["q_proj", "v_proj"],
        "gradient_checkpointing": True, "optimizer": "adamw_8bit", "precision": "bf16", "quantization": "4bit"}
    assert run.mapped["lora_r"] == "r" and run.mapped["optim"] == "optimizer"
    assert run.mapped["bf16"] == run.mapped["fp16"] == "precision" and run.mapped["load_in_4bit"] == "quantization"
    assert run.mapped["max_steps"] == "max_steps (not set)"  # the Trainer's -1
    assert run.unrecognised == ["output_dir"] and run.rejected == {}
    # the full curve: every logged step, eval_loss where it was measured; train_loss (an average) is not a point
    assert [p["step"] for p in run.curve] == list(range(1, 13))
    assert run.curve[0] == pytest.approx({"step": 1, "loss": 1.9, "lr": 2e-4 * 12 / 13, "grad_norm": 1.1,
                                          "epoch": 1 / 6})
    assert [p["step"] for p in run.curve if "eval_loss" in p] == [4, 8, 12]
    assert run.curve[-1]["eval_loss"] == pytest.approx(0.9)
    assert run.curve_metrics == {"loss": "loss", "eval_loss": "eval_loss", "lr": "learning_rate",
                                 "grad_norm": "grad_norm", "epoch": "epoch"}
    assert run.unused_metrics == ["train_loss", "train_runtime"]
    assert run.adapter_path == "model/adapter" and run.adapter_candidates == 1
    assert run.started_at is not None and run.finished_at is not None and run.finished_at >= run.started_at


def test_status_maps_to_outcome(runs):
    failed = runs["failed"]
    assert (failed.outcome, failed.failure_category) == ("failure", "diverged")  # the same diagnosis as ours
    assert failed.curve[-1] == {"step": 5, "loss": "nan"}  # non-finite kept as the trainer writes it
    assert "FAILED" in failed.failure_message and failed.adapter_path is None
    killed = runs["killed"]
    assert (killed.outcome, killed.failure_category) == ("partial", "cancelled")
    assert [p["step"] for p in killed.curve] == [1, 2, 3]
    running = runs["running"]
    assert running.skipped and running.outcome is None and "import it again" in running.skip_reason


def test_values_modelmate_cannot_take_are_reported_not_guessed(runs):
    odd = runs["odd"]
    assert odd.base_model == "Qwen/Qwen2.5-0.5B" and "_name_or_path" in odd.rejected
    assert odd.config == {"alpha": 16.0}
    assert "no ModelMate equivalent" in odd.rejected["optim"]
    assert "less than or equal to 256" in odd.rejected["r"]
    assert odd.unrecognised == ["dataloader_num_workers", "my_custom_flag"]
    other = runs["other"]
    assert other.base_model == "acme/tiny-llama" and other.unrecognised == []
    assert other.base_model_config == {"architectures": ["LlamaForCausalLM"], "hidden_size": 64, "num_hidden_layers": 2,
                                       "num_attention_heads": 4, "num_key_value_heads": 4, "intermediate_size": 128,
                                       "vocab_size": 512, "max_position_embeddings": 256,
                                       "tie_word_embeddings": False}
    assert runs["nobase"].base_model is None


def test_one_experiment_by_name(store):
    uri, ids, _ = store
    assert [r.run_id for r in mlflow_read.read_store(uri, "other")] == [ids["other"], ids["nobase"]]
    with pytest.raises(MlflowStoreError, match="no experiment named 'nope'"):
        mlflow_read.read_store(uri, "nope")


def test_the_adapter_download_takes_the_two_safetensors_files_only(store, runs, tmp_path):
    from safetensors import safe_open

    uri, _, _ = store
    client = mlflow_read.open_client(uri)
    out = mlflow_read.download_adapter(client, runs["finished"], tmp_path / "adapter")
    assert sorted(p.name for p in out.iterdir()) == ["adapter_config.json", "adapter_model.safetensors"]
    with safe_open(str(out / "adapter_model.safetensors"), framework="pt") as fh:
        names = list(fh.keys())  # noqa: SIM118 - safe_open is not iterable
    assert any("lora_A" in name for name in names)


def test_an_mlflow_file_store_is_read_too(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 writes one only when asked to
    client = MlflowClient((tmp_path / "mlruns").as_uri())
    run = client.create_run(client.create_experiment("fs"), run_name="from-files")
    client.log_param(run.info.run_id, "lora_r", "8")
    for step in (1, 2):
        client.log_metric(run.info.run_id, "loss", 1.0 / step, step=step)
    client.set_terminated(run.info.run_id, "FINISHED")
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE")  # the reader turns MLflow's switch on by itself
    for uri in ((tmp_path / "mlruns").as_uri(), str(tmp_path / "mlruns")):
        [read] = mlflow_read.read_store(uri)
        assert (read.name, read.config, read.curve, read.outcome) == (
            "from-files", {"r": 8}, [{"step": 1, "loss": 1.0}, {"step": 2, "loss": 0.5}], "success")


def test_bad_tracking_uris_are_refused_clearly(tmp_path):
    with pytest.raises(MlflowStoreError, match="no such database file"):
        check_tracking_uri(f"sqlite:///{tmp_path / 'missing.db'}")
    assert not (tmp_path / "missing.db").exists()  # MLflow would have created it
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (x TEXT)")
    with pytest.raises(MlflowStoreError, match="not an MLflow tracking store"):
        mlflow_read.read_store(f"sqlite:///{other}")
    with sqlite3.connect(other) as conn:  # untouched: MLflow never added its tables
        assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")] == ["notes"]
    (tmp_path / "junk.db").write_bytes(b"not a database at all, just bytes" * 10)
    with pytest.raises(MlflowStoreError, match="not an SQLite database"):
        check_tracking_uri(f"sqlite:///{tmp_path / 'junk.db'}")
    with pytest.raises(MlflowStoreError, match="unsupported tracking URI"):
        check_tracking_uri("ftp://example.org/mlflow")
    with pytest.raises(MlflowStoreError, match="not a directory"):
        check_tracking_uri(str(tmp_path / "no-such-dir"))
    with pytest.raises(MlflowStoreError, match="give the MLflow tracking URI"):
        check_tracking_uri("  ")


def test_an_unreachable_server_is_an_error_not_a_hang():
    port = _free_port()  # nothing listens on it
    with pytest.raises(MlflowStoreError, match="cannot read the MLflow store"):
        mlflow_read.read_store(f"http://127.0.0.1:{port}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.process
def test_a_tracking_server_on_127_0_0_1_reads_the_same(store, runs, tmp_path):
    uri, _, root = store
    port = _free_port()
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    server = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri, "--host",
                               "127.0.0.1", "--port", str(port), "--workers", "1"], cwd=tmp_path, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120  # start-up on a busy 2-core machine (a readiness wait, not a timing test)
        while time.monotonic() < deadline:
            assert server.poll() is None, "mlflow server exited"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        over_http = {r.run_id: r for r in mlflow_read.read_store(f"http://127.0.0.1:{port}")}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    assert set(over_http) == {r.run_id for r in runs.values()}
    for run in runs.values():
        remote = over_http[run.run_id]
        assert (remote.config, remote.curve, remote.outcome, remote.adapter_path, remote.unrecognised) == \
            (run.config, run.curve, run.outcome, run.adapter_path, run.unrecognised)


def _mapped(params: dict[str, str]) -> MappedRun:
    run = MappedRun(run_id="x", experiment="e", name=None, mlflow_status="FINISHED")
    map_params(run, params)
    return run


def test_precision_quantization_and_module_lists():
    assert _mapped({"bf16": "False", "fp16": "False"}).config == {"precision": "fp32"}
    assert _mapped({"fp16": "true"}).config == {"precision": "fp16"}
    assert "both bf16 and fp16" in _mapped({"bf16": "True", "fp16": "True"}).rejected["bf16+fp16"]
    quantized = _mapped({"quantization_config": "{'load_in_4bit': False, 'load_in_8bit': True, 'quant_method': "
                                                "'bitsandbytes'}"})
    assert quantized.config == {"quantization": "8bit"} and quantized.mapped["quantization_config"] == "quantization"
    assert _mapped({"load_in_4bit": "False", "load_in_8bit": "False"}).config == {"quantization": "none"}
    assert _mapped({"target_modules": "['q_proj', 'k_proj']"}).config == {"target_modules": ["k_proj", "q_proj"]}
    assert _mapped({"target_modules": "q_proj,o_proj"}).config == {"target_modules": ["o_proj", "q_proj"]}
    assert "not a module name" in _mapped({"target_modules": "all-linear"}).rejected["target_modules"]
    assert _mapped({"optim": "OptimizerNames.PAGED_ADAMW_8BIT"}).config == {"optimizer": "paged_adamw_8bit"}
    assert _mapped({"optim": "adamw_torch_fused"}).config == {"optimizer": "adamw"}
    assert "whole number" in _mapped({"lora_r": "8.5"}).rejected["lora_r"]
    duplicate = _mapped({"lora_r": "8", "r": "16"})
    assert duplicate.config == {"r": 8} and "lora_r already gave r" in duplicate.rejected["r"]
    assert _mapped({"early_stopping_patience": "3"}).config == {"early_stopping_patience": 3}


def test_metrics_logged_without_steps_are_numbered_in_logging_order():
    run = MappedRun(run_id="x", experiment="e", name=None, mlflow_status="FINISHED")
    map_curve(run, {"loss": [(0, 30, 1.0), (0, 10, 3.0), (0, 20, 2.0)], "eval_loss": [(5, 1, float("inf"))]},
              ["eval_loss", "loss", "other"])
    assert run.curve == [{"step": 1, "loss": 3.0}, {"step": 2, "loss": 2.0}, {"step": 3, "loss": 1.0},
                         {"step": 5, "eval_loss": "inf"}]
    assert run.unused_metrics == ["other"] and "logging order" in run.notes[0]
