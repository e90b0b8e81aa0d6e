"""``modelmate models build-tiny/list``, ``modelmate train --wait``, ``modelmate runs …`` and
``modelmate worker --once`` against the test's database and data dir; the toy built in the background at start."""

from __future__ import annotations

import json

import pytest
from hubdata import text_rows
from typer.testing import CliRunner

from modelmate.cli import app as cli
from modelmate.finetune import base_catalog as bases
from modelmate.finetune.cli import parse_sets
from modelmate.models import Job, TrainingRun

runner = CliRunner()


def _env(settings, tmp_path) -> dict[str, str]:
    return {"MODELMATE_DATABASE_URL": settings.resolved_database_url, "MODELMATE_DATA_DIR": str(settings.data_dir),
            "MODELMATE_ENVIRONMENT": "test", "MODELMATE_TRAIN_THREADS": "1", "MODELMATE_SEMANTIC_ENABLED": "false",
            "XDG_CONFIG_HOME": str(tmp_path / "config"), "HOME": str(tmp_path / "home"), "COLUMNS": "200"}


def _dataset_file(tmp_path):
    path = tmp_path / "my data.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in text_rows(40)))
    return path


def test_parse_sets_reads_json_values_and_lists():
    assert parse_sets(["learning_rate=1e-3", "packing=false", "max_steps=null", "lr_scheduler=linear",
                       "target_modules=q_proj, v_proj"]) == {
        "learning_rate": 0.001, "packing": False, "max_steps": None, "lr_scheduler": "linear",
        "target_modules": ["q_proj", "v_proj"]}


def test_build_tiny_registers_a_labelled_toy(client, settings, tmp_path):
    env = _env(settings, tmp_path)
    args = ["models", "build-tiny", "--hidden-size", "64", "--layers", "2", "--heads", "4", "--vocab-size", "512"]
    result = runner.invoke(cli, args, env=env)
    assert result.exit_code == 0, result.output
    assert "TOY" in result.output and bases.tiny_built(bases.tiny_dir(settings))
    tiny = next(m for m in client.get("/api/v1/base-models").json() if m["key"] == "tiny")
    assert tiny["available"] and tiny["toy"] and tiny["context_length"] == 512 and tiny["parameters"] > 0
    again = runner.invoke(cli, args, env=env)
    assert again.exit_code == 0 and "already built" in again.output
    listing = runner.invoke(cli, ["models", "list"], env=env)
    assert listing.exit_code == 0 and "tiny" in listing.output and "qwen2.5-0.5b" in listing.output


def test_train_wait_runs_the_job_here_and_shows_the_outcome(hub, settings, database, tmp_path):
    if not database.is_sqlite:
        pytest.skip("one backend is enough for the CLI's own work (the API tests cover both)")
    env = _env(settings, tmp_path)
    data = _dataset_file(tmp_path)
    bad = runner.invoke(cli, ["train", "--base", "tiny", "--dataset", str(data), "--set", "r=0"], env=env)
    assert bad.exit_code == 1 and "r:" in bad.output
    with database.session() as s:
        assert s.query(Job).count() == 0 and s.query(TrainingRun).count() == 0
    result = runner.invoke(cli, ["train", "--base", "tiny", "--dataset", str(data), "--preset", "quick",
                                 "--set", "max_steps=6", "--set", "batch_size=4", "--set", "max_seq_length=64",
                                 "--name", "cli run", "--wait"], env=env)
    assert result.exit_code == 0, result.output
    assert "already uploaded" in result.output or "uploaded dataset" in result.output
    assert "running it in this process" in result.output and "succeeded" in result.output
    with database.session() as s:
        run = s.query(TrainingRun).one()
        assert run.status == "succeeded" and run.name == "cli run" and len(run.loss_curve_data) == 6
        assert run.mode == "expert" and run.config["max_steps"] == 6
    shown = runner.invoke(cli, ["runs", "show", str(run.id)], env=env)
    assert shown.exit_code == 0 and "loss curve" in shown.output and "adapter_model.safetensors" in shown.output
    listed = runner.invoke(cli, ["runs", "list"], env=env)
    assert listed.exit_code == 0 and "cli run" in listed.output
    cancelled = runner.invoke(cli, ["runs", "cancel", str(run.id)], env=env)
    assert cancelled.exit_code == 0 and "already finished" in cancelled.output
    missing = runner.invoke(cli, ["runs", "show", "999"], env=env)
    assert missing.exit_code == 1 and "not found" in missing.output


