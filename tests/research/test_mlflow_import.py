"""``modelmate research import-mlflow`` against a real MLflow SQLite store: runs recorded through the external-runs
service (source "mlflow"), full curves, outcomes, the adapter sealed and registered; idempotent; dry run writes
nothing; a run changed in MLflow is updated in place."""

from __future__ import annotations

import shutil
import socket

import pytest
from sqlalchemy import func, select

from modelmate.models import Model, OutboxEvent, RunCurvePoint, TrainingRun
from modelmate.research import mlflow_read
from modelmate.training.curve_buckets import curve_buckets


def imported(database) -> dict[str, TrainingRun]:
    with database.session() as s:
        runs = s.scalars(select(TrainingRun).where(TrainingRun.source == "mlflow")).all()
        s.expunge_all()
    return {r.external_id: r for r in runs}


def test_dry_run_reports_and_writes_nothing(cli, database, mlflow_store):
    uri, ids, _ = mlflow_store
    r = cli("research", "import-mlflow", "--tracking-uri", uri, "--dry-run")
    assert r.exit_code == 0, r.output
    assert "dry run: nothing written" in r.output
    assert "7 MLflow run(s): 5 to create, 0 to update, 0 unchanged, 2 to skip, 0 failed" in r.output
    assert "unrecognised: dataloader_num_workers, my_custom_flag" in r.output
    assert imported(database) == {}
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(OutboxEvent)) == 0


def test_import_maps_runs_and_a_second_import_changes_nothing(cli, database, mlflow_store, tmp_path):
    uri, ids, _ = mlflow_store
    r = cli("research", "import-mlflow", "--tracking-uri", uri)
    assert r.exit_code == 0, r.output
    assert "7 MLflow run(s): 5 created, 0 updated, 0 unchanged, 2 skipped, 0 failed" in r.output
    runs = imported(database)
    assert set(runs) == {ids[k] for k in ("finished", "failed", "killed", "odd", "other")}
    expected = {r.run_id: r for r in mlflow_read.read_store(uri)}

    done = runs[ids["finished"]]
    assert (done.status, done.training_outcome, done.failure_category) == ("succeeded", "success", None)
    assert done.name == "smollm2-lora" and done.job_id is None
    mapped = expected[done.external_id]
    assert {k: v for k, v in done.config.items() if k not in ("external", "method")} == mapped.config
    assert done.config["external"]["mlflow"]["params"] == {"output_dir": "out"}
    assert done.loss_curve_data == expected[done.external_id].curve  # every point, eval_loss where measured
    assert len(done.loss_curve_data) == 12 and done.final_loss == pytest.approx(0.8)
    with database.session() as s:  # its compact curve (the curve-history band) was written with it
        compact = [(p.bucket, p.loss) for p in s.scalars(
            select(RunCurvePoint).where(RunCurvePoint.run_id == done.id).order_by(RunCurvePoint.bucket))]
    assert compact == [(p.bucket, pytest.approx(p.loss)) for p in curve_buckets(done.loss_curve_data)] and compact
    assert done.final_eval_loss == pytest.approx(0.9)
    assert done.created_at.replace(tzinfo=None) == expected[done.external_id].started_at.replace(tzinfo=None)
    assert done.artifact_uri == f"runs/{done.id}/adapter" and done.output_model_id is not None
    stored = tmp_path / "data" / "artifacts" / done.artifact_uri
    assert sorted(p.name for p in stored.iterdir() if p.name != ".manifest.json") == ["adapter_config.json",
                                                                                  "adapter_model.safetensors"]
    with database.session() as s:
        base = s.get(Model, done.base_model_id)
        assert base.hf_repo_id == "HuggingFaceTB/SmolLM2-135M-Instruct"
        events = s.scalars(select(OutboxEvent)).all()  # the automatic evaluation, queued (one row per subscriber)
        assert events and {(e.event, e.payload.get("run_id")) for e in events} == {("model_trained", done.id)}
        n_events = len(events)

    failed = runs[ids["failed"]]
    assert (failed.status, failed.training_outcome, failed.failure_category) == ("failed", "failure", "diverged")
    assert failed.loss_curve_data[-1] == {"step": 5, "loss": "nan"} and failed.artifact_uri is None
    killed = runs[ids["killed"]]
    assert (killed.status, killed.training_outcome, killed.failure_category) == ("cancelled", "partial", "cancelled")
    odd = runs[ids["odd"]]
    assert odd.config["alpha"] == 16.0 and "r" not in odd.config
    assert odd.config["external"]["mlflow"]["params"] == {"dataloader_num_workers": "0", "my_custom_flag": "yes",
                                                          "optim": "sgd", "r": "1024", "_name_or_path":
                                                          "ignored/when-base-given"}
    assert "no ModelMate equivalent" in odd.config["external"]["mlflow"]["rejected"]["optim"]
    with database.session() as s:  # an unknown Hugging Face base, added to the catalog from its logged config
        new_base = s.get(Model, runs[ids["other"]].base_model_id)
        assert new_base.hf_repo_id == "acme/tiny-llama" and new_base.kind == "base"

    r = cli("research", "import-mlflow", "--tracking-uri", uri)
    assert r.exit_code == 0, r.output
    assert "7 MLflow run(s): 0 created, 0 updated, 5 unchanged, 2 skipped, 0 failed" in r.output
    again = imported(database)
    assert {k: (v.id, v.loss_curve_data) for k, v in again.items()} == \
        {k: (v.id, v.loss_curve_data) for k, v in runs.items()}
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(OutboxEvent)) == n_events  # no second evaluation queued

    # one experiment, with a base model for the run that names none
    r = cli("research", "import-mlflow", "--tracking-uri", uri, "--experiment", "other", "--base-model",
            "HuggingFaceTB/SmolLM2-135M-Instruct")
    assert r.exit_code == 0, r.output
    assert "2 MLflow run(s): 1 created, 0 updated, 1 unchanged, 0 skipped, 0 failed" in r.output
    assert ids["nobase"] in imported(database)