def test_queued_run_cancelled_from_the_cli_and_worker_once(hub, settings, database, tmp_path):
    env = _env(settings, tmp_path)
    data = _dataset_file(tmp_path)
    queued = runner.invoke(cli, ["train", "--base", "tiny", "--dataset", str(data), "--set", "max_steps=2"], env=env)
    assert queued.exit_code == 0, queued.output
    with database.session() as s:
        run_id = s.query(TrainingRun).one().id
    assert runner.invoke(cli, ["runs", "cancel", str(run_id)], env=env).exit_code == 0
    assert "is cancelled" in runner.invoke(cli, ["runs", "cancel", str(run_id)], env=env).output
    once = runner.invoke(cli, ["worker", "--once", "--kinds", "train"], env=env)
    assert once.exit_code == 0 and "ran 0 job(s)" in once.output
    with database.session() as s:
        assert s.get(TrainingRun, run_id).status == "cancelled"
    unknown = runner.invoke(cli, ["worker", "--kinds", "nope"], env=env)
    assert unknown.exit_code == 2 and "unknown job kind" in unknown.output


def test_the_toy_is_built_in_the_background_at_first_start(client, settings, database):
    if not database.is_sqlite:
        pytest.skip("builds a model in a child process; one backend is enough")
    bases.seed_base_models(database, settings)
    thread = bases.start_background_tiny_build(settings, database)
    assert thread is not None
    thread.join(timeout=300)
    tiny = next(m for m in client.get("/api/v1/base-models").json() if m["key"] == "tiny")
    assert tiny["available"] and tiny["toy"]
    assert bases.start_background_tiny_build(settings, database) is None  # built: nothing to do


def _numel(shape: list[int]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def test_add_local_registers_a_safe_model_directory_and_refuses_unsafe_ones(client, settings, tiny_source,
                                                                            tmp_path):
    import shutil

    env = _env(settings, tmp_path)
    local = tmp_path / "my model"
    shutil.copytree(tiny_source, local)
    (local / "modelmate_toy.json").unlink()  # a local model like any other, not our toy
    result = runner.invoke(cli, ["models", "add-local", str(local), "--name", "My Llama", "--license", "mit"],
                           env=env)
    assert result.exit_code == 0, result.output
    row = next(m for m in client.get("/api/v1/base-models").json() if m["key"] == "local-my-llama")
    config = json.loads((local / "config.json").read_text())
    assert row["available"] and not row["toy"] and row["license"] == "mit"
    assert row["architecture"] == "LlamaForCausalLM" and row["default_target_modules"] == [
        "q_proj", "k_proj", "v_proj", "o_proj"]
    assert row["context_length"] == config["max_position_embeddings"]
    from safetensors import safe_open

    with safe_open(str(next(local.glob("*.safetensors"))), "np") as weights:
        stored = sum(_numel(weights.get_slice(k).get_shape()) for k in weights.keys())  # noqa: SIM118 - not a dict
    assert row["parameters"] == stored  # the count implied by config.json matches the weights on disk

    pickled = tmp_path / "pickled"
    shutil.copytree(local, pickled)
    (pickled / "pytorch_model.bin").write_bytes(b"\x80\x04K\x01.")
    refused = runner.invoke(cli, ["models", "add-local", str(pickled), "--name", "Pickled"], env=env)
    assert refused.exit_code == 2 and "pickle" in refused.output

    remote = tmp_path / "remote"
    shutil.copytree(local, remote)
    cfg = dict(config, auto_map={"AutoModelForCausalLM": "evil.Model"})
    (remote / "config.json").write_text(json.dumps(cfg))
    refused = runner.invoke(cli, ["models", "add-local", str(remote), "--name", "Remote"], env=env)
    assert refused.exit_code == 2 and "remote code" in refused.output

    other = tmp_path / "other"
    shutil.copytree(local, other)
    (other / "config.json").write_text(json.dumps(dict(config, architectures=["GPT2LMHeadModel"])))
    refused = runner.invoke(cli, ["models", "add-local", str(other), "--name", "Other"], env=env)
    assert refused.exit_code == 2 and "unsupported architecture" in refused.output
    names = {m["name"] for m in client.get("/api/v1/base-models").json()}
    assert not {"Pickled", "Remote", "Other"} & names


def test_train_warns_when_the_run_will_not_fit_the_worker_and_still_queues_it(hub, settings, database, tmp_path):
    if not database.is_sqlite:
        pytest.skip("one backend is enough for the CLI's own work (the API tests cover both)")
    env = {**_env(settings, tmp_path), "MODELMATE_WORKER_MEMORY_BYTES": str(300 * 2**20)}
    result = runner.invoke(cli, ["train", "--base", "tiny", "--dataset", str(_dataset_file(tmp_path)), "--preset",
                                 "quick", "--set", "max_steps=2"], env=env)
    assert result.exit_code == 0, result.output
    assert "queued" in result.output and "warning:" in result.output
    assert "of memory but the worker has 0.3 GiB" in result.output and "It fits with" not in result.output
    with database.session() as s:
        assert s.query(TrainingRun).one().estimate["fits"] is False