def test_a_run_changed_in_mlflow_is_updated_in_place(cli, database, mlflow_store, tmp_path):
    from mlflow.tracking import MlflowClient

    _, ids, root = mlflow_store
    copy = tmp_path / "copy.db"  # the shared store stays as it is
    shutil.copy(root / "mlflow.db", copy)
    uri = f"sqlite:///{copy}"
    assert cli("research", "import-mlflow", "--tracking-uri", uri, "--experiment", "sft").exit_code == 0
    before = imported(database)
    client = MlflowClient(uri)
    client.log_metric(ids["killed"], "loss", 1.5, step=4)  # resumed and finished after all
    client.set_terminated(ids["killed"], "FINISHED")
    client.log_metric(ids["running"], "loss", 1.8, step=2)
    client.set_terminated(ids["running"], "FAILED")
    r = cli("research", "import-mlflow", "--tracking-uri", uri, "--experiment", "sft", "--base-model",
            "HuggingFaceTB/SmolLM2-135M-Instruct")
    assert r.exit_code == 0, r.output
    assert "5 MLflow run(s): 1 created, 1 updated, 3 unchanged, 0 skipped, 0 failed" in r.output
    after = imported(database)
    killed = after[ids["killed"]]
    assert killed.id == before[ids["killed"]].id
    assert (killed.status, killed.training_outcome, killed.failure_category) == ("succeeded", "success", None)
    assert [p["step"] for p in killed.loss_curve_data] == [1, 2, 3, 4]
    assert after[ids["running"]].training_outcome == "failure"


def test_bad_uris_exit_non_zero_with_a_clear_message(cli, tmp_path, database):
    r = cli("research", "import-mlflow", "--tracking-uri", f"sqlite:///{tmp_path / 'nothing.db'}")
    assert r.exit_code == 1 and "no such database file" in r.output
    assert not (tmp_path / "nothing.db").exists()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    r = cli("research", "import-mlflow", "--tracking-uri", f"http://127.0.0.1:{port}")
    assert r.exit_code == 1 and "cannot read the MLflow store" in r.output
    r = cli("research", "import-mlflow", "--tracking-uri", "gopher://x")
    assert r.exit_code == 1 and "unsupported tracking URI" in r.output
    assert imported(database) == {}
